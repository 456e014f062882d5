/**
 * The ports of the application: every interface the use cases need from the outside world,
 * declared once. Implementations live in storage/ (Store, Locks, WorkQueue, Secrets), bot/
 * (Messenger, Directory) and connectors/ (DefenderPort, TicketSystems) and are injected by the
 * composition root (compose/). The Authorizer is the application's own policy (app/authorization.ts)
 * behind a port, so adapters and use cases check roles without knowing how.
 *
 * Store rules (a networked store must be able to implement them):
 * - every read returns a Promise; no closure crosses the port: queries are plain objects;
 * - rows read from the store are snapshots: changing one changes nothing until it is written back
 *   (the embedded stores hand out frozen objects, so an in-place change throws);
 * - a row written is validated against its schema in core/model.ts; an invalid row is refused;
 * - lists come in the order the rows were first stored, unless a method says otherwise.
 */
import type { AdaptiveCard } from '../cards/render.js';
import type { UnhealthyResource } from '../core/defender-model.js';
import type { KnownRowLookup } from '../core/rowFingerprints.js';
import type { DefenderGovernanceRule } from '../core/defenderRules.js';
import type { GovernanceProperties } from '../core/governance.js';
import type { TicketTable } from '../core/servicenow-rules.js';
import type {
  Assignment,
  AssignmentStatus,
  AuditEntry,
  Conversation,
  ConversationKind,
  EncryptedSecret,
  GovernanceStatus,
  Integration,
  PostedCard,
  Recommendation,
  ReminderSent,
  Rule,
  WorkItem,
  WorkStatus,
} from '../core/model.js';

export type { Clock } from '../core/clock.js';
export type { Logger } from '../core/logger.js';

// ------------------------------------------------------------------ Store

/** A write the store refuses because of a constraint (a unique key, one live assignment per key); nothing of it was applied. */
export class StoreConstraintError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConstraintError';
  }
}

/** A row that does not match its schema in core/model.ts; nothing of the write was applied. */
export class InvalidRowError extends Error {
  constructor(
    readonly table: string,
    readonly problems: string[],
  ) {
    super(`invalid ${table} row: ${problems.join('; ')}`);
    this.name = 'InvalidRowError';
  }
}

export interface ConversationQuery {
  subscribed?: boolean;
  /** true: not marked unreachable (the bot can post there); false: marked unreachable. */
  reachable?: boolean;
  kinds?: readonly ConversationKind[];
  channelId?: string;
  /** The UPN of a 1:1 chat's user, compared case-insensitively. */
  userUpn?: string;
  userAadObjectId?: string;
}

export interface ConversationRepository {
  get(id: string): Promise<Conversation | undefined>;
  list(query?: ConversationQuery): Promise<Conversation[]>;
  count(query?: ConversationQuery): Promise<number>;
  upsert(conversation: Conversation): Promise<void>;
  /** false when there was none. */
  remove(id: string): Promise<boolean>;
}

export interface IntegrationRepository {
  get(id: string): Promise<Integration | undefined>;
  /** The active integration with this name (case-insensitive). */
  findByName(name: string): Promise<Integration | undefined>;
  /** Active integrations (removed ones are kept for history but not listed). */
  list(): Promise<Integration[]>;
  /** Active and removed ones. */
  listAll(): Promise<Integration[]>;
  upsert(integration: Integration): Promise<void>;
}

export interface PostedCardQuery {
  conversationId?: string;
  recommendationKey?: string;
}

export interface RecommendationRepository {
  get(key: string): Promise<Recommendation | undefined>;
  list(): Promise<Recommendation[]>;
  /** The embedded stores may keep (and freeze) the caller's objects instead of a copy: do not change them afterwards. */
  upsertMany(recommendations: readonly Recommendation[]): Promise<void>;
  getCard(conversationId: string, recommendationKey: string): Promise<PostedCard | undefined>;
  listCards(query?: PostedCardQuery): Promise<PostedCard[]>;
  upsertCard(card: PostedCard): Promise<void>;
  removeCardsFor(conversationId: string): Promise<void>;
}

