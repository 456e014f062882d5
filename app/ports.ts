/**
 * The ports of the application: every interface the use cases need from the outside world,
 * declared once. Implementations live in storage/ (Store, Locks, WorkQueue), bot/ (Messenger,
 * Directory) and connectors/ (Defender, ServiceNow) and are injected by the composition root.
 *
 * Store rules (a networked store must be able to implement them):
 * - every read returns a Promise; no closure crosses the port: queries are plain objects;
 * - rows read from the store are snapshots: changing one changes nothing until it is written back
 *   (the embedded stores hand out frozen objects, so an in-place change throws);
 * - a row written is validated against its schema in core/model.ts; an invalid row is refused;
 * - lists come in the order the rows were first stored, unless a method says otherwise.
 */
import type {
  Assignment,
  AssignmentStatus,
  AuditEntry,
  Conversation,
  ConversationKind,
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
  /** Forgets done and failed items that finished before `finishedBefore`; returns how many. */
  prune(finishedBefore: Date): Promise<number>;
}
