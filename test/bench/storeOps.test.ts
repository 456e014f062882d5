import { runStoreOps } from '../../bench/storeOps.js';

describe('store-ops benchmark', () => {
  it('measures batched writes against one-by-one writes and the index against a scan, each with its same-run baseline', async () => {
    const rows = await runStoreOps({ size: 0.01, progress: () => undefined });
    expect(rows.map((r) => r.figure)).toEqual([
      'store-ops 10: create in one upsertMany, file writes (vs one awaited upsert each)',
      'store-ops 10: create in one upsertMany (vs one awaited upsert each)',
      'store-ops 10: create in one transaction of 10 upserts, file writes (vs one awaited upsert each)',
      'store-ops 10: create in one transaction of 10 upserts (vs one awaited upsert each)',
      'store-ops 10: update in one upsertMany, file writes (vs one awaited upsert each)',
      'store-ops 10: update in one upsertMany (vs one awaited upsert each)',
      'store-ops 10: update in one transaction of 10 upserts, file writes (vs one awaited upsert each)',
      'store-ops 10: update in one transaction of 10 upserts (vs one awaited upsert each)',
      'store-ops 100: create in one upsertMany, file writes (vs one awaited upsert each)',
      'store-ops 100: create in one upsertMany (vs one awaited upsert each)',
      'store-ops 100: create in one transaction of 100 upserts, file writes (vs one awaited upsert each)',
      'store-ops 100: create in one transaction of 100 upserts (vs one awaited upsert each)',
      'store-ops 100: update in one upsertMany, file writes (vs one awaited upsert each)',
      'store-ops 100: update in one upsertMany (vs one awaited upsert each)',
      'store-ops 100: update in one transaction of 100 upserts, file writes (vs one awaited upsert each)',
      'store-ops 100: update in one transaction of 100 upserts (vs one awaited upsert each)',
      'store-ops 1k: findLiveByKey through the index (vs scan)',
    ]);
    for (const r of rows) {
      expect(typeof r.value === 'number' && Number.isFinite(r.value)).toBe(true);
      expect(typeof r.baseline === 'number' && Number.isFinite(r.baseline)).toBe(true);
    }
    // Whatever the machine's speed: a step is one file write; one by one, one per assignment.
    for (const r of rows.filter((x) => x.unit === 'writes')) {
      expect(r.value).toBe(1);
      expect(r.baseline).toBe(r.figure.startsWith('store-ops 10:') ? 10 : 100);
    }
  });
});
