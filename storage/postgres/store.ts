/**
 * The Store port on PostgreSQL (node-postgres): the shared store of several bot processes.
 *
 * - Rows: typed key columns plus `doc`, the whole row as JSON (an assessment id under its resource
 *   kept as `~name`, tables.ts#packedId), validated with its core/model.ts schema
 *   when written and again when read (storage/postgres/tables.ts).
 * - Constraints live in the database, so they hold across processes: one live assignment per
 *   key, one active integration per name, one reminder per key, one work item per kind+key. A
 *   write that breaks one is refused with StoreConstraintError and applies nothing.
 * - Outside a transaction every call is one statement, or one BEGIN…COMMIT when it needs several
 *   (a claim, a completion), and resolves once committed.
 * - transaction(fn): BEGIN…COMMIT on one pooled connection, ROLLBACK when fn throws. Each call
 *   that may break a constraint runs under a savepoint, so the refused call is undone and the
 *   transaction goes on (as the port says). The calls of one transaction run one at a time.
 *   Isolation is read-committed: another writer that takes a unique key the transaction holds
 *   waits until it ends, then gets StoreConstraintError (or, for markSent/enqueue, the winner's
 *   row) — the embedded stores instead fail the later commit; either way exactly one wins.
 * - The work queue claims with FOR UPDATE SKIP LOCKED: concurrent claimers never get one item.
 */
import { createHash, randomUUID } from 'node:crypto';
import pg, { type Pool, type QueryResult, type QueryResultRow } from 'pg';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import {
  LIVE_ASSIGNMENT_STATUSES,
  auditEntrySchema,
  type Assignment,
  type AuditEntry,
  type Conversation,
  type Integration,
  type PostedCard,
  type Recommendation,
  type ReminderSent,
  type Rule,
  type WorkItem,
} from '../../core/model.js';
import {
  InvalidRowError,
  StoreConstraintError,
  type AssignmentQuery,
  type AuditQuery,
  type ConversationQuery,
  type JobRuns,
  type RequestSlots,
  type Locks,
  type PostedCardQuery,
  type SendPacing,
  type Store,
  type StoreStatus,
  type StoreTx,
  type WorkQuery,
} from '../../app/ports.js';
import { defined, validRow } from '../engine.js';
import { checkout } from './checkout.js';
import { PostgresJobRuns, PostgresSendPacing } from './coordination.js';
import { PostgresRequestSlots } from './requestSlots.js';
import { PostgresLocks } from './locks.js';
import { migratePostgres, type PgMigration } from './migrations.js';
import {
  assignmentsTable,
  auditTable,
  conversationsTable,
  insertSql,
  integrationsTable,
  postedCardsTable,
  readRow,
  recommendationsTable,
  recordset,
  remindersTable,
  SEALED_DOC,
  SEALED_SCHEMA,
  rulesTable,
  upsertStatements,
  workTable,
  type TableDef,
} from './tables.js';

export const DEFAULT_POOL_SIZE = 10;

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database?sslmode=… (DATABASE_URL). */
  connectionString: string;
  /** Connections of the store's pool (DATABASE_POOL_SIZE); the lock pool has as many again. */
  poolSize?: number;
  clock: Clock;
  logger: Logger;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** The schema migrations to bring the database to (tests inject their own). */
  migrations?: readonly PgMigration[];
  /** Lists of at least this many assignments are kept to answer again (ListCache.MIN_ROWS; tests lower it to run every list through it). */
  listCacheMinRows?: number;
}

/** The PostgreSQL store, with the locks and coordination that go with it (shared by every process on the database). */
export interface PostgresStore extends Store {
  readonly locks: Locks;
  readonly jobRuns: JobRuns;
  /** Every ServiceNow instance's request budget, shared by the processes on the database. */
  readonly requestSlots: RequestSlots;
  readonly sendPacing: SendPacing;
}

const TX_OVER = 'this transaction is over; use the store, or a new transaction';
const LIVE = [...LIVE_ASSIGNMENT_STATUSES];
const lc = (s: string) => s.toLowerCase();

type Query = <R extends QueryResultRow = QueryResultRow>(text: string | Prepared, values?: unknown[]) => Promise<QueryResult<R>>;

/** A statement node-postgres prepares once per connection under its name, then only binds and runs. */
interface Prepared {
  name: string;
  text: string;
}

const preparedByText = new Map<string, Prepared>();
/**
 * The read statements run again and again (a resolution step lists live assignments every
 * cycle): named, the server parses and plans each once per connection instead of on every call.
 * Only statements whose text is fixed for a kind of call (parameters, not values, in the text):
 * their number is bounded by the store's code, not by the data.
 */
