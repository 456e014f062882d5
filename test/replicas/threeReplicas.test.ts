import { writeFileSync } from 'node:fs';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openPostgresStore } from '../../storage/postgres/store.js';
import { createTestDatabase, type TestDatabase } from '../storage/postgres/testDatabase.js';
import { ADMIN, CHANNEL, correlationKey, createWorld, eventually, integrationFromForm, say, submitAssignment, type BotRun, type World } from '../soak/world.js';
import { startProxy, type Proxy } from '../harness/roundRobinProxy.js';

/**
 * Issue 14 req. 7: three real bot processes (production mode, the fake Bot Connector, both
 * simulators) on one PostgreSQL database behind a round-robin proxy on loopback. 200 resources are
 * assigned in a few submits (one ticket per resource); the replica running a creation is SIGKILLed
 * while tickets are being created and the others take its work over once its lease has run out.
 * 100 of the resources are then fixed in Defender and resolved by the sync ticks.
 */
jest.setTimeout(90_000);

/** The issue's 200 (req. 7). */
const TARGETS = 200;
/**
 * Half of them resolved. A pass's resolution notes go out as one message per conversation of up to
 * 20 lines (app/announcements.ts), so 100 of them are a few messages; as one message each they
 * took ~50 s at Teams' pace for one conversation (60 per 30 s, shared by the replicas), and the
 * test used 60.
 */
const FIXED = 100;
/** Resources per submit (one form selects many; the server caps a submit's selection). */
const PER_SUBMIT = 50;
const step = (what: string) => process.env.X_DEBUG && process.stderr.write(`${new Date().toISOString()} ${what}\n`);

/** The recommendation a channel card is for, when it is a recommendation card (its Refresh action names it). */
function recommendationCardKey(body: any): string | undefined {
  const content = body?.attachments?.[0]?.content;
  const refresh = (content?.actions ?? []).find((a: any) => a?.verb === 'refreshRecommendation');
  return refresh?.data?.recommendationKey as string | undefined;
}

