/**
 * How each entity of core/model.ts maps onto its PostgreSQL table (storage/postgres/migrations.ts):
 * the key columns derived from the row, the conflict target of an upsert, and the statements
 * shared by the store's repositories and the lowdb → PostgreSQL copy (storage/postgres/copy.ts).
 */
import type { z } from 'zod';
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
} from '../../core/model.js';
import { InvalidRowError } from '../../app/ports.js';
import { deepFreeze } from '../engine.js';
import { schemaFingerprint } from '../schema.js';

const lc = (s: string) => s.toLowerCase();
const LIVE: ReadonlySet<string> = new Set(LIVE_ASSIGNMENT_STATUSES);
/** An ISO date-time as PostgreSQL reads it (zod accepted anything Date.parse does). */
const instant = (v: string | undefined) => (v === undefined ? undefined : new Date(Date.parse(v)).toISOString());

/** A key column: its name, its SQL type, and how it is derived from the row. */
export type Column<R> = readonly [name: string, type: string, of: (row: R) => unknown];

export interface TableDef<R> {
  /** The SQL table. */
  table: string;
  /** The name errors use (the Database record of storage/schema.ts). */
  entity: string;
  schema: z.ZodType<R>;
  /** Rows with values typed unknown (a conversation's reference, audit details) are cloned before validation. */
  deep?: boolean;
  /** The columns an upsert replaces on (the primary key). */
  conflict: readonly string[];
  columns: readonly Column<R>[];
  /**
   * Rows written after the others of the same statement. One write may end a key's live
   * assignment and add its successor; PostgreSQL checks a unique index row by row, so the ended
   * one must come first. Only the order of writing changes: first-stored order (seq) stays the
   * order of the rows given.
   */
  late?: (row: R) => boolean;
  /**
   * The row as stored in `doc`, when that is smaller than the row (packedId); `unpack` gives the
   * row back from a document just read (in place) and leaves a row stored whole as it is.
   */
  pack?: (row: R) => unknown;
  unpack?: (doc: Record<string, unknown>) => unknown;
}

const ASSESSMENTS = '/providers/Microsoft.Security/assessments/';

/**
 * An assessment id is nearly always its resource's id + ASSESSMENTS + the assessment's name, so a
 * stored row keeps `~name` in its place (the id was ~40 % of a stored resource snapshot and ~18 %
 * of an assignment, all of it parsed again on every read). Unambiguous: an id that itself starts
 * with `~` is stored with one more (`~~…`), and a name starting with `~` is not packed. Ids of
 * another shape, and rows stored whole by older builds or the copy, read as they are.
 */
function packedId(id: unknown, resourceId: unknown): unknown {
  if (typeof id !== 'string' || typeof resourceId !== 'string') return id;
  if (id.startsWith('~')) return `~${id}`;
  const at = resourceId.length + ASSESSMENTS.length;
  if (id.length > at && id.charCodeAt(at) !== 126 && id.startsWith(resourceId) && id.startsWith(ASSESSMENTS, resourceId.length)) return `~${id.slice(at)}`;
  return id;
}

function packAssessment<T extends { assessmentId: string; resourceId: string }>(row: T): T {
  const id = packedId(row.assessmentId, row.resourceId) as string;
  return id === row.assessmentId ? row : { ...row, assessmentId: id };
}

