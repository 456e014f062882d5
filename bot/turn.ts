import { CardFactory, MessageFactory, type Activity, type TurnContext } from 'botbuilder';
import type { Actor, Caller, OutgoingMessage } from '../app/ports.js';
import type { Conversation } from '../core/model.js';

/**
 * What command and action handlers see of a turn. They never touch botbuilder types, so the
 * handlers survive a move from botbuilder to the Microsoft 365 Agents SDK unchanged.
 */
export type { Actor, OutgoingMessage } from '../app/ports.js';

export interface TurnInfo {
  channelId: string;
  conversationId: string;
  conversationKind: Conversation['kind'];
  conversationName?: string;
  tenantId?: string;
  actor: Actor;
  /** The activity id of the message a card action came from (to update that card). */
  replyToId?: string;
  /** The raw activity (a plain Bot Framework JSON shape), for building conversation references. */
  activity: Activity;
}

/** Who is asking, as the use cases (app/) see it. */
export function callerOf(turn: Pick<TurnInfo, 'actor' | 'conversationId' | 'channelId'>): Caller {
  return { actor: turn.actor, conversationId: turn.conversationId, channelId: turn.channelId };
}

export function turnInfo(ctx: TurnContext): TurnInfo {
  const a = ctx.activity;
  return {
    channelId: a.channelId,
    // Handlers key stored state by the channel, not by the thread a message was typed in.
    conversationId: rootConversationId(a.conversation.id),
    conversationKind: conversationKind(a),
    conversationName: a.conversation.name ?? (a.channelData?.channel?.name as string | undefined) ?? (a.channelData?.team?.name as string | undefined),
    tenantId: tenantOf(a),
    actor: { id: a.from.id, name: a.from.name, aadObjectId: a.from.aadObjectId },
    replyToId: a.replyToId,
    activity: a,
  };
}

/**
 * In a Teams channel, a message typed in a thread carries ";messageid=…" in its conversation id;
 * the channel itself is the part before it, and that is where cards belong.
 */
export function rootConversationId(conversationId: string): string {
  const i = conversationId.indexOf(';messageid=');
  return i < 0 ? conversationId : conversationId.slice(0, i);
}

export function tenantOf(a: Partial<Activity>): string | undefined {
  return (a.channelData?.tenant?.id as string | undefined) ?? a.conversation?.tenantId;
}

export function conversationKind(a: Partial<Activity>): Conversation['kind'] {
  const t = a.conversation?.conversationType;
  if (t === 'channel') return 'channel';
  if (t === 'groupChat' || a.conversation?.isGroup) return 'groupChat';
  return 'personal';
}

export function toActivity(message: OutgoingMessage): Partial<Activity> {
  if ('text' in message) return MessageFactory.text(message.text);
  const activity = MessageFactory.attachment(CardFactory.adaptiveCard(message.card));
  if (message.summary) activity.summary = message.summary;
  return activity;
}