function prepared(text: string): Prepared {
  let p = preparedByText.get(text);
  if (!p) {
    p = { name: `s${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
    preparedByText.set(text, p);
  }
  return p;
}
type DocRow = { doc: unknown; sealed?: boolean };

interface OpOptions {
  /** Several statements that must apply together: their own transaction, or a savepoint in one. */
  multi?: boolean;
  /** May break a constraint: inside a transaction it runs under a savepoint, so the transaction survives the refusal. */
  mayFail?: boolean;
}

/** What repositories run on: the pool (each call commits) or one transaction's connection. */
interface Ctx {
  /** One repository call; `changed()` says it changed stored data (a write, in status()). */
  op<T>(fn: (query: Query, changed: () => void) => Promise<T>, options?: OpOptions): Promise<T>;
  now(): Date;
}

// ------------------------------------------------------------------ errors and status

const CONSTRAINTS: Record<string, string> = {
  assignments_live_key: 'a live assignment exists already for this key; at most one is allowed',
  assignments_pkey: 'an assignment with this id exists already',
  integrations_active_name: 'an active integration with this name exists already',
  rules_name: 'a rule with this name exists already (names are compared case-insensitively)',
  work_kind_key: 'a work item with this kind and key exists already',
};

interface PgError extends Error {
  code?: string;
  constraint?: string;
  detail?: string;
}

/** A call on a transaction that has ended: the caller's mistake, not the database's. */
class TransactionOverError extends Error {
  constructor() {
    super(TX_OVER);
    this.name = 'TransactionOverError';
  }
}

/**
 * Errors that say the database is in trouble (connection, server, resources, a schema changed
 * behind the store's back), as opposed to a row refused for what it holds.
 */
function isStoreProblem(err: unknown): boolean {
  if (err instanceof StoreConstraintError || err instanceof InvalidRowError || err instanceof TransactionOverError) return false;
  const code = (err as PgError).code;
  return !(typeof code === 'string' && (code.startsWith('22') || code.startsWith('23')));
}

function mapError(err: unknown): unknown {
  const e = err as PgError;
  if (e && (e.code === '23505' || e.code === '23P01')) {
    const what = (e.constraint && CONSTRAINTS[e.constraint]) ?? `unique constraint ${e.constraint ?? '?'} violated`;
    return new StoreConstraintError(`${what}${e.detail ? ` (${e.detail})` : ''}`);
  }
  if (e && (e.code === '22P05' || e.code === '22021')) {
    return new InvalidRowError('row', [`PostgreSQL cannot store it: ${e.message}`]);
  }
  return err;
}

class Shared {
  readonly status: StoreStatus = { kind: 'postgres', ok: true, writes: 0 };
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Maps pg errors to the port's, keeps status() current and flush() aware of the call. */
  track<T>(work: Promise<T>): Promise<T> {
    const mapped = work.then(
      (value) => {
        if (!this.status.ok) {
          this.status.ok = true;
          delete this.status.lastError;
        }
        return value;
      },
      (err: unknown) => {
        if (isStoreProblem(err)) {
          this.status.ok = false;
          this.status.lastError = (err as Error).message;
          this.logger.error({ err }, 'PostgreSQL store call failed');
        }
        throw mapError(err);
      },
    );
    const settled = mapped.catch(() => undefined);
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return mapped;
  }

  wrote(): void {
    this.status.writes++;
    this.status.lastWriteAt = this.clock.now().toISOString();
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}

// ------------------------------------------------------------------ contexts

class PoolCtx implements Ctx {
  constructor(
    private readonly pool: Pool,
    private readonly shared: Shared,
  ) {}

  op<T>(fn: (query: Query, changed: () => void) => Promise<T>, options: OpOptions = {}): Promise<T> {
    let changed = false;
    const mark = () => {
      changed = true;
    };
    const run = async (): Promise<T> => {
      if (!options.multi) return fn((text, values) => this.pool.query(text, values), mark);
      const { client, release } = await checkout(this.pool);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
          const result = await fn((text, values) => client.query(text, values), mark);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch((e: Error) => (broken = e));
          throw err;
        }
      } finally {
        release(broken);
      }
    };
    return this.shared.track(
      run().then((result) => {
        if (changed) this.shared.wrote();
        return result;
      }),
    );
  }

  now(): Date {
    return this.shared.clock.now();
  }
}

class TxCtx implements Ctx {
  closed = false;
  dirty = false;
  /** BEGIN was sent: it goes with the first call (with its savepoint, in one round trip). */
  begun = false;
  private tail: Promise<unknown> = Promise.resolve();
  private savepoints = 0;
  /**
   * The savepoint of the last call that succeeded, not released yet: its RELEASE goes with the
   * next savepoint, and COMMIT releases it anyway. A resolution step's write is then BEGIN +
   * SAVEPOINT, the statement, COMMIT: three round trips instead of five.
   */
  private unreleased: string | undefined;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly shared: Shared,
  ) {}

  op<T>(fn: (query: Query, changed: () => void) => Promise<T>, options: OpOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new TransactionOverError());
    const query: Query = (text, values) => this.client.query(text, values);
    const run = async (): Promise<T> => {
      if (this.closed) throw new TransactionOverError();
      let changed = false;
      const mark = () => {
        changed = true;
      };
      if (!options.multi && !options.mayFail) {
        if (!this.begun) {
          await query('BEGIN');
          this.begun = true;
        }
        const result = await fn(query, mark);
        if (changed) this.dirty = true;
        return result;
      }
      const savepoint = `op_${++this.savepoints}`;
      // One simple query (no parameters), so one round trip.
      const prelude = [...(this.begun ? [] : ['BEGIN']), ...(this.unreleased ? [`RELEASE SAVEPOINT ${this.unreleased}`] : []), `SAVEPOINT ${savepoint}`];
      await query(prelude.join('; '));
      this.begun = true;
      this.unreleased = undefined;
      try {
        const result = await fn(query, mark);
        this.unreleased = savepoint;
        if (changed) this.dirty = true;
        return result;
      } catch (err) {
        await query(`ROLLBACK TO SAVEPOINT ${savepoint}`).catch(() => undefined);
        throw err;
      }
    };
    // One call at a time: a savepoint rolled back must not undo another call's statements.
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return this.shared.track(result);
  }

  /** Resolves when the calls already started are done. */
  async drain(): Promise<void> {
    for (let seen: Promise<unknown> | undefined; seen !== this.tail;) {
      seen = this.tail;
      await seen;
    }
  }

  now(): Date {
    return this.shared.clock.now();
  }
}

// ------------------------------------------------------------------ queries

/** A WHERE clause with its parameters; `false` for a condition that matches nothing (an empty list). */
class Where {
  readonly parts: string[] = [];
  constructor(readonly params: unknown[] = []) {}

  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  add(condition: string): void {
    this.parts.push(condition);
  }

  /** column = ANY(list); an empty list matches nothing. */
  any(column: string, list: readonly unknown[] | undefined): void {
    if (list === undefined) return;
    if (list.length === 0) this.parts.push('false');
    else this.parts.push(`${column} = ANY(${this.param([...new Set(list)])})`);
  }

  eq(column: string, value: unknown): void {
    if (value !== undefined) this.parts.push(`${column} = ${this.param(value)}`);
  }

  toString(): string {
    return this.parts.length === 0 ? '' : `WHERE ${this.parts.join(' AND ')}`;
  }
}

/** The live statuses written out, so the planner can match the partial indexes defined over them. */
const LIVE_SQL = `(${LIVE.map((s) => `'${s.replace(/'/g, "''")}'`).join(', ')})`;

function conversationWhere(q: ConversationQuery): Where {
  const w = new Where();
  w.eq('subscribed', q.subscribed);
  w.eq('reachable', q.reachable);
  w.any('kind', q.kinds);
  w.eq('channel_id', q.channelId);
  w.eq('user_upn_lc', q.userUpn === undefined ? undefined : lc(q.userUpn));
  w.eq('user_aad_object_id', q.userAadObjectId);
  return w;
}

function assignmentWhere(q: AssignmentQuery): Where {
  const w = new Where();
  if (q.statuses !== undefined && q.statuses.length > 0 && sameSet(q.statuses, LIVE)) w.add(`status IN ${LIVE_SQL}`);
  else w.any('status', q.statuses);
  w.any('id', q.ids);
  w.eq('batch_id', q.batchId);
  w.eq('integration_id', q.integrationId);
  w.eq('recommendation_key_lc', q.recommendationKey === undefined ? undefined : lc(q.recommendationKey));
  w.eq('owner_lc', q.owner === undefined ? undefined : lc(q.owner));
  w.eq('conversation_id', q.conversationId);
  if (q.hasTicket !== undefined) w.add(`ticket_sys_id IS ${q.hasTicket ? 'NOT ' : ''}NULL`);
  w.eq('ticket_sys_id', q.ticketSysId);
  if (q.dueBefore !== undefined) w.add(`due_date < ${w.param(q.dueBefore)}`);
  w.any('governance_status', q.governanceStatuses);
  return w;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

const limitOf = (limit: number | undefined) => (limit === undefined ? undefined : Math.max(0, Math.floor(limit)));

// ------------------------------------------------------------------ repositories

function docs<R>(def: TableDef<R>, result: QueryResult<DocRow>): R[] {
  return result.rows.map((r) => readRow(def, r.doc, r.sealed === true));
}

/**
 * Writes rows in statements of bounded size (tables.ts#upsertStatements). More rows than one
 * statement takes must run in one transaction: callers writing several rows pass `multi`.
 */
async function upsert<R>(query: Query, def: TableDef<R>, rows: readonly R[], prepare?: (row: R) => R): Promise<void> {
  const seqs = async (count: number) =>
    (
      await query<{ n: string }>(`SELECT s.n::text AS n FROM (SELECT nextval('${def.table}_seq_seq') AS n FROM generate_series(1, $1)) s ORDER BY s.n`, [count])
    ).rows.map((r) => r.n);
  // The next statement is built while the previous one runs on the server (the client queues
  // them on its connection): at most two statements' rows exist at a time, and the round trips
  // no longer add up with the building. A failure is thrown once the earlier statement is
  // awaited; the caller's ROLLBACK runs after anything still queued.
  let running: Promise<unknown> | undefined;
  for await (const statement of upsertStatements(def, rows, seqs, { prepare })) {
    const sent = query(statement.text, statement.values);
    sent.catch(() => undefined);
    if (running) await running;
    running = sent;
  }
  await running;
}

/** A sealed row as read: its seal is the MD5 of its schema and stored text (tables.ts#sealOf). */
interface CachedRow {
  seal: string;
  row: unknown;
}

/**
 * The rows of the large lists this process ran (a resolution pass lists every live assignment,
 * by the same filters, every cycle), kept to answer those lists again without reading unchanged
 * rows: a list it has answered before first reads only each row's id and seal, then the
 * documents of the rows whose seal is not the one kept, with the same filter. A seal is a hash
 * of the stored text itself (recomputed by the server on every write, whoever makes it), so a
 * row whose seal is the one kept is the row kept, whichever replica or transaction wrote it in
 * the meantime; an unsealed row is always read and validated in full. At 2,000 rows the
 * documents are ~2.2 MB, and their JSON.parse was half of a step's CPU.
 *
 * Bounded: only lists of at least MIN_ROWS rows (a smaller one costs little to read whole) are
 * remembered, the last MAX_LISTS of them; one row per id, whichever list read it last (about
 * the rows a pass holds anyway), all dropped past MAX_ROWS.
 */
class ListCache {
  static readonly MIN_ROWS = 256;
  static readonly MAX_LISTS = 32;
  static readonly MAX_ROWS = 250_000;
  private readonly lists = new Set<string>();
  private readonly rows = new Map<string, CachedRow>();

  constructor(readonly minRows = ListCache.MIN_ROWS) {}

  /** Whether the list `key` was answered before (and is kept). */
  knows(key: string): boolean {
    if (!this.lists.has(key)) return false;
    // Most recently used last: the oldest list goes first.
    this.lists.delete(key);
    this.lists.add(key);
    return true;
  }

  /** The row kept for `id`, when it is the one sealed with `seal`. */
  hit<R>(id: string, seal: string | null): R | undefined {
    if (seal === null) return undefined;
    const kept = this.rows.get(id);
    return kept?.seal === seal ? (kept.row as R) : undefined;
  }

  keep(id: string, seal: string, row: unknown): void {
    this.rows.set(id, { seal, row });
  }

  /** The list `key` was answered with `count` rows: remembered when large enough. */
  answered(key: string, count: number): void {
    this.lists.delete(key);
    if (count < this.minRows) return;
    this.lists.add(key);
    if (this.lists.size > ListCache.MAX_LISTS) this.lists.delete(this.lists.values().next().value!);
    if (this.rows.size > ListCache.MAX_ROWS) {
      this.rows.clear();
      this.lists.clear();
    }
  }
}

type SealedDocRow = DocRow & { seal: string | null };
type SealRow = { id: string; seal: string | null };

function repositories(ctx: Ctx, cache?: ListCache): StoreTx {
  const getBy = <R>(def: TableDef<R>, where: string, params: unknown[]) =>
    ctx.op(async (query) => docs(def, await query<DocRow>(prepared(`SELECT ${SEALED_DOC()} FROM ${def.table} WHERE ${where} LIMIT 1`), params))[0]);
  const listWhere = <R>(def: TableDef<R>, w: Where, limit?: number) =>
    ctx.op(async (query) => {
      if (limit === 0) return [] as R[];
      const tail = limit === undefined ? '' : ` LIMIT ${w.param(limit)}`;
      return docs(def, await query<DocRow>(prepared(`SELECT ${SEALED_DOC()} FROM ${def.table} ${w} ORDER BY seq${tail}`), w.params));
    });
  /** listWhere through the ListCache, for a table whose rows are keyed by `id`. */
  const listCached = <R extends { id: string }>(def: TableDef<R>, w: Where, limit?: number) => {
    if (!cache) return listWhere(def, w, limit);
    return ctx.op(async (query) => {
      if (limit === 0) return [] as R[];
      // The filter alone, for the second read: the rows whose seal changed, if they still match.
      const filter = new Where([...w.params]);
      filter.parts.push(...w.parts);
      const tail = limit === undefined ? '' : ` LIMIT ${w.param(limit)}`;
      const key = `${def.table} ${w}${tail} ${JSON.stringify(w.params)}`;
      const SEAL = `CASE WHEN seal_ok AND seal_schema = ${SEALED_SCHEMA()} THEN seal END AS seal`;
      const read = (r: SealedDocRow): R => readRow(def, r.doc, r.sealed === true);
      let out: R[];
      if (!cache.knows(key)) {
        const { rows } = await query<SealedDocRow>(prepared(`SELECT ${SEALED_DOC()}, ${SEAL} FROM ${def.table} ${w} ORDER BY seq${tail}`), w.params);
        out = rows.map(read);
        if (out.length >= cache.minRows)
          for (let i = 0; i < out.length; i++) if (rows[i]!.sealed === true && rows[i]!.seal !== null) cache.keep(out[i]!.id, rows[i]!.seal!, out[i]);
      } else {
        const { rows: seals } = await query<SealRow>(prepared(`SELECT id, ${SEAL} FROM ${def.table} ${w} ORDER BY seq${tail}`), w.params);
        // The hits are taken now: another list may replace a kept row while this one awaits its documents.
        const fresh = new Map<string, R>();
        const missing: string[] = [];
        for (const s of seals) {
          const kept = cache.hit<R>(s.id, s.seal);
          if (kept === undefined) missing.push(s.id);
          else fresh.set(s.id, kept);
        }
        if (missing.length > 0) {
          filter.any('id', missing);
          const { rows } = await query<SealedDocRow>(prepared(`SELECT ${SEALED_DOC()}, ${SEAL} FROM ${def.table} ${filter}`), filter.params);
          for (const r of rows) {
            const row = read(r);
            fresh.set(row.id, row);
            if (r.sealed === true && r.seal !== null) cache.keep(row.id, r.seal, row);
          }
        }
        out = [];
        for (const s of seals) {
          // A row changed since its id was read and no longer matching is left out, as a read a moment later would.
          const row = fresh.get(s.id);
          if (row) out.push(row);
        }
      }
      cache.answered(key, out.length);
      return out;
    });
  };
  const countWhere = (table: string, w: Where, limit?: number) =>
    ctx.op(async (query) => {
      if (limit === 0) return 0;
      const sql =
        limit === undefined ? `SELECT count(*) AS n FROM ${table} ${w}` : `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} ${w} LIMIT ${w.param(limit)}) x`;
      return Number((await query<{ n: string }>(sql, w.params)).rows[0]!.n);
    });

  const work = workQueue(ctx);
  return {
    conversations: {
      get: (id) => getBy(conversationsTable, 'id = $1', [id]),
      list: (q = {}) => listWhere(conversationsTable, conversationWhere(q)),
      count: (q = {}) => countWhere('conversations', conversationWhere(q)),
      upsert: async (c: Conversation) => {
        const row = validRow('conversations', conversationsTable.schema, c, true);
        await ctx.op(async (query, changed) => {
          await upsert(query, conversationsTable, [row]);
          changed();
        });
      },
      remove: (id) =>
        ctx.op(async (query, changed) => {
          const { rowCount } = await query('DELETE FROM conversations WHERE id = $1', [id]);
          if (!rowCount) return false;
          changed();
          return true;
        }),
    },
    integrations: {
      get: (id) => getBy(integrationsTable, 'id = $1', [id]),
      findByName: (name) =>
        ctx.op(
          async (query) =>
            docs(
              integrationsTable,
              await query<DocRow>(`SELECT ${SEALED_DOC()} FROM integrations WHERE name_lc = $1 AND NOT removed ORDER BY seq LIMIT 1`, [lc(name)]),
            )[0],
        ),
      list: () =>
        ctx.op(async (query) => docs(integrationsTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM integrations WHERE NOT removed ORDER BY seq`))),
      listAll: () => ctx.op(async (query) => docs(integrationsTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM integrations ORDER BY seq`))),
      upsert: async (i: Integration) => {
        const row = validRow('integrations', integrationsTable.schema, i);
        await ctx.op(
          async (query, changed) => {
            await upsert(query, integrationsTable, [row]);
            changed();
          },
          { mayFail: true },
        );
      },
    },
    recommendations: {
      get: (key) => getBy(recommendationsTable, 'key = $1', [key]),
      list: () => ctx.op(async (query) => docs(recommendationsTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM recommendations ORDER BY seq`))),
      upsertMany: async (recs: readonly Recommendation[]) => {
        if (recs.length === 0) return;
        // The last of one key wins, as with the embedded stores (ON CONFLICT cannot touch a row twice).
        const unique = [...new Map(recs.map((r) => [r.key, r])).values()];
        // A sync pass writes every recommendation with all its resources: each is validated as its
        // statement is built (an invalid one rolls the whole write back), not copied all at once.
        await ctx.op(
          async (query, changed) => {
            await upsert(query, recommendationsTable, unique, (r) => validRow('recommendations', recommendationsTable.schema, r));
            changed();
          },
          { multi: unique.length > 1 },
        );
      },
      getCard: (conversationId, key) => getBy(postedCardsTable, 'conversation_id = $1 AND recommendation_key = $2', [conversationId, key]),
      listCards: (q: PostedCardQuery = {}) => {
        const w = new Where();
        w.eq('conversation_id', q.conversationId);
        w.eq('recommendation_key', q.recommendationKey);
        return listWhere(postedCardsTable, w);
      },
      upsertCard: async (card: PostedCard) => {
        const row = validRow('postedCards', postedCardsTable.schema, card);
        await ctx.op(async (query, changed) => {
          await upsert(query, postedCardsTable, [row]);
          changed();
        });
      },
      removeCardsFor: (conversationId) =>
        ctx.op(async (query, changed) => {
          const { rowCount } = await query('DELETE FROM posted_cards WHERE conversation_id = $1', [conversationId]);
          if (rowCount) changed();
        }),
    },
    assignments: {
      get: (id) => getBy(assignmentsTable, 'id = $1', [id]),
      findLiveByKey: (key) => getBy(assignmentsTable, `key = $1 AND status IN ${LIVE_SQL}`, [key]),
      findLiveByKeys: (keys) =>
        ctx.op(async (query) => {
          const out = new Map<string, Assignment>();
          const unique = [...new Set(keys)];
          if (unique.length === 0) return out;
          const rows = docs(
            assignmentsTable,
            await query<DocRow>(prepared(`SELECT ${SEALED_DOC()} FROM assignments WHERE key = ANY($1) AND status IN ${LIVE_SQL} ORDER BY seq`), [unique]),
          );
          const byKey = new Map<string, Assignment>();
          for (const a of rows) if (!byKey.has(a.key)) byKey.set(a.key, a);
          // In the order the keys were asked for, as the embedded stores answer.
          for (const key of unique) if (byKey.has(key)) out.set(key, byKey.get(key)!);
          return out;
        }),
      list: (q = {}) => listCached(assignmentsTable, assignmentWhere(q), limitOf(q.limit)),
      count: (q = {}) => countWhere('assignments', assignmentWhere(q), limitOf(q.limit)),
      upsertMany: async (assignments: readonly Assignment[]) => {
        const rows = assignments.map((a) => validRow('assignments', assignmentsTable.schema, a));
        if (rows.length === 0) return;
        const ids = new Set<string>();
        for (const r of rows) {
          if (ids.has(r.id)) throw new StoreConstraintError(`assignment ${r.id} appears twice in one write`);
          ids.add(r.id);
        }
        await ctx.op(
          async (query, changed) => {
            await upsert(query, assignmentsTable, rows);
            changed();
          },
          { mayFail: true, multi: rows.length > 1 },
        );
      },
    },
    reminders: {
      wasSent: (key) => ctx.op(async (query) => ((await query('SELECT 1 FROM reminders WHERE key = $1', [key])).rowCount ?? 0) > 0),
      sentAmong: (keys) =>
        ctx.op(async (query) => {
          const list = [...new Set(keys)];
          if (list.length === 0) return new Set<string>();
          const { rows } = await query<{ key: string }>('SELECT key FROM reminders WHERE key = ANY($1)', [list]);
          return new Set(rows.map((r) => r.key));
        }),
      markSent: async (entry: ReminderSent) => {
        const row = validRow('reminders', remindersTable.schema, entry);
        return ctx.op(async (query, changed) => {
          const { rowCount } = await query(insertSql(remindersTable, 'ON CONFLICT (key) DO NOTHING'), [recordset(remindersTable, [row])]);
          if (!rowCount) return false;
          changed();
          return true;
        });
      },
      prune: (olderThan, keyPrefixes) =>
        ctx.op(async (query, changed) => {
          if (keyPrefixes.length === 0) return 0;
          const { rowCount } = await query(
            'DELETE FROM reminders WHERE sent_at < $1 AND EXISTS (SELECT 1 FROM unnest($2::text[]) p WHERE starts_with(key, p))',
            [olderThan.toISOString(), [...keyPrefixes]],
          );
          if (rowCount) changed();
          return rowCount ?? 0;
        }),
    },
    audit: {
      append: async (entry: AuditEntry) => {
        const row = validRow('audit', auditEntrySchema, entry, true);
        await ctx.op(async (query, changed) => {
          await query(insertSql(auditTable), [recordset(auditTable, [row])]);
          changed();
        });
      },
      list: (limit = 100) =>
        ctx.op(async (query) => {
          if (!(limit > 0)) return [];
          return docs(auditTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM audit ORDER BY id DESC LIMIT $1`, [Math.floor(limit)]));
        }),
      findLast: (target, q: AuditQuery = {}) => {
        const w = new Where();
        w.eq('target', target);
        w.any('action', q.actions);
        w.eq('actor', q.actor);
        // Only the entries of one target get here (audit_target): casting their details is cheap.
        for (const [k, v] of Object.entries(q.details ?? {})) w.add(`(doc->'details')::jsonb->${w.param(k)} = ${w.param(JSON.stringify(v))}::jsonb`);
        for (const k of q.detailKeys ?? []) w.add(`(doc->'details')::jsonb ? ${w.param(k)}`);
        return ctx.op(async (query) => docs(auditTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM audit ${w} ORDER BY id DESC LIMIT 1`, w.params))[0]);
      },
    },
    meta: {
      get: (key) => ctx.op(async (query) => (await query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value),
      set: async (key, value) => {
        if (typeof value !== 'string') throw new InvalidRowError('meta', [`${key}: must be a string`]);
        await ctx.op(async (query, changed) => {
          await query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
          changed();
        });
      },
      prune: (prefix, stale) =>
        ctx.op(async (query, changed) => {
          const rows = (await query<{ key: string; value: string }>('SELECT key, value FROM meta WHERE starts_with(key, $1)', [prefix])).rows;
          const gone = rows.filter((r) => stale(r.value)).map((r) => r.key);
          if (gone.length === 0) return 0;
          await query('DELETE FROM meta WHERE key = ANY($1::text[])', [gone]);
          changed();
          return gone.length;
        }),
    },
    work,
    rules: {
      get: (id) => getBy(rulesTable, 'id = $1', [id]),
      findByName: (name) => getBy(rulesTable, 'name_lc = $1', [lc(name)]),
      list: () => ctx.op(async (query) => docs(rulesTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM rules ORDER BY seq`))),
      upsert: async (rule: Rule) => {
        const row = validRow('rules', rulesTable.schema, rule);
        await ctx.op(
          async (query, changed) => {
            await upsert(query, rulesTable, [row]);
            changed();
          },
          { mayFail: true },
        );
      },
      remove: (id) =>
        ctx.op(async (query, changed) => {
          const { rowCount } = await query('DELETE FROM rules WHERE id = $1', [id]);
          if (!rowCount) return false;
          changed();
          return true;
        }),
    },
  };
}

function workQueue(ctx: Ctx): StoreTx['work'] {
  const valid = (w: WorkItem) => validRow('work', workTable.schema, defined(w));
  /** The running item `id` leased by `owner`, locked until the end of the call's transaction. */
  const leased = async (query: Query, id: string, owner: string) =>
    docs(
      workTable,
      await query<DocRow>(`SELECT ${SEALED_DOC()} FROM work WHERE id = $1 AND status = 'running' AND lease_owner = $2 FOR UPDATE`, [id, owner]),
    )[0];
  const finish = (id: string, owner: string, change: (w: WorkItem, now: string) => Partial<WorkItem>) =>
    ctx.op(
      async (query, changed) => {
        const w = await leased(query, id, owner);
        if (!w) return false;
        const now = ctx.now().toISOString();
        const { leaseOwner: _owner, leaseUntil: _until, ...rest } = w;
        await upsert(query, workTable, [valid({ ...rest, ...change(w, now), updatedAt: now })]);
        changed();
        return true;
      },
      { multi: true },
    );

  return {
    enqueue: async (items) => {
      const now = ctx.now().toISOString();
      const byKey = new Map<string, WorkItem>();
      for (const item of items) {
        const k = JSON.stringify([item.kind, item.key]);
        if (byKey.has(k)) continue;
        let payload: unknown;
        try {
          payload = item.payload === undefined ? null : JSON.parse(JSON.stringify(item.payload));
        } catch (err) {
          throw new InvalidRowError('work', [`payload: not JSON (${(err as Error).message})`]);
        }
        byKey.set(
          k,
          valid({
            id: randomUUID(),
            kind: item.kind,
            key: item.key,
            payload,
            status: 'queued',
            attempts: 0,
            runAt: (item.runAt ?? ctx.now()).toISOString(),
            createdAt: now,
            updatedAt: now,
          }),
        );
      }
      if (byKey.size === 0) return [];
      const stored = await ctx.op(
        async (query, changed) => {
          // New keys are inserted; finished ones are queued again in place (same id, same
          // createdAt); queued or running ones are left alone and returned as they are.
          const { rows } = await query<DocRow>(
            `INSERT INTO work AS t (id, kind, key, status, run_at, doc, seq)
             SELECT x.id, x.kind, x.key, x.status, x.run_at, x.doc, x.seq FROM (
               SELECT r.*, nextval('work_seq_seq') AS seq
               FROM json_to_recordset($1::json) AS r(id text, kind text, key text, status text, run_at timestamptz, doc json, ord integer)
               ORDER BY r.ord
             ) x ORDER BY x.ord
             ON CONFLICT (kind, key) DO UPDATE SET status = EXCLUDED.status, run_at = EXCLUDED.run_at,
               lease_owner = NULL, lease_until = NULL, finished_at = NULL,
               doc = (EXCLUDED.doc::jsonb || jsonb_build_object('id', t.id, 'createdAt', t.doc->'createdAt'))::json
             WHERE t.status IN ('done', 'failed')
             RETURNING t.doc`,
            [recordset(workTable, [...byKey.values()])],
          );
          if (rows.length > 0) changed();
          const out = new Map<string, WorkItem>();
          for (const w of docs(workTable, { rows } as QueryResult<DocRow>)) out.set(JSON.stringify([w.kind, w.key]), w);
          const missing = [...byKey.values()].filter((w) => !out.has(JSON.stringify([w.kind, w.key])));
          if (missing.length > 0) {
            const existing = await query<DocRow>(
              'SELECT w.doc FROM work w JOIN unnest($1::text[], $2::text[]) AS m(kind, key) ON w.kind = m.kind AND w.key = m.key',
              [missing.map((w) => w.kind), missing.map((w) => w.key)],
            );
            for (const w of docs(workTable, existing)) out.set(JSON.stringify([w.kind, w.key]), w);
          }
          return out;
        },
        { multi: true },
      );
      return items.map((item) => stored.get(JSON.stringify([item.kind, item.key]))!);
    },
    claim: async (kind, owner, limit, leaseMs) => {
      if (!owner) throw new Error('claim needs an owner');
      if (!(leaseMs > 0)) throw new Error('claim needs a positive lease');
      if (limit <= 0) return [];
      return ctx.op(
        async (query, changed) => {
          const now = ctx.now();
          // Rows another claimer holds are skipped, never waited for: no item is claimed twice.
          const due = docs(
            workTable,
            await query<DocRow>(
              `SELECT ${SEALED_DOC()} FROM work
               WHERE kind = $1 AND ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_until <= $2))
               ORDER BY run_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED`,
              [kind, now.toISOString(), Math.floor(limit)],
            ),
          );
          if (due.length === 0) return [];
          const claimed = due.map((w) =>
            valid({
              ...w,
              status: 'running',
              leaseOwner: owner,
              leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
              attempts: w.attempts + 1,
              updatedAt: now.toISOString(),
            }),
          );
          await upsert(query, workTable, claimed);
          changed();
          return claimed;
        },
        { multi: true },
      );
    },
    complete: (id, owner) => finish(id, owner, (_w, now) => ({ status: 'done', finishedAt: now, lastError: undefined })),
    fail: (id, owner, error, retryAt) => {
      const lastError = String(error).slice(0, 2000);
      return finish(id, owner, (_w, now) =>
        retryAt ? { status: 'queued', runAt: retryAt.toISOString(), lastError } : { status: 'failed', finishedAt: now, lastError },
      );
    },
    get: (id) => ctx.op(async (query) => docs(workTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM work WHERE id = $1`, [id]))[0]),
    list: (q: WorkQuery = {}) => {
      const w = new Where();
      w.eq('kind', q.kind);
      w.any('status', q.statuses);
      w.eq('key', q.key);
      return ctx.op(async (query) => docs(workTable, await query<DocRow>(`SELECT ${SEALED_DOC()} FROM work ${w} ORDER BY seq`, w.params)));
    },
    prune: (kind, finishedBefore, handledFailures = []) =>
      ctx.op(async (query, changed) => {
        // Both arms are within work_finished's predicate (status done or failed, by finished_at).
        const result = await query(
          `DELETE FROM work WHERE kind = $1 AND finished_at < $2 AND (status = 'done' OR (status = 'failed' AND id = ANY($3::text[])))`,
          [kind, finishedBefore.toISOString(), [...handledFailures]],
        );
        if (result.rowCount) changed();
        return result.rowCount ?? 0;
      }),
  };
}

