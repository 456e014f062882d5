import { silentLogger } from '../../../core/logger.js';
import { systemClock } from '../../../core/clock.js';
import { AssignmentWriter } from '../../../app/assignmentWriter.js';
import { openPostgresStore, type PostgresStore } from '../../../storage/postgres/store.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

let db: TestDatabase;
const stores: PostgresStore[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await db.drop();
});
const open = async (applicationName = 'replica') => {
  const store = await openPostgresStore({ connectionString: db.url, clock: systemClock, logger: silentLogger, poolSize: 2, applicationName });
  stores.push(store);
  return store;
};

describe('locks of a batch on PostgreSQL', () => {
  it('the assignment writer holds 200 assignments’ locks on a pool of 2 connections (one connection for the batch)', async () => {
    const store = await open();
    const writer = new AssignmentWriter({ store, locks: store.locks, clock: systemClock });
    const ids = Array.from({ length: 200 }, (_, i) => `a-${String(i).padStart(3, '0')}`);
    const held = await writer.withLocks(ids, async () => {
      const [row] = await db.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
      );
      return row!.n;
    });
    // Every key is an advisory lock (distinct keys may share a hash, so at most 200).
    expect(held).toBeGreaterThan(190);
    expect(held).toBeLessThanOrEqual(200);
    const [after] = await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`);
    expect(after!.n).toBe(0);
  });

  it('another process waits for any key of a held batch, and overlapping batches of two processes both finish', async () => {
    const [a, b] = [await open('replica-a'), await open('replica-b')];
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const holds = new Promise<void>((resolve) => (holding = resolve));
    const batch = a.locks.withLocks!(['x-1', 'x-2', 'x-3'], async () => {
      order.push('a holds the batch');
      holding();
      await gate;
      order.push('a releases');
    });
    await holds;
    const single = b.locks.withLock('x-2', async () => void order.push('b has x-2'));
    await db.untilSomeoneWaits();
    release();
    await Promise.all([batch, single]);
    expect(order).toEqual(['a holds the batch', 'a releases', 'b has x-2']);

    // Opposite orders of overlapping sets, many times at once: no deadlock, every step runs.
    const keys = Array.from({ length: 20 }, (_, i) => `k-${i}`);
    let done = 0;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).locks.withLocks!(i % 2 ? keys : [...keys].reverse(), async () => {
          done++;
        }),
      ),
    );
    expect(done).toBe(10);
  });
});
