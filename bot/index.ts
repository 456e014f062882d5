/**
 * The Teams adapter's composition root: the server, the activity handler, the command and action
 * routers and the dashboard, over the application's use cases (compose/services.ts wires those
 * from the ports). Every dependency is created or received here and passed down, so tests build
 * the same app with their own store, clock and endpoints.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { ConfigurationBotFrameworkAuthenticationOptions, TurnContext } from 'botbuilder';
import type * as restify from 'restify';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DefenderPort, Directory, JobRuns, Locks, Secrets, SendPacing, Store } from '../app/ports.js';
import type { CreateAssignments } from '../app/createAssignments.js';
import type { IntegrationService } from '../app/manageIntegrations.js';
import type { ReminderJob } from '../app/reminders.js';
import type { ResolutionJob } from '../app/resolution.js';
import type { SyncJob } from '../app/syncRecommendations.js';
import { helpCard } from '../cards/index.js';
import type { Config } from '../compose/config.js';
import { createServices, exclusiveSync, startSchedules, type Services } from '../compose/services.js';
import { teamsConnection } from '../compose/teams.js';
import { ActionRouter, defineAction } from './actionRouter.js';
import { assignmentActions } from './actions/assignment.js';
import { dueDateActions } from './actions/dueDate.js';
import { integrationActions } from './actions/integrations.js';
import { ruleActions, rulesCommand } from './actions/rules.js';
import { moreTimeActions } from './actions/moreTime.js';
import { recommendationActions } from './actions/recommendation.js';
import type { BotAdapter } from './adapter.js';
import { CardIds } from './cardIds.js';
import { CommandRouter } from './commandRouter.js';
import { assignmentsCommand } from './commands/assignments.js';
import { digestCommand } from './commands/digest.js';
import { helpCommand, helpModel } from './commands/help.js';
import { integrationsCommand } from './commands/integrations.js';
import { recommendationCommands } from './commands/recommendations.js';
import { simulateCommand, type DefenderSimulatorControl } from './commands/simulate.js';
import { afterInstall, installHandler, subscribeCommands } from './commands/subscribe.js';
import { ConversationService } from './conversations.js';
import { registerDashboard } from './dashboard.js';
import type { ProactiveMessenger } from './messenger.js';
import { closeServer, createServer, listen } from './server.js';
import { TeamsBot } from './teamsBot.js';
import type { TurnInfo } from './turn.js';

export interface AppOptions {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  secrets: Secrets;
  version: string;
  /** Azure (Defender for Cloud, ARM roles, Graph); absent = no recommendations feed. */
  azure?: DefenderPort;
  /** ARM scopes the sync job reads. */
  defenderScopes?: string[];
  /** Sandbox simulators' control, for the `simulate` command. */
  simulator?: DefenderSimulatorControl;
  /** Start the cron schedules (off in tests, which run jobs directly). */
  schedule?: boolean;
  /** Who people are and where their 1:1 chats are; default: bot/teamsDirectory.ts. */
  directory?: Directory;
  /** Mutual exclusion per assignment; default in-process (one writer process, see storage/dataDirLock.ts). */
  locks?: Locks;
  /** Which replica runs each cron tick (compose/open.ts: shared on PostgreSQL); default in-process. */
  jobRuns?: JobRuns;
  /** Teams' per-conversation send pacing shared by the replicas; default this process's own pacer. */
  sendPacing?: SendPacing;
  /** Folder of the bundled dashboard tab (dist/web). */
  webRoot?: string;
  /** Backoff between retries of outside calls; tests pass one that returns at once. */
  retrySleep?: (ms: number) => Promise<void>;
  /** Tests pace sends on virtual time instead of waiting for Teams' rate windows. */
  messengerTiming?: { now: () => number; sleep: (ms: number) => Promise<void> };
  /** Sandbox: the e-mail the Emulator user (who has no Entra identity) acts as; default SANDBOX_EMULATOR_UPN. */
  sandboxUser?: string;
  /** Extra botbuilder authentication settings; tests point the OpenID metadata URLs at a local server. */
  botFrameworkAuth?: Partial<ConfigurationBotFrameworkAuthenticationOptions>;
}

