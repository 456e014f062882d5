import type { CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import type { Logger } from '../core/logger.js';
import { backoffDelay, delayBeforeNextSend, pruneHistory } from '../core/rateLimit.js';
import type { Store } from '../storage/repositories.js';
import { toActivity, type OutgoingMessage } from './turn.js';

/** Sending outside a turn (cards from the sync job, reminders, announcements). */
export interface Messenger {
  /** Posts a message; resolves with the new activity id. */
  send(conversationId: string, message: OutgoingMessage): Promise<string | undefined>;
  /** Replaces a message posted earlier (a card kept up to date). */
  update(conversationId: string, activityId: string, message: OutgoingMessage): Promise<void>;
  /** Number of sends waiting in the queues. */
  pending(): number;
  /** Resolves when every queue is empty. */
  drain(): Promise<void>;
}

export class SendError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** The bot can no longer post there (uninstalled, blocked, conversation gone). */
    readonly gone: boolean,
  ) {
    super(message);
    this.name = 'SendError';
  }
}

export interface MessengerDeps {
  adapter: CloudAdapter;
  appId: string;
  store: Store;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  maxRetries?: number;
}

/**
 * botbuilder's HTTP pipeline already retries 5xx/408 with backoff and waits out a 429 that
 * carries Retry-After; what it leaves (429 without the header, 412) is retried here.
 */
const RETRYABLE = new Set([412, 429]);

/**
 * One serial queue per conversation, paced to stay inside Teams' per-conversation limits, with
 * retries (honouring Retry-After) on throttling and transient errors. Different conversations
 * proceed in parallel.
 */
export class ProactiveMessenger implements Messenger {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly history = new Map<string, number[]>();
  private waiting = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxRetries: number;

  constructor(private readonly deps: MessengerDeps) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.maxRetries = deps.maxRetries ?? 4;
  }

  send(conversationId: string, message: OutgoingMessage): Promise<string | undefined> {
    return this.enqueue(conversationId, (reference) => this.inTurn(reference, async (ctx) => (await ctx.sendActivity(toActivity(message)))?.id));
  }

  update(conversationId: string, activityId: string, message: OutgoingMessage): Promise<void> {
    return this.enqueue(conversationId, (reference) =>
      this.inTurn(reference, async (ctx) => {
        await ctx.updateActivity({ ...toActivity(message), id: activityId });
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

  private enqueue<T>(conversationId: string, op: (reference: Partial<ConversationReference>) => Promise<T>): Promise<T> {
    const conversation = this.deps.store.conversations.get(conversationId);
    if (!conversation) return Promise.reject(new SendError(`no stored conversation ${conversationId}`, undefined, true));
    const reference = conversation.reference as Partial<ConversationReference>;
    this.waiting++;
    const previous = this.queues.get(conversationId) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(() => this.attempt(conversationId, () => op(reference)))
      .finally(() => {
        this.waiting--;
        if (this.queues.get(conversationId) === tracked) this.queues.delete(conversationId);
      });
    const tracked = run.catch(() => undefined);
    this.queues.set(conversationId, tracked);
    return run;
  }

  private async attempt<T>(conversationId: string, op: () => Promise<T>): Promise<T> {
    const history = this.history.get(conversationId) ?? [];
    this.history.set(conversationId, history);
    for (let attempt = 0; ; attempt++) {
      const wait = delayBeforeNextSend(history, this.now());
      if (wait > 0) await this.sleep(wait);
      history.push(this.now());
      pruneHistory(history, this.now());
      try {
        return await op();
      } catch (err) {
        const status = statusOf(err);
        if (status !== undefined && RETRYABLE.has(status) && attempt < this.maxRetries) {
          const retryAfter = retryAfterMs(err);
          const delay = retryAfter ?? backoffDelay(attempt, 1_000, 30_000);
          this.deps.logger.warn({ conversationId, status, attempt: attempt + 1, delayMs: delay }, 'Teams throttled or failed a send; retrying');
          await this.sleep(delay);
          continue;
        }
        const gone = status === 403 || status === 404;
        this.deps.logger.error({ conversationId, status, err }, gone ? 'the bot can no longer post in this conversation' : 'send failed');
        throw new SendError(`sending to ${conversationId} failed${status ? ` (HTTP ${status})` : ''}`, status, gone);
      }
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; status?: unknown; response?: { status?: unknown } };
  const s = e?.statusCode ?? e?.status ?? e?.response?.status;
  return typeof s === 'number' ? s : undefined;
}

function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { response?: { headers?: { get?: (n: string) => string | undefined } & Record<string, unknown> } })?.response?.headers;
  const raw = typeof headers?.get === 'function' ? headers.get('retry-after') : (headers?.['retry-after'] as string | undefined);
  if (raw === undefined || raw === null) return undefined;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 120_000) : undefined;
}
