import { randomUUID } from 'node:crypto';
import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type ConfigurationBotFrameworkAuthenticationOptions,
  type TurnContext,
} from 'botbuilder';
import type * as restify from 'restify';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../storage/repositories.js';
import type { SecretBox } from '../storage/secrets.js';
import { ActionRouter, defineAction } from './actionRouter.js';
import { CommandRouter } from './commandRouter.js';
import { helpCommand } from './commands/help.js';
import { subscribeCommands } from './commands/subscribe.js';
import { botFrameworkAuthOptions, type Config } from './config.js';
import { ConversationService } from './conversations.js';
import { closeServer, createServer, listen } from './server.js';
import { TeamsBot } from './teamsBot.js';
import { z } from 'zod';
import type { ScheduledTask } from 'node-cron';
import { helpCard } from '../cards/index.js';
import type { AzureClient } from '../connectors/defender/azureClient.js';
import type { DefenderSimulatorControl } from '../connectors/defender/simulator/index.js';
import { scheduleSync, SyncJob } from '../jobs/sync.js';
import { recommendationActions } from './actions/recommendation.js';
import { RbacAuthorizer } from './authorizer.js';
import { integrationsCommand } from './commands/integrations.js';
import { recommendationCommands } from './commands/recommendations.js';
import { simulateCommand } from './commands/simulate.js';
import { IntegrationService } from './integrations.js';
import { ProactiveMessenger } from './messenger.js';

export interface AppOptions {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  secrets: SecretBox;
  version: string;
  /** Azure (Defender for Cloud, ARM roles, Graph); absent = no recommendations feed. */
  azure?: AzureClient;
  /** ARM scopes the sync job reads. */
  defenderScopes?: string[];
  /** Sandbox simulators' control, for the `simulate` command. */
  simulator?: DefenderSimulatorControl;
  /** Start the cron schedules (off in tests, which run jobs directly). */
  schedule?: boolean;
}

export interface App {
  server: restify.Server;
  adapter: CloudAdapter;
  commands: CommandRouter;
  actions: ActionRouter;
  messenger: ProactiveMessenger;
  integrations: IntegrationService;
  sync?: SyncJob;
  listen(port: number, host?: string): Promise<string>;
  /** Stops jobs, closes the server and flushes the store. */
  stop(): Promise<void>;
}

/**
 * The composition root: every dependency is created or received here and passed down, so tests
 * build the same app with their own store, clock and endpoints.
 */
export function createApp(options: AppOptions): App {
  const { config, store, clock, logger } = options;
  const sandbox = config.BOT_MODE === 'sandbox';

  const auth = new ConfigurationBotFrameworkAuthentication(botFrameworkAuthOptions(config) as ConfigurationBotFrameworkAuthenticationOptions);
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (ctx: TurnContext, error: unknown) => {
    const reference = randomUUID().slice(0, 8);
    const a = ctx.activity;
    logger.error({ err: error, reference, activityType: a.type, activityName: a.name, channelId: a.channelId, conversationId: a.conversation?.id }, 'unhandled error in turn');
    try {
      await ctx.sendActivity(`Sorry, something went wrong on my side and I could not finish that (reference ${reference}). Nothing you sent was lost; please try again.`);
    } catch (sendErr) {
      logger.warn({ err: sendErr, reference }, 'could not tell the user about the error');
    }
  };

  const conversations = new ConversationService(store, clock, logger.child({ module: 'conversations' }));
  const messenger = new ProactiveMessenger({ adapter, appId: config.MicrosoftAppId ?? '', store, logger: logger.child({ module: 'messenger' }) });
  const integrations = new IntegrationService({
    store,
    secrets: options.secrets,
    clock,
    logger: logger.child({ module: 'integrations' }),
    allowPrivateHosts: config.SERVICENOW_ALLOW_PRIVATE_HOSTS,
  });
  const authorizer = new RbacAuthorizer(options.azure, { sandbox, logger: logger.child({ module: 'authz' }) });
  const sync = options.azure
    ? new SyncJob({ azure: options.azure, store, messenger, clock, logger: logger.child({ job: 'sync' }), scopes: options.defenderScopes ?? config.DEFENDER_SCOPES })
    : undefined;
  const tasks: ScheduledTask[] = [];
  if (sync && options.schedule) tasks.push(scheduleSync(sync, config.SYNC_CRON, logger.child({ job: 'sync' })));

  const commands = new CommandRouter();
  commands.register(
    helpCommand(commands, sandbox),
    ...subscribeCommands(conversations, sandbox),
    ...recommendationCommands({ store, sync, authorizer }),
    integrationsCommand(integrations),
  );
  if (options.simulator && sync) commands.register(simulateCommand(options.simulator, store, sync));

  const actions = new ActionRouter(logger.child({ module: 'actions' }));
  actions.register(
    defineAction({
      verb: 'help',
      schema: z.object({}),
      handle: async (ctx) => ({
        kind: 'reply',
        card: helpCard({ commands: commands.list().map((c) => ({ name: c.name, usage: c.usage, description: c.description })), sandbox }, ctx),
      }),
    }),
    ...recommendationActions({ store, sync }),
  );

  const bot = new TeamsBot({ commands, actions, conversations, logger: logger.child({ module: 'bot' }), sandbox });
  const server = createServer({
    adapter,
    bot,
    logger: logger.child({ module: 'http' }),
    allowedTenantIds: config.ALLOWED_TENANT_IDS,
    health: () => ({ status: 'ok', version: options.version, mode: config.BOT_MODE, store: store.status() }),
  });

  return {
    server,
    adapter,
    commands,
    actions,
    messenger,
    integrations,
    sync,
    listen: (port, host) => listen(server, port, host),
    stop: async () => {
      for (const t of tasks) await t.destroy();
      await closeServer(server);
      await sync?.delivered().catch(() => undefined);
      await store.flush();
    },
  };
}
