/**
 * A fresh PostgreSQL database for one test file, on the server of the jest run
 * (test/storage/postgres/globalSetup.mjs), dropped after.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ALL_TABLES, COORDINATION_TABLES } from '../../../storage/postgres/tables.js';

export interface TestDatabase {
  /** postgres://… of the new database. */
  url: string;
  name: string;
  /** Runs one statement on the server's maintenance database (ALTER DATABASE, pg_terminate_backend). */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Runs one statement on the database (a connection of its own). */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Empties every table of the store (not schema_migrations), with the sequences restarted. */
  truncate(): Promise<void>;
  /** Resolves once some session on this database waits for a lock another one holds. */
  untilSomeoneWaits(timeoutMs?: number): Promise<void>;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.PG_TEST_ADMIN_URL;
  if (!url) throw new Error('PG_TEST_ADMIN_URL is not set: run the tests through jest.config.js, whose globalSetup starts PostgreSQL');
  return url;
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function onAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `test_${randomBytes(8).toString('hex')}`;
  await onAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(name);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const sql = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => (await pool.query<R>(text, values)).rows;
  return {
    url,
    name,
    sql,
    admin: (text, values) => onAdmin(async (c) => (await c.query(text, values)).rows),
    truncate: async () => {
      const tables = [...ALL_TABLES, ...COORDINATION_TABLES];
      const exists = await sql<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)`, [tables]);
      if (Number(exists[0]!.n) > 0) await sql(`TRUNCATE ${tables.join(', ')} RESTART IDENTITY`);
    },
    untilSomeoneWaits: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await sql<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`,
        );
        if (Number(rows[0]!.n) > 0) return;
        if (Date.now() > deadline) throw new Error(`no session waited for a lock within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    drop: async () => {
      await pool.end();
      await onAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
