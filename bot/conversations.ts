import { TurnContext, type Activity } from 'botbuilder';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../app/ports.js';
import type { Conversation, SubscriptionFilters } from '../core/model.js';
import { conversationKind, rootConversationId, tenantOf } from './turn.js';

export { rootConversationId };

/** Stores conversation references so the bot can post there later (after restarts too). */
export class ConversationService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Records the conversation of an activity. Returns whether it was newly subscribed, so an
   * install that arrives as both conversationUpdate and installationUpdate greets only once.
   */
  async subscribe(activity: Activity, filters?: SubscriptionFilters): Promise<{ newlySubscribed: boolean; conversation: Conversation }> {
    const existing = await this.store.conversations.get(rootConversationId(activity.conversation.id));
    const conversation = this.fromActivity(activity, existing, {
      subscribed: true,
      filters: filters ?? existing?.filters ?? { severities: [], scopes: [] },
    });
    await this.store.conversations.upsert(conversation);
    this.noteReachable(existing);
    const newlySubscribed = !existing?.subscribed;
    if (newlySubscribed) this.logger.info({ conversationId: conversation.id, kind: conversation.kind }, 'conversation subscribed');
    return { newlySubscribed, conversation };
  }

  /**
   * Keeps the reference of a conversation without subscribing it to recommendations: a 1:1 chat
   * is how reminders reach an owner.
   */
  async remember(activity: Activity, upn?: string): Promise<void> {
    const existing = await this.store.conversations.get(rootConversationId(activity.conversation.id));
    if (existing && !existing.unreachable && existing.serviceUrl === activity.serviceUrl && (existing.userUpn || !upn)) return;
    const conversation = this.fromActivity(activity, existing, {
      subscribed: existing?.subscribed ?? false,
      filters: existing?.filters ?? { severities: [], scopes: [] },
    });
    await this.store.conversations.upsert(upn && conversation.kind === 'personal' ? { ...conversation, userUpn: upn.toLowerCase() } : conversation);
    this.noteReachable(existing);
  }

  /** An activity from a conversation marked unreachable means the bot is back (fromActivity drops the mark). */
  private noteReachable(existing: Conversation | undefined): void {
    if (existing?.unreachable) this.logger.info({ conversationId: existing.id, unreachableSince: existing.unreachable.since }, 'conversation reachable again');
  }

  /** Whether the UPN of a 1:1 chat is known (reminders find owners by UPN). */
  async knowsUser(conversationId: string): Promise<boolean> {
    return Boolean((await this.store.conversations.get(rootConversationId(conversationId)))?.userUpn);
  }

  async unsubscribe(conversationId: string): Promise<boolean> {
    conversationId = rootConversationId(conversationId);
    const existing = await this.store.conversations.get(conversationId);
    if (!existing?.subscribed) return false;
    await this.store.conversations.upsert({ ...existing, subscribed: false, updatedAt: this.clock.now().toISOString() });
    this.logger.info({ conversationId }, 'conversation unsubscribed');
    return true;
  }

  /** The bot was removed: nothing can be posted there any more. */
  async forget(conversationId: string): Promise<void> {
    conversationId = rootConversationId(conversationId);
    if (await this.store.conversations.remove(conversationId)) {
      await this.store.recommendations.removeCardsFor(conversationId);
      this.logger.info({ conversationId }, 'conversation forgotten (bot removed)');
    }
  }

  private fromActivity(activity: Activity, existing: Conversation | undefined, state: Pick<Conversation, 'subscribed' | 'filters'>): Conversation {
    const now = this.clock.now().toISOString();
    const kind = conversationKind(activity);
    const id = rootConversationId(activity.conversation.id);
    const reference = TurnContext.getConversationReference(activity);
    // A stored reference must post new messages, not replies to the message that created it.
    delete reference.activityId;
    reference.conversation = { ...reference.conversation!, id };
    return {
      id,
      channelId: activity.channelId,
      serviceUrl: activity.serviceUrl,
      tenantId: tenantOf(activity),
      kind,
      name: activity.conversation.name ?? activity.channelData?.channel?.name ?? activity.channelData?.team?.name ?? existing?.name,
      reference: JSON.parse(JSON.stringify(reference)) as Record<string, unknown>,
      subscribed: state.subscribed,
      filters: state.filters,
      userUpn: kind === 'personal' ? (existing?.userUpn ?? userPrincipal(activity)) : undefined,
      userAadObjectId: kind === 'personal' ? (activity.from?.aadObjectId ?? existing?.userAadObjectId) : undefined,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
  }
}

/** Teams puts the UPN on `from` only in some payloads; the roster lookup fills it in otherwise. */
function userPrincipal(activity: Activity): string | undefined {
  const from = activity.from as { userPrincipalName?: string } | undefined;
  return from?.userPrincipalName;
}
