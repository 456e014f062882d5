import type { ConversationKind } from '../core/model.js';
import errorTemplate from './error.json';
import helpTemplate from './help.json';
import type { ErrorModel, HelpModel, NoticeModel, WelcomeModel } from './models.js';
import noticeTemplate from './notice.json';
import { cardText, defineCard, rememberCards, type AdaptiveCard, type RenderContext } from './render.js';
import welcomeTemplate from './welcome.json';

export type { AdaptiveCard, RenderContext } from './render.js';
export * from './models.js';

const helpTemplateCard = defineCard<HelpModel>(helpTemplate);

/**
 * Usages hold placeholders in angle brackets (`simulate fix|break <resource name>`), shown as typed.
 * The same card for every `help` of one mode and channel kind: expanded once, then reused.
 */
export const helpCard = rememberCards((model: HelpModel, ctx: RenderContext): AdaptiveCard =>
  helpTemplateCard({ ...model, commands: model.commands.map((c) => ({ ...c, usage: cardText(c.usage), description: cardText(c.description) })) }, ctx),
);
export const welcomeCard = defineCard<WelcomeModel>(welcomeTemplate);

/**
 * How a user types `command` in this kind of conversation, as card markdown. In channels and
 * group chats Teams delivers only messages that @mention the bot, so a bare "help" never arrives.
 */
export function typeCommand(command: string, conversationKind: ConversationKind, botName: string): string {
  return conversationKind === 'personal' ? `**${command}**` : `**@${botName} ${command}**`;
}

/** The welcome's lines on how to talk to the bot here. */
export function welcomeHints(conversationKind: ConversationKind, botName: string): Pick<WelcomeModel, 'help' | 'unsubscribe' | 'mentionNote'> {
  return {
    help: typeCommand('help', conversationKind, botName),
    unsubscribe: typeCommand('unsubscribe', conversationKind, botName),
    ...(conversationKind === 'personal'
      ? {}
      : { mentionNote: `Here I only see messages that @mention me: type @${botName} and pick me from the list, then the command.` }),
  };
}
export const errorCard = defineCard<ErrorModel>(errorTemplate);
export const noticeCard = defineCard<NoticeModel>(noticeTemplate);