// ------------------------------------------------------------------ the store

/**
 * Opens the store: a connection pool on `connectionString`, the schema migrated to this build's
 * version (storage/postgres/migrations.ts, one process at a time), and a second pool for locks.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { connectionString, clock, logger } = options;
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const applicationName = options.applicationName ?? 'defender-servicenow-teams-bot';
  const pool = new pg.Pool({ connectionString, max: poolSize, application_name: applicationName });
  const lockPool = new pg.Pool({ connectionString, max: poolSize, application_name: `${applicationName} (locks)` });
  // Its own pool: a request waiting for a slot must not hold up the store's queries or the assignment locks.
  const slotPool = new pg.Pool({ connectionString, max: poolSize, application_name: `${applicationName} (request slots)` });
  // An idle connection the server drops emits here; without a listener it would crash the process.
  const onIdleError = (err: Error) => logger.warn({ err }, 'PostgreSQL connection lost while idle; the pool opens a new one when needed');
  pool.on('error', onIdleError);
  lockPool.on('error', onIdleError);
  slotPool.on('error', onIdleError);

  try {
    const { client, release } = await checkout(pool);
    let broken: Error | undefined;
    try {
      await migratePostgres(client, { logger, migrations: options.migrations });
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      release(broken);
    }
  } catch (err) {
    await Promise.allSettled([pool.end(), lockPool.end(), slotPool.end()]);
    throw err;
  }

  const shared = new Shared(clock, logger);
  const cache = new ListCache(options.listCacheMinRows);
  const repos = repositories(new PoolCtx(pool, shared), cache);
  let closed: Promise<void> | undefined;

  const transaction = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    const { client, release } = await shared.track(checkout(pool));
    const ctx = new TxCtx(client, shared);
    let broken: Error | undefined;
    try {
      let result: T;
      try {
        result = await fn(repositories(ctx, cache));
      } catch (err) {
        ctx.closed = true;
        await ctx.drain();
        if (ctx.begun) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      }
      ctx.closed = true;
      await ctx.drain();
      // Nothing was sent (BEGIN goes with the first call): nothing to commit.
      if (!ctx.begun) return result;
      const commit = await shared.track(client.query('COMMIT'));
      // A statement that failed outside a savepoint (its error caught inside fn) aborted the
      // transaction; COMMIT then rolls back without an error.
      if (commit.command === 'ROLLBACK')
        throw new Error('the transaction was rolled back: a statement in it failed (its error was caught inside the transaction)');
      if (ctx.dirty) shared.wrote();
      return result;
    } finally {
      release(broken);
    }
  };

  const jobRuns = new PostgresJobRuns(pool, clock, {
    // keepAlive: a peer whose machine vanished is seen gone by the OS's keepalive, not only by the lease.
    connect: () => new pg.Client({ connectionString, application_name: `${applicationName} (presence)`, keepAlive: true }),
    logger,
  });
  return {
    ...repos,
    locks: new PostgresLocks(lockPool, logger),
    requestSlots: new PostgresRequestSlots(slotPool, logger),
    jobRuns,
    sendPacing: new PostgresSendPacing(pool, clock),
    transaction,
    status: () => ({ ...shared.status }),
    flush: () => shared.idle(),
    close: () =>
      (closed ??= (async () => {
        await shared.idle();
        await Promise.all([pool.end(), lockPool.end(), slotPool.end(), jobRuns.close()]);
      })()),
  };
}
