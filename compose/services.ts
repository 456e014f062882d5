/**
 * Wires the application's use cases (app/) from the ports: the store, the Teams messenger and
 * directory, the Defender client, the ServiceNow clients. Used by bot/index.ts#createApp and by
 * the CLI, so every entry point runs the same use cases with the same rules.
 */
import type { ScheduledTask } from 'node-cron';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { parseQuietHours } from '../core/reminders.js';
import type { Authorizer, DefenderPort, Directory, JobRuns, Locks, Messenger, RequestSlots, Secrets, Store } from '../app/ports.js';
import { Announcements } from '../app/announcements.js';
import { AssignmentWriter } from '../app/assignmentWriter.js';
import { cachedAncestry, RbacAuthorizer, ReadPolicy, SandboxIdentityAuthorizer } from '../app/authorization.js';
import { CreateAssignments } from '../app/createAssignments.js';
import { DueDates } from '../app/dueDates.js';
import { GovernanceWriteBack } from '../app/governance.js';
import { IntegrationService, ManageIntegrations } from '../app/manageIntegrations.js';
import { MoreTime } from '../app/moreTime.js';
import { RecommendationCards } from '../app/recommendationCards.js';
import { ReminderJob } from '../app/reminders.js';
import { ResolutionJob } from '../app/resolution.js';
import { Rules } from '../app/rules.js';
import { Subscriptions } from '../app/subscriptions.js';
import { SyncCycle } from '../app/syncCycle.js';
import { SyncJob } from '../app/syncRecommendations.js';
import { ServiceNowInstances, type ServiceNowClientOptions } from '../connectors/servicenow/client.js';
import { ServiceNowTicketSystems } from '../connectors/servicenow/ticketSystems.js';
import type { Lookup } from '../connectors/servicenow/urlGuard.js';
import { replicaId } from '../jobs/replica.js';
import { startSchedules as startJobSchedules } from '../jobs/schedules.js';
import { InProcessLocks } from '../storage/locks.js';
import { sandboxIdentity, type Config } from './config.js';
import { AssignmentListQuery } from '../app/queries/assignmentList.js';
import { OwnerDigestQuery } from '../app/queries/ownerDigest.js';
import { RecommendationSummaryQuery } from '../app/queries/recommendationSummary.js';
import { TrackedRecommendationsQuery } from '../app/queries/trackedRecommendations.js';

export interface IntegrationServiceOptions {
  store: Store;
  secrets: Secrets;
  clock: Clock;
  logger: Logger;
  /** SERVICENOW_ALLOW_PRIVATE_HOSTS (the sandbox): no SSRF guard on instance URLs and connections. */
  allowPrivateHosts: boolean;
  /** Resolver for the add-time URL check (tests). */
  lookup?: Lookup;
  clientOptions?: ServiceNowClientOptions;
  sleep?: (ms: number) => Promise<void>;
  instances?: ServiceNowInstances;
}

/** The integrations service over real ServiceNow clients (connectors/servicenow/ticketSystems.ts). */
export function integrationService(o: IntegrationServiceOptions): IntegrationService {
  return new IntegrationService({
    store: o.store,
    secrets: o.secrets,
    clock: o.clock,
    logger: o.logger,
    ticketSystems: new ServiceNowTicketSystems({
      clock: o.clock,
      logger: o.logger,
      allowPrivateHosts: o.allowPrivateHosts,
      lookup: o.lookup,
      clientOptions: o.clientOptions,
      sleep: o.sleep,
      instances: o.instances,
    }),
  });
}

/**
 * Governance rules for the CLI: managed and previewed without the bot (no Teams, no ticket
 * creation: the running bot's sync cycle applies them). The CLI is the data folder's operator, so
 * no role is checked.
 */
