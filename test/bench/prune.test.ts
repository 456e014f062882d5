import { runPrune } from '../../bench/prune.js';

describe('prune benchmark', () => {
  it('measures the lowdb file and one write with the finished work items and after the prune, and the prune itself, each with its same-run baseline', async () => {
    // The PostgreSQL half needs a server of its own (bench/lib/postgres.ts): the benchmark's run covers it.
    const rows = await runPrune({ size: 0.01, progress: () => undefined }, { postgres: false });
    expect(rows.map((r) => r.figure)).toEqual([
      'prune 1k: lowdb file after forgetting 1k finished work items (vs with them)',
      'prune 1k: lowdb, one ordinary write after the prune (vs with the finished items)',
      'prune 1k: lowdb, the prune itself (vs one ordinary write with the items)',
    ]);
    for (const r of rows) {
      expect(typeof r.value === 'number' && Number.isFinite(r.value) && r.value > 0).toBe(true);
      expect(typeof r.baseline === 'number' && Number.isFinite(r.baseline) && r.baseline > 0).toBe(true);
    }
    // Whatever the machine's speed: the file keeps only the items that must stay (10 of 1,010).
    expect(rows[0]!.value).toBeLessThan(rows[0]!.baseline! / 20);
  });
});
