/**
 * Each benchmark of `npm run bench`, run for real at a tiny --size: the rows it returns, and what
 * they must show whatever the machine's speed (every figure measured, with its same-run baseline;
 * the no-change pass sends nothing). The child processes run the compiled bench (dist/bench, as
 * `npm test` builds it with tsc first).
 */
import { startDefenderSimulator } from '../../sandbox/defender/index.js';
import { generateDataset } from '../../sandbox/defender/dataset.js';
import { rawFetch, runSync, syncPasses } from '../../bench/sync.js';
import { runReminders } from '../../bench/reminders.js';
import { generateRulesInput, rulesStep, runRules } from '../../bench/rules.js';
import { diffRecommendations, groupRecommendations } from '../../core/recommendations.js';
import { runMessages } from '../../bench/messages.js';
import { runResolution } from '../../bench/resolution.js';
import { runStore, storeDrivers } from '../../bench/store.js';
import { adminUrl } from '../storage/postgres/testDatabase.js';
import { runSoak, skippedTicks } from '../../bench/soak.js';
import { emptyTickCounts, everySeconds, type TickCounts } from '../../bench/botChild.js';
import { runCreateAssignment } from '../../bench/createAssignment.js';
import type { BenchContext } from '../../bench/lib/context.js';
import type { Row } from '../../bench/lib/rows.js';

const ctx = (size: number, duration?: number): BenchContext => ({ size, duration, progress: () => undefined });
const byFigure = (rows: Row[], re: RegExp) => rows.filter((r) => re.test(r.figure));
const measured = (r: Row) => typeof r.value === 'number' && Number.isFinite(r.value) && typeof r.baseline === 'number' && Number.isFinite(r.baseline);

