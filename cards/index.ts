import errorTemplate from './error.json';
import helpTemplate from './help.json';
import type { ErrorModel, HelpModel, NoticeModel, WelcomeModel } from './models.js';
import noticeTemplate from './notice.json';
import { cardText, defineCard, type AdaptiveCard, type RenderContext } from './render.js';
import welcomeTemplate from './welcome.json';

export type { AdaptiveCard, RenderContext } from './render.js';
export * from './models.js';

const helpTemplateCard = defineCard<HelpModel>(helpTemplate);

/** Usages hold placeholders in angle brackets (`simulate fix|break <resource name>`), shown as typed. */
export function helpCard(model: HelpModel, ctx: RenderContext): AdaptiveCard {
  return helpTemplateCard({ ...model, commands: model.commands.map((c) => ({ ...c, usage: cardText(c.usage), description: cardText(c.description) })) }, ctx);
}
export const welcomeCard = defineCard<WelcomeModel>(welcomeTemplate);
export const errorCard = defineCard<ErrorModel>(errorTemplate);
export const noticeCard = defineCard<NoticeModel>(noticeTemplate);
