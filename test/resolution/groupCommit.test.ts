/**
 * The steps of a resolution pass write together (app/assignmentWriter.ts CommitGroup): a cycle's
 * store writes do not grow with its changes, and each step's intent is still durable before the
 * ServiceNow call it announces. Real HTTP against both simulators, one ManualClock (see world.ts).
 */
import { RECHECK_KEY } from '../../app/resolution.js';
import type { Assignment } from '../../core/model.js';
import { healthy, reassign, settled, type World } from './world.js';

const MINUTE = 60_000;
const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;

/** One pass and the store writes it made. */
async function pass(w: World) {
  const before = w.bot.store.status().writes;
  const report = await w.job.runOnce();
  await w.bot.store.flush();
  return { report, writes: w.bot.store.status().writes - before };
}

describe('resolution job: grouped writes', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it("a cycle's store writes stay the same whether 2 or 8 assignments changed", async () => {
    const s = await settled(12);
    w = s.w;
    const [a1, b1, ...rest] = s.seeded as [Assignment, Assignment, ...Assignment[]];
    healthy(w, a1);
    reassign(w, b1);
    w.clock.advance(MINUTE);
    const small = await pass(w);
    expect(small.report).toMatchObject({ resolved: 1, ownersChanged: 1, errors: 0 });

    // Past the overlaps, so the next cycle sees only its own changes.
    w.clock.advance(20 * MINUTE);
    const fixed = rest.slice(0, 4);
    const moved = rest.slice(4, 8);
    for (const a of fixed) healthy(w, a);
    for (const a of moved) reassign(w, a);
    w.clock.advance(MINUTE);
    const large = await pass(w);
    expect(large.report).toMatchObject({ resolved: 4, ownersChanged: 4, errors: 0 });
    for (const a of fixed) expect((await get(w, a)).status).toBe('resolved');
    for (const a of moved) expect((await get(w, a)).owner).toBe('carol.nguyen@contoso.com');

    // The phase's steps commit once per round (intent; outcome with its governance deletion or
    // write-back), however many changed.
    expect(large.report.storeCommits).toBe(small.report.storeCommits);
    expect(large.report.storeCommits).toBeLessThanOrEqual(2);
    // The pass writes those rounds and its end (claims + watermarks) - one per change would be 16+;
    // one more is allowed for what the harness's own background work may write meanwhile.
    expect(large.writes).toBeLessThanOrEqual(large.report.storeCommits + 2);
  });

  it("a resolve's intent is on disk before ServiceNow is called: a pass that loses the call and its recheck list still finishes it", async () => {
    const s = await settled(2);
    w = s.w;
    const [fixed] = s.seeded as [Assignment];
    healthy(w, fixed);
    w.clock.advance(MINUTE);
    // The resolve PATCH is refused (not retried, not a data policy): the step fails after its intent.
    w.snow.control.failNext({ status: 400, method: 'PATCH', count: 1 });
    const failed = await pass(w);
    expect(failed.report).toMatchObject({ resolved: 0, errors: 1 });
    const intent = await get(w, fixed);
    expect(intent).toMatchObject({ status: 'open', healthyPasses: 1 });
    expect(await w.bot.store.audit.findLast(fixed.id, { actions: ['assignment.resolving'] })).toBeDefined();
    expect(w.snow.control.record('incident', fixed.ticket!.sysId)!.state).not.toBe('6');
    // Defender's governance assignment was deleted while ServiceNow was asked; that is audited even
    // though the step failed, and the row keeps its governance status for the retry.
    const governanceOf = (a: Assignment) => w!.defender.control.listGovernanceAssignments().filter((g) => g.name === a.id);
    expect(governanceOf(fixed)).toEqual([]);
    expect(await w.bot.store.audit.findLast(fixed.id, { actions: ['governance.delete'] })).toMatchObject({ details: { ticketStep: 'failed' } });
    expect(intent.governance?.status).not.toBe('deleted');

    // As after a crash that lost what the pass kept in memory: no recheck list, the watermark far past the fix.
    w.snow.control.clearFaults();
    await w.bot.store.meta.set(RECHECK_KEY, '[]');
    w.clock.advance(60 * MINUTE);
    const retried = await pass(w);
    expect(retried.report).toMatchObject({ resolved: 1, errors: 0 });
    const done = await get(w, fixed);
    expect(done).toMatchObject({ status: 'resolved', governance: { status: 'deleted' } });
    expect(w.snow.control.record('incident', fixed.ticket!.sysId)!.state).toBe('6');
    // The retry's intent, then its outcome and the governance deletion as one unit, audited in that order (newest first).
    const retryAudit = (await w.bot.store.audit.list(1000)).filter((e) => e.target === fixed.id && e.at === done.updatedAt).map((e) => e.action);
    expect(retryAudit).toEqual(['governance.delete', 'assignment.resolve', 'assignment.resolving']);
    const notes = w.snow.control.journal(fixed.ticket!.sysId).filter((j) => /Resolving automatically/.test(j.value));
    expect(notes).toHaveLength(1);
  });
});
