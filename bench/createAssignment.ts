/**
 * `npm run bench -- create-assignment`: creating 1 / 10 / 100 / 1,000 tickets (× --size) the way a
 * submit does (persistPending, then the work-queue step: bounded concurrency, owner and caller
 * resolved once, one store write per chunk, governance written back to the Defender simulator and
 * checked there) at 20 ms simulated ServiceNow latency, both simulators in child processes, next to N sequential createTicket calls of the same client
 * in the same run; the most ServiceNow requests in flight; and the submit invoke's p99 at 1 s
 * latency over the real server (restify + CloudAdapter, fake Bot Connector).
 */
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchContext } from './lib/context.js';
import { scaled, short } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';
import { execute } from '../test/harness/activities.js';
import { startBot, type BotHarness } from '../test/harness/botHarness.js';
import { assignmentFormValues, SANDBOX_ADMIN } from '../test/harness/sandboxHarness.js';
import type { Recommendation } from '../core/model.js';
import { ManualClock } from '../core/clock.js';
import { localAzureClient } from '../connectors/defender/azureClient.js';
import { SANDBOX_SCOPE, SANDBOX_USER } from '../sandbox/index.js';
import { DEFAULT_SIMULATOR_CLIENT } from '../sandbox/defender/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../sandbox/servicenow/index.js';
import { startChild, type ServerChild } from './lib/child.js';
import { profiledPhase } from './lib/phase.js';
import type { BenchAssessment, DefenderEndpoint, SandboxDefenderArgs } from './simulatorChild.js';

/**
 * The bot in this process; the ServiceNow and Defender simulators each in a child process, as
 * remote services are in production (Defender's token, governance GET and PUT per ticket would
 * otherwise be billed to the bot's CPU and event loop).
 */
interface Setup {
  bot: BotHarness;
  snow: ServerChild<{ url: string }>;
  defender: ServerChild<DefenderEndpoint>;
  integrationId: string;
}

/** The bot's clock (test/harness/botHarness.ts), which the Defender child's clock starts at too. */
const CLOCK_START = '2026-11-26T09:00:00.000Z';

export const TICKET_COUNTS = [1, 10, 100, 1_000] as const;
export const LATENCY_MS = 20;
/** The ServiceNow client's per-instance limit (connectors/servicenow/client.ts default). */
export const INSTANCE_LIMIT = 4;
const SUBMITS = 5;

/** A recommendation with n unhealthy resources in the sandbox's subscription, known to Defender too (so its governance PUTs succeed). */
async function syntheticRecommendation({ bot, defender }: Setup, n: number, tag: string): Promise<Recommendation> {
  const base = (await bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length > 0)!;
  const sub = base.resources[0]!.subscriptionId;
  const key = `${base.key}-bench-${tag}`;
  const resources = Array.from({ length: n }, (_, i) => {
    const resourceId = `/subscriptions/${sub}/resourcegroups/bench-${tag}/providers/microsoft.compute/virtualmachines/vm-${i}`;
    return { ...base.resources[0]!, resourceId, name: `vm-${i}`, assessmentId: `${resourceId}/providers/microsoft.security/assessments/${key}` };
  });
  const rec = { ...base, key, resources };
  await bot.store.recommendations.upsertMany([rec]);
  const added = await defender.call<number>('addAssessments', {
    items: resources.map((r) => ({ resourceId: r.resourceId, assessmentKey: key })) satisfies BenchAssessment[],
  });
  if (added !== n) throw new Error(`Defender added ${added} of ${n} assessments`);
  return rec;
}

async function createVia({ bot, defender, integrationId }: Setup, rec: Recommendation): Promise<number> {
  const app = bot.app.assignments;
  const started = performance.now();
  const persisted = await app.persistPending(
    { recommendationKey: rec.key, resourceIds: '*', ...assignmentFormValues(integrationId) },
    { id: 'bench', name: 'bench' },
    'bench',
  );
  if (persisted.kind !== 'persisted') throw new Error(`form refused: ${JSON.stringify(persisted.errors)}`);
  const creation = await app.startCreation(persisted, { conversationId: 'bench', channelId: 'msteams' });
  const rows = await creation.settled(30 * 60_000);
  const seconds = (performance.now() - started) / 1000;
  if (!rows || rows.length !== rec.resources.length || rows.some((a) => !a.ticket)) throw new Error('not every ticket was created');
  const unsynced = rows.filter((a) => a.governance?.status !== 'synced').length;
  if (unsynced > 0) throw new Error(`${unsynced} of ${rows.length} governance write-backs did not succeed`);
  const written = await defender.call<number>('governanceCount', { assessmentKey: rec.key });
  if (written !== rows.length) throw new Error(`Defender holds ${written} governance assignments for ${rows.length} tickets`);
  return seconds;
}

async function sequential({ bot, integrationId }: Setup, n: number, tag: string): Promise<number> {
  const integration = (await bot.app.integrations.find(integrationId))!;
  const client = bot.app.integrations.clientFor(integration);
  const started = performance.now();
  for (let i = 0; i < n; i++)
    await client.createTicket('incident', { short_description: `sequential ${i}` }, { correlationId: `seq-${tag}-${i}`, correlationDisplay: `seq ${i}` });
  return (performance.now() - started) / 1000;
}

