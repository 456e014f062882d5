/**
 * `npm run bench -- sync`: a full sync pass and a no-change pass over tenants of 10k, 50k and 200k
 * unhealthy assessments (25 per recommendation), served by the Defender simulator over HTTP in
 * pages of 1,000. Everything on the path is real: the AzureClient, the lowdb store in a temporary
 * folder, the ProactiveMessenger posting to a counting Bot Connector. Only the messenger's clock is
 * virtual, so the send queue drains at Teams' pace without the benchmark lasting an hour.
 *
 * Each size runs in a fresh process (its peak RSS is its own); the simulator runs in another.
 * Baseline: the same pages fetched with plain fetch + JSON.parse (no validation, no processing),
 * in a fresh process too, before and after the passes (their mean).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigurationBotFrameworkAuthentication, type ConfigurationBotFrameworkAuthenticationOptions } from 'botbuilder';
import { BotAdapter } from '../bot/adapter.js';
import { ProactiveMessenger } from '../bot/messenger.js';
import { AzureClient } from '../connectors/defender/azureClient.js';
import { simulatorCredential } from '../connectors/defender/credentials.js';
import { ROOT_MANAGEMENT_GROUP } from '../sandbox/defender/dataset.js';
import { RESOURCE_GRAPH_API_VERSION, UNHEALTHY_ASSESSMENTS_QUERY } from '../connectors/defender/resourceGraph.js';
import { DEFAULT_SIMULATOR_CLIENT } from '../sandbox/defender/index.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { SyncJob, type SyncAzureClient, type SyncReport } from '../app/syncRecommendations.js';
import { openLowdbStore } from '../storage/lowdbStore.js';
import { openPostgresStore } from '../storage/postgres/store.js';
import type { Store } from '../app/ports.js';
import type { Conversation } from '../core/model.js';
import { runInChild, startChild, type TaskOutcome } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { cpuMsSince, peakRssOfPid, RssSampler, scaled, short, toMB } from './lib/measure.js';
import { profiledPhase } from './lib/phase.js';
import { row, type Row } from './lib/rows.js';
import { startCountingConnector, type CountingConnector } from './connector.js';
import type { DefenderEndpoint, DefenderSimulatorArgs } from './simulatorChild.js';

export const SIZES = [10_000, 50_000, 200_000] as const;
export const ASSESSMENTS_PER_RECOMMENDATION = 25;
export const PAGE_SIZE = 1_000;
export const BASELINE_REPEATS = 3;
/** Targets of the issue (ratios hold at any --size; the MB limits are for the issue's sizes). */
export const MAX_FIRST_PASS_RATIO = 2;
export const MAX_PER_ROW_RATIO = 1.2;
export const MAX_RSS_MB: Partial<Record<number, number>> = { 50_000: 250, 200_000: 450 };

const SCOPES = [`/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`];
const ARM_SCOPE = 'https://management.azure.com/.default';
const CONVERSATION_ID = '19:bench-security@thread.tacv2';

export interface SyncTaskArgs {
  sim: DefenderEndpoint;
  pageSize: number;
  /** The passes store in this PostgreSQL database instead of a lowdb file (bench/syncStores.ts). */
  databaseUrl?: string;
}

// ---------------------------------------------------------------------------------------------
// The baseline: raw fetch of the same pages

export interface RawFetchFigures {
  ms: number;
  transferMs: number;
  parseMs: number;
  pages: number;
  rows: number;
  bytes: number;
  peakRss: number;
}

