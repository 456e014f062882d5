/** Data models of the card templates in this folder, one per template. */

export interface HelpModel {
  commands: { name: string; usage: string; description: string }[];
  sandbox: boolean;
}

export interface WelcomeModel {
  where: string;
  posts: string[];
  sandbox: boolean;
  /** Installed without subscribing (the installer may not subscribe): why, and what an admin must type. */
  pending?: { reason: string; hint: string };
  /** How to type a command here (cards/index.ts typeCommand): `help`, or `@<bot name> help` where only mentions reach the bot. */
  help: string;
  unsubscribe: string;
  /** In channels and group chats: only messages that @mention the bot reach it. */
  mentionNote?: string;
}

export interface ErrorModel {
  title: string;
  message: string;
  details: string[];
  reference?: string;
}

export interface NoticeModel {
  title: string;
  text: string;
  facts: { title: string; value: string }[];
}
