/**
 * `npm run bench -- replicas`: issue #14's scale-out figure. 1,000 tickets created through submits
 * spread by a round-robin proxy over 3 replicas (the production bot/main.js, one PostgreSQL
 * database), next to the same 1,000 on 1 replica in the same run and on the same PostgreSQL server;
 * and the most ServiceNow requests in flight in total, which the per-instance limit must bound
 * across replicas. ServiceNow (20 ms latency) runs in a child process; Defender, the fake Bot
 * Connector and the sign-in endpoints are test/soak/world.ts's, in this process.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchContext } from './lib/context.js';
import { cpuMsOfPid, scaled, short } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';
import { profileDir, startChild, type ServerChild } from './lib/child.js';
import { startBenchPostgres, type BenchPostgres } from './lib/postgres.js';
import { INSTANCE_LIMIT, LATENCY_MS } from './createAssignment.js';
import { ADMIN, INTEGRATION, SCOPE, createWorld, eventually, integrationFromForm, say, submitAssignment, type BotRun, type World } from '../test/soak/world.js';
import { startProxy } from '../test/harness/roundRobinProxy.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../sandbox/servicenow/index.js';
import { openPostgresStore } from '../storage/postgres/store.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';

export const REPLICAS = 3;
const PROFILE_PRELOAD = path.join(__dirname, 'lib', 'cpuProfilePreload.js');
const TICKETS = 1_000;
/** Resources per submit, as test/replicas/threeReplicas.test.ts selects them. */
const PER_SUBMIT = 50;

interface Run {
  seconds: number;
  /** CPU of the bots, and of the ServiceNow simulator, per ticket over the timed window (ms). */
  botCpuPerTicket: number;
  snowCpuPerTicket: number;
  maxInFlight: number;
  served: number[];
}

/** 1 or 3 replicas on a new database of `pg`: sync, then `n` resources of `recommendationKey` submitted at once through the proxy, timed until every one has its ticket. */
async function createOver(
  world: World,
  pg: BenchPostgres,
  snow: ServerChild<{ url: string }>,
  replicas: number,
  recommendationKey: string,
  n: number,
): Promise<Run> {
  const databaseUrl = await pg.createDatabase();
  const env = { DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '10' };
  // `--profile replica-bot`: each bot (production bot/main.js, spawned by the world) writes its
  // CPU profile when it stops (SIGTERM below), named by pid, one folder per replica count.
  const profiles = profileDir('replica-bot');
  const botEnv: Record<string, string> = profiles
    ? { ...env, NODE_OPTIONS: `--require ${PROFILE_PRELOAD}`, BENCH_CPU_PROFILE_DIR: `${profiles}/replicas-${replicas}`, BENCH_CPU_PROFILE_NAME: 'replica-bot' }
    : env;
  const bots: BotRun[] = [];
  const store = await openPostgresStore({ connectionString: databaseUrl, clock: systemClock, logger: silentLogger, poolSize: 1, applicationName: 'bench' });
  try {
    const c = DEFAULT_SIMULATOR_CREDENTIALS;
    const added = await world.cli(
      ['integration', 'add', '--name', INTEGRATION, '--scope', SCOPE, '--instance-url', snow.value.url, '--username', c.username, '--client-id', c.clientId],
      { ...env, SERVICENOW_PASSWORD: c.password, SERVICENOW_CLIENT_SECRET: c.clientSecret },
    );
    if (added.code !== 0) throw new Error(`integration add failed (${added.code}): ${added.output.slice(-2000)}`);
    bots.push(...(await Promise.all(Array.from({ length: replicas }, () => world.startBot(botEnv)))));
    const proxy = await startProxy(bots);
    try {
      if ((await say(world, proxy.url, ADMIN, 'sync')).status !== 200) throw new Error('sync refused');
      const rec = await eventually(
        `${n} resources of ${recommendationKey} in the database`,
        async () => {
          const r = await store.recommendations.get(recommendationKey);
          return r && r.resources.length >= n ? r : undefined;
        },
        120_000,
      );
      const ids = rec.resources.slice(0, n).map((r) => r.resourceId);
      const integrationId = await integrationFromForm(world, proxy.url, ADMIN, { recommendationKey, resourceIds: [ids[0]!] });
      const submits: string[][] = [];
      for (let i = 0; i < ids.length; i += PER_SUBMIT) submits.push(ids.slice(i, i + PER_SUBMIT));
      await snow.call('resetStats');
      const served0 = [...proxy.served];
      const cpu = () => ({ bots: bots.reduce((sum, b) => sum + (cpuMsOfPid(b.pid) ?? NaN), 0), snow: cpuMsOfPid(snow.pid) ?? NaN });
      const cpu0 = cpu();
      const started = performance.now();
      const answers = await Promise.all(
        submits.map((resourceIds) => submitAssignment(world, proxy.url, ADMIN, { recommendationKey, resourceIds }, integrationId)),
      );
      const refused = answers.filter((a) => a.status !== 200).length;
      if (refused > 0) throw new Error(`${refused} of ${answers.length} submits refused`);
      await eventually(
        `${n} tickets`,
        // A count, not the rows: listing 1,000 rows every 50 ms would load the PostgreSQL the replicas share.
        async () => ((await store.assignments.count({ hasTicket: true, recommendationKey })) >= n ? true : undefined),
        30 * 60_000,
        50,
      );
      const seconds = (performance.now() - started) / 1000;
      const cpu1 = cpu();
      return {
        seconds,
        botCpuPerTicket: (cpu1.bots - cpu0.bots) / n,
        snowCpuPerTicket: (cpu1.snow - cpu0.snow) / n,
        maxInFlight: await snow.call<number>('maxInFlight'),
        served: proxy.served.map((s, i) => s - served0[i]!),
      };
    } finally {
      await proxy.close();
    }
  } finally {
    await Promise.all(bots.map((b) => b.kill('SIGTERM')));
    await store.close();
    await pg.dropDatabase(databaseUrl);
  }
}

