/**
 * The PostgreSQL schema, as versioned migrations applied at start. Each migration runs in its own
 * transaction and is recorded in schema_migrations; the whole pass runs under one advisory lock,
 * so replicas starting together apply each migration exactly once and none of them reads the
 * tables half-built. A migration, once released, never changes: a change is a new version.
 *
 * Every entity table holds a few typed key columns (what the queries filter and sort on) and
 * `doc`, the full row as validated by its zod schema in core/model.ts: the key columns are
 * derived from `doc` by the store on every write, so they never disagree with it.
 *
 * `doc` is json (the text as written), not jsonb: queries never look inside it except for audit
 * details (cast there), and reading rows back is the hot path. jsonb has to be turned back into
 * text on every read, and at 1.3 KB per assignment its larger binary form went out of line
 * (TOAST): listing 2,000 assignments took ~50 ms of server time as jsonb, ~6 ms as json.
 */
import type { PoolClient } from 'pg';
import type { Logger } from '../../core/logger.js';

export interface PgMigration {
  version: number;
  name: string;
  /** One or more statements; run as one simple query (no parameters) inside the migration's transaction. */
  sql: string;
}

/**
 * Key of the session advisory lock held while migrating (one bigint key; the lock ids of
 * storage/postgres/locks.ts use the two-int form, a separate key space).
 */
export const MIGRATION_LOCK_KEY = '7231046151226310657';

/**
 * The live statuses as the first migration knew them (core/lifecycle's LIVE set at the time). The
 * one-live-assignment-per-key index is defined over exactly these; a change to the live set needs
 * a new migration that rebuilds the index (test/storage/postgresStore.test.ts checks they agree).
 */