export interface App {
  server: restify.Server;
  adapter: BotAdapter;
  commands: CommandRouter;
  actions: ActionRouter;
  messenger: ProactiveMessenger;
  /** Every use case, as compose/services.ts wired them. */
  services: Services;
  integrations: IntegrationService;
  assignments: CreateAssignments;
  resolution?: ResolutionJob;
  reminders: ReminderJob;
  /** One sync cycle (sync, resolution, resume, forget credentials): what the schedule runs. */
  runCycle?: () => Promise<Awaited<ReturnType<SyncJob['runOnce']>>>;
  sync?: SyncJob;
  listen(port: number, host?: string): Promise<string>;
  /** Stops jobs, closes the server and flushes the store. */
  stop(): Promise<void>;
}

export function createApp(options: AppOptions): App {
  const { config, store, clock, logger } = options;
  const sandbox = config.BOT_MODE === 'sandbox';

  const teams = teamsConnection({
    config,
    store,
    clock,
    logger,
    botFrameworkAuth: options.botFrameworkAuth,
    messengerTiming: options.messengerTiming,
    sendPacing: options.sendPacing,
    directory: options.directory,
    sandboxUser: options.sandboxUser,
    users: options.azure,
  });
  const { adapter, messenger, directory } = teams;
  adapter.onTurnError = async (ctx: TurnContext, error: unknown) => {
    const reference = randomUUID().slice(0, 8);
    const a = ctx.activity;
    logger.error(
      { err: error, reference, activityType: a.type, activityName: a.name, channelId: a.channelId, conversationId: a.conversation?.id },
      'unhandled error in turn',
    );
    try {
      await ctx.sendActivity(
        `Sorry, something went wrong on my side and I could not finish that (reference ${reference}). Nothing you sent was lost; please try again.`,
      );
    } catch (sendErr) {
      logger.warn({ err: sendErr, reference }, 'could not tell the user about the error');
    }
  };

  const services = createServices({
    config,
    store,
    clock,
    logger,
    secrets: options.secrets,
    messenger,
    directory,
    azure: options.azure,
    defenderScopes: options.defenderScopes,
    locks: options.locks,
    retrySleep: options.retrySleep,
    sandboxUser: options.sandboxUser,
  });
  const { sync, cycle, authorizer, readPolicy, subscriptions } = services;
  const tasks = options.schedule ? startSchedules(services, config, logger, options.jobRuns) : [];
  const runCycle = cycle ? () => exclusiveSync(services, 'cycle', () => cycle.runOnce()) : undefined;

  const conversations = new ConversationService(subscriptions);
  /** Subscribing (by command or by installing the bot) needs a managing role on everything a channel would get. */
  const subscribeGuard = (ctx: TurnInfo) => subscriptions.mayChange(ctx.actor);
  const commands = new CommandRouter();
  commands.register(
    helpCommand(commands, sandbox),
    ...subscribeCommands(conversations, sandbox, subscribeGuard),
    ...recommendationCommands({ summaries: services.queries.recommendationSummary, tracked: services.queries.tracked, sync, runCycle, authorizer }),
    integrationsCommand(services.manageIntegrations),
    assignmentsCommand({ list: services.queries.assignmentList, clock, timeZone: config.REMINDER_TIMEZONE, directory }),
    digestCommand({ digests: services.queries.ownerDigest, directory }),
    rulesCommand({ rules: services.rules, store }),
  );
  if (options.simulator && runCycle) commands.register(simulateCommand(options.simulator, services.queries.tracked, runCycle));

  const actions = new ActionRouter(logger.child({ module: 'actions' }));
  actions.register(
    defineAction({
      verb: 'help',
      schema: z.object({}),
      handle: async (ctx) => ({
        kind: 'reply',
        card: helpCard(helpModel(commands, sandbox), ctx),
      }),
    }),
    ...recommendationActions({ cards: services.cards }),
    ...assignmentActions({
      assignments: services.assignments,
      clock,
      timeZone: config.REMINDER_TIMEZONE,
    }),
    ...integrationActions({ integrations: services.integrations, manage: services.manageIntegrations }),
    ...moreTimeActions({ moreTime: services.moreTime }),
    ...dueDateActions({ dueDates: services.dueDates }),
    ...ruleActions({ rules: services.rules, store, maxTicketsPerSync: config.RULE_MAX_TICKETS_PER_SYNC }),
  );

  const install = installHandler({ subscriptions, sandbox });
  const bot = new TeamsBot({
    commands,
    actions,
    conversations,
    install,
    afterInstall: afterInstall({ subscriptions }),
    logger: logger.child({ module: 'bot' }),
    sandbox,
    cardIds: new CardIds(store.meta, logger.child({ module: 'bot' }), clock),
  });
  const server = createServer({
    adapter,
    bot,
    logger: logger.child({ module: 'http' }),
    // A registered bot talks to its own tenant unless told otherwise; the local sandbox to anyone.
    allowedTenantIds: sandbox ? config.ALLOWED_TENANT_IDS : allowedTenants(config),
    // Unauthenticated: status only, no error text (it can name files and hosts).
    health: async () => {
      const st = store.status();
      const [subscribed, unreachable] = await Promise.all([store.conversations.count({ subscribed: true }), store.conversations.count({ reachable: false })]);
      return {
        status: st.ok ? 'ok' : 'degraded',
        version: options.version,
        mode: config.BOT_MODE,
        store: { kind: st.kind, ok: st.ok, writes: st.writes, lastWriteAt: st.lastWriteAt },
        // Counts only: conversation names and ids stay behind authentication.
        conversations: { subscribed, unreachable },
      };
    },
  });

  if (!sandbox && allowedTenants(config).length === 0) {
    logger.warn(
      'no tenant configured (ALLOWED_TENANT_IDS, MicrosoftAppTenantId, AZURE_TENANT_ID): chat accepts activities from any tenant and the dashboard accepts none',
    );
  }
  registerDashboard(server, {
    store,
    clock,
    timeZone: config.REMINDER_TIMEZONE,
    logger,
    readPolicy,
    whoAmI: (actor) => directory.upnOf({ actor }),
    config: {
      sandbox,
      allowedTenantIds: allowedTenants(config),
      appId: config.MicrosoftAppId,
      appIdUri:
        config.APP_ID_URI ??
        (config.PUBLIC_URL && config.MicrosoftAppId ? `api://${new URL(config.PUBLIC_URL).host}/${config.MicrosoftAppId.toLowerCase()}` : undefined),
      jwksUrl: config.ENTRA_JWKS_URL,
      issuerTemplate: config.ENTRA_ISSUER_TEMPLATE,
    },
    webRoot: options.webRoot ?? path.join(__dirname, '../web'),
  });

  return {
    server,
    adapter,
    commands,
    actions,
    messenger,
    services,
    integrations: services.integrations,
    assignments: services.assignments,
    sync,
    resolution: services.resolution,
    reminders: services.reminders,
    runCycle,
    listen: async (port, host) => {
      const url = await listen(server, port, host);
      // Creations a stopped process left in the work queue carry on (with their cards).
      services.assignments.resumeQueued().catch((err: unknown) => logger.warn({ err }, 'could not resume queued ticket creations'));
      return url;
    },
    stop: async () => {
      for (const t of tasks) await t.destroy();
      await closeServer(server);
      await services.assignments.stopWorkers();
      await sync?.delivered().catch(() => undefined);
      await store.flush();
    },
  };
}

/**
 * Tenants whose users may use the bot (chat) and open the dashboard: ALLOWED_TENANT_IDS when set,
 * else the bot's own tenant (MicrosoftAppTenantId), else the tenant of the Azure credential
 * (AZURE_TENANT_ID, when it is a GUID: its RBAC is what the roles are read from). None of these (a
 * MultiTenant bot with no tenant configured): the dashboard accepts no tenant in production and
 * chat accepts any (with a warning at start); the sandbox accepts any.
 */
export function allowedTenants(config: Pick<Config, 'ALLOWED_TENANT_IDS' | 'MicrosoftAppTenantId' | 'AZURE_TENANT_ID'>): string[] {
  if (config.ALLOWED_TENANT_IDS.length) return config.ALLOWED_TENANT_IDS;
  if (config.MicrosoftAppTenantId) return [config.MicrosoftAppTenantId];
  const azure = config.AZURE_TENANT_ID?.trim();
  return azure && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(azure) ? [azure] : [];
}