describe('sync benchmark', () => {
  it('measures both passes over HTTP: cards and writes on the first, none on the no-change pass', async () => {
    const sim = await startDefenderSimulator({
      dataset: generateDataset({ recommendations: 50, assessments: 1_000, unhealthyRatio: 1 }),
      quota: 'off',
      pageSize: 250,
      httpControl: false,
    });
    try {
      const endpoint = { url: sim.url, tenantId: sim.tenantId };
      const { first, second, clientOnly } = await syncPasses({ sim: endpoint, pageSize: 250 });
      expect(first.report).toMatchObject({ recommendations: 50, resources: 1_000, new: 50, cardsPosted: 50, cardsUpdated: 0, pages: 4 });
      expect(first.connectorCalls).toBe(50);
      // One write for the pass, the deliveries' PostedCards coalesced into a few more.
      expect(first.writes).toBeGreaterThanOrEqual(2);
      expect(second.report).toMatchObject({ recommendations: 50, resources: 1_000, new: 0, changed: 0, unchanged: 50, cardsPosted: 0, cardsUpdated: 0 });
      expect({ sends: second.enqueued, calls: second.connectorCalls, writes: second.writes }).toEqual({ sends: 0, calls: 0, writes: 0 });
      // 50 sends fit the 60-per-30-s window but not 7 per second: seconds of virtual time, no real waiting.
      expect(first.drain.virtualMs).toBeGreaterThan(1_000);
      expect(first.drain.wallMs).toBeLessThan(first.drain.virtualMs);
      expect(first.peakRss).toBeGreaterThan(first.startRss * 0.5);
      expect(clientOnly.rows).toBe(1_000);
      const raw = await rawFetch(endpoint, 250);
      expect(raw).toMatchObject({ pages: 4, rows: 1_000 });
      expect(raw.ms).toBeCloseTo(raw.transferMs + raw.parseMs, 5);
    } finally {
      await sim.close();
    }
  });

  it('returns, per size, the first pass against the raw fetch and the no-change pass figures', async () => {
    const rows = await runSync(ctx(0.01));
    expect(rows).toHaveLength(21);
    expect(rows.every(measured)).toBe(true);
    expect(byFigure(rows, /first pass \(vs raw fetch/).map((r) => r.figure)).toEqual([
      'sync 100: first pass (vs raw fetch of the pages)',
      'sync 500: first pass (vs raw fetch of the pages)',
      'sync 2k: first pass (vs raw fetch of the pages)',
    ]);
    // Only the middle size carries the ≤ 2× target; the MB limits apply at the sizes only.
    expect(byFigure(rows, /first pass \(vs raw fetch/).map((r) => r.target)).toEqual(['', '≤ 2× baseline', '']);
    expect(byFigure(rows, /peak RSS \(vs raw/).every((r) => r.target === '')).toBe(true);
    for (const r of byFigure(rows, /no-change pass (cards sent|store writes)/)) expect(r).toMatchObject({ value: 0, met: true });
    expect(byFigure(rows, /time per row/).map((r) => r.target)).toEqual(['', '≤ 1.2× baseline', '≤ 1.2× baseline']);
  }, 60_000);
});

describe('rules benchmark', () => {
  it('measures the rules step of one sync in a fresh process, next to the pass grouping the same rows', async () => {
    const rows = await runRules(ctx(0.02));
    expect(rows.map((r) => r.figure)).toEqual([
      expect.stringMatching(/^rules 200 new findings × 20 rules: evaluate one sync, cap 50 per rule \(CPU, vs the pass grouping the same rows\)$/),
      expect.stringMatching(/^rules 200 new findings × 20 rules: every ticket confirmed, \d+ assignment rows \(CPU, vs the same\)$/),
    ]);
    expect(rows.every(measured)).toBe(true);
    expect(rows.map((r) => r.target)).toEqual(['≤ 1,000 ms', '≤ 1,000 ms']);
  }, 30_000);

  it('its input exercises every path: tags asked once per resource, tickets paused by the cap, owners missing', () => {
    const input = generateRulesInput(10_000);
    expect(input.rules).toHaveLength(20);
    expect(input.rules.filter((r) => !r.enabled)).toHaveLength(2);
    const recs = groupRecommendations(input.rows, new Date('2026-11-30T09:00:00Z'));
    expect(diffRecommendations([], recs, new Date()).added).toHaveLength(recs.size);
    const capped = rulesStep(input, recs, false);
    const all = rulesStep(input, recs, true);
    expect(capped.findings).toBe(10_000);
    expect(capped.tagsAsked).toBeGreaterThan(0);
    // 4 findings per resource: tags are asked per resource.
    expect(capped.tagsAsked).toBeLessThanOrEqual(2_500);
    expect(capped.paused).toBeGreaterThan(0);
    expect(capped.needsOwner).toBeGreaterThan(0);
    expect(all.paused).toBe(0);
    expect(all.tickets).toBe(capped.tickets + capped.paused);
    expect(all.assignments).toBeGreaterThan(capped.assignments);
  });
});

describe('reminders benchmark', () => {
  it('plans in a fresh process next to one sort of the same assignments', async () => {
    const rows = await runReminders(ctx(0.01));
    expect(rows.map((r) => r.figure)).toEqual([
      'reminders 1k assignments / 50 owners: plan one pass (vs one sort of them)',
      'reminders 1k assignments / 50 owners: peak RSS (vs RSS holding the assignments)',
    ]);
    expect(rows.every(measured)).toBe(true);
    expect(rows[0]!.target).toBe('≤ 0.5× baseline');
  }, 30_000);
});

describe('messages benchmark', () => {
  it('loads the real bot and the echo bot through /api/messages at 1, 10 and 50 connections', async () => {
    const progress: string[] = [];
    const rows = await runMessages({ ...ctx(0.01), progress: (m) => void progress.push(m) });
    expect(rows).toHaveLength(14);
    expect(rows.every(measured)).toBe(true);
    expect(byFigure(rows, /throughput/).map((r) => r.target)).toEqual(['', '≥ 0.9× baseline', '≥ 0.9× baseline', '', '≥ 0.9× baseline', '≥ 0.9× baseline']);
    expect(byFigure(rows, /p99/).every((r) => r.target === '≤ 1.2× baseline')).toBe(true);
    expect(rows.map((r) => r.figure)).toContain('messages: help card action, 50 connections: p99 latency');
    // Each server child reports its collector's pauses, the evidence for the p99 tail.
    for (const kind of ['help message', 'help card action']) {
      expect(progress).toContainEqual(
        expect.stringMatching(
          new RegExp(`^messages: ${kind}, 50 connections: GC pauses bot \\d+\\.\\d{3} ms per request, longest \\d+\\.\\d ms; echo \\d+\\.\\d{3} ms`),
        ),
      );
    }
  }, 90_000);
});

describe('resolution benchmark', () => {
  it('runs one cycle that sees every change, at each size, and counts its ServiceNow requests', async () => {
    const rows = await runResolution(ctx(0.01));
    expect(rows.map((r) => r.figure)).toEqual([
      'resolution 10 open, 1 changed: one cycle (vs 10 open)',
      'resolution 100 open, 1 changed: one cycle (vs 10 open)',
      'resolution 100 open, 1 changed: one cycle within SYNC_CRON (vs 10 open)',
      'resolution 10 open: ServiceNow requests per cycle (vs 10 open)',
      'resolution 10 open: ServiceNow ticket rows read per cycle (vs 10 open)',
      'resolution 10 open: store writes per cycle (vs 10 open)',
      'resolution 100 open: ServiceNow requests per cycle (vs 10 open)',
      'resolution 100 open: ServiceNow ticket rows read per cycle (vs 10 open)',
      'resolution 100 open: store writes per cycle (vs 10 open)',
    ]);
    expect(rows.every(measured)).toBe(true);
    // Only the changed tickets are read (sys_updated_on since the watermark): as many requests at
    // 100 open as at 10, and no more ticket rows than the changes of the last cycles (overlap).
    expect(rows[6]!.value!).toBe(rows[3]!.value!);
    // The tickets are read before the cycle's steps, so its own resolve is not read back by it (the
    // next cycle sees it): the one measured cycle at 100 open reads no ticket row at all.
    expect(rows[7]!.value!).toBe(0);
    // The change that was made is written.
    expect(rows[5]!.value!).toBeGreaterThan(0);
    expect(rows[6]!.value!).toBeGreaterThan(0);
  }, 60_000);
});

describe('store benchmark', () => {
  it('cold-starts the bot on lowdb and on PostgreSQL, empty and filled, and times one write, in the same run', async () => {
    // The jest run's PostgreSQL server instead of a second embedded one.
    const rows = await runStore(ctx(0.01), storeDrivers({ adminUrl: adminUrl() }));
    expect(rows.map((r) => r.figure)).toEqual(
      ['lowdb', 'postgres'].flatMap((name) => [
        `store ${name}: cold start, empty (vs bare echo bot process)`,
        `store ${name}: cold start, 1k assignments (vs empty)`,
        `store ${name}: RSS after start, empty (vs bare echo bot process)`,
        `store ${name}: RSS after start, 1k assignments (vs empty)`,
        `store ${name}: write one changed assignment, 1k stored (vs 1 stored)`,
      ]),
    );
    expect(rows.every(measured)).toBe(true);
    expect(rows.map((r) => r.target)).toEqual(['', '≤ 2× baseline', '', '', '', '', '≤ 2,000 ms', '', '≤ 250 MB', '']);
  }, 90_000);
});

describe('soak benchmark', () => {
  it('runs the scheduled bot with chat load and reports its RSS slope and skipped ticks', async () => {
    const rows = await runSoak(ctx(0.05, 6));
    expect(rows.map((r) => r.figure)).toEqual([
      'soak 6 s: RSS slope after 3 s (vs echo bot)',
      'soak 6 s: heap after a full GC, slope after 3 s (vs echo bot)',
      'soak 6 s: RSS after a full GC, slope after 3 s (vs echo bot)',
      'soak 6 s: RSS at the end (vs echo bot)',
      'soak 6 s: skipped schedule ticks (vs ticks due)',
      'soak 6 s: longest sync cycle (vs its 5 s period)',
      'soak 6 s: sync cycle CPU, mean (vs its 5 s period)',
      'soak 6 s: chat answer p99 (vs echo bot)',
      'soak 6 s: chat answer median (vs echo bot)',
    ]);
    expect(rows.every(measured)).toBe(true);
    // Both slopes are judged against the 0.5 MB/min; the post-GC RSS is context.
    expect(rows.slice(0, 3).map((r) => r.target)).toEqual(['≤ 0.50 MB/min', '≤ 0.50 MB/min', '']);
    // In 6 s at least one sync cycle (every 5 s) came due by the wall clock, and it ran.
    expect(rows[4]!.baseline!).toBeGreaterThanOrEqual(1);
    expect(rows[5]!.value!).toBeGreaterThan(0);
    expect(rows[6]!.value!).toBeGreaterThan(0);
  }, 60_000);
});

describe('soak tick accounting', () => {
  const counts = (c: Partial<TickCounts>): TickCounts => ({ ...emptyTickCounts(), ...c });

  it('counts overlapped and missed ticks, and cron slots no event accounts for', () => {
    expect(skippedTicks(counts({ dueByClock: 120, started: 120, finished: 119 }))).toBe(0);
    // The last slot may be firing while the counts are read.
    expect(skippedTicks(counts({ dueByClock: 120, started: 119 }))).toBe(0);
    expect(skippedTicks(counts({ dueByClock: 120, started: 117, overlapped: 2, missed: 1 }))).toBe(3);
    // Ten slots that neither started nor were reported: lost silently, still skipped.
    expect(skippedTicks(counts({ dueByClock: 120, started: 110 }))).toBe(9);
  });

  it('reads the period of the every-N-seconds crons the soak schedules, and refuses others', () => {
    expect(everySeconds('*/5 * * * * *')).toBe(5);
    expect(everySeconds('*/10 * * * * *')).toBe(10);
    expect(() => everySeconds('0 */5 * * * *')).toThrow(/every|N/);
  });
});

describe('create-assignment benchmark', () => {
  it('measures every figure at a small size, against a same-run baseline, within the instance limit', async () => {
    const rows = await runCreateAssignment({ size: 0.1, progress: () => undefined });
    expect(rows).toHaveLength(7);
    expect(rows.every((r) => r.value !== null && r.value > 0)).toBe(true);
    expect(rows.slice(0, 4).every((r) => r.baseline !== null && r.baseline > 0)).toBe(true);
    expect(rows[5]!.value).toBeLessThanOrEqual(4);
    expect(rows[5]!.met).toBe(true);
  }, 180_000);
});
