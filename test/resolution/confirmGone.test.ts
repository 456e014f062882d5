import type { Assignment } from '../../core/model.js';
import { startWorld, type World } from './world.js';

const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;
const row = (w: World, a: Assignment) => w.snow.control.record(a.ticketType, a.ticket!.sysId)!;
const subject = (a: Assignment) => `*${a.recommendationName}* on *${a.resourceName}*`;
const assessmentReads = (w: World) =>
  w.defender.control.requestCount({ kind: 'arm', method: 'GET', pathIncludes: '/providers/Microsoft.Security/assessments/' });

describe('resolution job: an assessment missing from Resource Graph is confirmed with the assessments API', () => {
  let w: World;
  afterEach(() => w?.close());

  it('resource deleted (assessments API 404): resolved as gone', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    w.defender.control.deleteResource(a.resourceId);
    const report = await w.job.runOnce();
    expect(assessmentReads(w)).toBeGreaterThanOrEqual(1);
    expect(report).toMatchObject({ resolved: 1, errors: 0 });
    expect((await get(w, a)).status).toBe('resolved');
    expect(row(w, a).state).toBe('6');
    expect(row(w, a).close_notes).toContain('no longer reported by Azure Resource Graph');
    expect(w.announcements()).toEqual([`✅ ${subject(a)} no longer exists (resource deleted) — ${a.ticket!.number} resolved automatically.`]);
  });

  it('missing from Resource Graph but Unhealthy in the assessments API: left open, ticket untouched, nothing announced', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    const stateBefore = row(w, a).state;
    expect(w.defender.control.hideFromResourceGraph(a.assessmentId)).toBe(true);
    expect(await w.azure.queryAssessmentsByIds([a.assessmentId])).toEqual([]);
    const report = await w.job.runOnce();
    expect(assessmentReads(w)).toBe(1);
    expect(report).toMatchObject({ resolved: 0, needsManual: 0, removedInServiceNow: 0, errors: 0 });
    expect(await get(w, a)).toMatchObject({ status: 'open', healthyPasses: 0 });
    expect(row(w, a).state).toBe(stateBefore);
    expect(w.defender.control.listGovernanceAssignments().some((g) => g.name === a.id)).toBe(true);
    expect(w.announcements()).toEqual([]);
  });

  it('missing from Resource Graph and Healthy in the assessments API: resolved with the real status as evidence', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    w.defender.control.markHealthy({ resourceId: a.resourceId, assessmentKey: a.recommendationKey });
    w.defender.control.hideFromResourceGraph(a.assessmentId);
    const report = await w.job.runOnce();
    expect(report.resolved).toBe(1);
    expect((await get(w, a)).status).toBe('resolved');
    expect(row(w, a).close_notes).toContain('assessment status Healthy');
    expect(row(w, a).close_notes).not.toContain('no longer reported by Azure Resource Graph');
  });

  it('the assessments API fails: the assignment is left unchanged this pass and handled on the next one', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    const before = await get(w, a);
    w.defender.control.deleteResource(a.resourceId);
    w.defender.control.injectFaults({ count: 1000, status: 500, target: 'arm' });
    const report = await w.job.runOnce();
    expect(report.errors).toBeGreaterThanOrEqual(1);
    expect(report.resolved).toBe(0);
    expect(await get(w, a)).toEqual(before);
    expect(row(w, a).state).not.toBe('6');
    expect(w.announcements()).toEqual([]);

    w.defender.control.clearFaults();
    const next = await w.job.runOnce();
    expect(next.resolved).toBe(1);
    expect((await get(w, a)).status).toBe('resolved');
  });
});
