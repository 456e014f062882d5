/**
 * The embedded stores' engine: the Store port's repositories over one in-memory Database object,
 * with indexes for every lookup by key, the store's constraints (one live assignment per key, one
 * sent-reminder per key, one work item per kind+key), and transactions that stage their changes
 * and apply them in one step. The lowdb store (storage/lowdbStore.ts) and the memory store
 * (storage/memoryStore.ts) differ only in what `persist` does.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import {
  assignmentSchema,
  auditEntrySchema,
  conversationSchema,
  integrationSchema,
  LIVE_ASSIGNMENT_STATUSES,
  postedCardSchema,
  recommendationSchema,
  reminderSentSchema,
  ruleSchema,
  workItemSchema,
  type Assignment,
  type AuditEntry,
  type Conversation,
  type Integration,
  type PostedCard,
  type Recommendation,
  type ReminderSent,
  type Rule,
  type WorkItem,
} from '../core/model.js';
import {
  InvalidRowError,
  StoreConstraintError,
  type AssignmentQuery,
  type AuditQuery,
  type ConversationQuery,
  type PostedCardQuery,
  type Store,
  type StoreTx,
  type WorkQuery,
} from '../app/ports.js';
import type { Database } from './schema.js';

/**
 * The audit trail is append-only; past this many entries the oldest are dropped. The embedded
 * stores' bound on the one file every write rewrites: no retention by age deletes audit entries,
 * and PostgreSQL keeps every one (README "What is kept, and for how long").
 */
export const AUDIT_LIMIT = 50_000;

const LIVE: ReadonlySet<string> = new Set(LIVE_ASSIGNMENT_STATUSES);
const PENDING_WORK: ReadonlySet<string> = new Set(['queued', 'running']);
const EMPTY: ReadonlySet<string> = new Set();
const lc = (s: string) => s.toLowerCase();

export const cardKey = (conversationId: string, recommendationKey: string) => `${conversationId}\u0000${recommendationKey}`;
const workKey = (kind: string, key: string) => `${kind}\u0000${key}`;

// ------------------------------------------------------------------ tables and indexes

type IndexKey<R> = (row: R) => string | undefined;

/** How a table reads loaded values left in a stored form (lowdb: storage/storedForm.ts). */
export interface StoredRows<R> {
  /** The full row of a value in stored form; undefined for a full row. */
  complete(value: unknown): R | undefined;
  /** A read-only stand-in for a value in stored form, with every field of the row (index keys are read from it); undefined for a full row. */
  view(value: unknown): R | undefined;
}

/**
 * One table: the Database record it persists (rows by id), the order rows were first stored in,
 * and secondary indexes (value → ids) kept up to date on every put and delete. An index is built
 * on its first lookup (over views of rows still in the file's stored form), and loaded rows are
 * completed and frozen when first read: opening a big file does only the work its first queries
 * need.
 */
export class Table<R extends object> {
  private readonly seqs = new Map<string, number>();
  private next = 0;
  /** Index value → the one id with it, or a set when several have it (most values are unique: keys, sys_ids). Unbuilt: no map yet. */
  private readonly indexes = new Map<string, { keyOf: IndexKey<R>; map?: Map<string, string | Set<string>>; onBuilt?: () => void }>();

  constructor(
    readonly name: string,
    readonly schema: z.ZodType<R>,
    /** The Database's record of this table, or a Map of it (lowdb's stored assignments: faster to build than a 100,000-key object). */
    private readonly rows: Record<string, R> | Map<string, R>,
    private readonly indexDefs: Record<string, IndexKey<R>> = {},
    /** Loaded values still in the file's stored form (storage/storedForm.ts): completed when first read. */
    private readonly stored?: StoredRows<R>,
  ) {
    for (const [index, keyOf] of Object.entries(indexDefs)) this.indexes.set(index, { keyOf });
    for (const id of rows instanceof Map ? rows.keys() : Object.keys(rows)) this.seqs.set(id, this.next++);
  }

  get size(): number {
    return this.seqs.size;
  }

  /** An empty table with the same indexes (a transaction's staged rows). */
  emptyCopy(): Table<R> {
    return new Table(this.name, this.schema, {}, this.indexDefs);
  }

  get(id: string): R | undefined {
    // Rows put are frozen already (validRow); a loaded row is frozen here, on its first read.
    return this.seqs.has(id) ? deepFreeze(this.row(id)) : undefined;
  }

  /** The stored row of an id the table has, completed (and kept) when it is still in stored form. */
  private row(id: string): R {
    const value = this.value(id);
    const full = this.stored?.complete(value);
    if (full === undefined) return value;
    this.set(id, full);
    return full;
  }

  private value(id: string): R {
    return this.rows instanceof Map ? this.rows.get(id)! : this.rows[id]!;
  }

  private set(id: string, row: R): void {
    // defineProperty: an id such as "__proto__" becomes a plain key, never the record's prototype.
    if (this.rows instanceof Map) this.rows.set(id, row);
    else Object.defineProperty(this.rows, id, { value: row, enumerable: true, writable: true, configurable: true });
  }

  /** Position in first-stored order; undefined for an id not stored. */
  seq(id: string): number | undefined {
    return this.seqs.get(id);
  }

  /** Ids in first-stored order (a replaced row keeps its place). */
  ids(): IterableIterator<string> {
    return this.seqs.keys();
  }

  lookup(index: string, value: string): ReadonlySet<string> {
    const ids = this.index(index).get(value);
    return ids === undefined ? EMPTY : typeof ids === 'string' ? new Set([ids]) : ids;
  }

