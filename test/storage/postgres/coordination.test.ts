import { silentLogger } from '../../../core/logger.js';
import { ManualClock, type Clock } from '../../../core/clock.js';
import { JOB_PRESENCE_LOCK_NAMESPACE } from '../../../storage/postgres/coordination.js';
import { openPostgresStore, type PostgresStore } from '../../../storage/postgres/store.js';
import { describeCoordinationContract } from '../coordinationContract.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const open = (clock: Clock): Promise<PostgresStore> => openPostgresStore({ connectionString: db.url, clock, logger: silentLogger, poolSize: 4 });

describeCoordinationContract(
  'PostgreSQL (a real server)',
  async (clock) => {
    await db.truncate();
    const stores = [await open(clock)];
    const [store] = stores;
    return {
      jobRuns: store!.jobRuns,
      sendPacing: store!.sendPacing,
      // Another replica: a store of its own, with its own pools, on the same database.
      openPeer: async () => {
        const peer = await open(clock);
        stores.push(peer);
        return { jobRuns: peer.jobRuns, sendPacing: peer.sendPacing };
      },
      close: async () => {
        await Promise.all(stores.map((s) => s.close()));
      },
    };
  },
  { shared: true },
);

describe('PostgreSQL job runs: a dead holder is known by its presence lock, not only by its lease', () => {
  const T0 = new Date('2026-11-26T09:00:00.000Z');
  const at = (s: number) => new Date(T0.getTime() + s * 1000);
  const LEASE_MS = 5 * 60_000;
  let stores: PostgresStore[] = [];
  beforeEach(async () => {
    await db.truncate();
  });
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  it("the next tick goes to another replica as soon as the holder's connection is gone, with its lease still running; its renewal then fails", async () => {
    const clock = new ManualClock(T0.toISOString());
    const [survivor, victim] = (stores = [await open(clock), await open(clock)]);
    expect(await victim!.jobRuns.claim('sync', at(0), 'replica-victim', LEASE_MS)).toBe(true);
    clock.advance(60_000);
    expect(await survivor!.jobRuns.claim('sync', at(60), 'replica-survivor', LEASE_MS)).toBe(false);

    // What PostgreSQL sees when the victim's process is SIGKILLed: its connections close.
    const ended = await db.sql<{ ended: boolean }>(
      `SELECT pg_terminate_backend(l.pid) AS ended FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = hashtext('replica-victim')::oid`,
      [JOB_PRESENCE_LOCK_NAMESPACE],
    );
    expect(ended.map((r) => r.ended)).toEqual([true]);
    await eventuallyTrue(async () => survivor!.jobRuns.claim('sync', at(120), 'replica-survivor', LEASE_MS));
    clock.advance(1_000);
    expect(await victim!.jobRuns.renew('sync', at(0), 'replica-victim', LEASE_MS)).toBe(false);
    expect((await survivor!.jobRuns.list('sync')).map((r) => [r.tickAt, r.holder])).toEqual([
      [at(120).toISOString(), 'replica-survivor'],
      [at(0).toISOString(), 'replica-victim'],
    ]);
  });

  it('a live holder keeps the job while its lease runs, however long; a second session cannot be the same holder', async () => {
    const clock = new ManualClock(T0.toISOString());
    const [a, b] = (stores = [await open(clock), await open(clock)]);
    expect(await a!.jobRuns.claim('sync', at(0), 'replica-a', LEASE_MS)).toBe(true);
    clock.advance(LEASE_MS - 1);
    expect(await b!.jobRuns.claim('sync', at(299), 'replica-b', LEASE_MS)).toBe(false);
    await expect(b!.jobRuns.claim('sync', at(299), 'replica-a', LEASE_MS)).rejects.toThrow(/presence lock/);
  });
});

/** The server ends a terminated backend asynchronously: the lock is gone a moment after pg_terminate_backend answers. */
async function eventuallyTrue(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('still false');
}
