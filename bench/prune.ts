/**
 * `npm run bench -- prune`: what finished work items cost the lowdb store and what forgetting
 * them costs (issue #16), against same-run baselines (not in the default run).
 *
 * A lowdb file holds FINISHED delivered announcements (done work items, finished 31 days ago)
 * beside KEPT items that must stay (queued ones and failed ticket creations whose assignments
 * still wait). Measured on the same store: the file's size and one ordinary write (a meta key,
 * a whole-file rewrite) with the finished items and after the reminder pass's prune
 * (pruneDeliveredAnnouncements, WORK_RETENTION_DAYS = 30), and the prune's own time against one
 * ordinary write with the items. The same on PostgreSQL (bench/lib/postgres.ts, fsync on), but the
 * file size.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { ANNOUNCEMENT_WORK, pruneDeliveredAnnouncements } from '../app/announcements.js';
import { CREATE_TICKETS_WORK } from '../app/createAssignments.js';
import { DEFAULT_WORK_RETENTION_DAYS } from '../app/reminders.js';
import type { Store } from '../app/ports.js';
import { openLowdbStore } from '../storage/lowdbStore.js';
import { openPostgresStore } from '../storage/postgres/store.js';
import { startBenchPostgres } from './lib/postgres.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { scaled, short } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';

export const FINISHED = 100_000;
export const KEPT = 1_000;
/** Ordinary writes per measurement; the median is the figure. */
const WRITES = 5;
const DAY_MS = 86_400_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median time of one awaited meta write (every write rewrites the whole file). */
async function ordinaryWrite(store: Store, tag: string): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const t0 = performance.now();
    await store.meta.set(`bench:${tag}`, String(i));
    await store.flush();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function seed(store: Store, finished: number, kept: number): Promise<void> {
  const text = 'Resolved: *Machines should have vulnerability findings resolved* on *vm-web-01*; the ticket INC0012345 was closed as fixed.';
  const conversationId = '19:3f2b8c1e5d4a4e7b9c218a6f0d13b7e2@thread.tacv2';
  const CHUNK = 10_000;
  for (let from = 0; from < finished; from += CHUNK) {
    const n = Math.min(CHUNK, finished - from);
    await store.work.enqueue(
      Array.from({ length: n }, (_, i) => ({
        kind: ANNOUNCEMENT_WORK,
        key: `announce:asg-${from + i}:resolved:2026-10-01`,
        payload: { conversationId, text },
      })),
    );
    // As deliverPending does: claimed and completed in one transaction.
    await store.transaction(async (tx) => {
      for (const item of await tx.work.claim(ANNOUNCEMENT_WORK, 'bench', n, 60_000)) await tx.work.complete(item.id, 'bench');
    });
  }
  await store.work.enqueue(
    Array.from({ length: kept / 2 }, (_, i) => ({ kind: ANNOUNCEMENT_WORK, key: `announce:queued-${i}`, payload: { conversationId, text } })),
  );
  await store.work.enqueue(
    Array.from({ length: kept / 2 }, (_, i) => ({
      kind: CREATE_TICKETS_WORK,
      key: `batch-${i}`,
      payload: { batchId: `batch-${i}`, ids: [`asg-${i}`], skippedIds: [] },
    })),
  );
  await store.transaction(async (tx) => {
    for (const item of await tx.work.claim(CREATE_TICKETS_WORK, 'bench', kept / 2, 60_000)) await tx.work.fail(item.id, 'bench', 'ServiceNow was down');
  });
  await store.flush();
}

interface Measured {
  writeWith: number;
  writeAfter: number;
  pruneMs: number;
}

/** Seeds, writes, prunes (the clock moved past the retention) and writes again on one store. */
async function measure(store: Store, clock: ManualClock, finished: number, kept: number, between: () => void = () => undefined): Promise<Measured> {
  await seed(store, finished, kept);
  between();
  const writeWith = await ordinaryWrite(store, 'with');
  clock.advance((DEFAULT_WORK_RETENTION_DAYS + 1) * DAY_MS);
  const t0 = performance.now();
  const removed = await pruneDeliveredAnnouncements(store, clock.now(), DEFAULT_WORK_RETENTION_DAYS);
  await store.flush();
  const pruneMs = performance.now() - t0;
  const left = (await store.work.list()).length;
  if (removed !== finished || left !== kept) throw new Error(`the prune removed ${removed} of ${finished} and left ${left} of ${kept}`);
  return { writeWith, writeAfter: await ordinaryWrite(store, 'after'), pruneMs };
}

const START = '2026-10-01T09:00:00.000Z';

/** The two rows each store gets: one ordinary write after the prune, and the prune itself, each against one write with the items. */
function writeRows(n: string | number, engine: string, m: Measured): Row[] {
  return [
    row({
      figure: `prune ${n}: ${engine}, one ordinary write after the prune (vs with the finished items)`,
      value: m.writeAfter,
      unit: 'ms',
      baseline: m.writeWith,
    }),
    row({ figure: `prune ${n}: ${engine}, the prune itself (vs one ordinary write with the items)`, value: m.pruneMs, unit: 'ms', baseline: m.writeWith }),
  ];
}

export async function runPrune(ctx: BenchContext, options: { postgres?: boolean } = {}): Promise<Row[]> {
  const finished = scaled(FINISHED, ctx.size, 100);
  const kept = 2 * Math.ceil(scaled(KEPT, ctx.size, 10) / 2);
  const n = short(finished);
  const out: Row[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-prune-'));
  const file = path.join(dir, 'db.json');
  const clock = new ManualClock(START);
  const store = await openLowdbStore({ file, clock, logger: silentLogger });
  try {
    ctx.progress(`prune ${n}: lowdb, ${finished} finished and ${kept} kept work items`);
    let sizeWith = 0;
    const m = await measure(store, clock, finished, kept, () => (sizeWith = statSync(file).size));
    out.push(
      row({
        figure: `prune ${n}: lowdb file after forgetting ${n} finished work items (vs with them)`,
        value: statSync(file).size / 1e6,
        unit: 'MB',
        baseline: sizeWith / 1e6,
      }),
      ...writeRows(n, 'lowdb', m),
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (options.postgres === false) return out;
  ctx.progress(`prune ${n}: PostgreSQL`);
  const pg = await startBenchPostgres();
  let url: string | undefined;
  try {
    url = await pg.createDatabase();
    const pgClock = new ManualClock(START);
    const pgStore = await openPostgresStore({ connectionString: url, clock: pgClock, logger: silentLogger, poolSize: 2, applicationName: 'bench-prune' });
    try {
      const m = await measure(pgStore, pgClock, finished, kept);
      out.push(...writeRows(n, 'PostgreSQL', m));
    } finally {
      await pgStore.close();
    }
  } finally {
    if (url) await pg.dropDatabase(url).catch(() => undefined);
    await pg.stop();
  }
  return out;
}

export const pruneBenchmark: Benchmark = {
  name: 'prune',
  description: 'lowdb file size, and write time on lowdb and PostgreSQL, with 100k finished work items vs after the prune; the prune vs one write',
  inDefaultRun: false,
  run: runPrune,
};