  /** Index values that more than one row has. */
  shared(index: string): string[] {
    const out: string[] = [];
    for (const [value, ids] of this.index(index)) if (typeof ids !== 'string') out.push(value);
    return out;
  }

  private index(index: string): Map<string, string | Set<string>> {
    const idx = this.indexes.get(index);
    if (!idx) throw new Error(`no index ${index} on ${this.name}`);
    if (!idx.map) {
      const map = new Map<string, string | Set<string>>();
      // A stored row is indexed through a view of it: building an index does not complete every row.
      const stored = this.stored;
      for (const id of this.seqs.keys()) {
        const value = this.value(id);
        add(map, idx.keyOf((stored?.view(value) as R | undefined) ?? value), id);
      }
      idx.map = map;
      idx.onBuilt?.();
    }
    return idx.map;
  }

  /** Runs `check` once, right after `index` is first built (it may look the index up). */
  whenBuilt(index: string, check: () => void): void {
    const idx = this.indexes.get(index);
    if (!idx) throw new Error(`no index ${index} on ${this.name}`);
    if (idx.map) check();
    else idx.onBuilt = check;
  }

  /** `row` must be validated and frozen (see validRow). */
  put(id: string, row: R): void {
    const old = this.get(id);
    if (old) this.unlink(id, old);
    else this.seqs.set(id, this.next++);
    this.set(id, row);
    this.link(id, row);
  }

  delete(id: string): boolean {
    const old = this.get(id);
    if (!old) return false;
    this.unlink(id, old);
    if (this.rows instanceof Map) this.rows.delete(id);
    else delete this.rows[id];
    this.seqs.delete(id);
    return true;
  }

  private link(id: string, row: R): void {
    for (const { keyOf, map } of this.indexes.values()) if (map) add(map, keyOf(row), id);
  }

  private unlink(id: string, row: R): void {
    for (const { keyOf, map } of this.indexes.values()) {
      if (!map) continue;
      const k = keyOf(row);
      if (k === undefined) continue;
      const ids = map.get(k);
      if (ids === id) map.delete(k);
      else if (typeof ids === 'object') {
        ids.delete(id);
        if (ids.size === 1) map.set(k, ids.values().next().value!);
      }
    }
  }
}

function add(map: Map<string, string | Set<string>>, k: string | undefined, id: string): void {
  if (k === undefined) return;
  const ids = map.get(k);
  if (ids === undefined) map.set(k, id);
  else if (typeof ids === 'string') {
    if (ids !== id) map.set(k, new Set([ids, id]));
  } else ids.add(id);
}

export interface Tables {
  conversations: Table<Conversation>;
  integrations: Table<Integration>;
  recommendations: Table<Recommendation>;
  postedCards: Table<PostedCard>;
  assignments: Table<Assignment>;
  reminders: Table<ReminderSent>;
  work: Table<WorkItem>;
  rules: Table<Rule>;
}
type TableName = keyof Tables;
type RowOf<N extends TableName> = Tables[N] extends Table<infer R> ? R : never;

function createTables(db: Database, stored: EngineOptions['stored'] = {}): Tables {
  return {
    conversations: new Table('conversations', conversationSchema, db.conversations, {
      upn: (c) => (c.userUpn ? lc(c.userUpn) : undefined),
      aad: (c) => c.userAadObjectId,
    }),
    integrations: new Table('integrations', integrationSchema, db.integrations),
    recommendations: new Table('recommendations', recommendationSchema, db.recommendations),
    postedCards: new Table('postedCards', postedCardSchema, db.postedCards, {
      conversation: (c) => c.conversationId,
      recommendation: (c) => c.recommendationKey,
    }),
    assignments: new Table(
      'assignments',
      assignmentSchema,
      db.assignments,
      {
        liveKey: (a) => (LIVE.has(a.status) ? a.key : undefined),
        status: (a) => a.status,
        batch: (a) => a.batchId,
        recommendation: (a) => lc(a.recommendationKey),
        integration: (a) => a.integrationId,
        owner: (a) => lc(a.owner),
        ticket: (a) => a.ticket?.sysId,
        governance: (a) => a.governance?.status,
      },
      stored.assignments,
    ),
    reminders: new Table('reminders', reminderSentSchema, db.reminders),
    work: new Table('work', workItemSchema, db.work, {
      kindKey: (w) => workKey(w.kind, w.key),
      pending: (w) => (PENDING_WORK.has(w.status) ? w.kind : undefined),
    }),
    rules: new Table('rules', ruleSchema, db.rules, { name: (r) => lc(r.name) }),
  };
}

/** The audit array with an index by target (absolute positions, so dropping the oldest keeps it valid). */
class AuditLog {
  private dropped = 0;
  private readonly byTarget = new Map<string, number[]>();

  constructor(private readonly entries: AuditEntry[]) {
    entries.forEach((e, i) => {
      deepFreeze(e);
      this.link(e, i);
    });
  }

  append(entry: AuditEntry): void {
    this.entries.push(entry);
    this.link(entry, this.dropped + this.entries.length - 1);
    const over = this.entries.length - AUDIT_LIMIT;
    if (over > 0) {
      for (const e of this.entries.slice(0, over)) {
        if (e.target === undefined) continue;
        const at = this.byTarget.get(e.target);
        at?.shift();
        if (at?.length === 0) this.byTarget.delete(e.target);
      }
      this.entries.splice(0, over);
      this.dropped += over;
    }
  }

  newest(limit: number): AuditEntry[] {
    return limit > 0 ? this.entries.slice(-limit).reverse() : [];
  }

