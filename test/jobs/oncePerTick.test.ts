import type { Clock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { runClaimed, scheduleJob } from '../../jobs/schedule.js';
import { capturingLogger } from '../servicenow/helpers.js';
import { openPostgresStore, type PostgresStore } from '../../storage/postgres/store.js';
import { createTestDatabase, type TestDatabase } from '../storage/postgres/testDatabase.js';

/** Two replicas on one real PostgreSQL database, each with its own store (pool) and the JobRuns it brings. */
let db: TestDatabase;
const stores: PostgresStore[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await db.truncate();
});
afterAll(async () => {
  await db.drop();
});

const open = async (clock: Clock) => {
  const store = await openPostgresStore({ connectionString: db.url, clock, logger: silentLogger, poolSize: 2 });
  stores.push(store);
  return store.jobRuns;
};

const until = async (condition: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
};

describe('jobs: each cron tick runs on one replica (JobRuns on PostgreSQL)', () => {
  it('two replicas firing the same ticks run each tick exactly once between them', async () => {
    const [a, b] = [await open({ now: () => new Date() }), await open({ now: () => new Date() })];
    const ran: string[] = [];
    const runOn = (replica: string) => async () => void ran.push(replica);
    const tasks = [
      scheduleJob('sync', '* * * * * *', runOn('a'), silentLogger, undefined, { jobRuns: a, holder: 'replica-a' }),
      scheduleJob('sync', '* * * * * *', runOn('b'), silentLogger, undefined, { jobRuns: b, holder: 'replica-b' }),
    ];
    try {
      await until(() => ran.length >= 3);
    } finally {
      await Promise.all(tasks.map((t) => t.destroy()));
    }
    // A tick claimed just before the timers stopped finishes its run and is released.
    let runs = await a.list('sync');
    const settled = Date.now() + 10_000;
    while (runs.some((r) => r.finishedAt === undefined) && Date.now() < settled) runs = await a.list('sync');
    // Both timers fired every tick; one claim per tick, and one run per claim.
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.every((r) => r.finishedAt !== undefined)).toBe(true);
    expect(ran).toHaveLength(runs.length);
  });

  it('a replica that died holding a tick is taken over on the first tick after its lease, not before', async () => {
    let now = Date.parse('2026-03-02T09:00:00.000Z');
    const clock = { now: () => new Date(now) };
    const [dead, alive] = [await open(clock), await open(clock)];
    const leaseMs = 60_000;
    // The dead replica claimed 09:00 and never released it (SIGKILL mid-run).
    expect(await dead.claim('sync', new Date(now), 'replica-dead', leaseMs)).toBe(true);
    let runs = 0;
    const run = async () => void runs++;

    now += 30_000;
    await runClaimed('sync', new Date(now), run, silentLogger, { jobRuns: alive, holder: 'replica-alive', leaseMs });
    expect(runs).toBe(0);

    now += 31_000;
    await runClaimed('sync', new Date(now), run, silentLogger, { jobRuns: alive, holder: 'replica-alive', leaseMs });
    expect(runs).toBe(1);
    const [latest] = await alive.list('sync', 1);
    expect(latest).toMatchObject({ holder: 'replica-alive', tickAt: new Date(now).toISOString(), finishedAt: expect.any(String) });
  });

  it('the replica that claims a tick forgets the ticks older than the retention (default 30 days), once per tick between the replicas', async () => {
    const DAY = 86_400_000;
    const now = Date.parse('2026-03-02T09:00:00.000Z');
    const clock = { now: () => new Date(now) };
    const [a, b] = [await open(clock), await open(clock)];
    const past = async (job: string, days: number) => {
      const tick = new Date(now - days * DAY);
      expect(await a.claim(job, tick, 'replica-a', 60_000)).toBe(true);
      expect(await a.release(job, tick, 'replica-a')).toBe(true);
    };
    for (const days of [40, 31, 29]) await past('sync', days);
    await past('reminders', 35);
    const logs: string[] = [];
    let runs = 0;
    const run = async () => void runs++;
    const tick = async (at: Date, retentionMs?: number) =>
      Promise.all(
        ['replica-a', 'replica-b'].map((holder, i) =>
          runClaimed('sync', at, run, capturingLogger(logs), { jobRuns: [a, b][i]!, holder, ...(retentionMs ? { retentionMs } : {}) }),
        ),
      );
    const forgot = () => logs.filter((l) => l.includes('forgot old ticks')).map((l) => JSON.parse(l).a.removed);

    await tick(new Date(now));
    expect(runs).toBe(1);
    expect(forgot()).toEqual([3]);
    const ago = (days: number) => new Date(now - days * DAY).toISOString();
    expect((await b.list('sync')).map((r) => r.tickAt)).toEqual([ago(0), ago(29)]);
    expect(await b.list('reminders')).toEqual([]);

    // WORK_RETENTION_DAYS=1: the next tick forgets the 29-day-old one; nothing is left to forget after.
    await tick(new Date(now + 60_000), DAY);
    await tick(new Date(now + 120_000), DAY);
    expect(runs).toBe(3);
    expect(forgot()).toEqual([3, 1]);
    expect((await a.list('sync')).map((r) => r.tickAt)).toEqual([new Date(now + 120_000), new Date(now + 60_000), new Date(now)].map((d) => d.toISOString()));
  });

  it('a long run renews its lease, so another replica does not start the job beside it; released at the end, even when it fails', async () => {
    const clock = { now: () => new Date() };
    const [a, b] = [await open(clock), await open(clock)];
    const leaseMs = 300;
    let release: () => void = () => undefined;
    let started = false;
    const first = runClaimed(
      'resolution',
      new Date('2026-03-02T09:00:00.000Z'),
      () =>
        new Promise<void>((resolve, reject) => {
          started = true;
          release = () => reject(new Error('Azure was down'));
          void resolve;
        }),
      silentLogger,
      { jobRuns: a, holder: 'replica-a', leaseMs },
    );
    await until(() => started);
    // Three leases later, the run still holds the job: the next tick is not claimed.
    await new Promise((resolve) => setTimeout(resolve, 3 * leaseMs));
    expect(await b.claim('resolution', new Date('2026-03-02T09:01:00.000Z'), 'replica-b', leaseMs)).toBe(false);
    release();
    await expect(first).resolves.toBeUndefined();
    const [run] = await a.list('resolution', 1);
    expect(run).toMatchObject({ holder: 'replica-a', finishedAt: expect.any(String) });
    expect(await b.claim('resolution', new Date('2026-03-02T09:02:00.000Z'), 'replica-b', leaseMs)).toBe(true);
  });
});
