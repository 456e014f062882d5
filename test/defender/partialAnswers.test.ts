/**
 * The Resource Graph client tells a complete answer from a partial one, from the response's own
 * fields (resultTruncated, count, totalRecords, $skipToken), against the simulator over HTTP.
 */
import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { IncompleteResultError, PagingCheck } from '../../connectors/defender/resourceGraph.js';
import { startHarness, type Harness } from './helpers.js';

const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);

describe('Resource Graph client: complete or not', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ pageSize: 50 });
  });
  afterEach(() => h.sim.close());

  const query = () => h.client.queryUnhealthyAssessments(ALL, { onPage: () => undefined });

  it('a normal paged answer is complete', async () => {
    const summary = await query();
    expect(summary.pages).toBeGreaterThanOrEqual(3);
    expect(summary).toMatchObject({ complete: true, rows: summary.totalRecords });
    expect(summary.incomplete).toBeUndefined();
  });

  it.each([
    ['truncated', /resultTruncated is "true"/],
    ['short', /received \d+ of \d+ rows \(totalRecords\) in 1 page/],
    ['skipPage', /received \d+ of \d+ rows \(totalRecords\)/],
  ] as const)('%s answer: incomplete, with the reason', async (kind, reason) => {
    h.sim.control.injectResultFault({ count: 100, kind });
    const summary = await query();
    expect(summary.complete).toBe(false);
    expect(summary.incomplete).toMatch(reason);
    expect(summary.rows).toBeLessThan(summary.totalRecords);
  });

  it('a set that shrinks while paging is incomplete (rows may have slid past the skip token)', async () => {
    const victims = h.sim.control.listAssessments({ code: 'Unhealthy' }).slice(0, 3);
    let page = 0;
    const summary = await h.client.queryUnhealthyAssessments(ALL, {
      onPage: () => {
        if (++page === 1) for (const v of victims) h.sim.control.markHealthy({ resourceId: v.resourceId, assessmentKey: v.assessmentKey });
      },
    });
    expect(summary).toMatchObject({ complete: false, incomplete: expect.stringMatching(/totalRecords dropped while paging \(\d+ → \d+\)/) });
  });

  it('an empty answer looks complete to the client: the sync job judges it (see test/sync/partialPass.test.ts)', async () => {
    h.sim.control.injectResultFault({ count: 1, kind: 'empty' });
    expect(await query()).toMatchObject({ complete: true, rows: 0, totalRecords: 0 });
  });

  it('by id: an incomplete batch throws from queryAssessmentsByIds, and readAssessmentsByIds lists what it left unconfirmed', async () => {
    const ids = h.sim.control
      .listAssessments({ code: 'Unhealthy' })
      .slice(0, 6)
      .map((a) => a.id);
    h.sim.control.injectResultFault({ count: 1, kind: 'short', query: 'ids' });
    await expect(h.client.queryAssessmentsByIds(ids)).rejects.toBeInstanceOf(IncompleteResultError);
    h.sim.control.injectResultFault({ count: 1, kind: 'short', query: 'ids' });
    const read = await h.client.readAssessmentsByIds(ids);
    expect(read.rows).toHaveLength(3);
    expect(read.incomplete).toMatch(/received 3 of 6/);
    expect(read.unconfirmed.sort()).toEqual(ids.slice(3).map((i) => i.toLowerCase()));
    expect(await h.client.readAssessmentsByIds(ids)).toMatchObject({ unconfirmed: [], rows: expect.any(Array) });
    expect((await h.client.queryAssessmentsByIds(ids)).map((r) => r.assessmentId)).toEqual(ids);
  });
});

describe('PagingCheck', () => {
  const page = (n: number, over: Partial<{ totalRecords: number; count: number; truncated: boolean }> = {}) => ({
    data: Array.from({ length: n }, (_, i) => ({ id: `r${i}` })),
    totalRecords: 100,
    count: n,
    truncated: false,
    ...over,
  });
  const run = (...pages: ReturnType<typeof page>[]) => {
    const c = new PagingCheck();
    for (const p of pages) c.observe(p);
    return c.finish();
  };

  it('accepts pages that add up to totalRecords, and an empty set', () => {
    expect(run(page(50), page(50))).toBeUndefined();
    expect(run(page(0, { totalRecords: 0 }))).toBeUndefined();
  });

  it('names the first reason a set is incomplete', () => {
    expect(run(page(50, { truncated: true }), page(50))).toMatch(/resultTruncated/);
    expect(run(page(50), page(40, { count: 50 }))).toMatch(/page 2 declared count 50 but carried 40 rows/);
    expect(run(page(50), page(49, { totalRecords: 99 }))).toMatch(/totalRecords dropped while paging \(100 → 99\)/);
    // A set that grows only repeats rows at a page boundary; what matters is that every row arrived.
    expect(run(page(50), page(51, { totalRecords: 101 }))).toBeUndefined();
    expect(run(page(50), page(50, { totalRecords: 101 }))).toMatch(/received 100 of 101 rows/);
    expect(run(page(50), page(30))).toMatch(/received 80 of 100 rows/);
  });
});
