import type { CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { backoffDelay, delayBeforeNextSend, parseRetryAfter, pruneHistory } from '../core/rateLimit.js';
import { messageOf, SendError, type MessageSource, type Messenger, type OutgoingMessage, type SendPacing, type Store } from '../app/ports.js';
import type { Conversation } from '../core/model.js';
import { CardIds } from './cardIds.js';
import { toActivity } from './turn.js';

export { isUnreachable, SendError, sendFailureLevel, type Messenger } from '../app/ports.js';

/**
 * Teams' error codes that mean the bot is out of the conversation for good (the app was removed
 * from the team or chat, the user blocked it, the conversation was deleted). One of them confirms
 * the removal at once.
 */
export const REMOVAL_CODES: ReadonlySet<string> = new Set([
  'BotNotInConversationRoster',
  'ConversationNotFound',
  'ConversationBlockedByUser',
  'MessageWritesBlocked',
  'BotDisabledByUser',
]);

/**
 * Consecutive 403/404 answers without such a code (a gateway's generic body, BotDisabledByAdmin,
 * NotEnoughPermissions…) that confirm the removal. One alone may be transient; two in a row with
 * no successful send between them are not. A 404 on an *update* without ConversationNotFound is
 * not counted: it means that one message was deleted, not that the conversation is gone.
 */
export const REMOVAL_STRIKES = 2;

export interface MessengerDeps {
  adapter: CloudAdapter;
  appId: string;
  store: Store;
  logger: Logger;
  /** Dates the unreachable mark; default: `now`. */
  clock?: Clock;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  maxRetries?: number;
  /**
   * Teams' per-conversation windows booked together with every other process on the store
   * (SendPacing, shared on PostgreSQL). Without it this process paces alone (one process).
   */
  pacing?: SendPacing;
}

/**
 * botbuilder's HTTP pipeline already retries 5xx/408 with backoff and waits out a 429 that
 * carries Retry-After; what it leaves (429 without the header, 412) is retried here.
 */
const RETRYABLE = new Set([412, 429]);

type SendKind = 'send' | 'update';

/**
 * One serial queue per conversation, paced to stay inside Teams' per-conversation limits, with
 * retries (honouring Retry-After) on throttling and transient errors. Different conversations
 * proceed in parallel.
 *
 * A conversation the bot was removed from (REMOVAL_CODES, REMOVAL_STRIKES) is marked unreachable
 * in the store and unsubscribed, logged once, and every send to it, queued or future, fails fast
 * with SendError(unreachable) without calling Teams. The record stays, so it shows in /healthz
 * and a reinstall (which stores the conversation again) makes it reachable.
 */
export class ProactiveMessenger implements Messenger {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly history = new Map<string, number[]>();
  /** Consecutive ambiguous refusals per conversation (see REMOVAL_STRIKES); a success clears them. */
  private readonly strikes = new Map<string, number>();
  private waiting = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxRetries: number;
  private readonly cardIds: CardIds;

  constructor(private readonly deps: MessengerDeps) {
    this.cardIds = new CardIds(deps.store.meta, deps.logger, deps.clock ?? { now: () => new Date(this.now()) });
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.maxRetries = deps.maxRetries ?? 4;
  }

  send(conversationId: string, message: MessageSource): Promise<string | undefined> {
    return this.enqueue(conversationId, 'send', message, (reference, built) =>
      this.inTurn(reference, async (ctx) => {
        const prepared = this.cardIds.forPost(toActivity(built), reference.channelId);
        const id = (await ctx.sendActivity(prepared.activity))?.id;
        await prepared.remember(id);
        return id;
      }),
    );
  }

  update(conversationId: string, activityId: string, message: MessageSource): Promise<void> {
    return this.enqueue(conversationId, 'update', message, (reference, built) =>
      this.inTurn(reference, async (ctx) => {
        await ctx.updateActivity({ ...this.cardIds.forUpdate(toActivity(built), reference.channelId, activityId), id: activityId });
      }),
    );
  }

  /**
   * The adapter hands errors thrown inside a proactive turn to onTurnError instead of to the
   * caller, so they are caught here and rethrown where the retry logic can see them.
   */
  private async inTurn<T>(reference: Partial<ConversationReference>, logic: (ctx: TurnContext) => Promise<T>): Promise<T> {
    let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    await this.deps.adapter.continueConversationAsync(this.deps.appId, reference, async (ctx) => {
      try {
        result = { ok: true, value: await logic(ctx) };
      } catch (error) {
        result = { ok: false, error };
      }
    });
    if (!result) throw new Error('the proactive turn did not run');
    if (!result.ok) throw result.error;
    return result.value;
  }

  pending(): number {
    return this.waiting;
  }

  async drain(): Promise<void> {
    while (this.queues.size > 0) await Promise.allSettled([...this.queues.values()]);
  }

  private enqueue<T>(
    conversationId: string,
    kind: SendKind,
    message: MessageSource,
    op: (reference: Partial<ConversationReference>, built: OutgoingMessage) => Promise<T>,
  ): Promise<T> {
    this.waiting++;
    const previous = this.queues.get(conversationId) ?? Promise.resolve();
    // Queued before the store is read, so sends keep their order whatever the read takes.
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const conversation = await this.deps.store.conversations.get(conversationId);
        if (!conversation) throw new SendError(`no stored conversation ${conversationId}`, undefined, true);
        if (conversation.unreachable) throw unreachableError(conversationId, conversation.unreachable);
        const reference = conversation.reference as Partial<ConversationReference>;
        // Built at the head of the queue, once for every attempt: only the card being sent is held (see DeferredMessage).
        const built = messageOf(message);
        return this.attempt(conversationId, kind, () => op(reference, built));
      })
      .finally(() => {
        this.waiting--;
        if (this.queues.get(conversationId) === tracked) this.queues.delete(conversationId);
      });
    const tracked = run.catch(() => undefined);
    this.queues.set(conversationId, tracked);
    return run;
  }

  private async attempt<T>(conversationId: string, kind: SendKind, op: () => Promise<T>): Promise<T> {
    const history = this.history.get(conversationId) ?? [];
    this.history.set(conversationId, history);
    for (let attempt = 0; ; attempt++) {
      // Sends queued before the removal was confirmed fail here, without waiting or calling Teams.
      const mark = (await this.deps.store.conversations.get(conversationId))?.unreachable;
      if (mark) throw unreachableError(conversationId, mark);
      const wait = await this.slotDelay(conversationId, history);
      if (wait > 0) await this.sleep(wait);
      try {
        const value = await op();
        this.strikes.delete(conversationId);
        return value;
      } catch (err) {
        const status = statusOf(err);
        if (status !== undefined && RETRYABLE.has(status) && attempt < this.maxRetries) {
          const retryAfter = retryAfterMs(err, new Date(this.now()));
          const delay = retryAfter ?? backoffDelay(attempt, 1_000, 30_000);
          this.deps.logger.warn({ conversationId, status, attempt: attempt + 1, delayMs: delay }, 'Teams throttled or failed a send; retrying');
          // Every replica holds off this conversation, not only this one.
          if (status === 429 && this.deps.pacing) await this.holdShared(conversationId, this.now() + delay);
          await this.sleep(delay);
          continue;
        }
        const gone = status === 403 || status === 404;
        const code = teamsCode(err);
        const message = `sending to ${conversationId} failed${status ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : ''}`;
        if (!gone) {
          this.deps.logger.error({ conversationId, status, err }, 'send failed');
          throw new SendError(message, status, false, false, code);
        }
        if (this.confirmsRemoval(conversationId, kind, status, code)) {
          await this.markUnreachable(conversationId, status, code);
          throw new SendError(message, status, true, true, code);
        }
        this.deps.logger.info(
          { conversationId, status, code, kind },
          kind === 'update' && status === 404
            ? 'Teams no longer has the message to update'
            : 'Teams refused a send; a second refusal in a row marks the conversation unreachable',
        );
        throw new SendError(message, status, true, false, code);
      }
    }
  }

  /** How long to wait before this attempt: the shared slot booked for it, else this process's own window. */
  private async slotDelay(conversationId: string, history: number[]): Promise<number> {
    if (this.deps.pacing) {
      try {
        return (await this.deps.pacing.reserve(conversationId)).getTime() - this.now();
      } catch (err) {
        // The store is unreachable for a moment: pace on this process's own window rather than not at all.
        this.deps.logger.warn({ err, conversationId }, 'shared send pacing unavailable; pacing this process alone');
      }
    }
    const wait = delayBeforeNextSend(history, this.now());
    history.push(this.now() + Math.max(0, wait));
    pruneHistory(history, this.now());
    return wait;
  }

  private async holdShared(conversationId: string, until: number): Promise<void> {
    try {
      await this.deps.pacing?.holdUntil(conversationId, new Date(until));
    } catch (err) {
      this.deps.logger.warn({ err, conversationId }, 'could not share the Teams hold with the other processes');
    }
  }

  private confirmsRemoval(conversationId: string, kind: SendKind, status: number | undefined, code: string | undefined): boolean {
    if (code && REMOVAL_CODES.has(code)) return true;
    if (kind === 'update' && status === 404) return false;
    const strikes = (this.strikes.get(conversationId) ?? 0) + 1;
    this.strikes.set(conversationId, strikes);
    return strikes >= REMOVAL_STRIKES;
  }

  /** The one log line about a removed conversation. */
  private async markUnreachable(conversationId: string, status: number | undefined, code: string | undefined): Promise<void> {
    this.strikes.delete(conversationId);
    const conversation = await this.deps.store.conversations.get(conversationId);
    if (!conversation || conversation.unreachable) return;
    const since = (this.deps.clock?.now() ?? new Date(this.now())).toISOString();
    try {
      await this.deps.store.conversations.upsert({
        ...conversation,
        subscribed: false,
        unreachable: { since, ...(status !== undefined ? { status } : {}), ...(code ? { code: code.slice(0, 200) } : {}) },
        updatedAt: since,
      });
    } catch (err) {
      this.deps.logger.error({ conversationId, err }, 'could not store that the conversation is unreachable; sends to it are tried again');
      return;
    }
    this.deps.logger.warn(
      { conversationId, status, code, wasSubscribed: conversation.subscribed },
      'the bot was removed from this conversation: unsubscribed, and nothing more is sent there until the app is installed again',
    );
  }
}

