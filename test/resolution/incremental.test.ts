/**
 * A normal resolution pass learns Defender-side changes from one changed-since-watermark Resource
 * Graph query and steps only the assignments whose assessment or ticket changed; the full pass
 * (the first one, with no watermark yet, and the daily reconcile) reads every one by id. Real HTTP against both
 * simulators, one ManualClock (see world.ts).
 */
import { RECHECK_KEY } from '../../app/resolution.js';
import type { Assignment } from '../../core/model.js';
import { healthy, settled, type World } from './world.js';

const MINUTE = 60_000;
const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;
const row = (w: World, a: Assignment) => w.snow.control.record(a.ticketType, a.ticket!.sysId)!;
/** The Resource Graph queries of the requests logged so far, split into by-id reads and changed-since reads. */
const graphQueries = (w: World) => {
  const queries = w.defender.control
    .requests()
    .filter((r) => r.kind === 'resourceGraph')
    .map((r) => String((r.body as { query?: unknown } | undefined)?.query ?? ''));
  return { byId: queries.filter((q) => q.includes('tolower(id) in~')).length, changedSince: queries.filter((q) => q.includes('statusChangeDate) >')).length };
};

describe('resolution job: incremental passes', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('a fix seen by the changed-since query resolves its ticket; the unchanged assignments are neither read by id nor touched', async () => {
    const s = await settled(4);
    w = s.w;
    const [fixed, ...others] = s.seeded as [Assignment, ...Assignment[]];
    healthy(w, fixed);
    w.clock.advance(MINUTE);
    const passAt = w.clock.now().toISOString();

    const report = await w.job.runOnce();
    expect(report).toMatchObject({ full: false, checked: 0, resolved: 1, errors: 0 });
    expect(graphQueries(w)).toEqual({ byId: 0, changedSince: 1 });
    expect(row(w, fixed).state).toBe('6');
    expect((await get(w, fixed)).status).toBe('resolved');
    for (const a of others) expect(await get(w, a)).toEqual(a);
    const audit = (await w.bot.store.audit.list(1000)).filter((e) => e.at >= passAt);
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((e) => e.target === fixed.id)).toBe(true);
  });

  it('a deleted resource is invisible to the changed-since query; the full reconcile resolves it', async () => {
    const s = await settled(2);
    w = s.w;
    const [gone, kept] = s.seeded as [Assignment, Assignment];
    w.defender.control.deleteResource(gone.resourceId);
    w.clock.advance(MINUTE);

    expect(await w.job.runOnce()).toMatchObject({ full: false, resolved: 0, errors: 0 });
    expect((await get(w, gone)).status).toBe('open');

    const full = await w.job.runOnce({ full: true });
    expect(full).toMatchObject({ full: true, checked: 2, resolved: 1, errors: 0 });
    expect((await get(w, gone)).status).toBe('resolved');
    expect(row(w, gone).close_notes).toContain('no longer reported by Azure Resource Graph');
    expect((await get(w, kept)).status).toBe('open');
  });

  it('debounce: an assignment waiting for its next healthy pass is read by id on every pass until decided', async () => {
    const s = await settled(3, { resolveAfterHealthyPasses: 3 });
    w = s.w;
    const [a] = s.seeded as [Assignment];
    healthy(w, a);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ checked: 0, waiting: 1, resolved: 0 });
    expect((await get(w, a)).healthyPasses).toBe(1);

    // Past the changed-since window of the fix: only the by-id read of the pending one still sees it.
    w.clock.advance(30 * MINUTE);
    w.defender.control.resetRequestLog();
    expect(await w.job.runOnce()).toMatchObject({ checked: 1, waiting: 1, resolved: 0 });
    expect(graphQueries(w)).toEqual({ byId: 1, changedSince: 1 });
    expect((await get(w, a)).healthyPasses).toBe(2);

    w.clock.advance(30 * MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ checked: 1, resolved: 1 });
    expect(row(w, a).state).toBe('6');
    // Decided: nothing is read by id any more.
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ checked: 0, resolved: 0 });
  });

  it('a failed step is retried on the next pass even after the watermark moved past its change', async () => {
    const s = await settled(2);
    w = s.w;
    const [a] = s.seeded as [Assignment];
    healthy(w, a);
    w.clock.advance(MINUTE);
    // Its ticket cannot be read (resolveTicket reads it first): the step fails, nothing changes.
    w.snow.control.failNext({ status: 403, count: 1000, method: 'GET', pathPrefix: `/api/now/v2/table/incident/${a.ticket!.sysId}` });
    const failed = await w.job.runOnce();
    expect(failed).toMatchObject({ full: false, resolved: 0 });
    expect(failed.errors).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await w.bot.store.meta.get(RECHECK_KEY))!)).toEqual([a.id]);
    expect((await get(w, a)).status).toBe('open');

    w.snow.control.clearFaults();
    w.clock.advance(30 * MINUTE);
    const next = await w.job.runOnce();
    expect(next).toMatchObject({ checked: 1, resolved: 1, errors: 0 });
    expect(row(w, a).state).toBe('6');
    expect(JSON.parse((await w.bot.store.meta.get(RECHECK_KEY))!)).toEqual([]);
  });

  it('a changed ticket is judged against its assessment read by id (closed while unhealthy → removed)', async () => {
    const s = await settled(3);
    w = s.w;
    const [a] = s.seeded as [Assignment];
    w.snow.control.setFields('incident', a.ticket!.sysId, { state: '8' });
    w.clock.advance(MINUTE);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ checked: 1, removedInServiceNow: 1, errors: 0 });
    expect(graphQueries(w)).toEqual({ byId: 1, changedSince: 1 });
    expect((await get(w, a)).status).toBe('removed');
  });
});
