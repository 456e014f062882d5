/**
 * `npm run bench -- sync`: one full sync pass over a large tenant (50,000 unhealthy assessments
 * across 2,000 recommendations, served by the Defender simulator over HTTP in pages of 1,000),
 * then a pass with no changes. Everything on the path is real: the AzureClient, the lowdb store
 * in a temporary folder, the ProactiveMessenger with a CloudAdapter posting to a local Bot
 * Connector. Only the messenger's clock is virtual, so the send queue drains at Teams' pace
 * (1,800 per hour per conversation) without the benchmark lasting an hour.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type ConfigurationBotFrameworkAuthenticationOptions } from 'botbuilder';
import { ProactiveMessenger } from '../bot/messenger.js';
import { AzureClient } from '../connectors/defender/azureClient.js';
import { simulatorCredential } from '../connectors/defender/credentials.js';
import { generateDataset, ROOT_MANAGEMENT_GROUP } from '../sandbox/defender/dataset.js';
import { RESOURCE_GRAPH_API_VERSION, UNHEALTHY_ASSESSMENTS_QUERY } from '../connectors/defender/resourceGraph.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator } from '../sandbox/defender/index.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { SyncJob, type SyncAzureClient, type SyncReport } from '../jobs/sync.js';
import { openLowdbStore } from '../storage/lowdbStore.js';
import type { Store } from '../storage/repositories.js';
import type { Conversation } from '../storage/schema.js';
import { startCountingConnector, type CountingConnector } from './connector.js';

export interface BenchSyncOptions {
  /** Recommendations in the generated tenant (default 2,000). */
  recommendations?: number;
  /** Unhealthy assessments, i.e. Resource Graph rows (default 50,000). */
  assessments?: number;
  /** Rows per Resource Graph page (default 1,000, ARG's maximum). */
  pageSize?: number;
  /**
   * Where the simulator runs. 'child' (default when the compiled child entry exists) keeps its
   * memory and CPU out of the figures; 'inline' runs it in this process (tests under ts).
   */
  simulator?: 'child' | 'inline';
  /** Progress lines while the benchmark runs (the table is the return value). */
  progress?: (line: string) => void;
}

export const FIRST_PASS_MAX_MS = 5_000;
export const FIRST_PASS_MAX_RSS = 300 * 1e6;
export const NO_CHANGE_MAX_WRITES = 1;

const SCOPES = [`/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`];
const ARM_SCOPE = 'https://management.azure.com/.default';
const CONVERSATION_ID = '19:bench-security@thread.tacv2';

// ---------------------------------------------------------------------------------------------
// Simulator

interface SimulatorEndpoint {
  url: string;
  tenantId: string;
  where: string;
  close(): Promise<void>;
}

async function startSimulator(args: { recommendations: number; assessments: number; pageSize: number }, mode: 'child' | 'inline'): Promise<SimulatorEndpoint> {
  if (mode === 'inline') {
    const dataset = generateDataset({ recommendations: args.recommendations, assessments: args.assessments, unhealthyRatio: 1 });
    const sim = await startDefenderSimulator({ dataset, quota: 'off', pageSize: args.pageSize, httpControl: false });
    return { url: sim.url, tenantId: sim.tenantId, where: 'in this process (its memory and CPU are included)', close: () => sim.close() };
  }
  const child = fork(path.join(__dirname, 'simulatorChild.js'), [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const ready = await new Promise<{ url: string; tenantId: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; tenantId: string }));
    child.once('exit', (code) => reject(new Error(`the simulator process exited (code ${code}) before it was ready`)));
    child.once('error', reject);
  });
  return { ...ready, where: `in a child process (pid ${child.pid}), outside the measured figures`, close: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    if (child.connected) child.send('close');
    else child.kill();
  });
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** Peak RSS: sampled on a timer while the event loop is free and at every page boundary. */
class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | undefined;

  start(intervalMs = 10): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  reset(): void {
    this.peak = 0;
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
};

interface PassFigures {
  report: SyncReport;
  wallMs: number;
  cpuMs: number;
  /** Time until the last page was folded in (fetch + validate + group). */
  fetchMs: number;
  peakRss: number;
  startRss: number;
  /** getrusage maxRSS when the pass ended: the process-lifetime peak, a cross-check for the first pass. */
  maxRss: number;
  writes: number;
  enqueued: number;
  drain: { virtualMs: number; wallMs: number; writes: number; posted: number; updated: number; failed: number; connectorCalls: number; peakRss: number };
}