/** Every field given must match (AND); an empty query matches every assignment. */
export interface AssignmentQuery {
  /** e.g. LIVE_ASSIGNMENT_STATUSES. An empty list matches nothing. */
  statuses?: readonly AssignmentStatus[];
  /** An empty list matches nothing. */
  ids?: readonly string[];
  batchId?: string;
  integrationId?: string;
  /** Compared case-insensitively (recommendation keys are assessment GUIDs). */
  recommendationKey?: string;
  /** The owner's UPN, compared case-insensitively. */
  owner?: string;
  conversationId?: string;
  hasTicket?: boolean;
  ticketSysId?: string;
  /** Due strictly before this day (YYYY-MM-DD). */
  dueBefore?: string;
  /** Assignments with a governance record in one of these states (none: matches nothing). */
  governanceStatuses?: readonly GovernanceStatus[];
  /** The first `limit` matches, in list order. */
  limit?: number;
}

export interface AssignmentRepository {
  get(id: string): Promise<Assignment | undefined>;
  /** The live (LIVE_ASSIGNMENT_STATUSES) assignment for a recommendation+resource key. */
  findLiveByKey(key: string): Promise<Assignment | undefined>;
  /** findLiveByKey for many keys at once; keys without a live assignment are absent. */
  findLiveByKeys(keys: readonly string[]): Promise<Map<string, Assignment>>;
  list(query?: AssignmentQuery): Promise<Assignment[]>;
  count(query?: AssignmentQuery): Promise<number>;
  /**
   * Inserts or replaces by id, all or nothing. Refused (StoreConstraintError, nothing written) when
   * it would leave two live assignments with one key, or names one id twice.
   */
  upsertMany(assignments: readonly Assignment[]): Promise<void>;
}

export interface ReminderRepository {
  wasSent(key: string): Promise<boolean>;
  /** The keys among `keys` that were recorded. */
  sentAmong(keys: Iterable<string>): Promise<Set<string>>;
  /** Records a sent reminder; returns false when it was already recorded (exactly-once guard). */
  markSent(entry: ReminderSent): Promise<boolean>;
  /**
   * Forgets entries sent before `olderThan` whose key starts with one of `keyPrefixes`; returns
   * how many. The caller names the prefixes: only it knows which keys are tied to a period that
   * is over (keys of a still-live thing, such as grace-ended:{assignment}, must stay).
   */
  prune(olderThan: Date, keyPrefixes: readonly string[]): Promise<number>;
}

/** Every field given must match (AND). */
export interface AuditQuery {
  /** Any of these actions (an empty list matches nothing). */
  actions?: readonly string[];
  actor?: string;
  /** Entries whose details hold these top-level values. */
  details?: Readonly<Record<string, string | number | boolean | null>>;
  /** Entries whose details have these top-level keys, whatever their value. */
  detailKeys?: readonly string[];
}

export interface AuditRepository {
  append(entry: AuditEntry): Promise<void>;
  /** The newest `limit` entries (default 100), newest first. */
  list(limit?: number): Promise<AuditEntry[]>;
  /** The newest entry about `target` that matches, however old (list() only sees the last few). */
  findLast(target: string, query?: AuditQuery): Promise<AuditEntry | undefined>;
}

/** Governance rules of the bot (core/model.ts Rule; evaluated by core/rules.ts). */
export interface RuleRepository {
  get(id: string): Promise<Rule | undefined>;
  /** The rule with this name, compared case-insensitively. */
  findByName(name: string): Promise<Rule | undefined>;
  /** Every rule, in first-stored order (core/rules.ts evaluationOrder gives the order they run in). */
  list(): Promise<Rule[]>;
  /** Inserts or replaces by id. Refused (StoreConstraintError) when another rule has the same name, case-insensitively. */
  upsert(rule: Rule): Promise<void>;
  /** false when there was none. The assignments the rule made stay as they are. */
  remove(id: string): Promise<boolean>;
}

