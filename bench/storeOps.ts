/**
 * `npm run bench -- store-ops`: what a use-case step costs the embedded store, against same-run
 * baselines (not in the default run; the `store` benchmark measures start-up and single writes).
 *
 * - Writes: N assignments created, then updated, in the lowdb store (a real file in a temp folder)
 *   in one upsertMany and in one transaction of N upserts, against one awaited upsert at a time
 *   (every change its own whole-file write, which ticket creation did). Above FULL_ONE_BY_ONE the
 *   baseline is sampled: SAMPLE sequential upserts on a store already holding N - SAMPLE rows,
 *   scaled to N.
 * - Lookups: findLiveByKey among 100,000 stored assignments through the key index, against the
 *   scan the store did before (Object.values(...).find over the same rows).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { LIVE_ASSIGNMENT_STATUSES, type Assignment } from '../core/model.js';
import type { Store } from '../app/ports.js';
import { openLowdbStore } from '../storage/lowdbStore.js';
import { openMemoryStore } from '../storage/memoryStore.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { scaled, short } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';
import { generateAssignments } from './reminders.js';

export const WRITE_SIZES = [1_000, 10_000];
export const LOOKUP_ROWS = 100_000;
/** Above this, the one-by-one baseline is sampled (at 10,000 it would take half an hour). */
export const FULL_ONE_BY_ONE = 1_000;
export const SAMPLE = 300;

interface Cost {
  writes: number;
  ms: number;
}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-store-ops-'));
  const store = await openLowdbStore({ file: path.join(dir, 'db.json'), clock: systemClock, logger: silentLogger });
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cost(store: Store, run: () => Promise<void>): Promise<Cost> {
  const writes = store.status().writes;
  const t0 = performance.now();
  await run();
  await store.flush();
  return { writes: store.status().writes - writes, ms: performance.now() - t0 };
}

type Step = 'create' | 'update';
const changed = (rows: readonly Assignment[]) => rows.map((a) => ({ ...a, status: 'pending' as const, updatedAt: new Date().toISOString() }));

/** One awaited upsert per assignment; sampled above FULL_ONE_BY_ONE. */
async function oneByOne(rows: readonly Assignment[], step: Step): Promise<Cost & { sampled: boolean }> {
  return withStore(async (store) => {
    const n = rows.length;
    if (n <= FULL_ONE_BY_ONE) {
      if (step === 'update') await store.assignments.upsertMany(rows);
      const todo = step === 'update' ? changed(rows) : rows;
      return {
        ...(await cost(store, async () => {
          for (const a of todo) await store.assignments.upsertMany([a]);
        })),
        sampled: false,
      };
    }
    await store.assignments.upsertMany(step === 'update' ? rows : rows.slice(0, n - SAMPLE));
    const sample = step === 'update' ? changed(rows.slice(n - SAMPLE)) : rows.slice(n - SAMPLE);
    const c = await cost(store, async () => {
      for (const a of sample) await store.assignments.upsertMany([a]);
    });
    return { writes: (c.writes * n) / SAMPLE, ms: (c.ms * n) / SAMPLE, sampled: true };
  });
}

async function batched(rows: readonly Assignment[], step: Step, how: 'upsertMany' | 'transaction'): Promise<Cost> {
  return withStore(async (store) => {
    if (step === 'update') await store.assignments.upsertMany(rows);
    const todo = step === 'update' ? changed(rows) : rows;
    return cost(store, () =>
      how === 'upsertMany'
        ? store.assignments.upsertMany(todo)
        : store.transaction(async (tx) => {
            for (const a of todo) await tx.assignments.upsertMany([a]);
          }),
    );
  });
}

export async function writeRows(n: number, progress: (line: string) => void = () => undefined): Promise<Row[]> {
  const rows = generateAssignments(n, Math.max(1, Math.floor(n / 20))).map((a) => ({ ...a, status: 'open' as const }));
  const out: Row[] = [];
  for (const step of ['create', 'update'] as const) {
    progress(`store-ops ${short(n)}: ${step}`);
    const base = await oneByOne(rows, step);
    const label = `one awaited upsert each${base.sampled ? `, ${SAMPLE} sampled` : ''}`;
    for (const how of ['upsertMany', 'transaction'] as const) {
      const c = await batched(rows, step, how);
      const what = how === 'upsertMany' ? 'one upsertMany' : `one transaction of ${short(n)} upserts`;
      out.push(
        row({
          figure: `store-ops ${short(n)}: ${step} in ${what}, file writes (vs ${label})`,
          value: c.writes,
          unit: 'writes',
          baseline: base.writes,
          target: { atMost: 1 },
        }),
        row({ figure: `store-ops ${short(n)}: ${step} in ${what} (vs ${label})`, value: c.ms, unit: 'ms', baseline: base.ms, target: { ratioAtMost: 0.1 } }),
      );
    }
  }
  return out;
}

export async function lookupRows(stored: number): Promise<Row[]> {
  const rows = generateAssignments(stored, Math.max(1, Math.floor(stored / 20)));
  const store = openMemoryStore();
  await store.assignments.upsertMany(rows);
  const live = new Set<string>(LIVE_ASSIGNMENT_STATUSES);
  const byId: Record<string, Assignment> = Object.fromEntries(rows.map((a) => [a.id, a]));
  // Keys near the end: a scan's worst case, any case for the index.
  const keys = Array.from({ length: Math.min(200, stored) }, (_, i) => rows[stored - 1 - ((i * 7) % stored)]!.key);
  const liveKeys = new Set(rows.filter((a) => live.has(a.status)).map((a) => a.key));

  const scanKeys = keys.slice(0, 50);
  let scanned = 0;
  const s0 = performance.now();
  for (const key of scanKeys) if (Object.values(byId).find((a) => a.key === key && live.has(a.status))) scanned++;
  const scanUs = ((performance.now() - s0) / scanKeys.length) * 1000;

  let indexed = 0;
  const i0 = performance.now();
  for (let round = 0; round < 10; round++) for (const key of keys) if (await store.assignments.findLiveByKey(key)) indexed++;
  const indexUs = ((performance.now() - i0) / (keys.length * 10)) * 1000;
  if (scanned !== scanKeys.filter((k) => liveKeys.has(k)).length || indexed !== 10 * keys.filter((k) => liveKeys.has(k)).length) {
    throw new Error('the index and the scan disagree');
  }
  return [
    row({
      figure: `store-ops ${short(stored)}: findLiveByKey through the index (vs scan)`,
      value: indexUs,
      unit: 'µs',
      baseline: scanUs,
      target: { ratioAtMost: 0.01 },
    }),
  ];
}

export async function runStoreOps(ctx: BenchContext): Promise<Row[]> {
  const out: Row[] = [];
  for (const n of WRITE_SIZES) out.push(...(await writeRows(scaled(n, ctx.size, 2), ctx.progress)));
  ctx.progress('store-ops: lookups');
  out.push(...(await lookupRows(scaled(LOOKUP_ROWS, ctx.size, 10))));
  return out;
}

export const storeOpsBenchmark: Benchmark = {
  name: 'store-ops',
  description: 'store writes of a use-case step (one upsertMany, one transaction) vs one by one; indexed vs scanned lookups',
  inDefaultRun: false,
  run: runStoreOps,
};