  findLast(target: string, match: (e: AuditEntry) => boolean): AuditEntry | undefined {
    const at = this.byTarget.get(target);
    if (!at) return undefined;
    for (let i = at.length - 1; i >= 0; i--) {
      const e = this.entries[at[i]! - this.dropped]!;
      if (match(e)) return e;
    }
    return undefined;
  }

  private link(e: AuditEntry, position: number): void {
    if (e.target === undefined) return;
    const at = this.byTarget.get(e.target);
    if (at) at.push(position);
    else this.byTarget.set(e.target, [position]);
  }
}

// ------------------------------------------------------------------ views: committed state, or a transaction's

/** What repositories read and write through: the committed state directly, or a transaction's staging. */
interface Access {
  get<N extends TableName>(table: N, id: string): RowOf<N> | undefined;
  /** Committed ids under an index value (a transaction adds its own rows in select). */
  lookup(table: TableName, index: string, value: string): ReadonlySet<string>;
  /** Rows among `candidates` (every row when undefined) that match, in first-stored order. */
  select<N extends TableName>(table: N, candidates: Iterable<string> | undefined, match: (row: RowOf<N>) => boolean, limit?: number): RowOf<N>[];
  put<N extends TableName>(table: N, id: string, row: RowOf<N>): void;
  delete(table: TableName, id: string): boolean;
  auditNewest(limit: number): AuditEntry[];
  auditFindLast(target: string, match: (e: AuditEntry) => boolean): AuditEntry | undefined;
  appendAudit(entry: AuditEntry): void;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  deleteMeta(key: string): void;
  /** The meta entries whose key starts with `prefix`. */
  metaEntries(prefix: string): Array<[string, string]>;
  /** The committed row, ignoring a transaction's own changes (to tell at commit whether someone else changed it). */
  committedGet<N extends TableName>(table: N, id: string): RowOf<N> | undefined;
  /** Checks run against the committed state when a transaction commits (outside one, the caller checked already). */
  onCommit(check: (committed: Access) => void): void;
  /** Outside a transaction: resolves when the changes so far are durable. Inside: at once. */
  done(): Promise<void>;
  now(): Date;
}

class Committed implements Access {
  constructor(
    readonly tables: Tables,
    readonly audit: AuditLog,
    readonly meta: Record<string, string>,
    private readonly clock: Clock,
    private readonly persist: () => Promise<void>,
    readonly assertWritable: () => void,
  ) {}

  get<N extends TableName>(table: N, id: string): RowOf<N> | undefined {
    return (this.tables[table] as unknown as Table<RowOf<N>>).get(id);
  }

  lookup(table: TableName, index: string, value: string): ReadonlySet<string> {
    return this.tables[table].lookup(index, value);
  }

  select<N extends TableName>(table: N, candidates: Iterable<string> | undefined, match: (row: RowOf<N>) => boolean, limit = Infinity): RowOf<N>[] {
    const t = this.tables[table] as unknown as Table<RowOf<N>>;
    const out: RowOf<N>[] = [];
    if (limit <= 0) return out;
    if (candidates === undefined) {
      for (const id of t.ids()) {
        const row = t.get(id)!;
        if (match(row) && out.push(row) >= limit) break;
      }
      return out;
    }
    const found: Array<{ seq: number; row: RowOf<N> }> = [];
    for (const id of candidates) {
      const row = t.get(id);
      if (row && match(row)) found.push({ seq: t.seq(id)!, row });
    }
    found.sort((a, b) => a.seq - b.seq);
    for (const f of found.slice(0, limit)) out.push(f.row);
    return out;
  }

  put<N extends TableName>(table: N, id: string, row: RowOf<N>): void {
    this.assertWritable();
    (this.tables[table] as unknown as Table<RowOf<N>>).put(id, row);
  }

  delete(table: TableName, id: string): boolean {
    this.assertWritable();
    return this.tables[table].delete(id);
  }

  auditNewest(limit: number): AuditEntry[] {
    return this.audit.newest(limit);
  }

  auditFindLast(target: string, match: (e: AuditEntry) => boolean): AuditEntry | undefined {
    return this.audit.findLast(target, match);
  }

  appendAudit(entry: AuditEntry): void {
    this.assertWritable();
    this.audit.append(entry);
  }

  getMeta(key: string): string | undefined {
    return Object.hasOwn(this.meta, key) ? this.meta[key] : undefined;
  }

  setMeta(key: string, value: string): void {
    this.assertWritable();
    Object.defineProperty(this.meta, key, { value, enumerable: true, writable: true, configurable: true });
  }

  deleteMeta(key: string): void {
    this.assertWritable();
    if (Object.hasOwn(this.meta, key)) delete this.meta[key];
  }

  metaEntries(prefix: string): Array<[string, string]> {
    return Object.entries(this.meta).filter(([k]) => k.startsWith(prefix));
  }

  committedGet<N extends TableName>(table: N, id: string): RowOf<N> | undefined {
    return this.get(table, id);
  }

  onCommit(): void {}

  done(): Promise<void> {
    return this.persist();
  }

  now(): Date {
    return this.clock.now();
  }
}

/** Staged rows of a new id sort after every committed one, in the order they were staged. */
const STAGED_SEQ = Number.MAX_SAFE_INTEGER / 2;

/** A table's changes in one transaction: its puts (indexed like the table) and deletes. */
interface StagedTable {
  puts: Table<object>;
  deletes: Set<string>;
}

/**
 * A transaction's view: the committed state with its own staged changes on top. Staged rows are
 * indexed like committed ones, so a transaction of many writes stays linear.
 */
