/**
 * What the PostgreSQL store adds to the contract (test/storage/contract.ts): schema migrations at
 * start, the rows as stored (key columns + validated JSONB, secrets still encrypted), validation on
 * read, status(), errors PostgreSQL raises, locks released by a dead process, the pool size,
 * sslmode, and openStore's choice between lowdb and PostgreSQL.
 */
import { mkdtempSync, existsSync } from 'node:fs';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, MINUTE_MS } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { LIVE_ASSIGNMENT_STATUSES, type Integration } from '../../../core/model.js';
import { InvalidRowError } from '../../../app/ports.js';
import { openStore } from '../../../storage/index.js';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION, type PgMigration } from '../../../storage/postgres/migrations.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../../storage/postgres/store.js';
import { ALL_TABLES, assignmentsTable, COORDINATION_TABLES } from '../../../storage/postgres/tables.js';
import { InProcessJobRuns, InProcessSendPacing } from '../../../storage/coordination.js';
import { SecretBox } from '../../../storage/secrets.js';
import { anAssignment } from '../contract.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

const T0 = '2026-11-26T09:00:00.000Z';

// Migration tests get a database each; the others share one, emptied before each test.
let databases: TestDatabase[] = [];
let shared: TestDatabase;
beforeAll(async () => {
  shared = await createTestDatabase();
});
afterAll(async () => {
  await shared.drop();
});
afterEach(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  databases = [];
});
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}
async function sharedDatabase(): Promise<TestDatabase> {
  await shared.truncate();
  return shared;
}
const options = (db: TestDatabase, over: Partial<PostgresStoreOptions> = {}): PostgresStoreOptions => ({
  connectionString: db.url,
  clock: new ManualClock(T0),
  logger: silentLogger,
  poolSize: 3,
  ...over,
});

