import { TurnContext, type Activity } from 'botbuilder';
import type { SeenConversation, Subscriptions } from '../app/subscriptions.js';
import type { SubscriptionFilters } from '../core/model.js';
import { conversationKind, rootConversationId, tenantOf } from './turn.js';

export { rootConversationId };

/** The conversation an activity comes from, with the reference the bot posts there with later (after restarts too). */
export function seenConversation(activity: Activity): SeenConversation {
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
    name: activity.conversation.name ?? activity.channelData?.channel?.name ?? activity.channelData?.team?.name,
    reference: JSON.parse(JSON.stringify(reference)) as Record<string, unknown>,
    userUpn: kind === 'personal' ? userPrincipal(activity) : undefined,
    userAadObjectId: kind === 'personal' ? activity.from?.aadObjectId : undefined,
  };
}

/** The conversation use cases (app/subscriptions.ts) in terms of activities. */
export class ConversationService {
  constructor(private readonly subscriptions: Subscriptions) {}

  subscribe(activity: Activity, filters?: SubscriptionFilters, mode?: 'cards' | 'digest') {
    return this.subscriptions.subscribe(seenConversation(activity), filters, mode);
  }

  /**
   * Remembers the conversation of a message; `senderUpn` is asked only while its user's UPN is
   * unknown. A known chat (every message after the first) costs one store read: its reference is
   * not rebuilt just to be found unchanged.
   */
  async remember(activity: Activity, senderUpn: () => Promise<string | undefined>): Promise<void> {
    const state = await this.subscriptions.rememberedState(rootConversationId(activity.conversation.id), activity.serviceUrl);
    if (state.current && state.knowsUser) return;
    await this.subscriptions.remember(seenConversation(activity), state.knowsUser ? undefined : await senderUpn());
  }

  /** The conversation's cards from the last sync, posted now (fire and forget: never rejects). */
  postStoredCards(conversationId: string): Promise<number> {
    return this.subscriptions.postStoredCards(rootConversationId(conversationId));
  }

  unsubscribe(conversationId: string): Promise<boolean> {
    return this.subscriptions.unsubscribe(rootConversationId(conversationId));
  }

  forget(conversationId: string): Promise<void> {
    return this.subscriptions.forget(rootConversationId(conversationId));
  }
}

/** Teams puts the UPN on `from` only in some payloads; the roster lookup fills it in otherwise. */
function userPrincipal(activity: Activity): string | undefined {
  const from = activity.from as { userPrincipalName?: string } | undefined;
  return from?.userPrincipalName;
}