class Staging implements Access {
  readonly tables = new Map<TableName, StagedTable>();
  readonly audit: AuditEntry[] = [];
  /** Staged meta values; undefined: deleted. */
  readonly meta = new Map<string, string | undefined>();
  readonly checks: Array<(committed: Access) => void> = [];
  closed = false;

  constructor(private readonly base: Committed) {}

  private staged(table: TableName): StagedTable {
    let t = this.tables.get(table);
    if (!t) {
      const committed = this.base.tables[table] as unknown as Table<object>;
      this.tables.set(table, (t = { puts: committed.emptyCopy(), deletes: new Set() }));
    }
    return t;
  }

  private open(): void {
    if (this.closed) throw new Error('this transaction is over; use the store, or a new transaction');
  }

  get<N extends TableName>(table: N, id: string): RowOf<N> | undefined {
    this.open();
    const t = this.tables.get(table);
    if (t?.deletes.has(id)) return undefined;
    return (t?.puts.get(id) as RowOf<N> | undefined) ?? this.base.get(table, id);
  }

  lookup(table: TableName, index: string, value: string): ReadonlySet<string> {
    const committed = this.base.lookup(table, index, value);
    const t = this.tables.get(table);
    if (!t || t.puts.size === 0) return committed;
    const own = t.puts.lookup(index, value);
    return own.size === 0 ? committed : new Set([...committed, ...own]);
  }

  select<N extends TableName>(table: N, candidates: Iterable<string> | undefined, match: (row: RowOf<N>) => boolean, limit = Infinity): RowOf<N>[] {
    this.open();
    const t = this.tables.get(table);
    if (!t) return this.base.select(table, candidates, match, limit);
    const committed = this.base.tables[table] as unknown as Table<RowOf<N>>;
    const ids =
      candidates ??
      (function* () {
        yield* committed.ids();
        for (const id of t.puts.ids()) if (committed.seq(id) === undefined) yield id;
      })();
    const found: Array<{ seq: number; row: RowOf<N> }> = [];
    for (const id of ids) {
      const row = this.get(table, id);
      if (row && match(row)) found.push({ seq: committed.seq(id) ?? STAGED_SEQ + t.puts.seq(id)!, row });
    }
    found.sort((a, b) => a.seq - b.seq);
    return found.slice(0, limit).map((f) => f.row);
  }

  put<N extends TableName>(table: N, id: string, row: RowOf<N>): void {
    this.open();
    const t = this.staged(table);
    t.deletes.delete(id);
    t.puts.put(id, row);
  }

  delete(table: TableName, id: string): boolean {
    this.open();
    if (this.get(table, id) === undefined) return false;
    const t = this.staged(table);
    t.puts.delete(id);
    t.deletes.add(id);
    return true;
  }

  /** The rows this transaction writes to `table`, final values. */
  written<N extends TableName>(table: N): RowOf<N>[] {
    const t = this.tables.get(table);
    return t ? [...t.puts.ids()].map((id) => t.puts.get(id) as RowOf<N>) : [];
  }

  auditNewest(limit: number): AuditEntry[] {
    this.open();
    const own = this.audit.slice(-limit).reverse();
    return limit - own.length > 0 ? [...own, ...this.base.auditNewest(limit - own.length)] : own;
  }

  auditFindLast(target: string, match: (e: AuditEntry) => boolean): AuditEntry | undefined {
    this.open();
    for (let i = this.audit.length - 1; i >= 0; i--) {
      const e = this.audit[i]!;
      if (e.target === target && match(e)) return e;
    }
    return this.base.auditFindLast(target, match);
  }

  appendAudit(entry: AuditEntry): void {
    this.open();
    this.audit.push(entry);
  }

  getMeta(key: string): string | undefined {
    this.open();
    return this.meta.has(key) ? this.meta.get(key) : this.base.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    this.open();
    this.meta.set(key, value);
  }

  deleteMeta(key: string): void {
    this.open();
    this.meta.set(key, undefined);
  }

  metaEntries(prefix: string): Array<[string, string]> {
    this.open();
    const merged = new Map(this.base.metaEntries(prefix));
    for (const [k, v] of this.meta) {
      if (!k.startsWith(prefix)) continue;
      if (v === undefined) merged.delete(k);
      else merged.set(k, v);
    }
    return [...merged];
  }

  committedGet<N extends TableName>(table: N, id: string): RowOf<N> | undefined {
    return this.base.get(table, id);
  }

  onCommit(check: (committed: Access) => void): void {
    this.checks.push(check);
  }

  done(): Promise<void> {
    this.open();
    return Promise.resolve();
  }

  now(): Date {
    return this.base.now();
  }

  get empty(): boolean {
    return this.audit.length === 0 && this.meta.size === 0 && [...this.tables.values()].every((t) => t.puts.size === 0 && t.deletes.size === 0);
  }

  /** Applies everything in one synchronous step (no reader in between sees half of it). */
  applyTo(base: Committed): void {
    base.assertWritable();
    for (const check of this.checks) check(base);
    for (const [table, t] of this.tables) {
      const committed = base.tables[table] as unknown as Table<object>;
      for (const id of t.deletes) committed.delete(id);
      for (const id of t.puts.ids()) committed.put(id, t.puts.get(id)!);
    }
    for (const e of this.audit) base.audit.append(e);
    for (const [k, v] of this.meta) {
      if (v === undefined) base.deleteMeta(k);
      else base.setMeta(k, v);
    }
  }
}

// ------------------------------------------------------------------ rows

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    // for…in rather than Object.values: no array per object (rows are plain data: no inherited keys).
    for (const k in value) deepFreeze(value[k]);
  }
  return value;
}