describe('schema migrations at start', () => {
  it('a fresh database gets every table and index of the access paths, each migration recorded', async () => {
    const db = await freshDatabase();
    const store = await openPostgresStore(options(db));
    await store.close();
    expect(await db.sql('SELECT version, name FROM schema_migrations ORDER BY version')).toEqual(
      PG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    expect(PG_MIGRATIONS.map((m) => m.version)).toEqual(PG_MIGRATIONS.map((_m, i) => i + 1));
    expect(PG_SCHEMA_VERSION).toBe(PG_MIGRATIONS.length);
    const tables = (await db.sql<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).map((r) => r.tablename);
    expect(tables.sort()).toEqual([...ALL_TABLES, ...COORDINATION_TABLES, 'schema_migrations'].sort());
    const indexes = (await db.sql<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`)).map((r) => r.indexname);
    expect(indexes).toEqual(
      expect.arrayContaining([
        'assignments_live_key',
        'assignments_integration',
        'assignments_owner',
        'assignments_due_live',
        'assignments_batch',
        'assignments_recommendation',
        'assignments_ticket',
        'posted_cards_pkey',
        'posted_cards_recommendation',
        'reminders_pkey',
        'audit_target',
        'conversations_upn',
        'conversations_aad',
        'integrations_active_name',
        'work_kind_key',
        'work_claim',
        'rules_name',
        'assignments_governance',
      ]),
    );
  });

  it("the one-live-assignment index covers exactly core's live statuses", async () => {
    const db = await freshDatabase();
    await (await openPostgresStore(options(db))).close();
    const [row] = await db.sql<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'assignments_live_key'`);
    expect(row!.indexdef).toMatch(/^CREATE UNIQUE INDEX/);
    const listed = [...row!.indexdef.matchAll(/'([^']+)'::text/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...LIVE_ASSIGNMENT_STATUSES].sort());
  });

  it('replicas starting together apply each migration once (the others wait under the advisory lock, then find it done)', async () => {
    const db = await freshDatabase();
    const migrations: PgMigration[] = [
      { version: 1, name: 'first', sql: 'CREATE TABLE runs (n serial PRIMARY KEY, migration int NOT NULL); INSERT INTO runs (migration) VALUES (1);' },
      { version: 2, name: 'second', sql: 'CREATE TABLE other (x int); INSERT INTO runs (migration) VALUES (2);' },
    ];
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(options(db, { migrations }))));
    await Promise.all(stores.map((s) => s.close()));
    expect(await db.sql('SELECT migration FROM runs ORDER BY n')).toEqual([{ migration: 1 }, { migration: 2 }]);
    expect(await db.sql('SELECT version FROM schema_migrations ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('a failing migration is rolled back whole and named; the next start applies it once fixed', async () => {
    const db = await freshDatabase();
    const good: PgMigration = { version: 1, name: 'good', sql: 'CREATE TABLE a (x int);' };
    const bad: PgMigration = { version: 2, name: 'adds b', sql: 'CREATE TABLE b (x int); SELECT no_such_function();' };
    await expect(openPostgresStore(options(db, { migrations: [good, bad] }))).rejects.toThrow(
      /migration 2 \(adds b\) failed and was rolled back: .*no_such_function/,
    );
    expect(await db.sql('SELECT version FROM schema_migrations')).toEqual([{ version: 1 }]);
    expect(await db.sql(`SELECT tablename FROM pg_tables WHERE tablename IN ('a', 'b')`)).toEqual([{ tablename: 'a' }]);
    const fixed = { ...bad, sql: 'CREATE TABLE b (x int);' };
    await (await openPostgresStore(options(db, { migrations: [good, fixed] }))).close();
    expect(await db.sql('SELECT version FROM schema_migrations ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('a database migrated by a newer build is refused, and left as it is', async () => {
    const db = await freshDatabase();
    await (await openPostgresStore(options(db))).close();
    await db.sql(`INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')`);
    await expect(openPostgresStore(options(db))).rejects.toThrow(
      `the database is at schema version 99, newer than this build understands (${PG_SCHEMA_VERSION}); run a newer version of the bot`,
    );
    expect((await db.sql('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)).toEqual([
      ...PG_MIGRATIONS.map((m) => m.version),
      99,
    ]);
  });
});

describe('rows as stored', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await sharedDatabase();
  });

  it('key columns follow the row; the row itself is the validated document; secrets stay encrypted in it', async () => {
    const box = new SecretBox(Buffer.alloc(32, 3));
    const store = await openPostgresStore(options(db));
    try {
      const integration: Integration = {
        id: 'i1',
        name: 'Contoso ITSM',
        scope: '/subscriptions/sub-1',
        instanceUrl: 'https://contoso.service-now.com',
        username: 'bot',
        password: box.encrypt('pa55word-plaintext'),
        clientId: 'client',
        clientSecret: box.encrypt('client-secret-plaintext'),
        fieldMode: 'default',
        customFields: {},
        createdAt: T0,
        createdBy: 'admin',
      };
      await store.integrations.upsert(integration);
      const [row] = await db.sql('SELECT * FROM integrations');
      expect(row).toMatchObject({ id: 'i1', name_lc: 'contoso itsm', removed: false, doc: integration });
      expect(JSON.stringify(row)).not.toMatch(/plaintext/);
      expect(box.decrypt((await store.integrations.get('i1'))!.password)).toBe('pa55word-plaintext');

      const a = anAssignment({
        key: 'k1',
        owner: 'Bob@Contoso.com',
        recommendationKey: 'REC-A',
        ticket: { table: 'incident', sysId: 's1', number: 'INC1', link: 'l' },
      });
      await store.assignments.upsertMany([a]);
      expect(
        await db.sql('SELECT id, key, status, owner_lc, recommendation_key_lc, ticket_sys_id, due_date, integration_id, batch_id FROM assignments'),
      ).toEqual([
        {
          id: a.id,
          key: 'k1',
          status: 'open',
          owner_lc: 'bob@contoso.com',
          recommendation_key_lc: 'rec-a',
          ticket_sys_id: 's1',
          due_date: a.dueDate,
          integration_id: a.integrationId,
          batch_id: a.batchId,
        },
      ]);
    } finally {
      await store.close();
    }
  });

  it('a row changed behind the store’s back so that it no longer matches its schema is refused on read, naming it', async () => {
    const store = await openPostgresStore(options(db));
    try {
      const a = anAssignment();
      await store.assignments.upsertMany([a]);
      await db.sql(`UPDATE assignments SET doc = jsonb_set(doc::jsonb, '{severity}', '"Critical"')::json`);
      const err = await store.assignments.get(a.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRowError);
      expect((err as Error).message).toContain(`stored row ${a.id} severity`);
      await expect(store.assignments.list()).rejects.toBeInstanceOf(InvalidRowError);
    } finally {
      await store.close();
    }
  });

  it('rows the store wrote are read back without validating them again (their seal holds); a row edited with SQL, or sealed under another schema, is validated in full', async () => {
    const store = await openPostgresStore(options(db));
    const parse = jest.spyOn(assignmentsTable.schema, 'safeParse');
    try {
      const rows = Array.from({ length: 50 }, (_, i) => anAssignment({ key: `k${i}` }));
      await store.assignments.upsertMany(rows);
      parse.mockClear();
      expect((await store.assignments.list()).map((a) => a.id)).toEqual(rows.map((a) => a.id));
      expect(parse).not.toHaveBeenCalled();
      // Still frozen, as the embedded stores hand rows out.
      expect(Object.isFrozen((await store.assignments.get(rows[0]!.id))!)).toBe(true);

      // A valid change made behind the store's back: the seal no longer matches, so the row is checked (and passes).
      await db.sql(`UPDATE assignments SET doc = jsonb_set(doc::jsonb, '{resourceName}', '"renamed"')::json WHERE id = $1`, [rows[1]!.id]);
      // A seal from another schema version (another build) does not hold either.
      await db.sql(`UPDATE assignments SET seal = md5('another-schema:' || doc::text) WHERE id = $1`, [rows[2]!.id]);
      // Nor a seal that matches its text under another build's schema.
      await db.sql(`UPDATE assignments SET seal_schema = 'another-build', seal = md5('another-build:' || doc::text) WHERE id = $1`, [rows[3]!.id]);
      // Whether a seal holds is the database's to say (recomputed on every write), not a writer's.
      await expect(db.sql(`UPDATE assignments SET seal_ok = true WHERE id = $1`, [rows[1]!.id])).rejects.toThrow(/seal_ok" can only be updated to DEFAULT/);
      parse.mockClear();
      const read = await store.assignments.list();
      expect(read.find((a) => a.id === rows[1]!.id)!.resourceName).toBe('renamed');
      expect(parse).toHaveBeenCalledTimes(3);
      // Written again by the store, the rows are sealed again.
      await store.assignments.upsertMany(read.slice(1, 4));
      parse.mockClear();
      expect((await store.assignments.list()).map((a) => a.id)).toEqual(rows.map((a) => a.id));
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
      await store.close();
    }
  });

  it('a large list answered again reads only the rows whose seal changed: what another replica, SQL behind the store’s back or a rolled-back transaction did is seen, unchanged rows are the same objects', async () => {
    const store = await openPostgresStore(options(db));
    const replica = await openPostgresStore(options(db));
    const parse = jest.spyOn(assignmentsTable.schema, 'safeParse');
    try {
      const rows = Array.from({ length: 300 }, (_, i) => anAssignment({ key: `big${i}` }));
      await store.assignments.upsertMany([...rows, anAssignment({ key: 'other', integrationId: 'int-2' })]);
      const q = { integrationId: 'int-1', statuses: LIVE_ASSIGNMENT_STATUSES };
      const first = await store.assignments.list(q);
      expect(first.map((a) => a.id)).toEqual(rows.map((a) => a.id));

      // Another replica changes one row, ends another (it leaves the filter) and adds one.
      await replica.assignments.upsertMany([{ ...first[5]!, healthyPasses: 2 }, { ...first[7]!, status: 'resolved' }, anAssignment({ key: 'big-new' })]);
      // A valid change with SQL (unsealed: validated on read) and one a rolled-back transaction made.
      await db.sql(`UPDATE assignments SET doc = jsonb_set(doc::jsonb, '{resourceName}', '"renamed"')::json WHERE id = $1`, [rows[9]!.id]);
      await expect(
        store.transaction(async (tx) => {
          await tx.assignments.upsertMany([{ ...first[11]!, resourceName: 'never committed' }]);
          expect((await tx.assignments.list(q)).find((a) => a.id === rows[11]!.id)!.resourceName).toBe('never committed');
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      parse.mockClear();
      const again = await store.assignments.list(q);
      // Only the row edited with SQL was validated.
      expect(parse).toHaveBeenCalledTimes(1);
      // What a store that never read them answers, in the same order.
      expect(again).toEqual(await replica.assignments.list(q));
      expect(again.map((a) => a.id)).toEqual([...rows.filter((_a, i) => i !== 7).map((a) => a.id), expect.stringMatching(/^asg-/)]);
      expect(again.find((a) => a.id === rows[5]!.id)!.healthyPasses).toBe(2);
      expect(again.find((a) => a.id === rows[9]!.id)!.resourceName).toBe('renamed');
      expect(again.find((a) => a.id === rows[11]!.id)!.resourceName).toBe(rows[11]!.resourceName);
      // The unchanged ones are the rows read before (the one the transaction's list saw uncommitted is read again).
      const reused = again.filter((a) => first.includes(a));
      expect(reused.map((a) => a.id)).toEqual(rows.filter((_a, i) => ![5, 7, 9, 11].includes(i)).map((a) => a.id));
      expect(Object.isFrozen(again[0])).toBe(true);

      // A row edited into one its schema refuses is refused on the cached list too.
      await db.sql(`UPDATE assignments SET doc = jsonb_set(doc::jsonb, '{severity}', '"Critical"')::json WHERE id = $1`, [rows[20]!.id]);
      await expect(store.assignments.list(q)).rejects.toBeInstanceOf(InvalidRowError);
      // With a limit: the first rows in stored order, also when answered again.
      await db.sql(`DELETE FROM assignments WHERE id = $1`, [rows[20]!.id]);
      const limited = { ...q, limit: 290 };
      const once = await store.assignments.list(limited);
      await replica.assignments.upsertMany([{ ...first[0]!, healthyPasses: 3 }]);
      const twice = await store.assignments.list(limited);
      expect(twice).toEqual(await replica.assignments.list(limited));
      expect(twice.map((a) => a.id)).toEqual(once.map((a) => a.id));
      expect(twice[0]!.healthyPasses).toBe(3);
    } finally {
      parse.mockRestore();
      await Promise.all([store.close(), replica.close()]);
    }
  });

  it('an assessment id under its resource is stored as ~ and its name and read back whole; ids of another shape, or starting with ~, and rows stored whole (older builds) read as they are', async () => {
    const store = await openPostgresStore(options(db));
    try {
      const packed = anAssignment({ key: 'packed' });
      const other = anAssignment({ key: 'other', assessmentId: '/subscriptions/sub-1/providers/Microsoft.Security/assessments/rec-a' });
      const tilde = anAssignment({ key: 'tilde', assessmentId: '~not-an-azure-id' });
      const resource = { resourceId: packed.resourceId, assessmentId: packed.assessmentId, name: 'vm', type: 'virtualmachines', subscriptionId: 'sub-1' };
      const rec = {
        key: 'rec-a',
        displayName: 'A',
        severity: 'High' as const,
        description: '',
        remediation: '',
        resources: [resource, { ...resource, resourceId: '/subscriptions/sub-2/rg/x', assessmentId: 'elsewhere' }],
        contentHash: 'h',
        status: 'unhealthy' as const,
        firstSeenAt: T0,
        updatedAt: T0,
      };
      await store.assignments.upsertMany([packed, other, tilde]);
      await store.recommendations.upsertMany([rec]);
      const stored = await db.sql<{ doc: { assessmentId: string } }>('SELECT doc FROM assignments ORDER BY seq');
      expect(stored.map((r) => r.doc.assessmentId)).toEqual(['~rec-a', other.assessmentId, '~~not-an-azure-id']);
      const [recRow] = await db.sql<{ doc: { resources: { assessmentId: string }[] } }>('SELECT doc FROM recommendations');
      expect(recRow!.doc.resources.map((r) => r.assessmentId)).toEqual(['~rec-a', 'elsewhere']);

      for (const a of [packed, other, tilde]) expect(await store.assignments.get(a.id)).toEqual(a);
      expect(Object.keys((await store.assignments.get(packed.id))!)).toEqual(Object.keys(packed));
      expect(await store.recommendations.get('rec-a')).toEqual(rec);
      // Unsealed (validated in full), the same.
      await db.sql('UPDATE assignments SET seal = NULL');
      expect(await store.assignments.get(packed.id)).toEqual(packed);

      // As an older build stored it: the whole id.
      await db.sql(`UPDATE assignments SET doc = $2::json WHERE id = $1`, [packed.id, JSON.stringify({ ...packed, key: 'whole' })]);
      expect(await store.assignments.get(packed.id)).toEqual({ ...packed, key: 'whole' });
    } finally {
      await store.close();
    }
  });

  it('a malformed row inserted with SQL, even carrying another row’s seal, is refused on read with the row and field named', async () => {
    const store = await openPostgresStore(options(db));
    try {
      const a = anAssignment({ key: 'good' });
      await store.assignments.upsertMany([a]);
      await db.sql(
        `INSERT INTO assignments (id, key, status, batch_id, integration_id, recommendation_key_lc, owner_lc, due_date, doc, seal, seal_schema, seq)
         SELECT 'bad-1', 'bad', 'open', batch_id, integration_id, recommendation_key_lc, owner_lc, due_date,
                jsonb_set(jsonb_set(doc::jsonb, '{id}', '"bad-1"'), '{dueDate}', '"next week"')::json, seal, seal_schema, seq + 1
         FROM assignments WHERE id = $1`,
        [a.id],
      );
      const err = await store.assignments.get('bad-1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRowError);
      expect((err as Error).message).toContain('stored row bad-1 dueDate');
      await expect(store.assignments.list({ statuses: ['open'] })).rejects.toBeInstanceOf(InvalidRowError);
      // The good row is still read as before.
      expect((await store.assignments.get(a.id))!.key).toBe('good');
    } finally {
      await store.close();
    }
  });

  it('a value PostgreSQL cannot store (a NUL character) is refused as an invalid row; caught inside a transaction, the commit says the transaction was rolled back', async () => {
    const store = await openPostgresStore(options(db));
    try {
      await expect(store.meta.set('note', 'a\u0000b')).rejects.toBeInstanceOf(InvalidRowError);
      await expect(
        store.transaction(async (tx) => {
          await tx.meta.set('kept?', 'no');
          await tx.meta.set('note', 'a\u0000b').catch(() => undefined);
        }),
      ).rejects.toThrow(/the transaction was rolled back: a statement in it failed/);
      expect(await store.meta.get('kept?')).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('transactions on the wire', () => {
  it('a transaction of one write is three round trips (BEGIN with its savepoint, the statement, COMMIT); a refused call in the middle is undone alone; an empty one sends nothing', async () => {
    const db = await sharedDatabase();
    const store = await openPostgresStore(options(db));
    // Observed, not replaced: every query still goes to the server.
    const spy = jest.spyOn(pg.Client.prototype, 'query');
    try {
      const [a, b, c] = [anAssignment({ key: 'a' }), anAssignment({ key: 'b' }), anAssignment({ key: 'c' })];
      await store.assignments.upsertMany([a]);
      spy.mockClear();
      await store.transaction(async (tx) => {
        await tx.assignments.upsertMany([{ ...a, healthyPasses: 1 }]);
      });
      const texts = spy.mock.calls.map((call) => (typeof call[0] === 'string' ? call[0] : String((call[0] as { text?: string }).text)));
      expect(texts).toHaveLength(3);
      expect(texts[0]).toMatch(/^BEGIN; SAVEPOINT op_1$/);
      expect(texts[1]).toMatch(/^INSERT INTO assignments/);
      expect(texts[2]).toBe('COMMIT');

      spy.mockClear();
      await store.transaction(async () => undefined);
      expect(spy).not.toHaveBeenCalled();

      // A second live assignment for key 'b' is refused; the calls before and after it stay.
      await store.transaction(async (tx) => {
        await tx.assignments.upsertMany([b]);
        await expect(tx.assignments.upsertMany([{ ...anAssignment({ key: 'b' }) }])).rejects.toThrow(/live assignment exists already/);
        await tx.assignments.upsertMany([c]);
      });
      expect((await store.assignments.list({ statuses: LIVE_ASSIGNMENT_STATUSES })).map((x) => x.key).sort()).toEqual(['a', 'b', 'c']);
      expect((await store.assignments.get(a.id))!.healthyPasses).toBe(1);
    } finally {
      spy.mockRestore();
      await store.close();
    }
  });
});

describe('status, pool, sslmode', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await sharedDatabase();
  });

  it("status() is kind 'postgres', counts writes, and turns not ok while the database cannot be reached, ok again after", async () => {
    const store = await openPostgresStore(options(db, { applicationName: 'status-test' }));
    try {
      expect(store.status()).toEqual({ kind: 'postgres', ok: true, writes: 0 });
      await store.assignments.upsertMany([anAssignment(), anAssignment()]);
      await store.meta.set('m', 'v');
      await store.transaction(async (tx) => {
        await tx.meta.set('a', '1');
        await tx.meta.set('b', '2');
      });
      expect(store.status()).toMatchObject({ kind: 'postgres', ok: true, writes: 3, lastWriteAt: T0 });

      await db.admin(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
      await db.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'status-test'`);
      await expect(store.meta.get('m')).rejects.toThrow();
      expect(store.status()).toMatchObject({ kind: 'postgres', ok: false, lastError: expect.stringMatching(/.+/) });
      await db.admin(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      expect(await store.meta.get('m')).toBe('v');
      expect(store.status()).toEqual({ kind: 'postgres', ok: true, writes: 3, lastWriteAt: T0 });
    } finally {
      await db.admin(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      await store.close();
    }
  });

  it('the pool opens at most DATABASE_POOL_SIZE connections for the store, whatever the load', async () => {
    const store = await openPostgresStore(options(db, { poolSize: 3, applicationName: 'pool-test' }));
    try {
      await store.assignments.upsertMany([anAssignment()]);
      let most = 0;
      await Promise.all(
        Array.from({ length: 30 }, async () => {
          await store.transaction(async (tx) => {
            await tx.assignments.list();
            const [row] = await db.sql<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pool-test'`);
            most = Math.max(most, Number(row!.n));
          });
        }),
      );
      expect(most).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('sslmode in DATABASE_URL is honoured: disable connects to this server without TLS; require insists on TLS, which it does not offer', async () => {
    const url = new URL(db.url);
    url.searchParams.set('sslmode', 'disable');
    const plain = await openPostgresStore(options(db, { connectionString: url.toString() }));
    await plain.close();
    url.searchParams.set('sslmode', 'verify-full');
    await expect(openPostgresStore(options(db, { connectionString: url.toString() }))).rejects.toThrow(/does not support SSL/);
  });
});

describe('locks across processes', () => {
  it('a process that dies holding a lock releases it at once: the waiting one goes on', async () => {
    const db = await sharedDatabase();
    const dying = await openPostgresStore(options(db, { applicationName: 'dying-replica' }));
    const survivor = await openPostgresStore(options(db));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    try {
      const order: string[] = [];
      let holding!: () => void;
      const holds = new Promise<void>((resolve) => (holding = resolve));
      const held = dying.locks.withLock('job:sync', async () => {
        order.push('dying holds');
        holding();
        await gate;
      });
      await holds;
      const taken = survivor.locks.withLock('job:sync', async () => {
        order.push('survivor runs');
      });
      // The survivor waits behind the holder's session lock…
      await db.untilSomeoneWaits();
      order.push('survivor waits');
      // …until the holder's connection is gone (what a SIGKILL or a lost network does).
      await db.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dying-replica (locks)'`);
      await taken;
      expect(order).toEqual(['dying holds', 'survivor waits', 'survivor runs']);
      release();
      await held;
    } finally {
      release();
      await Promise.all([dying.close(), survivor.close()]);
    }
  });

  it('a work item whose claimer died is taken over by another process when its lease ends', async () => {
    const db = await sharedDatabase();
    const clock = new ManualClock(T0);
    const a = await openPostgresStore(options(db, { clock }));
    const b = await openPostgresStore(options(db, { clock }));
    try {
      const [item] = await a.work.enqueue([{ kind: 'ticket', key: 'k', payload: { n: 1 } }]);
      await a.work.claim('ticket', 'replica-a', 1, MINUTE_MS);
      await a.close();
      expect(await b.work.claim('ticket', 'replica-b', 1, MINUTE_MS)).toEqual([]);
      clock.advance(MINUTE_MS);
      expect(await b.work.claim('ticket', 'replica-b', 1, MINUTE_MS)).toMatchObject([{ id: item!.id, leaseOwner: 'replica-b', attempts: 2 }]);
      expect(await b.work.complete(item!.id, 'replica-a')).toBe(false);
      expect(await b.work.complete(item!.id, 'replica-b')).toBe(true);
    } finally {
      await b.close();
    }
  });
});

describe('openStore: one call, the configured store', () => {
  it('DATABASE_URL unset: lowdb in DATA_DIR with in-process locks', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'open-store-'));
    const opened = await openStore({ DATA_DIR: dataDir }, { clock: new ManualClock(T0), logger: silentLogger });
    try {
      expect(opened.kind).toBe('lowdb');
      expect(opened.store.status().kind).toBe('lowdb');
      expect(opened.location).toBe(path.join(dataDir, 'db.json'));
      await opened.store.meta.set('m', 'v');
      await opened.store.flush();
      expect(existsSync(path.join(dataDir, 'db.json'))).toBe(true);
      expect(await opened.locks.withLock('k', async () => 'locked')).toBe('locked');
      expect(opened.jobRuns).toBeInstanceOf(InProcessJobRuns);
      expect(opened.sendPacing).toBeInstanceOf(InProcessSendPacing);
    } finally {
      await opened.store.close();
    }
  });

  it('DATABASE_URL set: PostgreSQL with advisory locks; nothing goes to DATA_DIR; the location hides the password', async () => {
    const db = await sharedDatabase();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'open-store-'));
    const opened = await openStore({ DATA_DIR: dataDir, DATABASE_URL: db.url, DATABASE_POOL_SIZE: 2 }, { clock: new ManualClock(T0), logger: silentLogger });
    try {
      expect(opened.kind).toBe('postgres');
      expect(opened.store.status().kind).toBe('postgres');
      const password = new URL(db.url).password;
      expect(opened.location).toBe(`postgres://${new URL(db.url).username}@${new URL(db.url).host}/${db.name}`);
      if (password) expect(opened.location).not.toContain(password);
      await opened.store.meta.set('m', 'v');
      expect(await db.sql('SELECT key, value FROM meta')).toEqual([{ key: 'm', value: 'v' }]);
      expect(existsSync(path.join(dataDir, 'db.json'))).toBe(false);
      let inside = false;
      await opened.locks.withLock('k', async () => {
        inside = (await db.sql(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted`)).length > 0;
      });
      expect(inside).toBe(true);
      // Job claims and send slots go to the shared tables.
      expect(await opened.jobRuns.claim('sync', new Date(T0), 'replica-a', 60_000)).toBe(true);
      expect(await db.sql('SELECT job, holder FROM job_runs')).toEqual([{ job: 'sync', holder: 'replica-a' }]);
      expect(await opened.sendPacing.reserve('chat-1')).toEqual(new Date(T0));
      expect(await db.sql('SELECT conversation_id, slots FROM send_pacing')).toEqual([{ conversation_id: 'chat-1', slots: [String(Date.parse(T0))] }]);
    } finally {
      await opened.store.close();
    }
  });
});
