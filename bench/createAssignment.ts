/**
 * `npm run bench -- create-assignment`: creating 1 / 10 / 100 / 1,000 tickets (× --size) the way a
 * submit does (persistPending, then the work-queue step: bounded concurrency, owner and caller
 * resolved once, one store write per chunk, governance written back to the Defender simulator) at
 * 20 ms simulated ServiceNow latency, next to N sequential createTicket calls of the same client
 * in the same run; the most ServiceNow requests in flight; and the submit invoke's p99 at 1 s
 * latency over the real server (restify + CloudAdapter, fake Bot Connector).
 */
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchContext } from './lib/context.js';
import { scaled, short } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';
import { execute } from '../test/harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../test/harness/sandboxHarness.js';
import type { Recommendation } from '../core/model.js';
import { SANDBOX_SCOPE } from '../sandbox/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../sandbox/servicenow/index.js';
import { startChild, type ServerChild } from './lib/child.js';
import { profiledPhase } from './lib/phase.js';

/** The bot (in this process) and the ServiceNow simulator in a child process, as in production. */
interface Setup {
  h: SandboxHarness;
  snow: ServerChild<{ url: string }>;
  integrationId: string;
}

export const TICKET_COUNTS = [1, 10, 100, 1_000] as const;
export const LATENCY_MS = 20;
/** The ServiceNow client's per-instance limit (connectors/servicenow/client.ts default). */
export const INSTANCE_LIMIT = 4;
const SUBMITS = 5;

/** A recommendation with n unhealthy resources in the sandbox's subscription. */
async function syntheticRecommendation(h: SandboxHarness, n: number, tag: string): Promise<Recommendation> {
  const base = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length > 0)!;
  const sub = base.resources[0]!.subscriptionId;
  const key = `${base.key}-bench-${tag}`;
  const resources = Array.from({ length: n }, (_, i) => {
    const resourceId = `/subscriptions/${sub}/resourcegroups/bench-${tag}/providers/microsoft.compute/virtualmachines/vm-${i}`;
    return { ...base.resources[0]!, resourceId, name: `vm-${i}`, assessmentId: `${resourceId}/providers/microsoft.security/assessments/${key}` };
  });
  const rec = { ...base, key, resources };
  await h.bot.store.recommendations.upsertMany([rec]);
  return rec;
}

async function createVia({ h, integrationId }: Setup, rec: Recommendation): Promise<number> {
  const app = h.bot.app.assignments;
  const started = performance.now();
  const persisted = await app.persistPending(
    { recommendationKey: rec.key, resourceIds: '*', ...assignmentFormValues(integrationId) },
    { id: 'bench', name: 'bench' },
    'bench',
  );
  if (persisted.kind !== 'persisted') throw new Error(`form refused: ${JSON.stringify(persisted.errors)}`);
  const creation = await app.startCreation(persisted, { conversationId: 'bench', channelId: 'msteams' });
  const rows = await creation.settled(30 * 60_000);
  if (!rows || rows.some((a) => !a.ticket)) throw new Error('not every ticket was created');
  return (performance.now() - started) / 1000;
}

async function sequential({ h, integrationId }: Setup, n: number, tag: string): Promise<number> {
  const integration = (await h.bot.app.integrations.find(integrationId))!;
  const client = h.bot.app.integrations.clientFor(integration);
  const started = performance.now();
  for (let i = 0; i < n; i++)
    await client.createTicket('incident', { short_description: `sequential ${i}` }, { correlationId: `seq-${tag}-${i}`, correlationDisplay: `seq ${i}` });
  return (performance.now() - started) / 1000;
}

async function submitP99({ h, snow, integrationId }: Setup): Promise<number> {
  const rec = await syntheticRecommendation(h, SUBMITS * 4, 'p99');
  await snow.call('setLatency', { ms: 1_000 });
  const durations: number[] = [];
  for (let k = 0; k < SUBMITS; k++) {
    const ids = rec.resources.slice(k * 4, k * 4 + 4).map((r) => r.resourceId);
    const started = performance.now();
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: ids.join(','), ...assignmentFormValues(integrationId) },
        { serviceUrl: h.bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN, replyToId: `bench-${k}` },
      ),
    );
    durations.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`submit answered ${res.status}`);
    await h.bot.app.assignments.idle();
  }
  durations.sort((a, b) => a - b);
  return durations[Math.ceil(durations.length * 0.99) - 1]!;
}

export async function runCreateAssignment(ctx: BenchContext): Promise<Row[]> {
  const h = await startSandboxBot({ subscribe: false });
  const snow = await startChild<{ url: string }>('servicenow-simulator', { latencyMs: 0 });
  try {
    await h.bot.app.sync!.runOnce();
    const integration = await h.bot.app.integrations.add(
      { name: 'Bench ServiceNow', scope: SANDBOX_SCOPE, instanceUrl: snow.value.url, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
      'bench',
    );
    const setup: Setup = { h, snow, integrationId: integration.id };
    await snow.call('setLatency', { ms: LATENCY_MS });
    const rows: Row[] = [];
    const perTicket = new Map<number, number>();
    let maxInFlight = 0;
    for (const count of TICKET_COUNTS) {
      const n = scaled(count, ctx.size);
      const rec = await syntheticRecommendation(h, n, `n${n}`);
      await snow.call('resetStats');
      const value = await profiledPhase(`create-assignment-${count}`, () => createVia(setup, rec));
      maxInFlight = Math.max(maxInFlight, await snow.call<number>('maxInFlight'));
      const baseline = await sequential(setup, n, `n${n}`);
      perTicket.set(count, value / n);
      ctx.progress(`create assignment: ${n} tickets in ${value.toFixed(2)} s, ${n} sequential creates in ${baseline.toFixed(2)} s`);
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
    await snow.close();
    await h.stop();
  }
}

export const createAssignmentBenchmark: Benchmark = {
  name: 'create-assignment',
  description: 'creating 1 / 10 / 100 / 1,000 tickets from the work queue vs sequential creates, in-flight ServiceNow requests, submit p99 at 1 s latency',
  inDefaultRun: true,
  run: runCreateAssignment,
};