describe('three replicas on one PostgreSQL database', () => {
  let db: TestDatabase;
  let world: World;
  const bots: BotRun[] = [];
  let proxy: Proxy | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await createWorld({ name: 'replicas' });
    Object.assign(world.env, {
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '4',
      SYNC_CRON: '*/2 * * * * *',
      RESOLVE_AFTER_HEALTHY_PASSES: '1',
      // A killed replica's creation is taken over after 3 s instead of 10 minutes. JOB_LEASE_SECONDS
      // keeps its default (5 minutes): a sync tick the victim holds when it is killed goes on the
      // next tick (its presence lock died with it; test/replicas/tickTakeover.test.ts).
      WORK_LEASE_SECONDS: '3',
    });
    await world.addIntegration();
  });
  afterAll(async () => {
    const dir = process.env.X_DEBUG_DIR;
    if (dir) bots.forEach((b, i) => writeFileSync(`${dir}/bot${i}-${b.pid}.log`, b.output()));
    await proxy?.close();
    await Promise.all(bots.map((b) => b.kill('SIGKILL')));
    await world?.close();
    await db?.drop();
  });

  it(`200 tickets over 3 replicas with one SIGKILLed mid-creation: one ticket each, no duplicate card or announcement, each sync tick on one replica, ${FIXED} resolved`, async () => {
    bots.push(...(await Promise.all([world.startBot(), world.startBot(), world.startBot()])));
    proxy = await startProxy(bots);
    const url = proxy.url;

    expect((await say(world, url, ADMIN, 'subscribe severity=High mode=cards')).status).toBe(200);
    expect((await say(world, url, ADMIN, 'sync')).status).toBe(200);
    const store = await openPostgresStore({ connectionString: db.url, clock: systemClock, logger: silentLogger, poolSize: 2, applicationName: 'test' });
    let killed: BotRun | undefined;
    let targets: Array<{ recommendationKey: string; resourceId: string; assessmentId: string; key: string }> = [];
    let fixed: typeof targets = [];
    let announcedIn: (calls: typeof world.connector.calls, t: { key: string }) => number = () => 0;
    try {
      const recommendations = await eventually('recommendations in the database', async () => {
        // The channel follows the High ones (one card each); the targets are theirs.
        const recs = (await store.recommendations.list()).filter((r) => r.status === 'unhealthy' && r.severity === 'High');
        return recs.reduce((n, r) => n + r.resources.length, 0) >= TARGETS ? recs : undefined;
      });
      targets = recommendations
        .flatMap((r) =>
          r.resources.map((x) => ({
            recommendationKey: r.key,
            resourceId: x.resourceId,
            assessmentId: x.assessmentId,
            key: correlationKey(x.assessmentId, x.resourceId),
          })),
        )
        .slice(0, TARGETS);
      expect(targets).toHaveLength(TARGETS);
      step(`recs ${JSON.stringify(recommendations.map((r) => [r.severity, r.resources.length]))} calls ${world.connector.calls.length}`);
      const integrationId = await integrationFromForm(world, url, ADMIN, {
        recommendationKey: targets[0]!.recommendationKey,
        resourceIds: [targets[0]!.resourceId],
      });

      // A few submits, each selecting many resources of one recommendation; the proxy spreads them over the replicas.
      const submits: Array<{ recommendationKey: string; resourceIds: string[] }> = [];
      for (const t of targets) {
        const last = submits.at(-1);
        if (last && last.recommendationKey === t.recommendationKey && last.resourceIds.length < PER_SUBMIT) last.resourceIds.push(t.resourceId);
        else submits.push({ recommendationKey: t.recommendationKey, resourceIds: [t.resourceId] });
      }
      step(`submits ${submits.length}`);
      const answers = await Promise.all(submits.map((s) => submitAssignment(world, url, ADMIN, s, integrationId)));
      expect(answers.map((a) => a.status)).toEqual(submits.map(() => 200));
      step('submitted');

      // While tickets are being created, the replica holding a running creation is killed.
      const victim = await eventually(
        'a replica creating tickets',
        async () => {
          const created = world.tickets().length;
          if (created >= TARGETS) throw new Error('every ticket was created before a replica could be killed');
          const rows = await db.sql<{ lease_owner: string }>(`SELECT lease_owner FROM work WHERE status = 'running' AND lease_owner IS NOT NULL`);
          return created > 0 ? bots.find((b) => rows.some((r) => r.lease_owner.startsWith(`bot-${b.pid}-`))) : undefined;
        },
        30_000,
        20,
      );
      killed = victim;
      const createdAtKill = world.tickets().length;
      await victim.kill('SIGKILL');
      step(`killed pid ${victim.pid} at ${createdAtKill} tickets`);
      expect(createdAtKill).toBeLessThan(TARGETS);
      expect(proxy.served.every((n) => n > 0)).toBe(true);

      // Every resource ends with one ticket: the dead replica's creations are taken over by the others.
      await eventually(
        'a ticket for every target',
        async () => {
          const keys = new Set((await store.assignments.list({ hasTicket: true })).map((a) => a.key));
          step(`ticketed ${targets.filter((t) => keys.has(t.key)).length}`);
          return targets.every((t) => keys.has(t.key)) ? true : undefined;
        },
        45_000,
        250,
      );
      const tickets = world.tickets();
      const perKey = new Map<string, number>();
      for (const x of tickets) perKey.set(x.correlationId, (perKey.get(x.correlationId) ?? 0) + 1);
      expect(targets.filter((t) => perKey.get(t.key) !== 1).map((t) => [t.key, perKey.get(t.key)])).toEqual([]);
      expect([...perKey.values()].filter((n) => n > 1)).toEqual([]);
      const live = (await store.assignments.list()).filter((a) => a.status !== 'removed');
      expect(targets.filter((t) => live.filter((a) => a.key === t.key).length !== 1)).toEqual([]);

      // FIXED of the resources are fixed in Defender: the next sync ticks resolve them.
      fixed = targets.slice(0, FIXED);
      const assessmentKey = (assessmentId: string) => assessmentId.split('/').pop()!;
      for (const t of fixed) world.defender.control.markHealthy({ resourceId: t.resourceId, assessmentKey: assessmentKey(t.assessmentId) });
      await eventually(
        'the fixed ones resolved',
        async () => {
          const resolved = new Set((await store.assignments.list({ hasTicket: true })).filter((a) => a.status === 'resolved').map((a) => a.key));
          step(`resolved ${resolved.size}`);
          return fixed.every((t) => resolved.has(t.key)) ? true : undefined;
        },
        45_000,
        250,
      );
      const open = new Set((await store.assignments.list()).filter((a) => a.status === 'open').map((a) => a.key));
      expect(targets.slice(FIXED).filter((t) => !open.has(t.key))).toEqual([]);

      // The resolution notes go out at Teams' pace for one conversation; wait until each fixed resource's is posted.
      const numberOf = new Map(world.tickets().map((x) => [x.correlationId, x.number]));
      announcedIn = (calls: typeof world.connector.calls, t: { key: string }) =>
        calls.filter(
          (c) =>
            c.method === 'POST' &&
            c.conversationId === CHANNEL &&
            !c.refused &&
            typeof c.body?.text === 'string' &&
            c.body.text.includes(`${numberOf.get(t.key)} resolved`),
        ).length;
      try {
        await eventually(
          'every resolution announced',
          () => {
            const n = fixed.filter((t) => announcedIn(world.connector.calls, t) > 0).length;
            step(`announced ${n}; calls ${world.connector.calls.length}`);
            return n === fixed.length ? true : undefined;
          },
          60_000,
          250,
        );
      } catch (err) {
        if (process.env.X_DEBUG) {
          const missing = fixed.filter((t) => announcedIn(world.connector.calls, t) === 0);
          const rows = (await store.assignments.list()).filter((a) => missing.some((t) => t.key === a.key));
          step(`MISSING ${JSON.stringify(missing.map((t) => [t.key, numberOf.get(t.key)]))}`);
          step(`ROWS ${JSON.stringify(rows)}`);
          for (const a of rows) step(`CLAIMS ${a.id} ${JSON.stringify(await db.sql(`SELECT * FROM reminders WHERE key LIKE $1`, [`%${a.id}%`]))}`);
          const texts = world.connector.calls
            .filter((c) => c.conversationId === CHANNEL && typeof c.body?.text === 'string')
            .map((c) => [c.method, c.refused, c.body.text]);
          step(`TEXTS ${JSON.stringify(texts)}`);
        }
        throw err;
      }

      // Every recommendation card shows the final state: its latest version (posted or updated) has the stored resource count.
      const finalRecs = new Map((await store.recommendations.list()).map((r) => [r.key, r]));
      const cardVersions = new Map<string, any>();
      for (const c of world.connector.calls) {
        const key = c.conversationId === CHANNEL && !c.refused && (c.method === 'POST' || c.method === 'PUT') ? recommendationCardKey(c.body) : undefined;
        if (key) cardVersions.set(key, c.body);
      }
      expect(cardVersions.size).toBeGreaterThan(0);
      const stale = [...cardVersions.entries()].filter(([key, body]) => {
        const rec = finalRecs.get(key)!;
        const text = JSON.stringify(body);
        const expected = rec.status === 'unhealthy' ? `${rec.resources.length} unhealthy resource` : 'Resolved';
        return !text.includes(expected);
      });
      expect(stale.map(([key]) => key)).toEqual([]);
    } finally {
      await store.close();
    }

    // 0 duplicate recommendation cards: one posted activity per recommendation, told apart by the card's recommendation key.
    const posts = world.connector.calls.filter((c) => c.method === 'POST' && c.conversationId === CHANNEL && !c.refused);
    const cardsPerRecommendation = new Map<string, number>();
    for (const c of posts) {
      const key = recommendationCardKey(c.body);
      if (key) cardsPerRecommendation.set(key, (cardsPerRecommendation.get(key) ?? 0) + 1);
    }
    step(`cards ${JSON.stringify([...cardsPerRecommendation.entries()])}`);
    expect(cardsPerRecommendation.size).toBeGreaterThan(0);
    expect([...cardsPerRecommendation.entries()].filter(([, n]) => n !== 1)).toEqual([]);

    // 0 duplicate announcements: each fixed resource's "resolved" note once, none for the others.
    const announced = (t: { key: string }) => announcedIn(posts, t);
    expect(fixed.filter((t) => announced(t) !== 1).map((t) => [t.key, announced(t)])).toEqual([]);
    expect(targets.slice(FIXED).filter((t) => announced(t) !== 0)).toEqual([]);

    // Each cron tick of the sync ran on exactly one replica (the claim lines of every replica's log, and job_runs).
    // The replicas still run: job_runs is read first, and the logs once they hold its last claim (a
    // claim's line reaches the pipe after its commit); a tick claimed after that read is not compared.
    const rows = await db.sql<{ tick_at: Date; holder: string }>(`SELECT tick_at, holder FROM job_runs WHERE job = 'sync' ORDER BY tick_at`);
    const lastTick = rows.at(-1)?.tick_at.toISOString() ?? '';
    const loggedClaims = () =>
      bots.flatMap((b, i) =>
        b
          .output()
          .split('\n')
          .filter((l) => l.includes('"sync: tick claimed"'))
          .map((l) => ({ replica: i, ...(JSON.parse(l) as { tickAt: string; holder: string }) }))
          .map(({ replica, tickAt, holder }) => ({ replica, tickAt, holder })),
      );
    await eventually('the last claimed tick is logged', () => (loggedClaims().some((c) => c.tickAt === lastTick) ? true : undefined), 10_000, 50);
    const claims = loggedClaims().filter((c) => c.tickAt <= lastTick);
    // The resolution phase runs in one long tick (its notes go out at Teams' pace); later ticks wait for it, none overlaps.
    const byTick = new Map<string, number[]>();
    for (const c of claims) byTick.set(c.tickAt, [...(byTick.get(c.tickAt) ?? []), c.replica]);
    expect(byTick.size).toBeGreaterThanOrEqual(2);
    expect([...byTick.entries()].filter(([, r]) => r.length !== 1)).toEqual([]);
    expect(rows.map((r) => [r.tick_at.toISOString(), r.holder])).toEqual(
      [...claims].sort((x, y) => x.tickAt.localeCompare(y.tickAt)).map((c) => [c.tickAt, c.holder]),
    );
    expect(killed?.child.signalCode).toBe('SIGKILL');
  });
});