async function submitP99(setup: Setup): Promise<number> {
  const { bot, snow, integrationId } = setup;
  const rec = await syntheticRecommendation(setup, SUBMITS * 4, 'p99');
  await snow.call('setLatency', { ms: 1_000 });
  const durations: number[] = [];
  for (let k = 0; k < SUBMITS; k++) {
    const ids = rec.resources.slice(k * 4, k * 4 + 4).map((r) => r.resourceId);
    const started = performance.now();
    const res = await bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: ids.join(','), ...assignmentFormValues(integrationId) },
        { serviceUrl: bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN, replyToId: `bench-${k}` },
      ),
    );
    durations.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`submit answered ${res.status}`);
    await bot.app.assignments.idle();
  }
  durations.sort((a, b) => a - b);
  return durations[Math.ceil(durations.length * 0.99) - 1]!;
}

/** Pacing on virtual time (as test/harness/sandboxHarness.ts): Teams' rate windows cost no wall time. */
function virtualTime() {
  let now = Date.parse(CLOCK_START);
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

/** The bot as test/harness/sandboxHarness.ts starts it, but against the Defender simulator in its child. */
async function startBenchBot(defender: DefenderEndpoint): Promise<BotHarness> {
  const clock = new ManualClock(CLOCK_START);
  const azure = localAzureClient({ url: defender.url, tenantId: defender.tenantId, ...DEFAULT_SIMULATOR_CLIENT }, { clock, sleep: async () => undefined });
  return startBot({
    clock,
    env: { SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true' },
    app: { azure, defenderScopes: [SANDBOX_SCOPE], sandboxUser: SANDBOX_USER, messengerTiming: virtualTime(), retrySleep: async () => undefined },
  });
}

export async function runCreateAssignment(ctx: BenchContext): Promise<Row[]> {
  const defender = await startChild<DefenderEndpoint>('sandbox-defender-simulator', { clockStart: CLOCK_START } satisfies SandboxDefenderArgs);
  let snow: ServerChild<{ url: string }> | undefined;
  let bot: BotHarness | undefined;
  try {
    snow = await startChild<{ url: string }>('servicenow-simulator', { latencyMs: 0 });
    bot = await startBenchBot(defender.value);
    await bot.app.sync!.runOnce();
    const integration = await bot.app.integrations.add(
      { name: 'Bench ServiceNow', scope: SANDBOX_SCOPE, instanceUrl: snow.value.url, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
      'bench',
    );
    const setup: Setup = { bot, snow, defender, integrationId: integration.id };
    await snow.call('setLatency', { ms: LATENCY_MS });
    const rows: Row[] = [];
    const perTicket = new Map<number, number>();
    let maxInFlight = 0;
    for (const count of TICKET_COUNTS) {
      const n = scaled(count, ctx.size);
      const rec = await syntheticRecommendation(setup, n, `n${n}`);
      await snow.call('resetStats');
      await defender.call('resetRequestLog');
      const value = await profiledPhase(`create-assignment-${count}`, () => createVia(setup, rec));
      maxInFlight = Math.max(maxInFlight, await snow.call<number>('maxInFlight'));
      const defenderRequests = await defender.call<number>('requestCount');
      const baseline = await sequential(setup, n, `n${n}`);
      perTicket.set(count, value / n);
      ctx.progress(
        `create assignment: ${n} tickets in ${value.toFixed(2)} s (${defenderRequests} Defender requests), ${n} sequential creates in ${baseline.toFixed(2)} s`,
      );
      rows.push(
        row({
          figure: `create assignment: ${short(n)} ticket${n === 1 ? '' : 's'} at ${LATENCY_MS} ms latency (vs ${short(n)} sequential creates)`,
          value,
          unit: 's',
          baseline,
          ...(count === 100 ? { target: { ratioAtMost: 0.33 } } : {}),
        }),
      );
    }
    rows.push(
      row({
        figure: `create assignment: time per ticket at ${short(scaled(1_000, ctx.size))} (vs at ${short(scaled(100, ctx.size))})`,
        value: perTicket.get(1_000)! * 1000,
        unit: 'ms',
        baseline: perTicket.get(100)! * 1000,
        target: { ratioAtMost: 1.3 },
      }),
      row({ figure: 'create assignment: most ServiceNow requests in flight', value: maxInFlight, unit: '', target: { atMost: INSTANCE_LIMIT } }),
      row({
        figure: `create assignment: submit invoke p99 at 1 s latency (${SUBMITS} submits of 4 tickets)`,
        value: await submitP99(setup),
        unit: 'ms',
        target: { atMost: 2_000 },
      }),
    );
    return rows;
  } finally {
    await bot?.stop();
    await snow?.close();
    await defender.close();
  }
}

export const createAssignmentBenchmark: Benchmark = {
  name: 'create-assignment',
  description: 'creating 1 / 10 / 100 / 1,000 tickets from the work queue vs sequential creates, in-flight ServiceNow requests, submit p99 at 1 s latency',
  inDefaultRun: true,
  run: runCreateAssignment,
};