export function cliRuleService(o: {
  config: Config;
  store: Store;
  secrets: Secrets;
  clock: Clock;
  logger: Logger;
  azure?: DefenderPort;
  scopes: readonly string[];
}): Rules {
  const integrations = integrationService({
    store: o.store,
    secrets: o.secrets,
    clock: o.clock,
    logger: o.logger,
    allowPrivateHosts: o.config.SERVICENOW_ALLOW_PRIVATE_HOSTS,
  });
  const azure = o.azure;
  return new Rules({
    store: o.store,
    assignments: {
      createTickets: () => Promise.reject(new Error('the CLI does not apply rules: the bot does on its next sync')),
    },
    integrations,
    mayManageScope: async () => ({ allowed: true }),
    defender: azure?.getResourceTags
      ? { getResourceTags: azure.getResourceTags.bind(azure), listGovernanceRules: azure.listGovernanceRules?.bind(azure) }
      : undefined,
    ancestry: cachedAncestry({
      known: () => new Map(),
      fetch: azure ? (ids) => azure.getSubscriptionAncestry(ids) : undefined,
      now: () => o.clock.now().getTime(),
    }),
    scopes: o.scopes,
    clock: o.clock,
    logger: o.logger,
    timeZone: o.config.REMINDER_TIMEZONE,
    maxTicketsPerSync: o.config.RULE_MAX_TICKETS_PER_SYNC,
  });
}

export interface ServicePorts {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  secrets: Secrets;
  messenger: Messenger;
  directory: Directory;
  /** Azure (Defender for Cloud, ARM roles, Graph); absent = no recommendations feed. */
  azure?: DefenderPort;
  /** ARM scopes the sync job reads (default DEFENDER_SCOPES). */
  defenderScopes?: readonly string[];
  /** Mutual exclusion per assignment (and per install); default in-process (the embedded store has one writer process). */
  locks?: Locks;
  /** Each ServiceNow instance's request budget shared by the replicas; default this process's own. */
  requestSlots?: RequestSlots;
  /** Backoff between retries of outside calls; tests pass one that returns at once. */
  retrySleep?: (ms: number) => Promise<void>;
  /** Sandbox: who a user the directory does not know is (the Caller a form offers). */
  sandboxUser?: string;
}

export interface Queries {
  assignmentList: AssignmentListQuery;
  ownerDigest: OwnerDigestQuery;
  recommendationSummary: RecommendationSummaryQuery;
  tracked: TrackedRecommendationsQuery;
}

export interface Services {
  locks: Locks;
  writer: AssignmentWriter;
  governance: GovernanceWriteBack;
  cards: RecommendationCards;
  announcements: Announcements;
  authorizer: Authorizer;
  readPolicy: ReadPolicy;
  subscriptions: Subscriptions;
  integrations: IntegrationService;
  manageIntegrations: ManageIntegrations;
  assignments: CreateAssignments;
  dueDates: DueDates;
  moreTime: MoreTime;
  reminders: ReminderJob;
  /** Present with a Defender client. */
  sync?: SyncJob;
  resolution?: ResolutionJob;
  cycle?: SyncCycle;
  /** Read-only use cases of the listing commands (the Teams adapter renders their answers). */
  queries: Queries;
  /** Governance rules (issue 15): managed from Teams and the CLI, applied by the cycle. */
  rules: Rules;
}

