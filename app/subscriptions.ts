/**
 * Which conversations get recommendation cards, and the conversations the bot keeps so it can
 * post later (1:1 chats are how reminders reach owners). The adapter turns an activity into a
 * SeenConversation (bot/conversations.ts); the decisions are here: subscribing (by command or by
 * installing the bot) needs a managing role on everything a channel would get, an install by
 * someone without it keeps the conversation unsubscribed.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Conversation, SubscriptionFilters } from '../core/model.js';
import { summarizeRecommendations, type Ancestry } from '../core/recommendations.js';
import type { Actor, Authorizer, Decision, Locks, Store } from './ports.js';

/** A conversation as an activity shows it (no subscription state, no dates). */
export type SeenConversation = Pick<
  Conversation,
  'id' | 'channelId' | 'serviceUrl' | 'tenantId' | 'kind' | 'name' | 'reference' | 'userUpn' | 'userAadObjectId'
>;

export interface SubscriptionsDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  authorizer: Pick<Authorizer, 'canManage'>;
  /** Serialises the two install events Teams sends for one install. */
  locks: Locks;
  /** Posts a conversation's cards from the stored recommendations (SyncJob#postStored); absent without Defender. */
  storedCards?: { postStored(conversationId: string): Promise<{ posted: number }> };
  /** More recommendations than this in a channel's scope make the digest its default (CHANNEL_DIGEST_ABOVE, default 10). */
  digestAbove?: number;
  /** Management-group ancestry the last sync learned (for the default mode of MG-filtered channels). */
  ancestry?: () => Ancestry;
}

export type ConversationMode = NonNullable<Conversation['mode']>;

/** More recommendations than this in a channel's scope make the digest its default mode. */
export const DIGEST_ABOVE = 10;

export type InstallOutcome = { kind: 'subscribed'; conversation: Conversation } | { kind: 'pending' } | { kind: 'already-greeted' };

const NO_FILTERS: SubscriptionFilters = { severities: [], scopes: [] };

/** A stored conversation that a new activity from `serviceUrl` changes nothing of (but perhaps its user's UPN). */
function isCurrent(existing: Conversation | undefined, serviceUrl: string): existing is Conversation {
  return existing !== undefined && !existing.unreachable && existing.serviceUrl === serviceUrl;
}

export class Subscriptions {
  constructor(private readonly deps: SubscriptionsDeps) {}

  /** Subscribing or unsubscribing needs a managing role on every subscription the bot has recommendations for. */
  async mayChange(actor: Actor): Promise<Decision> {
    const subs = new Set<string>();
    for (const r of await this.deps.store.recommendations.list()) for (const x of r.resources) subs.add(x.subscriptionId.toLowerCase());
    return this.deps.authorizer.canManage(actor, [...subs]);
  }

  /**
   * Records the conversation as subscribed. Returns whether it was newly subscribed, so an install
   * that arrives as both conversationUpdate and installationUpdate greets only once.
   */
  async subscribe(
    seen: SeenConversation,
    filters?: SubscriptionFilters,
    mode?: ConversationMode,
  ): Promise<{ newlySubscribed: boolean; conversation: Conversation }> {
    const existing = await this.deps.store.conversations.get(seen.id);
    const chosenFilters = filters ?? existing?.filters ?? NO_FILTERS;
    const conversation = this.merge(seen, existing, {
      subscribed: true,
      filters: chosenFilters,
      mode: mode ?? existing?.mode ?? (await this.defaultMode(seen.kind, chosenFilters)),
    });
    await this.deps.store.conversations.upsert(conversation);
    this.noteReachable(existing);
    const newlySubscribed = !existing?.subscribed;
    if (newlySubscribed) this.deps.logger.info({ conversationId: conversation.id, kind: conversation.kind }, 'conversation subscribed');
    return { newlySubscribed, conversation };
  }

  /**
   * A subscribed conversation's cards from the last sync, at once (the next pass would be up to
   * SYNC_CRON away). Never rejects: the next pass posts whatever this could not.
   */
  async postStoredCards(conversationId: string): Promise<number> {
    try {
      return (await this.deps.storedCards?.postStored(conversationId))?.posted ?? 0;
    } catch (err) {
      this.deps.logger.warn({ err, conversationId }, 'stored cards for a new subscription could not be posted; the next sync posts them');
      return 0;
    }
  }