const LIVE_V1 = `('pending', 'open', 'failed', 'awaiting-manual-close')`;

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'tables and indexes for the store port',
    sql: `
      CREATE TABLE conversations (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        subscribed boolean NOT NULL,
        reachable boolean NOT NULL,
        kind text NOT NULL,
        channel_id text NOT NULL,
        user_upn_lc text,
        user_aad_object_id text,
        doc json NOT NULL
      );
      CREATE INDEX conversations_seq ON conversations (seq);
      CREATE INDEX conversations_upn ON conversations (user_upn_lc) WHERE user_upn_lc IS NOT NULL;
      CREATE INDEX conversations_aad ON conversations (user_aad_object_id) WHERE user_aad_object_id IS NOT NULL;

      CREATE TABLE integrations (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        name_lc text NOT NULL,
        removed boolean NOT NULL,
        doc json NOT NULL
      );
      CREATE INDEX integrations_seq ON integrations (seq);
      CREATE UNIQUE INDEX integrations_active_name ON integrations (name_lc) WHERE NOT removed;

      CREATE TABLE recommendations (
        key text PRIMARY KEY,
        seq bigserial NOT NULL,
        doc json NOT NULL
      );
      CREATE INDEX recommendations_seq ON recommendations (seq);

      CREATE TABLE posted_cards (
        conversation_id text NOT NULL,
        recommendation_key text NOT NULL,
        seq bigserial NOT NULL,
        doc json NOT NULL,
        PRIMARY KEY (conversation_id, recommendation_key)
      );
      CREATE INDEX posted_cards_seq ON posted_cards (seq);
      CREATE INDEX posted_cards_recommendation ON posted_cards (recommendation_key);

      CREATE TABLE assignments (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        key text NOT NULL,
        status text NOT NULL,
        batch_id text NOT NULL,
        integration_id text NOT NULL,
        recommendation_key_lc text NOT NULL,
        owner_lc text NOT NULL,
        conversation_id text,
        ticket_sys_id text,
        due_date text COLLATE "C" NOT NULL,
        governance_status text,
        doc json NOT NULL
      );
      -- The idempotency key of assignment creation, across every process: one live assignment per
      -- recommendation+resource key.
      CREATE UNIQUE INDEX assignments_live_key ON assignments (key) WHERE status IN ${LIVE_V1};
      CREATE INDEX assignments_seq ON assignments (seq);
      CREATE INDEX assignments_status ON assignments (status);
      CREATE INDEX assignments_integration ON assignments (integration_id, status);
      CREATE INDEX assignments_owner ON assignments (owner_lc, status);
      CREATE INDEX assignments_recommendation ON assignments (recommendation_key_lc, status);
      CREATE INDEX assignments_due_live ON assignments (due_date) WHERE status IN ${LIVE_V1};
      CREATE INDEX assignments_batch ON assignments (batch_id);
      CREATE INDEX assignments_ticket ON assignments (ticket_sys_id) WHERE ticket_sys_id IS NOT NULL;
      CREATE INDEX assignments_conversation ON assignments (conversation_id) WHERE conversation_id IS NOT NULL;

      -- One sent reminder / announcement per key: the primary key is the exactly-once guard.
      CREATE TABLE reminders (
        key text PRIMARY KEY,
        sent_at timestamptz NOT NULL,
        doc json NOT NULL
      );
      CREATE INDEX reminders_sent_at ON reminders (sent_at);

      CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        doc json NOT NULL
      );
      CREATE INDEX audit_target ON audit (target, id) WHERE target IS NOT NULL;
      CREATE INDEX audit_at ON audit (at);

      CREATE TABLE meta (
        key text PRIMARY KEY,
        value text NOT NULL
      );

      CREATE TABLE work (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        kind text NOT NULL,
        key text NOT NULL,
        status text NOT NULL,
        run_at timestamptz NOT NULL,
        lease_owner text,
        lease_until timestamptz,
        finished_at timestamptz,
        doc json NOT NULL,
        -- One item per (kind, key), whatever its state: a finished one is queued again in place.
        CONSTRAINT work_kind_key UNIQUE (kind, key)
      );
      CREATE INDEX work_claim ON work (kind, status, run_at, seq);
      CREATE INDEX work_finished ON work (finished_at) WHERE status IN ('done', 'failed');
    `,
  },
  {
    version: 2,
    name: 'governance rules',
    sql: `
      CREATE TABLE rules (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        name_lc text NOT NULL,
        doc json NOT NULL
      );
      CREATE INDEX rules_seq ON rules (seq);
      -- Rule names are unique whatever their case, across every process.
      CREATE UNIQUE INDEX rules_name ON rules (name_lc);
    `,
  },
  {
    version: 3,
    name: 'job runs and send pacing shared by replicas',
    sql: `
      -- One row per claimed cron tick of a job: the primary key keeps a tick claimed once.
      CREATE TABLE job_runs (
        job text NOT NULL,
        tick_at timestamptz NOT NULL,
        holder text NOT NULL,
        claimed_at timestamptz NOT NULL,
        lease_until timestamptz NOT NULL,
        finished_at timestamptz,
        PRIMARY KEY (job, tick_at)
      );
      CREATE INDEX job_runs_unfinished ON job_runs (job, lease_until) WHERE finished_at IS NULL;
      CREATE INDEX job_runs_tick ON job_runs (tick_at);

      -- Teams' per-conversation send windows across replicas: the slots handed out (epoch ms, ascending).
      CREATE TABLE send_pacing (
        conversation_id text PRIMARY KEY,
        slots bigint[] NOT NULL DEFAULT '{}',
        hold_until bigint
      );
    `,
  },
  {
    version: 4,
    name: 'row seals and unfinished governance write-backs',
    sql: `
      -- md5(schema fingerprint || doc) written with each row (storage/postgres/tables.ts#sealOf):
      -- a read whose seal matches skips re-validating the row. Rows from before stay NULL: validated in full.
      ALTER TABLE conversations ADD COLUMN seal text;
      ALTER TABLE integrations ADD COLUMN seal text;
      ALTER TABLE recommendations ADD COLUMN seal text;
      ALTER TABLE posted_cards ADD COLUMN seal text;
      ALTER TABLE assignments ADD COLUMN seal text;
      ALTER TABLE reminders ADD COLUMN seal text;
      ALTER TABLE audit ADD COLUMN seal text;
      ALTER TABLE work ADD COLUMN seal text;
      ALTER TABLE rules ADD COLUMN seal text;
      -- resumePending at start: the few open assignments whose write-back is pending or failed, not every open one.
      CREATE INDEX assignments_governance ON assignments (governance_status, status) WHERE governance_status IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'row seals checked by the database as rows are written',
    sql: `
      -- The schema a row was sealed under (storage/postgres/tables.ts#sealOf), and whether its seal
      -- still matches: recomputed by the server on every insert or update, the store's or anyone
      -- else's, so a read compares columns instead of hashing each document it returns. Rows sealed
      -- by version 4 (no seal_schema) read as unsealed: validated in full until written again.
      -- Adding a stored generated column rewrites each table once.
      ALTER TABLE conversations ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE integrations ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE recommendations ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE posted_cards ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE assignments ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE reminders ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE audit ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE work ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
      ALTER TABLE rules ADD COLUMN seal_schema text, ADD COLUMN seal_ok boolean GENERATED ALWAYS AS (seal = md5(seal_schema || ':' || doc::text)) STORED;
    `,
  },
];

/** The schema version this build writes (the last migration it knows). */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;

export class PgSchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`the database is at schema version ${found}, newer than this build understands (${known}); run a newer version of the bot`);
    this.name = 'PgSchemaTooNewError';
  }
}

/**
 * Brings the database to the newest version this build knows, one migration per transaction,
 * while holding MIGRATION_LOCK_KEY: a second process that starts meanwhile waits, then finds
 * nothing left to do. Returns the versions applied by this call.
 */
export async function migratePostgres(client: PoolClient, options: { logger?: Logger; migrations?: readonly PgMigration[] } = {}): Promise<number[]> {
  const migrations = [...(options.migrations ?? PG_MIGRATIONS)].sort((a, b) => a.version - b.version);
  const known = migrations.length > 0 ? migrations[migrations.length - 1]!.version : 0;
  await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) throw new PgSchemaTooNewError(newest, known);
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`PostgreSQL schema migration ${m.version} (${m.name}) failed and was rolled back: ${(err as Error).message}`, { cause: err });
      }
      options.logger?.info({ version: m.version, name: m.name }, 'PostgreSQL schema migrated');
      done.push(m.version);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
  }
}
