/**
 * The Teams side a process needs to talk to people outside a turn: the Bot Framework adapter with
 * the bot's credentials, the proactive messenger (Messenger port) and the directory (Directory
 * port). The bot builds it in createApp; `cli remind` builds it alone, without the server.
 */
import { ConfigurationBotFrameworkAuthentication, type ConfigurationBotFrameworkAuthenticationOptions } from 'botbuilder';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DefenderPort, Directory, SendPacing, Store } from '../app/ports.js';
import { BotAdapter } from '../bot/adapter.js';
import { ProactiveMessenger } from '../bot/messenger.js';
import { TeamsDirectory } from '../bot/teamsDirectory.js';
import { botFrameworkAuthOptions, type Config } from './config.js';

export interface TeamsConnectionOptions {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Extra botbuilder authentication settings; tests point the OpenID metadata URLs at a local server. */
  botFrameworkAuth?: Partial<ConfigurationBotFrameworkAuthenticationOptions>;
  /** Tests pace sends on virtual time instead of waiting for Teams' rate windows. */
  messengerTiming?: { now: () => number; sleep: (ms: number) => Promise<void> };
  /** Teams' send pacing shared by the processes on the store (openStore's); default this process's own. */
  sendPacing?: SendPacing;
  /** Replaces the Teams directory (tests). */
  directory?: Directory;
  /** Sandbox: the e-mail the Emulator user (who has no Entra identity) acts as; default SANDBOX_EMULATOR_UPN. */
  sandboxUser?: string;
  /** Microsoft Graph's users (the Azure client): the directory turns a people picker's object id into a UPN. */
  users?: Pick<DefenderPort, 'getUser'>;
}

export interface TeamsConnection {
  adapter: BotAdapter;
  messenger: ProactiveMessenger;
  directory: Directory;
}

export function teamsConnection(o: TeamsConnectionOptions): TeamsConnection {
  const { config, store, clock, logger } = o;
  const sandbox = config.BOT_MODE === 'sandbox';
  const auth = new ConfigurationBotFrameworkAuthentication({
    ...(botFrameworkAuthOptions(config) as ConfigurationBotFrameworkAuthenticationOptions),
    ...o.botFrameworkAuth,
  });
  const adapter = new BotAdapter(auth);
  const appId = config.MicrosoftAppId ?? '';
  const messenger = new ProactiveMessenger({
    adapter,
    appId,
    store,
    clock,
    logger: logger.child({ module: 'messenger' }),
    pacing: o.sendPacing,
    ...o.messengerTiming,
  });
  const directory =
    o.directory ??
    new TeamsDirectory({
      store,
      clock,
      logger: logger.child({ module: 'directory' }),
      // The sandbox inbox is everybody's 1:1 chat: nobody is looked up in Teams rosters then.
      ...(sandbox && config.SANDBOX_REMINDER_INBOX ? { sandboxInbox: config.SANDBOX_REMINDER_INBOX } : { adapter, appId }),
      ...(sandbox ? { emulatorUpn: o.sandboxUser ?? config.SANDBOX_EMULATOR_UPN } : {}),
      ...(o.users ? { users: o.users } : {}),
    });
  return { adapter, messenger, directory };
}
