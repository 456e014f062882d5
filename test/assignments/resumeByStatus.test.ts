import type { AssignmentQuery } from '../../app/ports.js';
import type { Assignment } from '../../core/model.js';
import { execute } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';

/**
 * Issue 14: at start (and after each sync pass) resumePending looks for the few assignments a
 * crash or an outage left unfinished. It must ask the store for them by status (indexed queries),
 * not read every open assignment: a large tenant keeps 100k of them.
 */
describe('resumePending reads only the unfinished assignments', () => {
  let h: SandboxHarness;
  beforeEach(async () => {
    h = await startSandboxBot();
  });
  afterEach(() => h.stop());

  it('500 finished open assignments and one failed write-back: the store hands out the one, which is resumed', async () => {
    const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length >= 1)!;
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0]!.resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN },
      ),
    );
    const [a] = await h.bot.store.assignments.list();
    expect(a).toMatchObject({ status: 'open', governance: { status: 'synced' } });
    // Finished open assignments (ticket and write-back done): nothing to resume for them.
    const finished: Assignment[] = Array.from({ length: 500 }, (_, i) => ({ ...a!, id: `done-${i}`, key: `${a!.key}-${i}`, batchId: `b-${i}` }));
    await h.bot.store.assignments.upsertMany(finished);
    await h.bot.store.assignments.upsertMany([{ ...a!, governance: { key: a!.governance!.key, status: 'failed', lastError: 'socket hang up' } }]);

    const queries: AssignmentQuery[] = [];
    let rowsRead = 0;
    const list = h.bot.store.assignments.list.bind(h.bot.store.assignments);
    const spy = jest.spyOn(h.bot.store.assignments, 'list').mockImplementation(async (q?: AssignmentQuery) => {
      const rows = await list(q);
      queries.push(q ?? {});
      rowsRead += rows.length;
      return rows;
    });
    try {
      expect(await h.bot.app.assignments.resumePending()).toBe(1);
    } finally {
      spy.mockRestore();
    }
    // Every query names its statuses, and open ones only with an unfinished write-back.
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.filter((q) => q.statuses === undefined && q.ids === undefined && q.batchId === undefined)).toEqual([]);
    expect(queries.filter((q) => q.statuses?.includes('open') && q.governanceStatuses === undefined)).toEqual([]);
    // The resumed one (and the reads of its own write), never the 500 finished ones.
    expect(rowsRead).toBeLessThan(10);
    expect(await h.bot.store.assignments.get(a!.id)).toMatchObject({ governance: { status: 'synced' } });
  });
});