/**
 * A validated, frozen copy of a row: what callers do with their object afterwards does not
 * change the store, and a row read from the store cannot be changed in place. zod's output is a
 * new object all the way down except for values typed unknown (a conversation's reference, audit
 * details): rows with those (`deep`) are cloned first.
 */
export function validRow<R>(table: string, schema: z.ZodType<R>, row: unknown, deep = false): R {
  return deepFreeze(parsedRow(table, schema, row, deep));
}

function parsedRow<R>(table: string, schema: z.ZodType<R>, row: unknown, deep: boolean): R {
  let input = row;
  if (deep) {
    try {
      input = structuredClone(row);
    } catch (err) {
      throw new InvalidRowError(table, [`not plain data: ${(err as Error).message}`]);
    }
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success)
    throw new InvalidRowError(
      table,
      parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`),
    );
  return parsed.data;
}

/** Whether two plain-data values (what zod outputs: no cycles, no inherited keys) are equal all the way down. */
export function samePlainData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!samePlainData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * validRow for rows that are large and that the caller keeps using (a sync pass's recommendations,
 * which its queued cards hold until they are sent): when zod's output equals the caller's row, the
 * caller's row is frozen and kept, so the store does not hold a second copy of every resource (about
 * 30 MB at 200k resources, for as long as the pass's cards take to drain). The caller's object can no
 * longer be changed in place, as a row read from the store cannot.
 */
export function validSharedRow<R>(table: string, schema: z.ZodType<R>, row: R): R {
  const copy = parsedRow(table, schema, row, false);
  return deepFreeze(samePlainData(copy, row) ? row : copy);
}

/** Without keys whose value is undefined (what the file would keep anyway). */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ------------------------------------------------------------------ queries

function conversationFilter(q: ConversationQuery): (c: Conversation) => boolean {
  const kinds = q.kinds ? new Set<string>(q.kinds) : undefined;
  const upn = q.userUpn === undefined ? undefined : lc(q.userUpn);
  return (c) =>
    (q.subscribed === undefined || c.subscribed === q.subscribed) &&
    (q.reachable === undefined || (c.unreachable === undefined) === q.reachable) &&
    (!kinds || kinds.has(c.kind)) &&
    (q.channelId === undefined || c.channelId === q.channelId) &&
    (upn === undefined || (c.userUpn !== undefined && lc(c.userUpn) === upn)) &&
    (q.userAadObjectId === undefined || c.userAadObjectId === q.userAadObjectId);
}

function conversationCandidates(view: Access, q: ConversationQuery): Iterable<string> | undefined {
  if (q.userUpn !== undefined) return view.lookup('conversations', 'upn', lc(q.userUpn));
  if (q.userAadObjectId !== undefined) return view.lookup('conversations', 'aad', q.userAadObjectId);
  return undefined;
}

function assignmentFilter(q: AssignmentQuery): (a: Assignment) => boolean {
  const statuses = q.statuses ? new Set<string>(q.statuses) : undefined;
  const ids = q.ids ? new Set(q.ids) : undefined;
  const gov = q.governanceStatuses ? new Set<string>(q.governanceStatuses) : undefined;
  const rec = q.recommendationKey === undefined ? undefined : lc(q.recommendationKey);
  const owner = q.owner === undefined ? undefined : lc(q.owner);
  return (a) =>
    (!statuses || statuses.has(a.status)) &&
    (!ids || ids.has(a.id)) &&
    (q.batchId === undefined || a.batchId === q.batchId) &&
    (q.integrationId === undefined || a.integrationId === q.integrationId) &&
    (rec === undefined || lc(a.recommendationKey) === rec) &&
    (owner === undefined || lc(a.owner) === owner) &&
    (q.conversationId === undefined || a.conversationId === q.conversationId) &&
    (q.hasTicket === undefined || (a.ticket !== undefined) === q.hasTicket) &&
    (q.ticketSysId === undefined || a.ticket?.sysId === q.ticketSysId) &&
    (q.dueBefore === undefined || a.dueDate < q.dueBefore) &&
    (!gov || (a.governance !== undefined && gov.has(a.governance.status)));
}

/** The smallest committed candidate set any indexed field of the query gives; undefined: scan. */
function assignmentCandidates(view: Access, q: AssignmentQuery): Iterable<string> | undefined {
  const options: Array<{ size: number; ids: Iterable<string> }> = [];
  const one = (index: string, value: string | undefined) => {
    if (value === undefined) return;
    const ids = view.lookup('assignments', index, value);
    options.push({ size: ids.size, ids });
  };
  if (q.ids) options.push({ size: q.ids.length, ids: q.ids });
  one('batch', q.batchId);
  one('ticket', q.ticketSysId);
  one('recommendation', q.recommendationKey === undefined ? undefined : lc(q.recommendationKey));
  one('owner', q.owner === undefined ? undefined : lc(q.owner));
  one('integration', q.integrationId);
  const anyOf = (index: string, values: readonly string[] | undefined) => {
    if (!values) return;
    const sets = [...new Set(values)].map((v) => view.lookup('assignments', index, v));
    options.push({
      size: sets.reduce((n, s) => n + s.size, 0),
      ids: (function* () {
        for (const s of sets) yield* s;
      })(),
    });
  };
  anyOf('status', q.statuses);
  // The start's resumePending asks for open assignments whose write-back is unfinished: a few
  // among 100,000 open ones.
  anyOf('governance', q.governanceStatuses);
  if (options.length === 0) return undefined;
  return options.reduce((best, o) => (o.size < best.size ? o : best)).ids;
}

function auditFilter(q: AuditQuery = {}): (e: AuditEntry) => boolean {
  const actions = q.actions ? new Set(q.actions) : undefined;
  const details = q.details ? Object.entries(q.details) : [];
  return (e) =>
    (!actions || actions.has(e.action)) &&
    (q.actor === undefined || e.actor === q.actor) &&
    details.every(([k, v]) => Object.hasOwn(e.details, k) && e.details[k] === v) &&
    (q.detailKeys ?? []).every((k) => Object.hasOwn(e.details, k));
}

function liveWithKey(view: Access, key: string): Assignment[] {
  return view.select('assignments', view.lookup('assignments', 'liveKey', key), (a) => a.key === key && LIVE.has(a.status));
}

/**
 * One live assignment per key, like a unique index: a write may not add a live assignment to a key
 * that has one (legacy files with duplicates still load, and rows already in that state can still be
 * updated, but never one more).
 */
function checkLiveKeys(view: Access, rows: readonly Assignment[]): void {
  const ids = new Set<string>();
  for (const r of rows) {
    if (ids.has(r.id)) throw new StoreConstraintError(`assignment ${r.id} appears twice in one write`);
    ids.add(r.id);
  }
  const liveByKey = new Map<string, string[]>();
  for (const r of rows) {
    const live = liveByKey.get(r.key) ?? [];
    if (LIVE.has(r.status)) live.push(r.id);
    liveByKey.set(r.key, live);
  }
  for (const [key, written] of liveByKey) {
    const before = liveWithKey(view, key).map((a) => a.id);
    const after = new Set(before.filter((id) => !ids.has(id)));
    for (const id of written) after.add(id);
    if (after.size > 1 && after.size > before.length) {
      throw new StoreConstraintError(`key ${key} would have ${after.size} live assignments (${[...after].join(', ')}); at most one is allowed`);
    }
  }
}

// ------------------------------------------------------------------ repositories

function repositories(view: Access): StoreTx {
  const work = workQueue(view);
  return {
    conversations: {
      get: async (id) => view.get('conversations', id),
      list: async (q = {}) => view.select('conversations', conversationCandidates(view, q), conversationFilter(q)),
      count: async (q = {}) => view.select('conversations', conversationCandidates(view, q), conversationFilter(q)).length,
      upsert: async (c) => {
        const row = validRow('conversations', conversationSchema, c, true);
        view.put('conversations', row.id, row);
        await view.done();
      },
      remove: async (id) => {
        if (!view.delete('conversations', id)) return false;
        await view.done();
        return true;
      },
    },
    integrations: {
      get: async (id) => view.get('integrations', id),
      findByName: async (name) => view.select('integrations', undefined, (i) => !i.removedAt && lc(i.name) === lc(name), 1)[0],
      list: async () => view.select('integrations', undefined, (i) => !i.removedAt),
      listAll: async () => view.select('integrations', undefined, () => true),
      upsert: async (i) => {
        const row = validRow('integrations', integrationSchema, i);
        view.put('integrations', row.id, row);
        await view.done();
      },
    },
    recommendations: {
      get: async (key) => view.get('recommendations', key),
      list: async () => view.select('recommendations', undefined, () => true),
      upsertMany: async (recs) => {
        const rows = recs.map((r) => validSharedRow('recommendations', recommendationSchema, r));
        if (rows.length === 0) return;
        for (const r of rows) view.put('recommendations', r.key, r);
        await view.done();
      },
      getCard: async (conversationId, key) => view.get('postedCards', cardKey(conversationId, key)),
      listCards: async (q: PostedCardQuery = {}) => {
        const candidates =
          q.conversationId !== undefined
            ? view.lookup('postedCards', 'conversation', q.conversationId)
            : q.recommendationKey !== undefined
              ? view.lookup('postedCards', 'recommendation', q.recommendationKey)
              : undefined;
        return view.select(
          'postedCards',
          candidates,
          (c) =>
            (q.conversationId === undefined || c.conversationId === q.conversationId) &&
            (q.recommendationKey === undefined || c.recommendationKey === q.recommendationKey),
        );
      },
      upsertCard: async (card) => {
        const row = validRow('postedCards', postedCardSchema, card);
        view.put('postedCards', cardKey(row.conversationId, row.recommendationKey), row);
        await view.done();
      },
      removeCardsFor: async (conversationId) => {
        const cards = view.select('postedCards', view.lookup('postedCards', 'conversation', conversationId), (c) => c.conversationId === conversationId);
        if (cards.length === 0) return;
        for (const c of cards) view.delete('postedCards', cardKey(c.conversationId, c.recommendationKey));
        await view.done();
      },
    },
    assignments: {
      get: async (id) => view.get('assignments', id),
      findLiveByKey: async (key) => liveWithKey(view, key)[0],
      findLiveByKeys: async (keys) => {
        const out = new Map<string, Assignment>();
        for (const key of new Set(keys)) {
          const live = liveWithKey(view, key)[0];
          if (live) out.set(key, live);
        }
        return out;
      },
      list: async (q = {}) => view.select('assignments', assignmentCandidates(view, q), assignmentFilter(q), q.limit),
      count: async (q = {}) => view.select('assignments', assignmentCandidates(view, q), assignmentFilter(q), q.limit).length,
      upsertMany: async (assignments) => {
        const rows = assignments.map((a) => validRow('assignments', assignmentSchema, a));
        if (rows.length === 0) return;
        checkLiveKeys(view, rows);
        for (const r of rows) view.put('assignments', r.id, r);
        await view.done();
      },
    },
    reminders: {
      wasSent: async (key) => view.get('reminders', key) !== undefined,
      sentAmong: async (keys) => {
        const out = new Set<string>();
        for (const k of keys) if (view.get('reminders', k) !== undefined) out.add(k);
        return out;
      },
      markSent: async (entry) => {
        const row = validRow('reminders', reminderSentSchema, entry);
        // No await before the put: two claims of one key in the same tick see each other.
        if (view.get('reminders', row.key) !== undefined) return false;
        const before = view.committedGet('reminders', row.key);
        view.onCommit((committed) => {
          if (committed.get('reminders', row.key) !== before) throw new StoreConstraintError(`reminder ${row.key} was recorded by another writer meanwhile`);
        });
        view.put('reminders', row.key, row);
        await view.done();
        return true;
      },
      prune: async (olderThan, keyPrefixes) => {
        if (keyPrefixes.length === 0) return 0;
        const cutoff = olderThan.getTime();
        const old = view.select('reminders', undefined, (e) => Date.parse(e.sentAt) < cutoff && keyPrefixes.some((p) => e.key.startsWith(p)));
        for (const e of old) view.delete('reminders', e.key);
        if (old.length > 0) await view.done();
        return old.length;
      },
    },
    audit: {
      append: async (entry) => {
        view.appendAudit(validRow('audit', auditEntrySchema, entry, true));
        await view.done();
      },
      list: async (limit = 100) => view.auditNewest(limit),
      findLast: async (target, q) => view.auditFindLast(target, auditFilter(q)),
    },
    meta: {
      get: async (key) => view.getMeta(key),
      set: async (key, value) => {
        if (typeof value !== 'string') throw new InvalidRowError('meta', [`${key}: must be a string`]);
        view.setMeta(key, value);
        await view.done();
      },
      prune: async (prefix, stale) => {
        const gone = view.metaEntries(prefix).filter(([, v]) => stale(v));
        for (const [k] of gone) view.deleteMeta(k);
        if (gone.length > 0) await view.done();
        return gone.length;
      },
    },
    work,
    rules: ruleRepository(view),
  };
}

function ruleRepository(view: Access): StoreTx['rules'] {
  const named = (name: string) => view.select('rules', view.lookup('rules', 'name', lc(name)), (r) => lc(r.name) === lc(name));
  return {
    get: async (id) => view.get('rules', id),
    findByName: async (name) => named(name)[0],
    list: async () => view.select('rules', undefined, () => true),
    upsert: async (rule) => {
      const row = validRow('rules', ruleSchema, rule);
      if (named(row.name).some((r) => r.id !== row.id)) throw new StoreConstraintError(`a rule named "${row.name}" exists already`);
      // Another writer may store the same name before this transaction commits: names stay unique.
      const seen = new Set(view.lookup('rules', 'name', lc(row.name)));
      view.onCommit((committed) => {
        for (const id of committed.lookup('rules', 'name', lc(row.name))) {
          if (id !== row.id && !seen.has(id)) throw new StoreConstraintError(`a rule named "${row.name}" was stored by another writer meanwhile`);
        }
      });
      view.put('rules', row.id, row);
      await view.done();
    },
    remove: async (id) => {
      if (!view.delete('rules', id)) return false;
      await view.done();
      return true;
    },
  };
}

function workQueue(view: Access): StoreTx['work'] {
  const byKindKey = (kind: string, key: string) =>
    view.select('work', view.lookup('work', 'kindKey', workKey(kind, key)), (w) => w.kind === kind && w.key === key, 1)[0];
  const put = (w: WorkItem) => {
    const row = validRow('work', workItemSchema, defined(w));
    view.put('work', row.id, row);
    return row;
  };
  /** A claim, completion or failure in a transaction fails at commit when another writer changed the item meanwhile. */
  const unchangedAtCommit = (id: string) => {
    const before = view.committedGet('work', id);
    view.onCommit((committed) => {
      if (committed.get('work', id) !== before) throw new StoreConstraintError(`work item ${id} was changed by another writer meanwhile`);
    });
  };
  const leased = (id: string, owner: string) => {
    const w = view.get('work', id);
    if (!w || w.status !== 'running' || w.leaseOwner !== owner) return undefined;
    unchangedAtCommit(id);
    return w;
  };
  const finish = async (w: WorkItem, change: Partial<WorkItem>): Promise<true> => {
    const { leaseOwner: _owner, leaseUntil: _until, ...rest } = w;
    put({ ...rest, ...change, updatedAt: view.now().toISOString() });
    await view.done();
    return true;
  };
  return {
    enqueue: async (items) => {
      const now = view.now().toISOString();
      const out: WorkItem[] = [];
      const rows: WorkItem[] = [];
      for (const item of items) {
        const existing = byKindKey(item.kind, item.key);
        if (existing && PENDING_WORK.has(existing.status)) {
          out.push(existing);
          continue;
        }
        let payload: unknown;
        try {
          payload = item.payload === undefined ? null : JSON.parse(JSON.stringify(item.payload));
        } catch (err) {
          throw new InvalidRowError('work', [`payload: not JSON (${(err as Error).message})`]);
        }
        const row = put({
          id: existing?.id ?? randomUUID(),
          kind: item.kind,
          key: item.key,
          payload,
          status: 'queued',
          attempts: 0,
          runAt: (item.runAt ?? view.now()).toISOString(),
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        });
        rows.push(row);
        out.push(row);
      }
      // Another transaction may have enqueued the same key meanwhile: one item per (kind, key).
      view.onCommit((committed) => {
        for (const r of rows) {
          for (const id of committed.lookup('work', 'kindKey', workKey(r.kind, r.key))) {
            if (id !== r.id) throw new StoreConstraintError(`work ${r.kind} ${r.key} was enqueued by another writer meanwhile`);
          }
        }
      });
      if (rows.length > 0) await view.done();
      return out;
    },
    claim: async (kind, owner, limit, leaseMs) => {
      if (!owner) throw new Error('claim needs an owner');
      if (!(leaseMs > 0)) throw new Error('claim needs a positive lease');
      if (limit <= 0) return [];
      const now = view.now();
      const t = now.getTime();
      const due = view
        .select(
          'work',
          view.lookup('work', 'pending', kind),
          (w) =>
            w.kind === kind &&
            ((w.status === 'queued' && Date.parse(w.runAt) <= t) || (w.status === 'running' && w.leaseUntil !== undefined && Date.parse(w.leaseUntil) <= t)),
        )
        // Stable: equal runAt keeps first-enqueued order.
        .sort((a, b) => Date.parse(a.runAt) - Date.parse(b.runAt))
        .slice(0, limit);
      const claimed = due.map((w) => {
        unchangedAtCommit(w.id);
        return put({
          ...w,
          status: 'running',
          leaseOwner: owner,
          leaseUntil: new Date(t + leaseMs).toISOString(),
          attempts: w.attempts + 1,
          updatedAt: now.toISOString(),
        });
      });
      if (claimed.length > 0) await view.done();
      return claimed;
    },
    complete: async (id, owner) => {
      const w = leased(id, owner);
      if (!w) return false;
      return finish(w, { status: 'done', finishedAt: view.now().toISOString(), lastError: undefined });
    },
    fail: async (id, owner, error, retryAt) => {
      const w = leased(id, owner);
      if (!w) return false;
      const lastError = String(error).slice(0, 2000);
      if (retryAt) return finish(w, { status: 'queued', runAt: retryAt.toISOString(), lastError });
      return finish(w, { status: 'failed', finishedAt: view.now().toISOString(), lastError });
    },
    get: async (id) => view.get('work', id),
    list: async (q: WorkQuery = {}) => {
      const statuses = q.statuses ? new Set<string>(q.statuses) : undefined;
      const candidates =
        q.kind !== undefined && q.key !== undefined
          ? view.lookup('work', 'kindKey', workKey(q.kind, q.key))
          : q.kind !== undefined && statuses && [...statuses].every((s) => PENDING_WORK.has(s))
            ? view.lookup('work', 'pending', q.kind)
            : undefined;
      return view.select(
        'work',
        candidates,
        (w) => (q.kind === undefined || w.kind === q.kind) && (q.key === undefined || w.key === q.key) && (!statuses || statuses.has(w.status)),
      );
    },
    prune: async (kind, finishedBefore, handledFailures = []) => {
      const cutoff = finishedBefore.getTime();
      const handled = new Set(handledFailures);
      const old = view.select(
        'work',
        undefined,
        (w) =>
          w.kind === kind &&
          (w.status === 'done' || (w.status === 'failed' && handled.has(w.id))) &&
          w.finishedAt !== undefined &&
          Date.parse(w.finishedAt) < cutoff,
      );
      for (const w of old) view.delete('work', w.id);
      if (old.length > 0) await view.done();
      return old.length;
    },
  };
}

// ------------------------------------------------------------------ the engine

export interface EngineOptions {
  clock: Clock;
  /** Makes the current state durable; mutations of one tick may share one call's write. */
  persist: () => Promise<void>;
  /** Throws when the store may not be changed (a read-only lowdb store); called before any change. */
  assertWritable?: () => void;
  /** Per table, how to read loaded values left in the file's stored form (lowdb: storage/storedForm.ts). */
  stored?: { assignments?: StoredRows<Assignment> };
  /**
   * Check the loaded data (e.g. keys with two live assignments) when the index a check needs is
   * first built rather than now: opening a big file does not complete every row for a log line.
   * Each problem goes to onProblem when found.
   */
  checkLazily?: boolean;
  onProblem?: (problem: string) => void;
}

export interface Engine {
  repositories: StoreTx;
  transaction: Store['transaction'];
  /** Things about the loaded data worth a log line (e.g. keys that already have two live assignments), found so far. */
  problems: string[];
}

/** Builds the engine over `db`, which it then owns: the caller persists that same object. */
export function createEngine(db: Database, options: EngineOptions): Engine {
  const tables = createTables(db, options.stored);
  const committed = new Committed(tables, new AuditLog(db.audit), db.meta, options.clock, options.persist, options.assertWritable ?? (() => undefined));
  const problems: string[] = [];
  tables.assignments.whenBuilt('liveKey', () => {
    const duplicated = tables.assignments.shared('liveKey');
    if (duplicated.length === 0) return;
    const problem = `${duplicated.length} key(s) have more than one live assignment (e.g. ${duplicated.slice(0, 3).join(', ')})`;
    problems.push(problem);
    options.onProblem?.(problem);
  });
  // Otherwise the live-key index (the one every sync's lookups use) is built here, and with it the check.
  if (!options.checkLazily) tables.assignments.lookup('liveKey', '');

  const transaction = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    const staging = new Staging(committed);
    let result: T;
    try {
      result = await fn(repositories(staging));
    } finally {
      staging.closed = true;
    }
    if (staging.empty) return result;
    // Checked again against the committed state as it is now: another writer may have gone first.
    const assignments = staging.written('assignments');
    if (assignments.length > 0) staging.checks.unshift((base) => checkLiveKeys(base, assignments));
    staging.applyTo(committed);
    await committed.done();
    return result;
  };
  return { repositories: repositories(committed), transaction, problems };
}