  /** Keeps a conversation without subscribing it to recommendations: a 1:1 chat is how reminders reach an owner. */
  async remember(seen: SeenConversation, upn?: string): Promise<void> {
    const existing = await this.deps.store.conversations.get(seen.id);
    if (isCurrent(existing, seen.serviceUrl) && (existing.userUpn || !upn)) return;
    const conversation = this.merge(seen, existing, { subscribed: existing?.subscribed ?? false, filters: existing?.filters ?? NO_FILTERS });
    await this.deps.store.conversations.upsert(upn && conversation.kind === 'personal' ? { ...conversation, userUpn: upn.toLowerCase() } : conversation);
    this.noteReachable(existing);
  }

  /**
   * What `remember` would find for a conversation, in one read: `current` (stored, reachable, at
   * this service URL) and whether its user's UPN is known (reminders find owners by UPN). Every
   * message of a known 1:1 chat is both, and then nothing needs building or remembering.
   */
  async rememberedState(conversationId: string, serviceUrl: string): Promise<{ current: boolean; knowsUser: boolean }> {
    const existing = await this.deps.store.conversations.get(conversationId);
    return { current: isCurrent(existing, serviceUrl), knowsUser: Boolean(existing?.userUpn) };
  }

  async unsubscribe(conversationId: string): Promise<boolean> {
    const existing = await this.deps.store.conversations.get(conversationId);
    if (!existing?.subscribed) return false;
    await this.deps.store.conversations.upsert({ ...existing, subscribed: false, updatedAt: this.deps.clock.now().toISOString() });
    this.deps.logger.info({ conversationId }, 'conversation unsubscribed');
    return true;
  }

  /** The bot was removed: nothing can be posted there any more. */
  async forget(conversationId: string): Promise<void> {
    if (await this.deps.store.conversations.remove(conversationId)) {
      await this.deps.store.recommendations.removeCardsFor(conversationId);
      this.deps.logger.info({ conversationId }, 'conversation forgotten (bot removed)');
    }
  }

  /**
   * What an install (conversationUpdate or installationUpdate) does: subscribe when the installer
   * may (the same rule as the subscribe command), otherwise keep the conversation unsubscribed
   * (an admin must subscribe). 'already-greeted': Teams sends both events for one install.
   */
  install(seen: SeenConversation, actor: Actor): Promise<InstallOutcome> {
    // Serialised per conversation: both install events arrive together and the role check awaits.
    return this.deps.locks.withLock(`install|${seen.id}`, async () => {
      const decision = await this.mayChange(actor);
      if (decision.allowed) {
        const { newlySubscribed, conversation } = await this.subscribe(seen);
        return newlySubscribed ? { kind: 'subscribed', conversation } : { kind: 'already-greeted' };
      }
      const isNew = (await this.deps.store.conversations.get(seen.id)) === undefined;
      await this.remember(seen);
      return isNew ? { kind: 'pending' } : { kind: 'already-greeted' };
    });
  }

  /**
   * A channel with more than DIGEST_ABOVE recommendations in its scope gets the digest (one
   * card updated in place) unless told otherwise: 40 posts at once bury the channel. Chats get cards.
   */
  private async defaultMode(kind: Conversation['kind'], filters: SubscriptionFilters): Promise<ConversationMode> {
    if (kind !== 'channel') return 'cards';
    const inScope = summarizeRecommendations(await this.deps.store.recommendations.list(), filters, this.deps.ancestry?.() ?? new Map(), 0);
    return inScope.recommendations > (this.deps.digestAbove ?? DIGEST_ABOVE) ? 'digest' : 'cards';
  }

  /** An activity from a conversation marked unreachable means the bot is back (the merge drops the mark). */
  private noteReachable(existing: Conversation | undefined): void {
    if (existing?.unreachable)
      this.deps.logger.info({ conversationId: existing.id, unreachableSince: existing.unreachable.since }, 'conversation reachable again');
  }

  private merge(seen: SeenConversation, existing: Conversation | undefined, state: Pick<Conversation, 'subscribed' | 'filters' | 'mode'>): Conversation {
    const mode = state.mode ?? existing?.mode;
    const now = this.deps.clock.now().toISOString();
    const personal = seen.kind === 'personal';
    return {
      id: seen.id,
      channelId: seen.channelId,
      serviceUrl: seen.serviceUrl,
      tenantId: seen.tenantId,
      kind: seen.kind,
      name: seen.name ?? existing?.name,
      reference: seen.reference,
      subscribed: state.subscribed,
      filters: state.filters,
      ...(mode ? { mode } : {}),
      userUpn: personal ? (existing?.userUpn ?? seen.userUpn) : undefined,
      userAadObjectId: personal ? (seen.userAadObjectId ?? existing?.userAadObjectId) : undefined,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
  }
}
