/**
 * The resolution job reads Resource Graph too (by id, and changed since the watermark). A partial
 * answer there must not be read as "healthy" or "gone", and must not move the watermark past rows
 * it left out. Real HTTP throughout (see world.ts); the simulator injects the partial answers.
 */
import { WATERMARK_KEY } from '../../app/resolution.js';
import type { Assignment } from '../../core/model.js';
import { startWorld, type World } from './world.js';

const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;
const row = (w: World, a: Assignment) => w.snow.control.record(a.ticketType, a.ticket!.sysId)!;
const assessmentReads = (w: World) =>
  w.defender.control.requestCount({ kind: 'arm', method: 'GET', pathIncludes: '/providers/Microsoft.Security/assessments/' });

describe('resolution job: partial Resource Graph answers', () => {
  let w: World;
  afterEach(() => w?.close());

  it('by id: an assessment a truncated answer left out is neither resolved nor treated as gone; the next complete pass decides', async () => {
    w = await startWorld();
    const deleted = await w.seed({ ticketType: 'incident', withCard: false });
    // Assessments come sorted by id, several per resource: move on to another resource.
    while (w.takeAssessment().resourceId === deleted.resourceId);
    const fixed = await w.seed({ ticketType: 'incident', withCard: false });
    expect(fixed.resourceId).not.toBe(deleted.resourceId);
    w.defender.control.deleteResource(deleted.resourceId);
    w.defender.control.markHealthy({ resourceId: fixed.resourceId, assessmentKey: fixed.recommendationKey });
    w.defender.control.injectResultFault({ count: 1, kind: 'truncated', query: 'ids' });
    const readsBefore = assessmentReads(w);

    const partial = await w.job.runOnce();
    // The row that did arrive is real: the healthy one resolves.
    expect(partial).toMatchObject({ incompleteAnswers: 1, resolved: 1 });
    expect((await get(w, fixed)).status).toBe('resolved');
    expect(await get(w, deleted)).toMatchObject({ status: 'open', healthyPasses: 0 });
    expect(row(w, deleted).state).not.toBe('6');
    expect(assessmentReads(w)).toBe(readsBefore);

    const complete = await w.job.runOnce();
    expect(complete).toMatchObject({ incompleteAnswers: 0, resolved: 1 });
    expect((await get(w, deleted)).status).toBe('resolved');
    expect(row(w, deleted).close_notes).toContain('no longer reported by Azure Resource Graph');
  });

  it('changed since: a truncated answer keeps the watermark, so a regression it left out is reopened on the next pass', async () => {
    w = await startWorld();
    // Sorted by id, this one comes before the seeded assessment: the truncated answer keeps it and drops the regression.
    const other = w.takeAssessment();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    expect(other.id < a.assessmentId).toBe(true);
    w.defender.control.markHealthy({ resourceId: a.resourceId, assessmentKey: a.recommendationKey });
    expect(await w.job.runOnce()).toMatchObject({ resolved: 1 });
    const watermark = (await w.bot.store.meta.get(WATERMARK_KEY))!;

    w.clock.advance(60 * 60_000);
    w.defender.control.markUnhealthy({ resourceId: a.resourceId, assessmentKey: a.recommendationKey });
    // Later than the watermark overlap (15 min) after the regression.
    w.clock.advance(20 * 60_000);
    w.defender.control.markHealthy({ resourceId: other.resourceId, assessmentKey: other.assessmentKey });
    w.defender.control.injectResultFault({ count: 1, kind: 'truncated', query: 'since' });

    const partial = await w.job.runOnce();
    expect(partial).toMatchObject({ full: false, incompleteAnswers: 1, reopened: 0 });
    expect(await w.bot.store.meta.get(WATERMARK_KEY)).toBe(watermark);
    expect((await get(w, a)).status).toBe('resolved');

    const complete = await w.job.runOnce();
    expect(complete).toMatchObject({ full: false, incompleteAnswers: 0, reopened: 1 });
    expect((await get(w, a)).status).toBe('open');
    expect(Date.parse((await w.bot.store.meta.get(WATERMARK_KEY))!)).toBeGreaterThan(Date.parse(watermark));
  });
});
