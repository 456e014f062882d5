import { openPostgresStore } from '../../storage/postgres/store.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { createTestDatabase, type TestDatabase } from '../storage/postgres/testDatabase.js';
import { ADMIN, createWorld, eventually, integrationFromForm, say, submitAssignment, type BotRun, type World } from '../soak/world.js';

/**
 * Issue 14: "a replica that dies mid-run is taken over on the next tick". Two real bot processes on
 * one PostgreSQL database with the default JOB_LEASE_SECONDS (5 minutes); the replica running a
 * sync tick is SIGKILLed in the middle of it, and the other runs a later tick within seconds: the
 * dead holder's presence lock went with its connection, so nobody waits for its lease.
 */
jest.setTimeout(90_000);

/** Each ServiceNow answer takes this long while the victim is to be caught mid-tick: a sync tick's resolution phase then lasts seconds. */
const SLOW_SERVICENOW_MS = 2_000;

describe('a replica SIGKILLed while it holds a sync tick', () => {
  let db: TestDatabase;
  let world: World;
  const bots: BotRun[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await createWorld({ name: 'takeover' });
    Object.assign(world.env, { DATABASE_URL: db.url, DATABASE_POOL_SIZE: '4', SYNC_CRON: '*/2 * * * * *' });
    expect(world.env.JOB_LEASE_SECONDS).toBeUndefined();
    await world.addIntegration();
  });
  afterAll(async () => {
    await Promise.all(bots.map((b) => b.kill('SIGKILL')));
    await world?.close();
    await db?.drop();
  });

  it('is taken over by the other replica on a following tick, long before its 5-minute lease runs out', async () => {
    bots.push(...(await Promise.all([world.startBot(), world.startBot()])));
    const [first] = bots;
    expect((await say(world, first!.url, ADMIN, 'sync')).status).toBe(200);
    const store = await openPostgresStore({ connectionString: db.url, clock: systemClock, logger: silentLogger, poolSize: 1, applicationName: 'test' });
    try {
      // One open ticket, so every sync tick's resolution phase asks ServiceNow about it.
      const rec = await eventually('a recommendation', async () =>
        (await store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length > 0),
      );
      const target = { recommendationKey: rec.key, resourceIds: [rec.resources[0]!.resourceId] };
      const integrationId = await integrationFromForm(world, first!.url, ADMIN, target);
      expect((await submitAssignment(world, first!.url, ADMIN, target, integrationId)).status).toBe(200);
      await eventually('the ticket', async () => ((await store.assignments.list({ hasTicket: true })).length === 1 ? true : undefined));
    } finally {
      await store.close();
    }

    world.servicenow.control.setLatency(SLOW_SERVICENOW_MS);
    const running = await eventually(
      'a sync tick running for a second',
      async () => {
        const rows = await db.sql<{ tick_at: Date; holder: string }>(
          `SELECT tick_at, holder FROM job_runs WHERE job = 'sync' AND finished_at IS NULL AND claimed_at < now() - interval '1 second'`,
        );
        const row = rows[0];
        const bot = row && bots.find((b) => row.holder.split(':')[1] === String(b.pid));
        return bot ? { ...row, bot } : undefined;
      },
      30_000,
      50,
    );
    await running.bot.kill('SIGKILL');
    const killedAt = Date.now();
    // It was still running when it died: its claim was never released.
    const [dead] = await db.sql<{ finished_at: Date | null }>(`SELECT finished_at FROM job_runs WHERE job = 'sync' AND tick_at = $1`, [running.tick_at]);
    expect(dead?.finished_at).toBeNull();
    world.servicenow.control.setLatency(0);

    const survivor = bots.find((b) => b !== running.bot)!;
    const next = await eventually(
      'a later sync tick run to its end by the survivor',
      async () => {
        const rows = await db.sql<{ tick_at: Date; holder: string }>(
          `SELECT tick_at, holder FROM job_runs WHERE job = 'sync' AND tick_at > $1 AND finished_at IS NOT NULL ORDER BY tick_at LIMIT 1`,
          [running.tick_at],
        );
        return rows[0];
      },
      30_000,
      100,
    );
    expect(next.holder.split(':')[1]).toBe(String(survivor.pid));
    // Well inside the dead claim's lease: 300 s from its last renewal.
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect(running.bot.child.signalCode).toBe('SIGKILL');
  });
});