function unreachableError(conversationId: string, mark: NonNullable<Conversation['unreachable']>): SendError {
  return new SendError(`not sent to ${conversationId}: the bot was removed from it (since ${mark.since})`, mark.status, true, true, mark.code);
}

/**
 * Teams' error code from the Bot Connector's ErrorResponse (botbuilder's RestError copies
 * `error.code` to `code`). A removal code wins over a generic one (Teams sends MessageWritesBlocked
 * as a sub-code of a plain Forbidden).
 */
function teamsCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { error?: { code?: unknown; subCode?: unknown } } };
  const codes = [e?.details?.error?.subCode, e?.details?.error?.code, e?.code].filter(
    (c): c is string => typeof c === 'string' && c.length > 0 && c !== 'RestError',
  );
  return codes.find((c) => REMOVAL_CODES.has(c)) ?? codes[0];
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; status?: unknown; response?: { status?: unknown } };
  const s = e?.statusCode ?? e?.status ?? e?.response?.status;
  return typeof s === 'number' ? s : undefined;
}

/** Teams' Retry-After (seconds or a date), capped so a bad header cannot park a conversation's queue. */
function retryAfterMs(err: unknown, now: Date): number | undefined {
  const headers = (err as { response?: { headers?: { get?: (n: string) => string | undefined } & Record<string, unknown> } })?.response?.headers;
  const raw = typeof headers?.get === 'function' ? headers.get('retry-after') : headers?.['retry-after'];
  const ms = parseRetryAfter(typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : undefined, now);
  return ms === undefined ? undefined : Math.min(ms, 120_000);
}