export function createServices(p: ServicePorts): Services {
  const { config, store, clock, logger, messenger, directory, azure } = p;
  const sandbox = config.BOT_MODE === 'sandbox';
  const timeZone = config.REMINDER_TIMEZONE;
  const scopes = p.defenderScopes ?? config.DEFENDER_SCOPES;
  const locks = p.locks ?? new InProcessLocks();

  const sync = azure ? new SyncJob({ azure, store, locks, messenger, clock, logger: logger.child({ job: 'sync' }), scopes, timeZone }) : undefined;
  // What the sync pass learned (ancestry, subscription names), for every card rendered elsewhere.
  const ancestry = () => sync?.ancestry() ?? new Map<string, string[]>();
  const subscriptionNames = () => sync?.subscriptionNames() ?? new Map<string, string>();

  const writer = new AssignmentWriter({ store, locks, clock });
  const governance = new GovernanceWriteBack({ defender: azure, writer, clock, logger: logger.child({ module: 'governance' }) });
  const cards = new RecommendationCards({ store, messenger, logger: logger.child({ module: 'cards' }), clock, timeZone, ancestry, subscriptionNames });
  const announcements = new Announcements({ store, messenger, logger: logger.child({ module: 'announcements' }) });

  // One ancestry for role checks and read filters: the sync job's, then Resource Graph for the rest.
  const ancestrySource = cachedAncestry({
    known: ancestry,
    fetch: azure ? (ids) => azure.getSubscriptionAncestry(ids) : undefined,
    now: () => clock.now().getTime(),
  });
  const rbac = new RbacAuthorizer(azure?.roles, {
    sandbox,
    logger: logger.child({ module: 'authz' }),
    scopes,
    ancestry: ancestrySource,
    now: () => clock.now().getTime(),
  });
  const identity = sandbox ? sandboxIdentity(config) : undefined;
  const authorizer: Authorizer = identity ? new SandboxIdentityAuthorizer(rbac, identity, async (upn) => (await azure?.getUser(upn))?.id) : rbac;
  const readPolicy = new ReadPolicy({ store, authorizer, ancestry: ancestrySource, logger: logger.child({ module: 'authz' }) });
  const subscriptions = new Subscriptions({
    store,
    clock,
    logger: logger.child({ module: 'conversations' }),
    authorizer,
    locks,
    storedCards: sync,
    ancestry,
    digestAbove: config.CHANNEL_DIGEST_ABOVE,
  });

  const integrations = integrationService({
    store,
    secrets: p.secrets,
    clock,
    logger: logger.child({ module: 'integrations' }),
    allowPrivateHosts: config.SERVICENOW_ALLOW_PRIVATE_HOSTS,
    sleep: p.retrySleep,
    ...(p.requestSlots ? { instances: new ServiceNowInstances(p.requestSlots) } : {}),
  });
  const manageIntegrations = new ManageIntegrations({
    integrations,
    authorizer,
    readPolicy,
    store,
    logger: logger.child({ module: 'integrations' }),
    ancestry: azure ? (ids) => azure.getSubscriptionAncestry(ids) : undefined,
  });
  const assignments = new CreateAssignments({
    store,
    writer,
    governance,
    integrations,
    cards,
    directory,
    authorizer,
    sandboxCaller: sandbox ? p.sandboxUser : undefined,
    defender: azure,
    clock,
    logger: logger.child({ module: 'assignments' }),
    timeZone,
    severityImpactUrgency: config.SEVERITY_IMPACT_URGENCY,
    messenger,
    leaseMs: config.WORK_LEASE_SECONDS * 1000,
  });
  const dueDates = new DueDates({
    store,
    writer,
    governance,
    integrations,
    authorizer,
    directory,
    messenger,
    cards,
    clock,
    logger: logger.child({ module: 'dueDate' }),
    timezone: timeZone,
  });
  const moreTime = new MoreTime({
    store,
    writer,
    governance,
    integrations,
    directory,
    dueDates,
    clock,
    logger: logger.child({ module: 'moreTime' }),
    timezone: timeZone,
  });
  const reminders = new ReminderJob({
    store,
    messenger,
    directory,
    graph: azure,
    cards,
    clock,
    logger: logger.child({ job: 'reminders' }),
    settings: { remindDaysBefore: config.REMIND_DAYS_BEFORE, quietHours: config.QUIET_HOURS ? parseQuietHours(config.QUIET_HOURS) : undefined },
    timezone: timeZone,
    workRetentionDays: config.WORK_RETENTION_DAYS,
  });
  const resolution = azure
    ? new ResolutionJob({
        store,
        writer,
        governance,
        announcements,
        cards,
        azure,
        integrations,
        clock,
        logger: logger.child({ job: 'resolution' }),
        settings: { resolveAfterHealthyPasses: config.RESOLVE_AFTER_HEALTHY_PASSES, reopenWindowDays: config.REOPEN_WINDOW_DAYS },
        scopes,
      })
    : undefined;
  const rules = new Rules({
    store,
    assignments,
    integrations,
    mayManageScope: (actor, scope) => manageIntegrations.mayManageScope(actor, scope),
    defender: azure?.getResourceTags
      ? { getResourceTags: azure.getResourceTags.bind(azure), listGovernanceRules: azure.listGovernanceRules?.bind(azure) }
      : undefined,
    ancestry: ancestrySource,
    scopes,
    messenger,
    directory,
    cards,
    clock,
    logger: logger.child({ module: 'rules' }),
    timeZone,
    maxTicketsPerSync: config.RULE_MAX_TICKETS_PER_SYNC,
    locks,
  });
  const cycle = sync ? new SyncCycle({ sync, resolution, assignments, integrations, rules, logger }) : undefined;
  return {
    locks,
    writer,
    governance,
    cards,
    announcements,
    authorizer,
    readPolicy,
    subscriptions,
    integrations,
    manageIntegrations,
    assignments,
    dueDates,
    moreTime,
    reminders,
    sync,
    resolution,
    cycle,
    rules,
    queries: {
      assignmentList: new AssignmentListQuery({ store, readPolicy, clock, timeZone }),
      ownerDigest: new OwnerDigestQuery({ store, clock, timezone: timeZone }),
      recommendationSummary: new RecommendationSummaryQuery({ store, readPolicy, ...(sync ? { ancestry: () => sync.ancestry() } : {}) }),
      tracked: new TrackedRecommendationsQuery({ store }),
    },
  };
}