export interface MetaRepository {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /**
   * Deletes the keys starting with `prefix` whose value `stale` says is stale; returns how many.
   * For families of keys written per event (bot/cardIds.ts's card keys), which would otherwise grow forever.
   */
  prune(prefix: string, stale: (value: string) => boolean): Promise<number>;
}

export interface StoreStatus {
  kind: string;
  ok: boolean;
  /** Writes to the backing medium so far (a coalesced batch counts once). */
  writes: number;
  lastWriteAt?: string;
  lastError?: string;
}

/** The repositories, as seen inside a transaction or outside one. */
export interface StoreTx {
  conversations: ConversationRepository;
  integrations: IntegrationRepository;
  recommendations: RecommendationRepository;
  assignments: AssignmentRepository;
  reminders: ReminderRepository;
  audit: AuditRepository;
  meta: MetaRepository;
  work: WorkQueue;
  rules: RuleRepository;
}

/**
 * The store seen by the rest of the app. Outside a transaction each mutation resolves once the
 * change is durable, so a caller can "persist, then call out"; several mutations in the same tick
 * share one write.
 */
export interface Store extends StoreTx {
  /**
   * One use-case step = one unit. Inside `fn`, reads through `tx` see the committed state plus the
   * transaction's own writes; mutations through `tx` are checked (schema, constraints) when made,
   * but nobody else sees them until `fn` resolves. Then all of them are applied at once (no reader
   * sees half of them) and made durable in one write, and the transaction resolves. When `fn`
   * rejects, none of them is applied and the transaction rejects with fn's error. A conflict found
   * at commit (another writer took the same unique key meanwhile) rejects with StoreConstraintError
   * and applies nothing.
   *
   * Isolation is read-committed, as in PostgreSQL's default: two transactions that read and then
   * write the same row do not see each other; use Locks for read-modify-write of one row.
   * Calls on the store itself (not `tx`) inside `fn` are not part of the transaction.
   * lowdb: "durable" is the coalesced write of the whole file; if that write fails the changes stay
   * applied in memory (they go to disk with the next write) and the transaction rejects.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  status(): StoreStatus;
  /** Resolves when every pending write is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------ Locks

/**
 * Mutual exclusion by key (an assignment id, a job name): later callers for a key wait until the
 * earlier ones are done, in order; a failure releases the key. In-process for the embedded store;
 * a shared store implements it with advisory locks.
 */
export interface Locks {
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Several keys held together (a batch of assignments), in an order every process uses, so two
   * callers over overlapping sets never wait for each other in a cycle. Optional: without it the
   * caller nests withLock in key order. PostgreSQL takes them on one connection (nesting would
   * hold one pooled connection per key and run out of connections on a large batch).
   */
  withLocks?<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T>;
}

// ------------------------------------------------------------------ JobRuns

/** One claimed cron tick of a job (JobRuns). Times are ISO strings. */
export interface JobRun {
  job: string;
  /** The tick's scheduled time. */
  tickAt: string;
  holder: string;
  claimedAt: string;
  leaseUntil: string;
  /** Set by release: the tick is done (successfully or not). */
  finishedAt?: string;
}

/**
 * Each cron tick of a job runs on exactly one process (issue 14: sync, resolution, reminders and
 * the full reconcile once per tick across replicas). Every replica's schedule fires; the one whose
 * claim returns true runs the tick, the others skip it.
 *
 * - claim: true when `holder` now holds `job`'s tick at `tickAt` until now + leaseMs. A tick is
 *   claimed at most once (a replica whose timer fires late, even after the run, gets false), and
 *   not while an earlier tick of the job is unreleased under a lease that has not run out (no
 *   overlapping runs). A holder that died keeps its tick; its lease runs out and the next tick is
 *   claimed by whoever comes first. The same holder claiming the same tick again gets true.
 *   `tickAt` must be the tick's scheduled time (the cron slot, equal on every replica), not the
 *   moment the timer fired.
 * - renew: a long run extends its lease; false when the lease has run out already (or the tick is
 *   not the holder's): the holder must expect that another process runs the job now.
 * - release: the run is over; the next tick may start before the lease would have run out. false
 *   when the tick was not the holder's or was released already.
 * - list: the job's newest ticks first (diagnostics, tests). prune: forgets ticks scheduled before.
 *
 * Leases use the store's clock. In-process for the embedded stores (one process, storage/
 * coordination.ts); a table with a row per (job, tick) for PostgreSQL.
 */
export interface JobRuns {
  claim(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean>;
  renew(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean>;
  release(job: string, tickAt: Date, holder: string): Promise<boolean>;
  list(job: string, limit?: number): Promise<JobRun[]>;
  prune(tickBefore: Date): Promise<number>;
}

// ------------------------------------------------------------------ SendPacing

/**
 * Teams' per-conversation send limits (core/rateLimit.ts TEAMS_SEND_LIMITS) kept by every process
 * together: a replica asks for a slot before each send and sends at the time it gets, so the sends
 * of all replicas into one conversation stay inside every window.
 *
 * - reserve: books the conversation's next free slot (now, or later when a window is full or the
 *   conversation is held) and returns it; each booking's slot is at or after the one before.
 * - holdUntil: no slot before `until` (Teams answered 429 with Retry-After); an earlier hold than
 *   the current one changes nothing.
 *
 * In-process for the embedded stores; a row per conversation updated under a row lock for
 * PostgreSQL.
 */
export interface SendPacing {
  reserve(conversationId: string): Promise<Date>;
  holdUntil(conversationId: string, until: Date): Promise<void>;
}

// ------------------------------------------------------------------ RequestSlots

/**
 * A ticket system instance's request budget kept by every process on the store together
 * (ServiceNow's API_INT semaphores are per instance, whatever number of replicas call it): a
 * request holds one of the instance's `limit` slots while it is in flight.
 *
 * - acquire: resolves once the caller holds a slot of `instance`, with the function that gives it
 *   back (call it once; it never throws). No more than `limit` slots of one instance are held at
 *   once across the processes, and a process that dies gives its slots back.
 *
 * Absent for the embedded stores (one process: its in-process limit is the whole budget); session
 * advisory locks for PostgreSQL.
 */
export interface RequestSlots {
  acquire(instance: string, limit: number): Promise<() => void>;
}

// ------------------------------------------------------------------ WorkQueue

export interface WorkRequest {
  kind: string;
  /** Idempotency key: at most one item per (kind, key). */
  key: string;
  /** Plain JSON (it is stored as JSON). */
  payload: unknown;
  /** Not claimed before this time (default: now). */
  runAt?: Date;
}

export interface WorkQuery {
  kind?: string;
  statuses?: readonly WorkStatus[];
  key?: string;
}

/**
 * A durable work queue: an item is persisted before anything runs it, claimed with a lease, and
 * idempotent by (kind, key).
 *
 * - enqueue: one item per (kind, key). While one is queued or running, enqueuing the same key
 *   again changes nothing and returns the existing item; a finished (done or failed) one is queued
 *   again with the new payload and runAt, its attempts starting over.
 * - claim: up to `limit` items of `kind` that are queued and due (runAt <= now), or running with
 *   an expired lease (the worker died); earliest runAt first, then first enqueued. Each becomes
 *   running for `owner` until now + leaseMs, and its attempts count goes up by one.
 * - complete / fail: only the current lease owner's call counts (an owner whose lease expired
 *   and was taken over gets false and must drop its result). fail with retryAt queues it again
 *   for then; without, it ends as failed.
 */
export interface WorkQueue {
  enqueue(items: readonly WorkRequest[]): Promise<WorkItem[]>;
  claim(kind: string, owner: string, limit: number, leaseMs: number): Promise<WorkItem[]>;
  complete(id: string, owner: string): Promise<boolean>;
  fail(id: string, owner: string, error: string, retryAt?: Date): Promise<boolean>;
  get(id: string): Promise<WorkItem | undefined>;
  list(query?: WorkQuery): Promise<WorkItem[]>;
  /**
   * Forgets the `kind` items that finished before `finishedBefore`: every done one, and the failed
   * ones among `handledFailures` (ids). The caller says which failures were handled; the other
   * failed items are dead letters kept for a person to look into. Queued and running items are
   * never forgotten. Returns how many.
   */
  prune(kind: string, finishedBefore: Date, handledFailures?: readonly string[]): Promise<number>;
}

// ------------------------------------------------------------------ Secrets

/** Encryption at rest (AES-GCM in storage/secrets.ts). decrypt throws when the key is not the one it was encrypted with. */
export interface Secrets {
  encrypt(plaintext: string): EncryptedSecret;
  decrypt(secret: EncryptedSecret): string;
}

// ------------------------------------------------------------------ who acts

/** Whoever clicked or typed, as the channel identifies them (Teams: the Entra object id). */
export interface Actor {
  id: string;
  name?: string;
  aadObjectId?: string;
}

// ------------------------------------------------------------------ Messenger

export type OutgoingMessage = { text: string } | { card: AdaptiveCard; summary?: string };

/**
 * A message built when its send reaches the head of its queue. A sync pass enqueues thousands of
 * cards that drain at Teams' pace over many minutes; built up front, every rendered card would be
 * held until its turn, so the pass hands over what to render instead. A build that throws fails
 * that send (with the build's own error) without calling the channel.
 */
export type DeferredMessage = () => OutgoingMessage;

/** What Messenger.send and update take: a message, or the function that builds it (see DeferredMessage). */
export type MessageSource = OutgoingMessage | DeferredMessage;

/** The message a source stands for, built now. */
export function messageOf(source: MessageSource): OutgoingMessage {
  return typeof source === 'function' ? source() : source;
}

/** Sending outside a turn (cards from the sync job, reminders, announcements): bot/messenger.ts over Teams. */
export interface Messenger {
  /** Posts a message; resolves with the new activity id. */
  send(conversationId: string, message: MessageSource): Promise<string | undefined>;
  /** Replaces a message posted earlier (a card kept up to date). */
  update(conversationId: string, activityId: string, message: MessageSource): Promise<void>;
  /** Number of sends waiting in the queues. */
  pending(): number;
  /** Resolves when every queue is empty. */
  drain(): Promise<void>;
}

/** How a Messenger send fails. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** The channel refused with 403/404: the bot may no longer post there (uninstalled, blocked, conversation gone). */
    readonly gone: boolean,
    /**
     * The removal is confirmed: the conversation is marked unreachable and unsubscribed, the
     * messenger logged it once, and nothing reached the channel for sends after that. Callers need
     * not log it again.
     */
    readonly unreachable = false,
    /** The channel's error code (e.g. BotNotInConversationRoster), when it sent one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SendError';
  }
}

/** Whether a send failed because the conversation is confirmed unreachable (already logged once by the messenger). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof SendError && err.unreachable;
}

/** Log level for a failed send: a confirmed removal was logged by the messenger, a first refusal is expected noise. */
export function sendFailureLevel(err: unknown): 'debug' | 'info' | 'warn' {
  if (isUnreachable(err)) return 'debug';
  return err instanceof SendError && err.gone ? 'info' : 'warn';
}

// ------------------------------------------------------------------ Directory

/** Who is asking: the actor, and where the turn came from when there is one. */
export interface Caller {
  actor: Actor;
  conversationId?: string;
  channelId?: string;
}

/**
 * "Who is this user, and where is their 1:1 chat": one implementation (bot/teamsDirectory.ts)
 * over the stored personal conversations, with Teams rosters as the fallback.
 */
export interface Directory {
  /**
   * The caller's UPN: from their stored 1:1 chat (this conversation when it is one, else any of
   * the same Entra user); in the sandbox, the emulator identity for a caller outside Teams or
   * without an Entra identity.
   */
  upnOf(caller: Caller): Promise<string | undefined>;
  /** The Entra object id the bot has seen for a UPN (from their 1:1 chat). */
  objectIdOf(upn: string): Promise<string | undefined>;
  /**
   * The UPN of an Entra object id (what Teams' people picker submits), from Microsoft Graph.
   * Absent when the directory cannot ask Graph (no Defender/Azure connection).
   */
  upnOfObjectId?(objectId: string): Promise<string | undefined>;
  /**
   * The conversation id of a 1:1 chat the bot can post to for a UPN. `create`: when none is
   * stored, find the user in a team or group chat and create one (reminders do; a one-off notice does not).
   */
  personalConversationOf(upn: string, opts?: { create?: boolean }): Promise<string | undefined>;
  /** Called at the start of each reminder pass, so a directory can rebuild its index once per pass. */
  refresh?(): void;
}

// ------------------------------------------------------------------ Defender for Cloud (connectors/defender)

export interface AssessmentPageInfo {
  page: number;
  totalRecords: number;
  /** Rows in this page that failed validation and were skipped. */
  skipped: number;
  /** With `fingerprints`: each parsed row's fingerprint (hi, lo pairs, in the order of the rows). */
  fingerprints?: Uint32Array;
  /** With `fingerprints`: rows found there and not parsed, as (entry, hi, lo) triples. */
  known?: Uint32Array;
}
export type OnAssessmentPage = (rows: UnhealthyResource[], info: AssessmentPageInfo) => void | Promise<void>;

export interface AssessmentQuerySummary {
  pages: number;
  rows: number;
  skipped: number;
  totalRecords: number;
  /** Latest statusChangeDate seen: the next watermark for queryChangedSince. */
  latestStatusChange?: string;
  /** Whether every row Resource Graph counted arrived; a row missing from an incomplete answer proves nothing. */
  complete?: boolean;
  incomplete?: string;
  /** Rows skipped as known (`fingerprints`); `rows` counts the parsed ones only. */
  known?: number;
}

/**
 * queryUnhealthyAssessments' options. `fingerprints`: rows are fingerprinted as they arrive
 * (core/rowFingerprints.ts), and a row the lookup knows is handed over as its entry instead of
 * being parsed (its statusChangeDate then does not count towards latestStatusChange).
 */
export interface AssessmentQueryOptions {
  onPage: OnAssessmentPage;
  fingerprints?: KnownRowLookup;
}

export interface AssessmentsById {
  rows: UnhealthyResource[];
  /** Lower-cased ids asked for in an incomplete batch and not returned: their absence proves nothing. */
  unconfirmed: string[];
  incomplete?: string;
}

export interface AssessmentStatus {
  properties: { status: { code: 'Healthy' | 'Unhealthy' | 'NotApplicable'; statusChangeDate?: string } };
}

/** One role assignment that applies to a user: the role's name and the scope it was granted at (lower case). */
export interface RoleGrant {
  role: string;
  scope: string;
}

/** Azure RBAC reads (ARM role assignments). A failure carries the HTTP `status` when ARM answered. */
export interface RoleSource {
  grantsAtScope(objectId: string, scope: string, opts?: { atScopeOnly?: boolean }): Promise<RoleGrant[]>;
}

export interface ManagerInfo {
  userPrincipalName?: string;
  mail?: string;
  displayName?: string;
}

/** What the bot asks Azure (AzureClient): Resource Graph, the assessments API, governance assignments, RBAC and Microsoft Graph. */
export interface DefenderPort {
  queryUnhealthyAssessments(scopes: readonly string[], opts: AssessmentQueryOptions): Promise<AssessmentQuerySummary>;
  queryChangedSince(scopes: readonly string[], watermark: Date, opts: { onPage: OnAssessmentPage }): Promise<AssessmentQuerySummary>;
  readAssessmentsByIds(ids: readonly string[], scopes?: readonly string[]): Promise<AssessmentsById>;
  /** One assessment from the Security REST API; undefined on 404. */
  getAssessment(resourceId: string, assessmentName: string): Promise<AssessmentStatus | undefined>;
  /** undefined when it does not exist (404). */
  getGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<{ properties: Record<string, unknown> } | undefined>;
  putGovernanceAssignment(resourceId: string, assessmentName: string, key: string, body: { properties: GovernanceProperties }): Promise<unknown>;
  /** true when one was deleted, false when there was none. */
  deleteGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<boolean>;
  /** Subscription id → its management groups, nearest first. */
  getSubscriptionAncestry(subscriptionIds: readonly string[]): Promise<ReadonlyMap<string, ReadonlyArray<{ name: string; displayName?: string }>>>;
  /** Display names by subscription id. */
  getSubscriptionNames(subscriptionIds: readonly string[]): Promise<ReadonlyMap<string, string>>;
  /** The user's manager in Microsoft Graph; undefined when none is set. */
  getManager(upn: string): Promise<ManagerInfo | undefined>;
  /** A user in Microsoft Graph by UPN or Entra object id (Teams' people picker submits the id); undefined when unknown. */
  getUser(upnOrId: string): Promise<{ id: string; userPrincipalName: string; displayName?: string; mail?: string } | undefined>;
  readonly roles: RoleSource;
  /** Tags of these resources (and their resource groups and subscriptions) from Resource Graph, in batches (governance rules). */
  getResourceTags?(resourceIds: readonly string[], opts?: { inherited?: boolean }): Promise<ResourceTagRows>;
  /** Defender's own governance rules at a management group or subscription. */
  listGovernanceRules?(scope: string): Promise<{ rules: DefenderGovernanceRule[]; skipped: Array<{ id?: string; reason: string }> }>;
}

/** What getResourceTags returns (connectors/defender ResourceTags). */
export interface ResourceTagRows {
  resources: Array<{ id: string; tags: Record<string, string> }>;
  resourceGroups: Array<{ subscriptionId: string; name: string; tags: Record<string, string> }>;
  subscriptions: Array<{ subscriptionId: string; tags: Record<string, string> }>;
}

// ------------------------------------------------------------------ ServiceNow (connectors/servicenow)

/** A ServiceNow instance and the credentials the bot uses there (decrypted only to build a client). */
export interface TicketConnection {
  instanceUrl: string;
  username: string;
  password: string;
  clientId: string;
  clientSecret: string;
}

/** OAuth tokens of one connection, persisted (encrypted) by whoever owns the connection. */
export interface StoredTokens {
  instanceUrl: string;
  username: string;
  clientId: string;
  accessToken: string;
  /** ISO 8601 */
  accessTokenExpiresAt: string;
  refreshToken?: string;
}
export interface TokenCache {
  load(): Promise<StoredTokens | undefined>;
  save(tokens: StoredTokens): Promise<void>;
}

export interface TicketUser {
  sysId: string;
  userName: string;
  email: string;
  name: string;
}

export interface CreatedTicket {
  sysId: string;
  number: string;
  table: TicketTable;
  link: string;
  /** false when a ticket with this correlation id already existed. */
  created: boolean;
}

export interface TicketWithAssignee {
  ticket: { table: TicketTable; sysId: string; number: string; state: string; link: string };
  /** Email of the assignee, or their user name when they have none; undefined when unassigned. */
  assignee?: string;
  /** When the ticket last changed, by the ticket system's clock (ISO 8601 UTC); undefined when not readable. */
  updatedAt?: string;
}

/** The tickets of one table changed at or after a moment, read in full (every page). */
export interface ChangedTickets {
  tickets: TicketWithAssignee[];
  /**
   * The ticket system's own "now" when the read began (ISO 8601 UTC, from its clock, not ours):
   * every change stamped before it that was committed by then is in `tickets`.
   */
  horizon?: string;
  /** Pages read (requests made). */
  pages: number;
}

export interface ResolveResult {
  outcome: 'resolved' | 'needs-manual';
  reason?: string;
  state: string;
  number: string;
  link: string;
}

export interface ReopenResult {
  outcome: 'reopened' | 'already-open' | 'needs-manual' | 'not-reopenable';
  reason?: string;
  state?: string;
  number?: string;
  link: string;
}

/**
 * One ServiceNow instance as the bot uses it (ServiceNowClient). Failures carry `kind` (e.g.
 * 'user-not-found', 'user-ambiguous', 'network') and `reason`, one sentence safe to show in Teams.
 */
export interface TicketSystem {
  /** Requests this instance takes at once (shared by every client of the instance); callers fan out up to it. */
  readonly concurrency?: number;
  /** A token and one user read: proves the connection works end to end. */
  testConnection(): Promise<{ instanceUrl: string; user: TicketUser | undefined }>;
  resolveUser(identity: string): Promise<TicketUser>;
  resolveGroup(nameOrId: string): Promise<{ sysId: string; name: string }>;
  /** Idempotent by correlation id: a ticket that exists with it is returned (created: false). */
  createTicket(
    table: TicketTable,
    fields: Record<string, string | number | boolean>,
    correlation: { correlationId: string; correlationDisplay: string },
  ): Promise<CreatedTicket>;
  /** Tickets with their assignees, in batches; tickets that do not exist are absent. */
  getTicketsWithAssignees(table: TicketTable, sysIds: readonly string[]): Promise<TicketWithAssignee[]>;
  /**
   * Every ticket of `table` whose last change is stamped at or after `since` (the system's clock),
   * with assignees; rejects unless every page was read, so a caller never skips a change.
   */
  getTicketsChangedSince(table: TicketTable, since: Date, opts?: { pageSize?: number }): Promise<ChangedTickets>;
  addWorkNote(table: TicketTable, sysId: string, note: string): Promise<void>;
  /** Gives the ticket to another user (a sys_id from resolveUser), with a work note saying so, in one update. */
  reassignTicket(table: TicketTable, sysId: string, assigneeSysId: string, note: string): Promise<void>;
  /** Reads first: an already resolved ticket is reported, not resolved twice. */
  resolveTicket(table: TicketTable, sysId: string, evidence: string): Promise<ResolveResult>;
  reopenTicket(table: TicketTable, sysId: string, note: string): Promise<ReopenResult>;
}

/** Building ServiceNow clients: the URL guard (SSRF) and the transport stay in connectors/. */
export interface TicketSystems {
  /** Checks an instance URL an admin typed, before any credential is sent to it. */
  checkInstanceUrl(url: string): Promise<{ ok: true; url: string } | { ok: false; reason: string }>;
  connect(connection: TicketConnection, tokenCache?: TokenCache): TicketSystem;
}

/** `kind` of a TicketSystem failure ('user-not-found', 'network', …), if it has one. */
export function ticketErrorKind(err: unknown): string | undefined {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

/** One line for a failure from any port: the connector's own `reason` when it gave one. */
export function reasonOf(err: unknown): string {
  const r = (err as { reason?: unknown } | null)?.reason;
  if (typeof r === 'string') return r;
  return err instanceof Error ? err.message : String(err);
}

/** The HTTP status of a failure from an outside service, when it answered. */
export function httpStatusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

// ------------------------------------------------------------------ Authorizer (app/authorization.ts)

export type Decision = { allowed: true } | { allowed: false; reason: string };

/** What an actor may do with each of the subscriptions asked about (ids in lower case). */
export interface Access {
  read: ReadonlySet<string>;
  manage: ReadonlySet<string>;
  /** Set when the roles could not be checked at all (no identity, no Azure, ARM failing): both sets are then empty. */
  problem?: string;
}

/**
 * The role rules: reading Defender data of a subscription needs a reading role there; changing
 * anything needs a managing role (core/defender-model.ts lists both).
 */
export interface Authorizer {
  /**
   * Owner, Contributor or Security Admin on every given subscription. With none given (nothing
   * synced yet), on every scope the bot reads (DEFENDER_SCOPES).
   */
  canManage(actor: Actor, subscriptionIds: readonly string[]): Promise<Decision>;
  /** Which of the given subscriptions the actor may read and manage. */
  access(actor: Actor, subscriptionIds: readonly string[]): Promise<Access>;
}
