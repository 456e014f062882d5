import { errorCard, noticeCard, welcomeCard, welcomeHints } from '../../cards/index.js';
import { describeFilters, parseSubscriptionFilters } from '../../core/subscriptionFilters.js';
import type { Command } from '../commandRouter.js';
import { rootConversationId, seenConversation, type ConversationService } from '../conversations.js';
import type { OutgoingMessage, TurnInfo } from '../turn.js';
import type { Decision } from '../../app/ports.js';
import type { Subscriptions } from '../../app/subscriptions.js';

export const WHAT_WE_POST = [
  'a card per Defender for Cloud recommendation with unhealthy resources, updated in place as resources change',
  'the ServiceNow ticket of each assignment, linked from the card',
  'a note when a resource is healthy again and its ticket was closed',
  'a note when an assignment passes its due date',
];

/** The app package's short name (appPackage/manifest.json), what Teams shows when nobody told us the bot's name. */
export const MANIFEST_BOT_NAME = 'Defender Remediation';

/** The name users @mention: the activity's recipient is the bot as this conversation shows it. */
export const botNameOf = (info: Pick<TurnInfo, 'activity'>) => info.activity.recipient?.name?.trim() || MANIFEST_BOT_NAME;

/** `mode=digest` / `mode=cards` among the subscribe arguments; the rest are filters. */
export function modeArgument(args: string): { mode?: 'cards' | 'digest'; rest: string; problem?: string } {
  let mode: 'cards' | 'digest' | undefined;
  let problem: string | undefined;
  const rest: string[] = [];
  for (const token of args.split(/\s+/).filter(Boolean)) {
    const m = /^mode=(.*)$/i.exec(token);
    if (!m) rest.push(token);
    else if (/^(cards|digest)$/i.test(m[1])) mode = m[1].toLowerCase() as 'cards' | 'digest';
    else problem = `mode "${m[1]}" is not one of digest, cards`;
  }
  return { mode, rest: rest.join(' '), ...(problem ? { problem } : {}) };
}

/** Which mode a conversation is in and how to change it, for the welcome and the subscribe reply. */
export function modeText(mode: 'cards' | 'digest', botName: string, kind: TurnInfo['conversationKind']): string {
  const command = (m: string) => `${kind === 'personal' ? '' : `@${botName} `}subscribe mode=${m}`;
  return mode === 'digest'
    ? `Mode: digest — one summary card, updated in place after each sync that changes it; open a recommendation from it for its card. For one card per recommendation, type **${command('cards')}**.`
    : `Mode: cards — one card per recommendation. For one summary card instead, type **${command('digest')}**.`;
}

export function welcomeMessage(
  info: Pick<TurnInfo, 'conversationKind' | 'conversationName' | 'channelId' | 'activity'>,
  filters: string,
  sandbox: boolean,
  mode?: string,
): OutgoingMessage {
  return {
    card: welcomeCard(
      {
        where: whereOf(info),
        posts: [...WHAT_WE_POST, `Filter: ${filters}`, ...(mode ? [mode] : [])],
        sandbox,
        ...welcomeHints(info.conversationKind, botNameOf(info)),
      },
      { channelId: info.channelId },
    ),
    summary: 'Subscribed to Defender for Cloud recommendations',
  };
}

const whereOf = (info: Pick<TurnInfo, 'conversationKind' | 'conversationName'>) =>
  info.conversationKind === 'channel'
    ? `this channel${info.conversationName ? ` (${info.conversationName})` : ''}`
    : info.conversationKind === 'groupChat'
      ? 'this group chat'
      : 'this chat';

/**
 * The welcome of an install by someone who may not subscribe: nothing will be posted until an
 * admin subscribes. In channels and group chats the bot only hears messages that @mention it.
 */