async function measurePass(
  job: SyncJob,
  probe: { fetchDoneAt: number },
  store: Store,
  sampler: RssSampler,
  virtual: { now: number },
  connector: CountingConnector,
): Promise<PassFigures> {
  sampler.reset();
  const startRss = sampler.peak;
  const writes0 = store.status().writes;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await job.runOnce();
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  sampler.sample();
  const peakRss = sampler.peak;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const writes = store.status().writes - writes0;

  sampler.reset();
  const calls0 = connector.posts() + connector.updates();
  const v0 = virtual.now;
  const d0 = performance.now();
  const writesBeforeDrain = store.status().writes;
  const delivered = await job.delivered();
  return {
    report,
    wallMs,
    cpuMs,
    fetchMs: probe.fetchDoneAt - t0,
    peakRss,
    startRss,
    maxRss,
    writes,
    enqueued: report.cardsPosted + report.cardsUpdated,
    drain: {
      virtualMs: virtual.now - v0,
      wallMs: performance.now() - d0,
      writes: store.status().writes - writesBeforeDrain,
      ...delivered,
      connectorCalls: connector.posts() + connector.updates() - calls0,
      peakRss: sampler.peak,
    },
  };
}

interface RawBaseline {
  pages: number;
  rows: number;
  bytes: number;
  transferMs: number;
  parseMs: number;
}

