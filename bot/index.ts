import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ConfigurationBotFrameworkAuthentication, type ConfigurationBotFrameworkAuthenticationOptions, type TurnContext } from 'botbuilder';
import { BotAdapter } from './adapter.js';
import type * as restify from 'restify';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../app/ports.js';
import type { SecretBox } from '../storage/secrets.js';
import { ActionRouter, defineAction } from './actionRouter.js';
import { CommandRouter } from './commandRouter.js';
import { helpCommand } from './commands/help.js';
import { installHandler, subscribeCommands } from './commands/subscribe.js';
import { botFrameworkAuthOptions, type Config } from './config.js';
import { ConversationService, rootConversationId } from './conversations.js';
import type { TurnInfo } from './turn.js';
import { closeServer, createServer, listen } from './server.js';
import { TeamsBot } from './teamsBot.js';
import { z } from 'zod';
import type { ScheduledTask } from 'node-cron';
import { scheduleJob } from '../jobs/schedule.js';
import { ResolutionJob } from '../jobs/resolution.js';
import { LIVE_ASSIGNMENT_STATUSES } from '../core/model.js';
import { ReminderJob, scheduleReminders, StoredConversationDirectory, type ConversationDirectory } from '../jobs/reminders.js';
import { parseQuietHours } from '../core/reminders.js';
import { digestCommand } from './commands/digest.js';
import { dueDateActions } from './actions/dueDate.js';
import { moreTimeActions } from './actions/moreTime.js';
import { helpCard } from '../cards/index.js';
import type { AzureClient } from '../connectors/defender/azureClient.js';
import type { DefenderSimulatorControl } from './commands/simulate.js';
import { scheduleSync, SyncJob } from '../jobs/sync.js';
import { recommendationActions } from './actions/recommendation.js';
import { cachedAncestry, RbacAuthorizer } from './authorizer.js';
import { ReadPolicy } from './readPolicy.js';
import { integrationsCommand } from './commands/integrations.js';
import { integrationActions } from './actions/integrations.js';
import { recommendationCommands } from './commands/recommendations.js';
import { simulateCommand } from './commands/simulate.js';
import { IntegrationService } from './integrations.js';
import { ProactiveMessenger } from './messenger.js';
import { registerDashboard } from './dashboard.js';
import { TeamsDirectory } from './teamsDirectory.js';
import { InProcessLocks } from '../storage/locks.js';
import { assignmentActions } from './actions/assignment.js';
import { AssignmentService } from './assignments.js';
import { assignmentsCommand } from './commands/assignments.js';

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
  /** How reminders find an owner's 1:1 chat; default: stored personal conversations. */
  directory?: ConversationDirectory;
  /** Folder of the bundled dashboard tab (dist/web). */
  webRoot?: string;
  /** Backoff between retries of outside calls; tests pass one that returns at once. */
  retrySleep?: (ms: number) => Promise<void>;
  /** Tests pace sends on virtual time instead of waiting for Teams' rate windows. */
  messengerTiming?: { now: () => number; sleep: (ms: number) => Promise<void> };
  /** Sandbox: the e-mail the Emulator user (who has no Entra identity) acts as. */
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
  integrations: IntegrationService;
  assignments: AssignmentService;
  resolution?: ResolutionJob;
  reminders: ReminderJob;
  /** One sync cycle (sync, resolution, resume): what the schedule runs. */
  runCycle?: () => Promise<unknown>;
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

  const auth = new ConfigurationBotFrameworkAuthentication({
    ...(botFrameworkAuthOptions(config) as ConfigurationBotFrameworkAuthenticationOptions),
    ...options.botFrameworkAuth,
  });
  const adapter = new BotAdapter(auth);
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

  const conversations = new ConversationService(store, clock, logger.child({ module: 'conversations' }));
  const messenger = new ProactiveMessenger({
    adapter,
    appId: config.MicrosoftAppId ?? '',
    store,
    clock,
    logger: logger.child({ module: 'messenger' }),
    ...options.messengerTiming,
  });
  const integrations = new IntegrationService({
    store,
    secrets: options.secrets,
    clock,
    logger: logger.child({ module: 'integrations' }),
    allowPrivateHosts: config.SERVICENOW_ALLOW_PRIVATE_HOSTS,
    sleep: options.retrySleep,
  });
  const knownSubscriptions = async () => [
    ...new Set((await store.recommendations.list()).flatMap((r) => r.resources.map((x) => x.subscriptionId.toLowerCase()))),
  ];
  const sync = options.azure
    ? new SyncJob({
        azure: options.azure,
        store,
        messenger,
        clock,
        logger: logger.child({ job: 'sync' }),
        scopes: options.defenderScopes ?? config.DEFENDER_SCOPES,
        timeZone: config.REMINDER_TIMEZONE,
      })
    : undefined;
  const defenderScopes = options.defenderScopes ?? config.DEFENDER_SCOPES;
  // One ancestry for role checks and read filters: the sync job's, then Resource Graph for the rest.
  const ancestry = cachedAncestry({
    known: () => sync?.ancestry() ?? new Map(),
    fetch: options.azure ? (ids) => options.azure!.getSubscriptionAncestry(ids) : undefined,
    now: () => clock.now().getTime(),
  });
  const authorizer = new RbacAuthorizer(options.azure?.roles, {
    sandbox,
    logger: logger.child({ module: 'authz' }),
    scopes: defenderScopes,
    ancestry,
    now: () => clock.now().getTime(),
  });
  const readPolicy = new ReadPolicy({ store, authorizer, ancestry, logger: logger.child({ module: 'authz' }) });
  const assignments: AssignmentService = new AssignmentService({
    store,
    integrations,
    azure: options.azure,
    messenger,
    clock,
    logger: logger.child({ module: 'assignments' }),
    subscriptionNames: () => sync?.subscriptionNames() ?? new Map(),
    ancestry: () => sync?.ancestry() ?? new Map(),
    timeZone: config.REMINDER_TIMEZONE,
    severityImpactUrgency: config.SEVERITY_IMPACT_URGENCY,
  });
  const whoAmI = async (actor: { aadObjectId?: string }) => {
    if (!actor.aadObjectId) return options.sandboxUser;
    const [mine] = await store.conversations.list({ kinds: ['personal'], userAadObjectId: actor.aadObjectId });
    return mine?.userUpn;
  };
  const resolution = options.azure
    ? new ResolutionJob({
        store,
        azure: options.azure,
        integrations,
        messenger,
        clock,
        logger: logger.child({ job: 'resolution' }),
        scopes: options.defenderScopes ?? config.DEFENDER_SCOPES,
        settings: { resolveAfterHealthyPasses: config.RESOLVE_AFTER_HEALTHY_PASSES, reopenWindowDays: config.REOPEN_WINDOW_DAYS },
        ancestry: () => sync?.ancestry() ?? new Map(),
        subscriptionNames: () => sync?.subscriptionNames() ?? new Map(),
        timeZone: config.REMINDER_TIMEZONE,
      })
    : undefined;
  const reminderSettings = { remindDaysBefore: config.REMIND_DAYS_BEFORE, quietHours: config.QUIET_HOURS ? parseQuietHours(config.QUIET_HOURS) : undefined };
  const reminders = new ReminderJob({
    store,
    messenger,
    directory:
      options.directory ??
      (sandbox && config.SANDBOX_REMINDER_INBOX
        ? new StoredConversationDirectory(store, { sandboxInbox: config.SANDBOX_REMINDER_INBOX })
        : new TeamsDirectory({ adapter, appId: config.MicrosoftAppId ?? '', store, clock, logger: logger.child({ module: 'directory' }) })),
    graph: options.azure,
    clock,
    logger: logger.child({ job: 'reminders' }),
    settings: reminderSettings,
    timezone: config.REMINDER_TIMEZONE,
    subscriptionNames: () => sync?.subscriptionNames() ?? new Map(),
    ancestry: () => sync?.ancestry() ?? new Map(),
  });
  const tasks: ScheduledTask[] = [];
  if (options.schedule) tasks.push(scheduleReminders(reminders, config.REMINDER_CRON, config.REMINDER_TIMEZONE, logger.child({ job: 'reminders' })));
  /**
   * One cycle per SYNC_CRON tick: refresh recommendations, move tickets with the resources'
   * real state, then finish assignments an outage left unfinished.
   */
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (err) {
      logger.error({ err, step: name }, `${name} failed; the rest of the cycle goes on`);
      return undefined;
    }
  };
  const cycle = sync
    ? {
        // Independent steps: a Resource Graph outage must not stop retries of ticket creation.
        runOnce: async () => {
          const report = await step('sync', () => sync.runOnce());
          const tickets = await step('resolution', async () => resolution?.runOnce());
          await step('resume assignments', () => assignments.resumePending());
          // Removed integrations keep their credentials only until their tickets got a work note.
          await step('forget credentials', () =>
            integrations.forgetReleasedCredentials(
              async (id) => (await store.assignments.count({ integrationId: id, statuses: LIVE_ASSIGNMENT_STATUSES, limit: 1 })) > 0,
            ),
          );
          if (!report) throw new Error('the Defender for Cloud sync failed; see the log');
          return tickets ? { ...report, tickets } : report;
        },
      }
    : undefined;
  if (cycle && options.schedule) tasks.push(scheduleSync(cycle, config.SYNC_CRON, logger.child({ job: 'sync' })));
  if (resolution && options.schedule) {
    // The daily full reconcile heals any change an incremental pass missed.
    tasks.push(scheduleJob('full-reconcile', config.FULL_SYNC_CRON, () => resolution.runOnce({ full: true }), logger));
  }

  /** Subscribing (by command or by installing the bot) needs a managing role on everything a channel would get. */
  const subscribeGuard = async (ctx: TurnInfo) => authorizer.canManage(ctx.actor, await knownSubscriptions());
  const commands = new CommandRouter();
  commands.register(
    helpCommand(commands, sandbox),
    ...subscribeCommands(conversations, sandbox, subscribeGuard),
    ...recommendationCommands({ store, sync, runCycle: cycle?.runOnce, authorizer, readPolicy }),
    integrationsCommand(integrations, readPolicy),
    assignmentsCommand({ store, clock, timeZone: config.REMINDER_TIMEZONE, whoAmI, readPolicy }),
    digestCommand({ store, clock, timezone: config.REMINDER_TIMEZONE, emulatorUpn: sandbox ? config.SANDBOX_EMULATOR_UPN : undefined }),
  );
  if (options.simulator && cycle) commands.register(simulateCommand(options.simulator, store, cycle.runOnce));

  // Owners' and admins' changes to one assignment never interleave.
  const assignmentLock = new InProcessLocks();
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
    ...recommendationActions({ store, sync, clock, timeZone: config.REMINDER_TIMEZONE }),
    ...assignmentActions({
      assignments,
      authorizer,
      store,
      clock,
      timeZone: config.REMINDER_TIMEZONE,
      defaultCaller: sandbox ? options.sandboxUser : undefined,
      upnOfObjectId: options.azure ? async (id) => (await options.azure!.getUser(id))?.userPrincipalName : undefined,
    }),
    ...integrationActions({
      integrations,
      authorizer,
      readPolicy,
      store,
      logger: logger.child({ module: 'integrations' }),
      ancestry: options.azure ? (ids) => options.azure!.getSubscriptionAncestry(ids) : undefined,
    }),
    ...moreTimeActions({
      lock: assignmentLock,
      store,
      clock,
      logger: logger.child({ module: 'moreTime' }),
      timezone: config.REMINDER_TIMEZONE,
      integrations,
      azure: options.azure,
      emulatorUpn: sandbox ? config.SANDBOX_EMULATOR_UPN : undefined,
      messenger,
    }),
    ...dueDateActions({
      lock: assignmentLock,
      store,
      clock,
      logger: logger.child({ module: 'dueDate' }),
      authorizer,
      integrations,
      azure: options.azure,
      messenger,
      refreshCards: (key) => assignments.refreshCards(key),
      timezone: config.REMINDER_TIMEZONE,
      emulatorUpn: sandbox ? config.SANDBOX_EMULATOR_UPN : undefined,
    }),
  );

  const install = installHandler({
    conversations,
    sandbox,
    guard: subscribeGuard,
    known: async (id) => (await store.conversations.get(rootConversationId(id))) !== undefined,
    lock: new InProcessLocks(),
  });
  const bot = new TeamsBot({ commands, actions, conversations, install, logger: logger.child({ module: 'bot' }), sandbox });
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
    whoAmI,
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
    integrations,
    assignments,
    sync,
    resolution,
    reminders,
    runCycle: cycle?.runOnce,
    listen: (port, host) => listen(server, port, host),
    stop: async () => {
      for (const t of tasks) await t.destroy();
      await closeServer(server);
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