export async function rawFetch(sim: DefenderEndpoint, pageSize: number, sampler?: RssSampler, maxPages = Infinity): Promise<RawFetchFigures> {
  const credential = simulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret);
  const { token } = await credential.getToken(ARM_SCOPE);
  const out: RawFetchFigures = { ms: 0, transferMs: 0, parseMs: 0, pages: 0, rows: 0, bytes: 0, peakRss: 0 };
  let skipToken: string | undefined;
  do {
    const t0 = performance.now();
    const res = await fetch(`${sim.url}/providers/Microsoft.ResourceGraph/resources?api-version=${RESOURCE_GRAPH_API_VERSION}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        managementGroups: [ROOT_MANAGEMENT_GROUP],
        query: UNHEALTHY_ASSESSMENTS_QUERY,
        options: { $top: pageSize, resultFormat: 'objectArray', ...(skipToken ? { $skipToken: skipToken } : {}) },
      }),
    });
    const text = await res.text();
    const t1 = performance.now();
    if (!res.ok) throw new Error(`raw fetch: HTTP ${res.status}`);
    const body = JSON.parse(text) as { data: unknown[]; $skipToken?: string };
    sampler?.sample();
    out.parseMs += performance.now() - t1;
    out.transferMs += t1 - t0;
    out.bytes += Buffer.byteLength(text);
    out.pages++;
    out.rows += body.data.length;
    skipToken = body.$skipToken;
  } while (skipToken && out.pages < maxPages);
  out.ms = out.transferMs + out.parseMs;
  return out;
}

/** bench/worker.ts task: the raw fetch in a fresh process, with that process's peak RSS. */
export async function rawFetchTask(args: SyncTaskArgs): Promise<TaskOutcome> {
  const sampler = new RssSampler().start();
  const figures = await rawFetch(args.sim, args.pageSize, sampler);
  sampler.stop();
  return { result: { ...figures, peakRss: sampler.peak } };
}

// ---------------------------------------------------------------------------------------------
// The measured passes

export interface PassFigures {
  report: Pick<
    SyncReport,
    'recommendations' | 'resources' | 'new' | 'changed' | 'resolved' | 'unchanged' | 'cardsPosted' | 'cardsUpdated' | 'pages' | 'knownRows'
  >;
  wallMs: number;
  cpuMs: number;
  peakRss: number;
  startRss: number;
  /** Store writes of the pass and of its deliveries (each PostedCard is stored when sent). */
  writes: number;
  /** Card sends enqueued by the pass, and Bot Connector calls while it ran and drained. */
  enqueued: number;
  connectorCalls: number;
  drain: { virtualMs: number; wallMs: number; peakRss: number };
}

async function measurePass(
  phase: string,
  job: SyncJob,
  store: Store,
  sampler: RssSampler,
  virtual: { now: number },
  connector: CountingConnector,
): Promise<PassFigures> {
  sampler.reset();
  const startRss = sampler.peak;
  const writes0 = store.status().writes;
  const calls0 = connector.posts() + connector.updates();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await profiledPhase(phase, () => job.runOnce());
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  sampler.sample();
  const peakRss = sampler.peak;

  sampler.reset();
  const v0 = virtual.now;
  const d0 = performance.now();
  await job.delivered();
  return {
    report,
    wallMs,
    cpuMs,
    peakRss,
    startRss,
    writes: store.status().writes - writes0,
    enqueued: report.cardsPosted + report.cardsUpdated,
    connectorCalls: connector.posts() + connector.updates() - calls0,
    drain: { virtualMs: virtual.now - v0, wallMs: performance.now() - d0, peakRss: sampler.peak },
  };
}

export interface SyncPassResult {
  first: PassFigures;
  second: PassFigures;
  /** getrusage maxRSS when the first pass ended: the process-lifetime peak, a cross-check. */
  maxRssAfterFirst: number;
  clientOnly: { ms: number; cpuMs: number; rows: number };
}

/** bench/worker.ts task: first pass, its drain, then a pass with no changes, in a fresh process. */
export async function syncPassTask(args: SyncTaskArgs): Promise<TaskOutcome> {
  return { result: await syncPasses(args) };
}

export async function syncPasses(args: SyncTaskArgs): Promise<SyncPassResult> {
  const { sim, pageSize } = args;
  const connector = await startCountingConnector();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-sync-'));
  const sampler = new RssSampler();
  let store: Store | undefined;
  try {
    const credential = simulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret);
    const client = new AzureClient({ credential, armBaseUrl: sim.url, graphBaseUrl: sim.url, pageSize });
    store = args.databaseUrl
      ? await openPostgresStore({ connectionString: args.databaseUrl, clock: systemClock, logger: silentLogger, poolSize: 10, applicationName: 'bench' })
      : await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger });
    const at = systemClock.now().toISOString();
    const conversation: Conversation = {
      id: CONVERSATION_ID,
      channelId: 'msteams',
      serviceUrl: connector.url,
      kind: 'channel',
      name: 'Security',
      reference: {
        channelId: 'msteams',
        serviceUrl: connector.url,
        conversation: { id: CONVERSATION_ID, conversationType: 'channel', isGroup: true },
        bot: { id: '28:bench-bot', name: 'Defender bot' },
      },
      subscribed: true,
      filters: { severities: [], scopes: [] },
      createdAt: at,
      updatedAt: at,
    };
    await store.conversations.upsert(conversation);

    const virtual = { now: 0 };
    // The bot's own adapter (compose/teams.ts), so sends reuse its connector clients as in production.
    const adapter = new BotAdapter(
      new ConfigurationBotFrameworkAuthentication({
        MicrosoftAppId: '',
        MicrosoftAppPassword: '',
        MicrosoftAppType: 'MultiTenant',
        MicrosoftAppTenantId: '',
      } as ConfigurationBotFrameworkAuthenticationOptions),
    );
    const messenger = new ProactiveMessenger({
      adapter,
      appId: '',
      store,
      logger: silentLogger,
      now: () => virtual.now,
      // Pacing waits move the virtual clock; the sends themselves are real HTTP calls.
      sleep: async (ms) => {
        virtual.now += ms;
      },
    });
    // Page boundaries are where memory peaks: sample there too, not only on the timer.
    const azure: SyncAzureClient = {
      queryUnhealthyAssessments: (scopes, o) =>
        client.queryUnhealthyAssessments(scopes, {
          ...o,
          onPage: (rows, info) => {
            sampler.sample();
            const r = o.onPage(rows, info);
            sampler.sample();
            return r;
          },
        }),
      getSubscriptionAncestry: (ids) => client.getSubscriptionAncestry(ids),
    };
    const job = new SyncJob({ azure, store, messenger, clock: systemClock, logger: silentLogger, scopes: SCOPES });

    sampler.start();
    const first = await measurePass('sync-first-pass', job, store, sampler, virtual, connector);
    const maxRssAfterFirst = process.resourceUsage().maxRSS * 1024;
    const second = await measurePass('sync-no-change-pass', job, store, sampler, virtual, connector);
    sampler.stop();

    // After the passes: its allocations must not inflate the heap they start from.
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const only = await client.queryUnhealthyAssessments(SCOPES, { onPage: () => undefined });
    return { first, second, maxRssAfterFirst, clientOnly: { ms: performance.now() - t0, cpuMs: cpuMsSince(c0), rows: only.rows } };
  } finally {
    sampler.stop();
    await store?.close();
    await connector.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

interface SizeFigures {
  assessments: number;
  recommendations: number;
  raw: RawFetchFigures;
  rawRuns: RawFetchFigures[];
  passes: SyncPassResult;
  simPeakRss?: number;
}

async function measureSize(assessments: number, ctx: BenchContext): Promise<SizeFigures> {
  const recommendations = Math.max(10, Math.round(assessments / ASSESSMENTS_PER_RECOMMENDATION));
  ctx.progress(
    `sync ${short(assessments)}: generating ${assessments.toLocaleString('en-US')} assessments across ${recommendations.toLocaleString('en-US')} recommendations…`,
  );
  const sim = await startChild<DefenderEndpoint>('defender-simulator', { recommendations, assessments, pageSize: PAGE_SIZE } satisfies DefenderSimulatorArgs);
  try {
    const args: SyncTaskArgs = { sim: sim.value, pageSize: PAGE_SIZE };
    // The first raw fetch also warms the simulator's query cache, so the first pass is not charged for it.
    const rawBefore = await runInChild<RawFetchFigures>('raw-fetch', args);
    ctx.progress(`sync ${short(assessments)}: raw fetch ${(rawBefore.ms / 1000).toFixed(2)} s; passes…`);
    const passes = await runInChild<SyncPassResult>('sync-pass', args);
    const rawAfter = await runInChild<RawFetchFigures>('raw-fetch', args);
    const { first, second } = passes;
    ctx.progress(
      `sync ${short(assessments)}: first ${(first.wallMs / 1000).toFixed(2)} s (CPU ${(first.cpuMs / 1000).toFixed(2)} s, RSS ${toMB(first.startRss).toFixed(0)}→${toMB(first.peakRss).toFixed(0)} MB, ${first.enqueued} cards, drain ${(first.drain.wallMs / 1000).toFixed(2)} s / virtual ${(first.drain.virtualMs / 60_000).toFixed(1)} min, drain RSS ${toMB(first.drain.peakRss).toFixed(0)} MB); ` +
        `no-change ${(second.wallMs / 1000).toFixed(2)} s (CPU ${(second.cpuMs / 1000).toFixed(2)} s, ${second.report.knownRows ?? 0} rows known, RSS ${toMB(second.startRss).toFixed(0)}→${toMB(second.peakRss).toFixed(0)} MB); ` +
        `client alone ${(passes.clientOnly.ms / 1000).toFixed(2)} s; raw ${(rawBefore.ms / 1000).toFixed(2)} / ${(rawAfter.ms / 1000).toFixed(2)} s (${rawBefore.pages} pages, ${toMB(rawBefore.bytes).toFixed(0)} MB)`,
    );
    const mean = (f: (r: RawFetchFigures) => number) => (f(rawBefore) + f(rawAfter)) / 2;
    const raw: RawFetchFigures = { ...rawBefore, ms: mean((r) => r.ms), peakRss: Math.max(rawBefore.peakRss, rawAfter.peakRss) };
    return { assessments, recommendations, raw, rawRuns: [rawBefore, rawAfter], passes, simPeakRss: peakRssOfPid(sim.pid) };
  } finally {
    await sim.close();
  }
}

export async function runSync(ctx: BenchContext): Promise<Row[]> {
  const sizes = SIZES.map((n) => ({ issue: n, actual: scaled(n, ctx.size, 100) }));
  const measured: Array<SizeFigures & { issue: number }> = [];
  for (const [i, s] of sizes.entries()) {
    // The smallest size is the per-row baseline of the others: the median of three runs.
    const runs: SizeFigures[] = [];
    for (let r = 0; r < (i === 0 ? BASELINE_REPEATS : 1); r++) runs.push(await measureSize(s.actual, ctx));
    const picked = [...runs].sort((a, b) => a.passes.first.wallMs - b.passes.first.wallMs)[Math.floor(runs.length / 2)]!;
    measured.push({ ...picked, issue: s.issue });
  }

  const perRow = (m: SizeFigures) => (m.passes.first.wallMs * 1000) / m.assessments; // µs per row
  const smallest = measured[0]!;
  const rows: Row[] = [];
  for (const m of measured) {
    const label = `sync ${short(m.assessments)}`;
    const { first, second } = m.passes;
    const rssLimit = ctx.size === 1 ? MAX_RSS_MB[m.issue] : undefined;
    rows.push(
      row({
        figure: `${label}: first pass (vs raw fetch of the pages)`,
        value: first.wallMs / 1000,
        unit: 's',
        baseline: m.raw.ms / 1000,
        target: m.issue === 50_000 ? { ratioAtMost: MAX_FIRST_PASS_RATIO } : undefined,
      }),
      row({
        figure: `${label}: first pass time per row (vs ${m === smallest ? 'raw fetch per row' : `${short(smallest.assessments)} per row`})`,
        value: perRow(m),
        unit: 'µs',
        baseline: m === smallest ? (m.raw.ms * 1000) / m.assessments : perRow(smallest),
        target: m === smallest ? undefined : { ratioAtMost: MAX_PER_ROW_RATIO },
      }),
      row({
        figure: `${label}: first pass peak RSS (vs raw fetch process)`,
        value: toMB(first.peakRss),
        unit: 'MB',
        baseline: toMB(m.raw.peakRss),
        target: rssLimit ? { atMost: rssLimit } : undefined,
      }),
      row({ figure: `${label}: no-change pass (vs raw fetch)`, value: second.wallMs / 1000, unit: 's', baseline: m.raw.ms / 1000 }),
      row({
        figure: `${label}: no-change pass cards sent (vs first pass)`,
        value: Math.max(second.enqueued, second.connectorCalls),
        unit: '',
        baseline: first.connectorCalls,
        target: { equals: 0 },
        noRatio: true,
      }),
      row({
        figure: `${label}: no-change pass store writes (vs first pass)`,
        value: second.writes,
        unit: '',
        baseline: first.writes,
        target: { equals: 0 },
        noRatio: true,
      }),
      row({
        figure: `${label}: no-change pass peak RSS (vs first pass)`,
        value: toMB(second.peakRss),
        unit: 'MB',
        baseline: toMB(first.peakRss),
        target: { atMostBaseline: true },
      }),
    );
  }
  return rows;
}

export const syncBenchmark: Benchmark = {
  name: 'sync',
  description: 'first and no-change sync pass at 10k/50k/200k assessments vs a raw fetch of the same pages',
  inDefaultRun: true,
  run: runSync,
};