/** In place: `doc` is a document just parsed, not yet handed out. */
function unpackAssessment(doc: Record<string, unknown>): Record<string, unknown> {
  const id = doc.assessmentId;
  if (typeof id !== 'string' || id.charCodeAt(0) !== 126) return doc;
  if (id.charCodeAt(1) === 126) doc.assessmentId = id.slice(1);
  else if (typeof doc.resourceId === 'string') doc.assessmentId = doc.resourceId + ASSESSMENTS + id.slice(1);
  return doc;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export const conversationsTable: TableDef<Conversation> = {
  table: 'conversations',
  entity: 'conversations',
  schema: conversationSchema,
  deep: true,
  conflict: ['id'],
  columns: [
    ['id', 'text', (c) => c.id],
    ['subscribed', 'boolean', (c) => c.subscribed],
    ['reachable', 'boolean', (c) => c.unreachable === undefined],
    ['kind', 'text', (c) => c.kind],
    ['channel_id', 'text', (c) => c.channelId],
    ['user_upn_lc', 'text', (c) => (c.userUpn === undefined ? undefined : lc(c.userUpn))],
    ['user_aad_object_id', 'text', (c) => c.userAadObjectId],
  ],
};

export const integrationsTable: TableDef<Integration> = {
  table: 'integrations',
  entity: 'integrations',
  schema: integrationSchema,
  conflict: ['id'],
  columns: [
    ['id', 'text', (i) => i.id],
    ['name_lc', 'text', (i) => lc(i.name)],
    ['removed', 'boolean', (i) => i.removedAt !== undefined],
  ],
};

export const recommendationsTable: TableDef<Recommendation> = {
  table: 'recommendations',
  entity: 'recommendations',
  schema: recommendationSchema,
  conflict: ['key'],
  columns: [['key', 'text', (r) => r.key]],
  // A sync pass writes every resource of every recommendation (~115 MB of JSON at 200,000).
  pack: (r) => ({ ...r, resources: r.resources.map((s) => packAssessment(s)) }),
  unpack: (doc) => {
    if (Array.isArray(doc.resources)) for (const s of doc.resources as unknown[]) if (isRecord(s)) unpackAssessment(s);
    return doc;
  },
};

export const postedCardsTable: TableDef<PostedCard> = {
  table: 'posted_cards',
  entity: 'postedCards',
  schema: postedCardSchema,
  conflict: ['conversation_id', 'recommendation_key'],
  columns: [
    ['conversation_id', 'text', (c) => c.conversationId],
    ['recommendation_key', 'text', (c) => c.recommendationKey],
  ],
};

export const assignmentsTable: TableDef<Assignment> = {
  table: 'assignments',
  entity: 'assignments',
  schema: assignmentSchema,
  conflict: ['id'],
  columns: [
    ['id', 'text', (a) => a.id],
    ['key', 'text', (a) => a.key],
    ['status', 'text', (a) => a.status],
    ['batch_id', 'text', (a) => a.batchId],
    ['integration_id', 'text', (a) => a.integrationId],
    ['recommendation_key_lc', 'text', (a) => lc(a.recommendationKey)],
    ['owner_lc', 'text', (a) => lc(a.owner)],
    ['conversation_id', 'text', (a) => a.conversationId],
    ['ticket_sys_id', 'text', (a) => a.ticket?.sysId],
    ['due_date', 'text', (a) => a.dueDate],
    ['governance_status', 'text', (a) => a.governance?.status],
  ],
  late: (a) => LIVE.has(a.status),
  pack: (a) => packAssessment(a),
  unpack: unpackAssessment,
};

export const workTable: TableDef<WorkItem> = {
  table: 'work',
  entity: 'work',
  schema: workItemSchema,
  conflict: ['id'],
  columns: [
    ['id', 'text', (w) => w.id],
    ['kind', 'text', (w) => w.kind],
    ['key', 'text', (w) => w.key],
    ['status', 'text', (w) => w.status],
    ['run_at', 'timestamptz', (w) => instant(w.runAt)],
    ['lease_owner', 'text', (w) => w.leaseOwner],
    ['lease_until', 'timestamptz', (w) => instant(w.leaseUntil)],
    ['finished_at', 'timestamptz', (w) => instant(w.finishedAt)],
  ],
};

export const remindersTable: TableDef<ReminderSent> = {
  table: 'reminders',
  entity: 'reminders',
  schema: reminderSentSchema,
  conflict: ['key'],
  columns: [
    ['key', 'text', (r) => r.key],
    ['sent_at', 'timestamptz', (r) => instant(r.sentAt)],
  ],
};

export const auditTable: TableDef<AuditEntry> = {
  table: 'audit',
  entity: 'audit',
  schema: auditEntrySchema,
  deep: true,
  conflict: [],
  columns: [
    ['at', 'timestamptz', (e) => instant(e.at)],
    ['actor', 'text', (e) => e.actor],
    ['action', 'text', (e) => e.action],
    ['target', 'text', (e) => e.target],
  ],
};

export const rulesTable: TableDef<Rule> = {
  table: 'rules',
  entity: 'rules',
  schema: ruleSchema,
  conflict: ['id'],
  columns: [
    ['id', 'text', (r) => r.id],
    ['name_lc', 'text', (r) => lc(r.name)],
  ],
};

/** The tables the store owns, in an order that copies and empties them safely. */
export const ALL_TABLES = [
  'conversations',
  'integrations',
  'recommendations',
  'posted_cards',
  'assignments',
  'reminders',
  'audit',
  'meta',
  'work',
  'rules',
] as const;

/** Tables of coordination between processes (storage/postgres/coordination.ts): not data, never copied. */
export const COORDINATION_TABLES = ['job_runs', 'send_pacing'] as const;

/**
 * Rows as one JSON parameter for json_to_recordset: a statement of any size, one round trip.
 * Each carries its key columns, the whole row as `doc`, its position and whether it goes late.
 */
export function recordset<R>(def: TableDef<R>, rows: readonly R[]): string {
  return JSON.stringify(
    rows.map((row, ord) => {
      const record: Record<string, unknown> = { doc: def.pack ? def.pack(row) : row, ord, late: def.late?.(row) ?? false };
      for (const [name, , of] of def.columns) record[name] = of(row);
      return record;
    }),
  );
}

function recordType<R>(def: TableDef<R>): string {
  return [...def.columns.map(([name, type]) => `${name} ${type}`), 'doc json', 'ord integer', 'late boolean'].join(', ');
}

let sealSchema: string | undefined;
/**
 * This build's schema, as written into each row's seal_schema: the first 64 bits of the schema
 * fingerprint (plenty to tell builds apart), as an SQL literal. A seal made by an older or newer
 * schema never holds.
 */
function schemaLiteral(): string {
  sealSchema ??= `'${schemaFingerprint().slice(0, 16)}'`;
  return sealSchema;
}

/**
 * The seal of a row as written (storage/postgres/migrations.ts, versions 4 and 5): the MD5 of
 * the writer's schema (seal_schema) and the stored JSON text, computed by the server in the
 * statement that writes it. The database itself recomputes, on every insert or update whoever
 * makes it, whether the seal still matches the row's text and schema (the generated column
 * seal_ok), so a read only compares two columns instead of hashing every document it returns
 * (2,000 assignments: ~6 ms of server CPU per list). `doc` was validated by the store before it
 * was written; a read that finds seal_ok and this build's schema knows it is that row, unchanged,
 * under the same schema, and skips re-validating it (2,000 rows: ~35 ms of zod). A row edited
 * behind the store's back, written by another build or by a statement that does not seal (the
 * work queue's re-enqueue merge) does not match and is validated in full, as before.
 */
export const sealOf = (doc: string) => `md5(${schemaLiteral()} || ':' || ${doc}::text)`;
/** The seal columns a write sets: the seal and the schema it was made under. */
const SEAL_COLUMNS = ['seal', 'seal_schema'];
const sealValues = (doc: string) => `${sealOf(doc)}, ${schemaLiteral()}`;
/** The column list a read selects: the row and whether its seal holds for this build. */
export const SEALED_DOC = () => `doc, (seal_ok AND seal_schema = ${schemaLiteral()}) AS sealed`;
/** This build's seal_schema, as an SQL literal. */
export const SEALED_SCHEMA = () => schemaLiteral();

/**
 * Inserts or replaces rows ($1: recordset()). New rows get their place in first-stored order
 * (seq) in the order given, whatever order they are written in; a replaced row keeps its place.
 */
export function upsertSql<R>(def: TableDef<R>): string {
  const names = def.columns.map(([name]) => name);
  const updates = [...names.filter((n) => !def.conflict.includes(n)), 'doc', ...SEAL_COLUMNS].map((n) => `${n} = EXCLUDED.${n}`).join(', ');
  // nextval runs after the inner sort (a volatile output column is computed after ORDER BY), so
  // seq follows `ord`; the outer sort then writes the late rows last.
  return `INSERT INTO ${def.table} AS t (${names.join(', ')}, doc, ${SEAL_COLUMNS.join(', ')}, seq)
    SELECT ${names.map((n) => `x.${n}`).join(', ')}, x.doc, ${sealValues('x.doc')}, x.seq FROM (
      SELECT r.*, nextval('${def.table}_seq_seq') AS seq FROM json_to_recordset($1::json) AS r(${recordType(def)}) ORDER BY r.ord
    ) x ORDER BY x.late, x.ord
    ON CONFLICT (${def.conflict.join(', ')}) DO UPDATE SET ${updates}`;
}

/** A statement's share of a large write: bounded so no copy of the whole set is ever held (a sync pass writes ~14 KB per recommendation). */
export const WRITE_BATCH = { maxBytes: 2 * 1024 * 1024, maxParams: 60_000 };

/** One statement of an upsert: its rows' parameters, and whether its rows come from a larger write (seq given). */
export interface UpsertStatement {
  text: string;
  values: unknown[];
}

/**
 * An upsert of any size as statements of bounded size, one row per VALUES tuple with its
 * document as its own parameter: no JSON of all rows (json_to_recordset parsed it, then parsed
 * each document again to cast it) and no string of the whole set on the client. Each row is
 * serialized when its statement is built, so only one statement's text exists at a time.
 *
 * One statement (the common case) behaves as upsertSql: seq from nextval in the order given,
 * late rows written last. When the rows need several statements, the caller supplies `seqs`
 * (one per row, ascending, from the table's sequence) and runs them in one transaction: the late
 * rows go in the statements after all the others, and a new row's seq is still its place in the
 * rows given. `seqs` is called only then. `late` is decided on the rows given, before `prepare`.
 */
export async function* upsertStatements<R>(
  def: TableDef<R>,
  rows: readonly R[],
  seqs: (count: number) => Promise<readonly string[]>,
  options: { budget?: typeof WRITE_BATCH; prepare?: (row: R) => R } = {},
): AsyncGenerator<UpsertStatement> {
  const { budget = WRITE_BATCH, prepare } = options;
  const perRow = def.columns.length + 3;
  const maxRows = Math.max(1, Math.floor(budget.maxParams / perRow));
  const late = def.late;
  // Writing order: rows given, late ones after all others (only reordered when some are late).
  const order: number[] = rows.map((_, i) => i);
  if (late) {
    const isLate = rows.map((r) => late(r));
    if (isLate.some(Boolean)) order.sort((a, b) => Number(isLate[a]) - Number(isLate[b]) || a - b);
  }
  let at = 0;
  let given: readonly string[] | undefined;
  while (at < order.length) {
    const values: unknown[] = [];
    const tuples: string[] = [];
    let bytes = 0;
    const first = at;
    while (at < order.length && tuples.length < maxRows && (tuples.length === 0 || bytes < budget.maxBytes)) {
      const ord = order[at++]!;
      // Validated here rather than up front, so the checked copy of a row lives only until its statement is built.
      const row = prepare ? prepare(rows[ord]!) : rows[ord]!;
      const doc = JSON.stringify(def.pack ? def.pack(row) : row);
      bytes += doc.length;
      const start = values.length;
      for (const [, , of] of def.columns) values.push(of(row));
      values.push(doc, ord, late?.(row) ?? false);
      tuples.push(
        `(${[...def.columns.map(([, type], k) => `$${start + k + 1}::${type}`), `$${start + perRow - 2}::json`, `$${start + perRow - 1}::integer`, `$${start + perRow}::boolean`].join(', ')})`,
      );
    }
    if (first === 0 && at === order.length) {
      yield { text: upsertValuesSql(def, tuples, false), values };
      return;
    }
    given ??= await seqs(rows.length);
    // The seq of each row by its place in the rows given, appended to each tuple.
    const withSeq: string[] = [];
    for (let t = 0; t < tuples.length; t++) {
      values.push(given[order[first + t]!]);
      withSeq.push(`${tuples[t]!.slice(0, -1)}, $${values.length}::bigint)`);
    }
    yield { text: upsertValuesSql(def, withSeq, true), values };
  }
}

function upsertValuesSql<R>(def: TableDef<R>, tuples: readonly string[], seqGiven: boolean): string {
  const names = def.columns.map(([name]) => name);
  const updates = [...names.filter((n) => !def.conflict.includes(n)), 'doc', ...SEAL_COLUMNS].map((n) => `${n} = EXCLUDED.${n}`).join(', ');
  const alias = `v(${[...names, 'doc', 'ord', 'late', ...(seqGiven ? ['seq'] : [])].join(', ')})`;
  const source = seqGiven
    ? `(VALUES ${tuples.join(', ')}) AS ${alias}`
    : // nextval runs after the inner sort (a volatile output column is computed after ORDER BY), so seq follows `ord`.
      `(SELECT v.*, nextval('${def.table}_seq_seq') AS seq FROM (VALUES ${tuples.join(', ')}) AS ${alias} ORDER BY v.ord) x`;
  const x = seqGiven ? 'v' : 'x';
  return `INSERT INTO ${def.table} AS t (${names.join(', ')}, doc, ${SEAL_COLUMNS.join(', ')}, seq)
    SELECT ${names.map((n) => `${x}.${n}`).join(', ')}, ${x}.doc, ${sealValues(`${x}.doc`)}, ${x}.seq FROM ${source}
    ORDER BY ${x}.late, ${x}.ord
    ON CONFLICT (${def.conflict.join(', ')}) DO UPDATE SET ${updates}`;
}

/** Plain inserts of rows without a seq column (reminders, audit), in the order given ($1: recordset()). */
export function insertSql<R>(def: TableDef<R>, onConflict = ''): string {
  const names = def.columns.map(([name]) => name);
  return `INSERT INTO ${def.table} (${names.join(', ')}, doc, ${SEAL_COLUMNS.join(', ')})
    SELECT ${names.map((n) => `r.${n}`).join(', ')}, r.doc, ${sealValues('r.doc')} FROM json_to_recordset($1::json) AS r(${recordType(def)}) ORDER BY r.ord ${onConflict}`;
}

/**
 * A stored row, checked against its schema: a row changed behind the store's back is refused, not
 * passed on. Frozen, as the embedded stores hand rows out: code that changed a row in place would
 * work on one store and throw on the other.
 */
export function readRow<R>(def: TableDef<R>, stored: unknown, sealed = false): R {
  const doc = def.unpack && isRecord(stored) ? def.unpack(stored) : stored;
  // A sealed row is one this store validated and wrote, unchanged since (sealOf): only its shape is checked.
  if (sealed && doc !== null && typeof doc === 'object' && !Array.isArray(doc)) return deepFreeze(doc as R);
  const parsed = def.schema.safeParse(doc);
  if (parsed.success) return deepFreeze(parsed.data);
  const id = doc && typeof doc === 'object' ? ((doc as Record<string, unknown>).id ?? (doc as Record<string, unknown>).key) : undefined;
  throw new InvalidRowError(
    def.entity,
    parsed.error.issues.slice(0, 10).map((i) => `stored row ${id === undefined ? '' : `${String(id)} `}${i.path.join('.') || '(row)'}: ${i.message}`),
  );
}