/**
 * The cron schedules of the use cases (jobs/schedules.ts). With `jobRuns` (openStore's), each
 * tick is claimed first, so it runs on one of the processes sharing the store.
 */
export function startSchedules(services: Services, config: Config, logger: Logger, jobRuns?: JobRuns): ScheduledTask[] {
  const once = jobRuns
    ? { jobRuns, holder: replicaId, leaseMs: config.JOB_LEASE_SECONDS * 1000, retentionMs: config.WORK_RETENTION_DAYS * 86_400_000 }
    : undefined;
  const { cycle, resolution } = services;
  return startJobSchedules(
    {
      cycle: cycle && { runOnce: () => exclusiveSync(services, 'cycle', () => cycle.runOnce()) },
      resolution: resolution && { runOnce: (o: { full: boolean }) => exclusiveSync(services, 'full-reconcile', () => resolution.runOnce(o)) },
      reminders: services.reminders,
    },
    config,
    logger,
    once,
  );
}

/**
 * A sync pass (scheduled, typed `sync`, the first pass at start, the full reconcile) on one
 * process at a time across every process on the store (Locks: advisory on PostgreSQL): two
 * replicas passing at once would both post the same new recommendation's card. A call while the
 * same kind of pass runs in this process joins it, as the use cases do on their own.
 */
export function exclusiveSync<T>(services: Pick<Services, 'locks'>, kind: string, run: () => Promise<T>): Promise<T> {
  const inFlight = passesInFlight.get(services) ?? new Map<string, Promise<unknown>>();
  passesInFlight.set(services, inFlight);
  const joined = inFlight.get(kind);
  if (joined) return joined as Promise<T>;
  const pass = services.locks.withLock(SYNC_LOCK, run).finally(() => {
    if (inFlight.get(kind) === pass) inFlight.delete(kind);
  });
  inFlight.set(kind, pass);
  return pass;
}

const passesInFlight = new WeakMap<object, Map<string, Promise<unknown>>>();

export const SYNC_LOCK = 'job:sync';
