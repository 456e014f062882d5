/**
 * Moving up: the contents of a lowdb data file copied into an empty PostgreSQL database, in one
 * transaction, with the counts of every table checked before it commits. Rows keep their
 * first-stored order and their values as they are: secrets stay the same ciphertext (the bot on
 * PostgreSQL needs the same SECRET_KEY).
 */
import pg, { type PoolClient } from 'pg';
import { LIVE_ASSIGNMENT_STATUSES } from '../../core/model.js';
import type { Logger } from '../../core/logger.js';
import type { Database } from '../schema.js';
import { checkout } from './checkout.js';
import { migratePostgres } from './migrations.js';
import {
  ALL_TABLES,
  assignmentsTable,
  auditTable,
  conversationsTable,
  insertSql,
  integrationsTable,
  postedCardsTable,
  recommendationsTable,
  recordset,
  remindersTable,
  rulesTable,
  upsertSql,
  workTable,
  type TableDef,
} from './tables.js';

/** Rows per statement: big enough to be quick, small enough to keep each parameter a few MB. */
const BATCH = 1_000;

export type TableCounts = Record<(typeof ALL_TABLES)[number], number>;

/** What a table holds, for people: "3 conversations". */
export const TABLE_NOUNS: Record<keyof TableCounts, string> = {
  conversations: 'conversations',
  integrations: 'integrations',
  recommendations: 'recommendations',
  posted_cards: 'posted cards',
  assignments: 'assignments',
  reminders: 'sent reminders',
  audit: 'audit entries',
  meta: 'meta values',
  work: 'work items',
  rules: 'rules',
};

/** The copy did not start: the target or the source is not fit for it. Nothing was written. */
export class CopyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRefusedError';
  }
}

export function countsOf(data: Database): TableCounts {
  return {
    conversations: Object.keys(data.conversations).length,
    integrations: Object.keys(data.integrations).length,
    recommendations: Object.keys(data.recommendations).length,
    posted_cards: Object.keys(data.postedCards).length,
    assignments: Object.keys(data.assignments).length,
    reminders: Object.keys(data.reminders).length,
    audit: data.audit.length,
    meta: Object.keys(data.meta).length,
    work: Object.keys(data.work).length,
    rules: Object.keys(data.rules).length,
  };
}

export function describeCounts(counts: TableCounts): string {
  return ALL_TABLES.map((t) => `${counts[t]} ${TABLE_NOUNS[t]}`).join(', ');
}

/**
 * What the embedded store tolerates in an old file but PostgreSQL's constraints do not: two live
 * assignments of one key (files written before the store refused them), two active integrations
 * with one name.
 */
function sourceProblems(data: Database): string[] {
  const problems: string[] = [];
  const live = new Set<string>(LIVE_ASSIGNMENT_STATUSES);
  const byKey = new Map<string, string[]>();
  for (const a of Object.values(data.assignments)) {
    if (!live.has(a.status)) continue;
    byKey.set(a.key, [...(byKey.get(a.key) ?? []), a.id]);
  }
  const doubled = [...byKey].filter(([, ids]) => ids.length > 1);
  if (doubled.length > 0) {
    const [key, ids] = doubled[0]!;
    problems.push(
      `${doubled.length} key(s) have more than one live assignment (e.g. ${key}: ${ids.join(', ')}); end all but one of each (npm run cli, or Teams) and run the copy again`,
    );
  }
  const names = new Map<string, number>();
  for (const i of Object.values(data.integrations)) if (!i.removedAt) names.set(i.name.toLowerCase(), (names.get(i.name.toLowerCase()) ?? 0) + 1);
  const twice = [...names].filter(([, n]) => n > 1).map(([name]) => name);
  if (twice.length > 0) problems.push(`more than one active integration is named ${twice.map((n) => `"${n}"`).join(', ')}; remove or rename all but one`);
  const ruleNames = new Map<string, number>();
  for (const r of Object.values(data.rules)) ruleNames.set(r.name.toLowerCase(), (ruleNames.get(r.name.toLowerCase()) ?? 0) + 1);
  const sameName = [...ruleNames].filter(([, n]) => n > 1).map(([name]) => name);
  if (sameName.length > 0) problems.push(`more than one rule is named ${sameName.map((n) => `"${n}"`).join(', ')}; rename all but one`);
  return problems;
}

async function countTables(client: PoolClient): Promise<TableCounts> {
  const { rows } = await client.query<Record<string, string>>(`SELECT ${ALL_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`);
  return Object.fromEntries(ALL_TABLES.map((t) => [t, Number(rows[0]![t])])) as TableCounts;
}

async function insertAll<R>(client: PoolClient, def: TableDef<R>, rows: readonly R[], sql = upsertSql(def)): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await client.query(sql, [recordset(def, rows.slice(i, i + BATCH))]);
}

/**
 * Copies `data` into the database at `connectionString`: migrates its schema, then in one
 * transaction locks every table (no other writer meanwhile), refuses unless all are empty,
 * inserts every row, and compares each table's count with the source before committing.
 * Returns the counts copied.
 */
export async function copyIntoPostgres(data: Database, connectionString: string, options: { logger: Logger }): Promise<TableCounts> {
  const problems = sourceProblems(data);
  if (problems.length > 0) throw new CopyRefusedError(`the data file cannot go into PostgreSQL as it is: ${problems.join('; ')}`);
  const pool = new pg.Pool({ connectionString, max: 1, application_name: 'defender-servicenow-teams-bot (store migrate)' });
  pool.on('error', (err) => options.logger.warn({ err }, 'PostgreSQL connection lost while idle'));
  try {
    const { client, release } = await checkout(pool);
    let broken: Error | undefined;
    try {
      await migratePostgres(client, { logger: options.logger });
      await client.query('BEGIN');
      try {
        await client.query(`LOCK TABLE ${ALL_TABLES.join(', ')} IN EXCLUSIVE MODE`);
        const before = await countTables(client);
        const held = ALL_TABLES.filter((t) => before[t] > 0);
        if (held.length > 0) {
          throw new CopyRefusedError(
            `the target database is not empty (${held.map((t) => `${before[t]} ${TABLE_NOUNS[t]}`).join(', ')}); the copy goes only into an empty database`,
          );
        }
        await insertAll(client, conversationsTable, Object.values(data.conversations));
        await insertAll(client, integrationsTable, Object.values(data.integrations));
        await insertAll(client, recommendationsTable, Object.values(data.recommendations));
        await insertAll(client, postedCardsTable, Object.values(data.postedCards));
        await insertAll(client, assignmentsTable, Object.values(data.assignments));
        await insertAll(client, remindersTable, Object.values(data.reminders), insertSql(remindersTable));
        await insertAll(client, auditTable, data.audit, insertSql(auditTable));
        await insertAll(client, workTable, Object.values(data.work));
        await insertAll(client, rulesTable, Object.values(data.rules));
        const meta = Object.entries(data.meta);
        if (meta.length > 0) {
          await client.query('INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[])', [meta.map(([k]) => k), meta.map(([, v]) => v)]);
        }
        const expected = countsOf(data);
        const after = await countTables(client);
        const wrong = ALL_TABLES.filter((t) => after[t] !== expected[t]);
        if (wrong.length > 0) {
          throw new Error(
            `counts differ after copying, nothing was kept: ${wrong.map((t) => `${TABLE_NOUNS[t]} ${after[t]} instead of ${expected[t]}`).join(', ')}`,
          );
        }
        await client.query('COMMIT');
        return after;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      }
    } finally {
      release(broken);
    }
  } finally {
    await pool.end();
  }
}