/** Two recommendations of the built-in tenant, each given `n` more unhealthy resources: one per run, so the second run's correlation ids are new to ServiceNow. */
function seedRecommendations(world: World, n: number): string[] {
  const byKey = new Map<string, string>();
  for (const a of world.defender.control.listAssessments({ code: 'Unhealthy' })) if (!byKey.has(a.assessmentKey)) byKey.set(a.assessmentKey, a.resourceId);
  const picked = [...byKey.entries()].slice(0, 2);
  if (picked.length < 2) throw new Error('the Defender tenant has fewer than 2 unhealthy recommendations');
  return picked.map(([assessmentKey, resourceId], k) => {
    const sub = resourceId.split('/')[2]!;
    const items = Array.from({ length: n }, (_, i) => ({
      resourceId: `/subscriptions/${sub}/resourcegroups/bench-replicas-${k}/providers/microsoft.compute/virtualmachines/vm-${i}`,
      assessmentKey,
    }));
    if (world.defender.control.addUnhealthyAssessments(items).length !== n) throw new Error(`Defender did not add ${n} assessments`);
    return assessmentKey;
  });
}

export async function runReplicas(ctx: BenchContext): Promise<Row[]> {
  const n = scaled(TICKETS, ctx.size);
  const pg = await startBenchPostgres();
  let snow: ServerChild<{ url: string }> | undefined;
  let world: World | undefined;
  try {
    snow = await startChild<{ url: string }>('servicenow-simulator', { latencyMs: LATENCY_MS });
    world = await createWorld({ name: 'bench-replicas' });
    const [single, spread] = seedRecommendations(world, n);
    const one = await createOver(world, pg, snow, 1, single!, n);
    const cpuNote = (r: Run) => `bots' CPU ${r.botCpuPerTicket.toFixed(2)} ms per ticket, the ServiceNow simulator's ${r.snowCpuPerTicket.toFixed(2)} ms`;
    ctx.progress(`replicas: ${n} tickets on 1 replica in ${one.seconds.toFixed(2)} s (${cpuNote(one)}), ServiceNow in flight at most ${one.maxInFlight}`);
    const three = await createOver(world, pg, snow, REPLICAS, spread!, n);
    ctx.progress(
      `replicas: ${n} tickets on ${REPLICAS} replicas in ${three.seconds.toFixed(2)} s (submits served ${three.served.join('/')}; ${cpuNote(three)}), ServiceNow in flight at most ${three.maxInFlight}`,
    );
    return [
      row({
        figure: `replicas: ${short(n)} tickets across ${REPLICAS} replicas at ${LATENCY_MS} ms latency (vs on 1 replica)`,
        value: three.seconds,
        unit: 's',
        baseline: one.seconds,
        target: { ratioAtMost: 1 },
      }),
      row({
        figure: `replicas: most ServiceNow requests in flight across ${REPLICAS} replicas (per-instance limit)`,
        value: three.maxInFlight,
        unit: '',
        target: { atMost: INSTANCE_LIMIT },
      }),
    ];
  } finally {
    await world?.close();
    await snow?.close();
    await pg.stop();
  }
}

export const replicasBenchmark: Benchmark = {
  name: 'replicas',
  description: '1,000 tickets across 3 replicas on one PostgreSQL database vs on 1 replica; ServiceNow requests in flight in total',
  inDefaultRun: false,
  run: runReplicas,
};