export function pendingWelcomeMessage(
  info: Pick<TurnInfo, 'conversationKind' | 'conversationName' | 'channelId' | 'activity'>,
  sandbox: boolean,
): OutgoingMessage {
  const botName = botNameOf(info);
  const hint =
    info.conversationKind === 'personal'
      ? 'Only someone with one of these roles can subscribe a conversation. Here you can still see your own assignments: type **assignments mine** or **digest**.'
      : `An admin (Owner, Contributor or Security Admin in Azure) must type **@${botName} subscribe** here to start.`;
  return {
    card: welcomeCard(
      {
        where: whereOf(info),
        posts: WHAT_WE_POST,
        sandbox,
        ...welcomeHints(info.conversationKind, botName),
        pending: {
          reason:
            'I post Defender for Cloud recommendations only where someone with the Owner, Contributor or Security Admin role on the subscriptions I cover has subscribed, ' +
            'and the person who installed me does not have that role (or it could not be checked). Nothing is posted here yet.',
          hint,
        },
      },
      { channelId: info.channelId },
    ),
    summary: 'Installed: not subscribed to Defender for Cloud recommendations yet',
  };
}

/**
 * What an install (conversationUpdate or installationUpdate) says: the welcome when it subscribed
 * the conversation, the "an admin must subscribe" welcome when the installer may not
 * (app/subscriptions.ts decides), or undefined when this conversation was already greeted (Teams
 * sends both events for one install).
 */
export function installHandler(deps: {
  subscriptions: Pick<Subscriptions, 'install'>;
  sandbox: boolean;
}): (info: TurnInfo) => Promise<OutgoingMessage | undefined> {
  // After the welcome is posted, bot/teamsBot.ts calls afterInstall (the stored cards, below).
  return async (info) => {
    const outcome = await deps.subscriptions.install(seenConversation(info.activity), info.actor);
    if (outcome.kind === 'subscribed')
      return welcomeMessage(
        info,
        describeFilters(outcome.conversation.filters),
        deps.sandbox,
        modeText(outcome.conversation.mode ?? 'cards', botNameOf(info), info.conversationKind),
      );
    return outcome.kind === 'pending' ? pendingWelcomeMessage(info, deps.sandbox) : undefined;
  };
}

/** After an install's welcome: a subscribed conversation gets the last sync's cards at once. */
export function afterInstall(deps: { subscriptions: Pick<Subscriptions, 'postStoredCards'> }): (info: TurnInfo) => void {
  return (info) => void deps.subscriptions.postStoredCards(rootConversationId(info.conversationId));
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
      usage: 'subscribe [severity=High,Medium] [scope=/subscriptions/<id>] [mode=digest|cards]',
      description:
        'Post recommendations here, optionally only some severities or scopes; mode=digest posts one summary card updated in place (the default in channels with more than 10), mode=cards one card per recommendation.',
      handle: async (ctx) => {
        if (await refuse(ctx)) return;
        const { mode, rest, problem } = modeArgument(ctx.args);
        const parsed = parseSubscriptionFilters(rest);
        if (!parsed.ok || problem) {
          const details = [...(problem ? [problem] : []), ...(parsed.ok ? [] : parsed.problems)];
          await ctx.reply({ card: errorCard({ title: 'Not subscribed', message: 'The filter is not valid:', details }, ctx) });
          return;
        }
        const { newlySubscribed, conversation } = await conversations.subscribe(ctx.activity, parsed.filters, mode);
        const filters = describeFilters(parsed.filters);
        const how = modeText(conversation.mode ?? 'cards', botNameOf(ctx), ctx.conversationKind);
        if (newlySubscribed) await ctx.reply(welcomeMessage(ctx, filters, sandbox, how));
        else await ctx.reply({ card: noticeCard({ title: 'Subscription updated', text: `This conversation gets ${filters}. ${how}`, facts: [] }, ctx) });
        // After the reply, so the welcome comes first; the cards are the last sync's, not a new Azure query.
        void conversations.postStoredCards(conversation.id);
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
