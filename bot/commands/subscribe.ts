import { errorCard, noticeCard, welcomeCard } from '../../cards/index.js';
import { describeFilters, parseSubscriptionFilters } from '../../core/subscriptionFilters.js';
import type { Command } from '../commandRouter.js';
import type { ConversationService } from '../conversations.js';
import type { OutgoingMessage, TurnInfo } from '../turn.js';
import type { Decision } from '../authorizer.js';

export const WHAT_WE_POST = [
  'a card per Defender for Cloud recommendation with unhealthy resources, updated in place as resources change',
  'the ServiceNow ticket of each assignment, linked from the card',
  'a note when a resource is healthy again and its ticket was closed',
  'a note when an assignment passes its due date',
];

export function welcomeMessage(
  info: Pick<TurnInfo, 'conversationKind' | 'conversationName' | 'channelId'>,
  filters: string,
  sandbox: boolean,
): OutgoingMessage {
  const where =
    info.conversationKind === 'channel'
      ? `this channel${info.conversationName ? ` (${info.conversationName})` : ''}`
      : info.conversationKind === 'groupChat'
        ? 'this group chat'
        : 'this chat';
  return {
    card: welcomeCard({ where, posts: [...WHAT_WE_POST, `Filter: ${filters}`], sandbox }, { channelId: info.channelId }),
    summary: 'Subscribed to Defender for Cloud recommendations',
  };
}

/**
 * Subscribing decides who sees Defender data (every recommendation, resource and ticket of the
 * scopes), and unsubscribing silences a security channel: both need the same role as managing
 * assignments. `guard` answers for the caller.
 */
export function subscribeCommands(conversations: ConversationService, sandbox: boolean, guard: (ctx: TurnInfo) => Promise<Decision>): Command[] {
  const refuse = async (ctx: Parameters<Command['handle']>[0]) => {
    const decision = await guard(ctx);
    if (decision.allowed) return false;
    await ctx.reply({ card: errorCard({ title: 'Not allowed', message: decision.reason, details: [] }, ctx) });
    return true;
  };
  return [
    {
      name: 'subscribe',
      usage: 'subscribe [severity=High,Medium] [scope=/subscriptions/<id>]',
      description: 'Post recommendations here, optionally only some severities or scopes.',
      handle: async (ctx) => {
        if (await refuse(ctx)) return;
        const parsed = parseSubscriptionFilters(ctx.args);
        if (!parsed.ok) {
          await ctx.reply({ card: errorCard({ title: 'Not subscribed', message: 'The filter is not valid:', details: parsed.problems }, ctx) });
          return;
        }
        const { newlySubscribed } = await conversations.subscribe(ctx.activity, parsed.filters);
        const filters = describeFilters(parsed.filters);
        if (newlySubscribed) await ctx.reply(welcomeMessage(ctx, filters, sandbox));
        else await ctx.reply({ card: noticeCard({ title: 'Subscription updated', text: `This conversation gets ${filters}.`, facts: [] }, ctx) });
      },
    },
    {
      name: 'unsubscribe',
      usage: 'unsubscribe',
      description: 'Stop posting recommendations here.',
      handle: async (ctx) => {
        if (await refuse(ctx)) return;
        const removed = await conversations.unsubscribe(ctx.conversationId);
        await ctx.reply({
          text: removed
            ? 'Unsubscribed: I will not post recommendations here any more. Type **subscribe** to start again.'
            : 'This conversation was not subscribed. Type **subscribe** to get recommendations here.',
        });
      },
    },
  ];
}
