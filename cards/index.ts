import errorTemplate from './error.json';
import helpTemplate from './help.json';
import type { ErrorModel, HelpModel, NoticeModel, WelcomeModel } from './models.js';
import noticeTemplate from './notice.json';
import { defineCard, rememberCards } from './render.js';
import welcomeTemplate from './welcome.json';

export type { AdaptiveCard, RenderContext } from './render.js';
export * from './models.js';

/** The same card for every `help` of one mode and channel kind: expanded once, then reused. */
export const helpCard = rememberCards(defineCard<HelpModel>(helpTemplate));
export const welcomeCard = defineCard<WelcomeModel>(welcomeTemplate);
export const errorCard = defineCard<ErrorModel>(errorTemplate);
export const noticeCard = defineCard<NoticeModel>(noticeTemplate);
