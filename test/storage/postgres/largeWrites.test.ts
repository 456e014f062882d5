/**
 * Writes larger than one statement (storage/postgres/tables.ts#upsertStatements): a sync pass
 * writes every recommendation with all its resources at once (50,000 assessments ≈ 28 MB of
 * JSON). The rows go in statements of bounded size inside one transaction — all stored or none,
 * first-stored order as given, the ended assignment of a key written before its live successor
 * whichever statement each lands in.
 */
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { InvalidRowError, StoreConstraintError } from '../../../app/ports.js';
import type { Assignment, Recommendation } from '../../../core/model.js';
import { openPostgresStore, type PostgresStore } from '../../../storage/postgres/store.js';
import { assignmentsTable, recommendationsTable, upsertStatements, WRITE_BATCH } from '../../../storage/postgres/tables.js';
import { anAssignment } from '../contract.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

const T0 = '2026-11-26T09:00:00.000Z';

function aRecommendation(i: number, resources = 25): Recommendation {
  return {
    key: `rec-${i}`,
    displayName: `Recommendation ${i}`,
    severity: 'High',
    description: 'd',
    remediation: 'r',
    resources: Array.from({ length: resources }, (_, j) => {
      const resourceId = `/subscriptions/00000000-0000-0000-0000-00000000000${j % 7}/resourceGroups/rg-${j}/providers/Microsoft.Compute/virtualMachines/vm-${i}-${j}`;
      return {
        resourceId,
        assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/00000000-1111-2222-3333-${String(i).padStart(12, '0')}`,
        name: `vm-${i}-${j}`,
        type: 'microsoft.compute/virtualmachines',
        subscriptionId: `00000000-0000-0000-0000-00000000000${j % 7}`,
        resourceGroup: `rg-${j}`,
        statusChangeDate: T0,
      };
    }),
    contentHash: `h${i}`,
    status: 'unhealthy',
    firstSeenAt: T0,
    updatedAt: T0,
  };
}

async function statementsOf<R>(def: Parameters<typeof upsertStatements<R>>[0], rows: readonly R[], budget: typeof WRITE_BATCH) {
  let asked = 0;
  const seqs = async (n: number) => {
    asked++;
    return Array.from({ length: n }, (_, i) => String(100 + i));
  };
  const out = [];
  for await (const s of upsertStatements(def, rows, seqs, { budget })) out.push(s);
  return { statements: out, asked };
}

describe('upsertStatements: statements of bounded size', () => {
  it('rows that fit one statement make one, with seq from the sequence in the statement (no round trip for seqs)', async () => {
    const { statements, asked } = await statementsOf(recommendationsTable, [aRecommendation(1), aRecommendation(2)], WRITE_BATCH);
    expect(statements).toHaveLength(1);
    expect(asked).toBe(0);
    expect(statements[0]!.text).toContain(`nextval('recommendations_seq_seq')`);
  });

  it('a large write is split by bytes: no statement carries more than the budget plus one row, each row once, seqs asked once', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => aRecommendation(i));
    // As stored: the documents are packed (tables.ts#packAssessment).
    const oneRow = JSON.stringify(recommendationsTable.pack!(rows[0]!)).length;
    expect(oneRow).toBeLessThan(JSON.stringify(rows[0]).length);
    const budget = { maxBytes: 20 * oneRow, maxParams: WRITE_BATCH.maxParams };
    const { statements, asked } = await statementsOf(recommendationsTable, rows, budget);
    expect(statements.length).toBeGreaterThanOrEqual(14);
    expect(asked).toBe(1);
    const docs = statements.map((s) => s.values.filter((v): v is string => typeof v === 'string' && v.startsWith('{')));
    for (const d of docs) expect(d.reduce((n, x) => n + x.length, 0)).toBeLessThanOrEqual(budget.maxBytes + 2 * oneRow);
    expect(docs.flat().map((d) => (JSON.parse(d) as Recommendation).key)).toEqual(rows.map((r) => r.key));
    // Each row carries the seq of its place in the rows given.
    expect(statements.flatMap((s, i) => s.values.slice(-docs[i]!.length))).toEqual(rows.map((_, i) => String(100 + i)));
  });

  it('a split by parameters stays under PostgreSQL’s 65,535 per statement', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => anAssignment({ key: `k-${i}` }));
    const { statements } = await statementsOf(assignmentsTable, rows, { maxBytes: Number.MAX_SAFE_INTEGER, maxParams: WRITE_BATCH.maxParams });
    expect(statements.length).toBeGreaterThan(1);
    for (const s of statements) expect(s.values.length).toBeLessThanOrEqual(65_535);
  });

  it('across statements, the ended assignments go before the live ones, each keeping the seq of its place in the rows given', async () => {
    const rows = [
      anAssignment({ key: 'a' }),
      anAssignment({ key: 'b', status: 'resolved' }),
      anAssignment({ key: 'c' }),
      anAssignment({ key: 'd', status: 'removed' }),
    ];
    const { statements } = await statementsOf(assignmentsTable, rows, { maxBytes: 1, maxParams: WRITE_BATCH.maxParams });
    expect(statements).toHaveLength(4);
    const written = statements.map((s) => (JSON.parse(s.values.find((v): v is string => typeof v === 'string' && v.startsWith('{'))!) as Assignment).key);
    expect(written).toEqual(['b', 'd', 'a', 'c']);
    expect(statements.map((s) => s.values.at(-1))).toEqual(['101', '103', '100', '102']);
  });
});

describe('large writes on the PostgreSQL store', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.truncate();
    store = await openPostgresStore({ connectionString: db.url, clock: new ManualClock(T0), logger: silentLogger, poolSize: 3 });
  });
  afterEach(async () => {
    await store.close();
  });

  // ~8 KB a recommendation: 400 of them are over the 2 MB a statement takes.
  const many = () => Array.from({ length: 400 }, (_, i) => aRecommendation(i));

  it('a sync pass’s recommendations beyond one statement are all stored, sealed, in the order given; an existing one keeps its place', async () => {
    const rows = many();
    expect(rows.reduce((n, r) => n + JSON.stringify(r).length, 0)).toBeGreaterThan(WRITE_BATCH.maxBytes);
    await store.recommendations.upsertMany([rows[399]!]);
    await store.recommendations.upsertMany(rows);
    const read = await store.recommendations.list();
    expect(read.map((r) => r.key)).toEqual([rows[399]!.key, ...rows.slice(0, 399).map((r) => r.key)]);
    expect(read[6]).toEqual(rows[5]);
    expect(await db.sql(`SELECT count(*)::int AS n FROM recommendations WHERE seal IS NULL`)).toEqual([{ n: 0 }]);
    expect(store.status().writes).toBe(2);
  });

  it('an invalid recommendation at the end of a large write rolls all of it back, outside and inside a transaction', async () => {
    await store.recommendations.upsertMany([aRecommendation(7)]);
    const bad = [...many(), { ...aRecommendation(1000), severity: 'Critical' } as unknown as Recommendation];
    await expect(store.recommendations.upsertMany(bad)).rejects.toBeInstanceOf(InvalidRowError);
    expect((await store.recommendations.list()).map((r) => r.key)).toEqual(['rec-7']);

    await store.transaction(async (tx) => {
      await tx.meta.set('kept', 'yes');
      await expect(tx.recommendations.upsertMany(bad)).rejects.toBeInstanceOf(InvalidRowError);
    });
    expect(await store.meta.get('kept')).toBe('yes');
    expect((await store.recommendations.list()).map((r) => r.key)).toEqual(['rec-7']);
  });

  it('a statement the database refuses while the next one is already sent rolls all of it back, and the store and the transaction go on', async () => {
    const taken = anAssignment({ key: 'taken' });
    await store.assignments.upsertMany([taken]);
    // The refused row is in the first statement; the following ones are built and queued while it runs.
    const rows = [
      anAssignment({ key: 'taken' }),
      ...Array.from({ length: 2000 }, (_, i) => anAssignment({ key: `k-${i}`, recommendationName: 'x'.repeat(4000) })),
    ];
    expect(rows.reduce((n, a) => n + JSON.stringify(a).length, 0)).toBeGreaterThan(3 * WRITE_BATCH.maxBytes);
    await expect(store.assignments.upsertMany(rows)).rejects.toBeInstanceOf(StoreConstraintError);
    expect((await store.assignments.list()).map((a) => a.id)).toEqual([taken.id]);

    await store.transaction(async (tx) => {
      await tx.meta.set('kept', 'yes');
      await expect(tx.assignments.upsertMany(rows)).rejects.toBeInstanceOf(StoreConstraintError);
      await tx.assignments.upsertMany(rows.slice(1));
    });
    expect(await store.meta.get('kept')).toBe('yes');
    expect(await store.assignments.count()).toBe(2001);
  });

  it('inside a transaction, a large write commits or rolls back with the rest of it', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.recommendations.upsertMany(many());
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect(await store.recommendations.list()).toEqual([]);
    await store.transaction((tx) => tx.recommendations.upsertMany(many()));
    expect(await store.recommendations.list()).toHaveLength(400);
  });

  it('assignments beyond one statement: a key’s ended assignment is written before its live successor given first, and new rows keep the order given', async () => {
    const old = anAssignment({ key: 'shared' });
    await store.assignments.upsertMany([old]);
    const successor = anAssignment({ key: 'shared' });
    const others = Array.from({ length: 2000 }, (_, i) => anAssignment({ key: `k-${i}`, recommendationName: 'x'.repeat(600) }));
    const endedNew = anAssignment({ key: 'gone', status: 'resolved' });
    const write = [successor, ...others, { ...old, status: 'resolved' as const }, endedNew];
    expect(write.reduce((n, a) => n + JSON.stringify(a).length, 0)).toBeGreaterThan(WRITE_BATCH.maxBytes);
    await store.assignments.upsertMany(write);
    const ids = (await store.assignments.list()).map((a) => a.id);
    expect(ids).toEqual([old.id, successor.id, ...others.map((a) => a.id), endedNew.id]);
    expect((await store.assignments.findLiveByKey('shared'))!.id).toBe(successor.id);
  });
});