/** The floor: the same pages fetched with plain fetch and JSON.parse, no validation or processing. */
async function rawFetchBaseline(sim: SimulatorEndpoint, pageSize: number, maxPages = Infinity): Promise<RawBaseline> {
  const credential = simulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret);
  const { token } = await credential.getToken(ARM_SCOPE);
  const out: RawBaseline = { pages: 0, rows: 0, bytes: 0, transferMs: 0, parseMs: 0 };
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
    out.parseMs += performance.now() - t1;
    out.transferMs += t1 - t0;
    out.bytes += Buffer.byteLength(text);
    out.pages++;
    out.rows += body.data.length;
    skipToken = body.$skipToken;
  } while (skipToken && out.pages < maxPages);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const secs = (ms: number) => (ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : ms >= 1_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const int = (n: number) => n.toLocaleString('en-US');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------

export async function benchSync(opts: BenchSyncOptions = {}): Promise<string> {
  const recommendations = opts.recommendations ?? 2_000;
  const assessments = opts.assessments ?? 50_000;
  const pageSize = opts.pageSize ?? 1_000;
  const progress = opts.progress ?? (() => undefined);
  const mode = opts.simulator ?? (existsSync(path.join(__dirname, 'simulatorChild.js')) ? 'child' : 'inline');

  progress(`generating ${int(assessments)} unhealthy assessments across ${int(recommendations)} recommendations…`);
  const sim = await startSimulator({ recommendations, assessments, pageSize }, mode);
  const connector = await startCountingConnector();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-sync-'));
  const sampler = new RssSampler();
  let store: Store | undefined;
  try {
    const credential = simulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret);
    const client = new AzureClient({ credential, armBaseUrl: sim.url, graphBaseUrl: sim.url, pageSize });

    // One page warms the simulator's query cache, so the first pass is not charged for it.
    await rawFetchBaseline(sim, pageSize, 1);

    store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger });
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
    const adapter = new CloudAdapter(
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

    const probe = { fetchDoneAt: 0 };
    const azure: SyncAzureClient = {
      queryUnhealthyAssessments: async (scopes, o) => {
        const summary = await client.queryUnhealthyAssessments(scopes, {
          onPage: (rows, info) => {
            sampler.sample();
            const r = o.onPage(rows, info);
            sampler.sample();
            return r;
          },
        });
        probe.fetchDoneAt = performance.now();
        return summary;
      },
      getSubscriptionAncestry: (ids) => client.getSubscriptionAncestry(ids),
    };
    const job = new SyncJob({ azure, store, messenger, clock: systemClock, logger: silentLogger, scopes: SCOPES });

    sampler.start();
    progress('first pass…');
    const first = await measurePass(job, probe, store, sampler, virtual, connector);
    progress(
      `first pass: ${secs(first.wallMs)}, ${int(first.enqueued)} cards enqueued; queue drained in ${secs(first.drain.wallMs)} (virtual ${secs(first.drain.virtualMs)})`,
    );
    progress('second pass (no changes)…');
    const second = await measurePass(job, probe, store, sampler, virtual, connector);
    sampler.stop();

    // Baselines last: their allocations must not inflate the heap the passes start from.
    progress('baselines: raw fetch, then the AzureClient alone…');
    const raw = await rawFetchBaseline(sim, pageSize);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const clientOnly = await client.queryUnhealthyAssessments(SCOPES, { onPage: () => undefined });
    const clientMs = performance.now() - t0;
    const clientCpuMs = cpuMsSince(c0);

    const secondWrites = second.writes + second.drain.writes;
    const targets = {
      firstTime: first.wallMs <= FIRST_PASS_MAX_MS,
      firstRss: first.peakRss <= FIRST_PASS_MAX_RSS,
      secondSends: second.enqueued === 0 && second.drain.connectorCalls === 0,
      secondWrites: secondWrites <= NO_CHANGE_MAX_WRITES,
    };

    const passRows: string[][] = [
      [
        'Sync pass wall time (fetch, diff, persist, enqueue)',
        secs(first.wallMs),
        secs(second.wallMs),
        `first ≤ ${secs(FIRST_PASS_MAX_MS)}`,
        verdict(targets.firstTime),
      ],
      ['  of which fetch + validate + group (last page in)', secs(first.fetchMs), secs(second.fetchMs), '', ''],
      ['Sync pass CPU time (user + system)', secs(first.cpuMs), secs(second.cpuMs), '', ''],
      ['Peak RSS during the pass', mb(first.peakRss), mb(second.peakRss), `first ≤ ${mb(FIRST_PASS_MAX_RSS)}`, verdict(targets.firstRss)],
      ['  RSS when the pass started', mb(first.startRss), mb(second.startRss), '', ''],
      [
        'Store writes (pass + its deliveries)',
        `${first.writes} + ${int(first.drain.writes)}`,
        `${second.writes} + ${second.drain.writes}`,
        `no-change ≤ ${NO_CHANGE_MAX_WRITES}`,
        verdict(targets.secondWrites),
      ],
      [
        'Cards enqueued (posted + updated)',
        `${int(first.report.cardsPosted)} + ${int(first.report.cardsUpdated)}`,
        `${second.report.cardsPosted} + ${second.report.cardsUpdated}`,
        'no-change = 0',
        verdict(targets.secondSends),
      ],
      [
        'Recommendations / resources seen',
        `${int(first.report.recommendations)} / ${int(first.report.resources)}`,
        `${int(second.report.recommendations)} / ${int(second.report.resources)}`,
        '',
        '',
      ],
      [
        'New / changed / resolved / unchanged',
        `${int(first.report.new)} / ${first.report.changed} / ${first.report.resolved} / ${first.report.unchanged}`,
        `${second.report.new} / ${second.report.changed} / ${second.report.resolved} / ${int(second.report.unchanged)}`,
        '',
        '',
      ],
      ['Send queue drain at the Teams rate (virtual time)', secs(first.drain.virtualMs), secs(second.drain.virtualMs), 'reported separately', ''],
      ['Send queue drain, real wall time', secs(first.drain.wallMs), secs(second.drain.wallMs), '', ''],
      [
        'Cards delivered to the connector (failed)',
        `${int(first.drain.connectorCalls)} (${first.drain.failed})`,
        `${second.drain.connectorCalls} (${second.drain.failed})`,
        '',
        '',
      ],
      ['Peak RSS while draining', mb(first.drain.peakRss), mb(second.drain.peakRss), '', ''],
    ];
    const baselineRows: string[][] = [
      [`Raw HTTP fetch of all pages (fetch + text, no processing)`, secs(raw.transferMs), `${raw.pages} pages, ${int(raw.rows)} rows, ${mb(raw.bytes)}`],
      ['JSON.parse of those pages', secs(raw.parseMs), ''],
      [
        'AzureClient fetch + zod validation + mapping, no sync work',
        secs(clientMs),
        `CPU ${secs(clientCpuMs)}, ${clientOnly.pages} pages, ${int(clientOnly.rows)} rows`,
      ],
    ];
    const allPass = Object.values(targets).every(Boolean);
    return [
      `Sync benchmark: ${int(assessments)} unhealthy assessments across ${int(recommendations)} recommendations, pages of ${int(pageSize)}, quota off; 1 subscribed conversation.`,
      `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}); simulator ${sim.where}; lowdb store in ${os.tmpdir()}.`,
      '',
      markdownTable(['Measure', 'First pass', 'No-change pass', 'Target', 'Result'], passRows),
      '',
      'Baseline (same run, same simulator):',
      '',
      markdownTable(['Baseline', 'Time', 'Notes'], baselineRows),
      '',
      `Process max RSS when the first pass ended (getrusage, includes start-up): ${mb(first.maxRss)}. RSS is rarely returned to the OS, so the no-change pass starts from what the drain left. The drain's virtual time is the pacing the ProactiveMessenger applies (7/1 s, 8/2 s, 60/30 s, 1,800/h per conversation).`,
      `Targets: ${
        allPass
          ? 'all PASS'
          : `FAIL: ${Object.entries(targets)
              .filter(([, ok]) => !ok)
              .map(([k]) => k)
              .join(', ')}`
      }`,
    ].join('\n');
  } finally {
    sampler.stop();
    await store?.close();
    await connector.close();
    await sim.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
