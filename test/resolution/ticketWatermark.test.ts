/**
 * The resolution job follows ServiceNow by `sys_updated_on` since a watermark per integration and
 * table (with overlap) instead of reading every open ticket each pass; the daily full reconcile
 * still reads them all by id. Real HTTP against the ServiceNow simulator, one ManualClock for the
 * bot and the instance.
 */
import type { Assignment } from '../../core/model.js';
import type { ResolutionSettings } from '../../app/resolution.js';
import { ticketWatermarkKey } from '../../app/resolution.js';
import type { RequestRecord } from '../../sandbox/servicenow/index.js';
import { startWorld, type World } from './world.js';

const MINUTE = 60_000;
const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;
const watermark = (w: World) => w.bot.store.meta.get(ticketWatermarkKey(w.integration.id, 'incident'));
/** Reads of the incident table (not users, not single records). */
const ticketReads = (w: World): RequestRecord[] => w.snow.control.requests().filter((r) => r.method === 'GET' && r.path === '/api/now/v2/table/incident');
const closeInServiceNow = (w: World, a: Assignment, extra: Record<string, string> = {}) =>
  w.snow.control.setFields('incident', a.ticket!.sysId, { state: '8', ...extra });

/**
 * Seeds incidents, runs the first (full) pass, then one more pass 10 minutes later that re-reads the
 * overlap window and moves the watermark to the instance's "now": later passes start clean.
 */
async function settled(count: number, settings: Partial<ResolutionSettings> = {}): Promise<{ w: World; tickets: Assignment[] }> {
  const w = await startWorld(settings);
  const tickets: Assignment[] = [];
  for (let i = 0; i < count; i++) tickets.push(await w.seed({ ticketType: 'incident', withCard: false }));
  const first = await w.job.runOnce();
  expect(first).toMatchObject({ ticketGroupsReadInFull: 1, ticketGroupsReadByChanges: 0, ticketRowsRead: count, errors: 0 });
  expect(await watermark(w)).toBe('2026-11-26T09:00:00.000Z');
  w.clock.advance(10 * MINUTE);
  expect(await w.job.runOnce()).toMatchObject({ ticketGroupsReadInFull: 0, ticketGroupsReadByChanges: 1, errors: 0 });
  expect(await watermark(w)).toBe('2026-11-26T09:10:00.000Z');
  w.clock.advance(MINUTE);
  w.snow.control.resetStats();
  return { w, tickets };
}

describe('resolution job: ServiceNow changes by sys_updated_on since a watermark', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('a ticket closed in ServiceNow is seen by the next cycle, which reads only the changed rows', async () => {
    const s = await settled(3);
    w = s.w;
    const [a, b, c] = s.tickets as [Assignment, Assignment, Assignment];
    closeInServiceNow(w, b);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ removedInServiceNow: 1, ticketGroupsReadByChanges: 1, ticketGroupsReadInFull: 0, ticketRowsRead: 1, errors: 0 });
    expect((await get(w, b)).status).toBe('removed');
    expect((await get(w, a)).status).toBe('open');
    expect((await get(w, c)).status).toBe('open');
    // One query from the watermark less the 5-minute overlap; no ticket read by id.
    expect(ticketReads(w).map((r) => [r.query, r.rows])).toEqual([['sys_updated_on>=2026-11-26 09:05:00^ORDERBYsys_updated_on^ORDERBYsys_id', 1]]);
    expect(await watermark(w)).toBe('2026-11-26T09:11:00.000Z');
  });

  it('a cycle with no changes reads no ticket rows beyond the one empty page', async () => {
    const s = await settled(4);
    w = s.w;
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ ticketRowsRead: 0, removedInServiceNow: 0, ownersChanged: 0, errors: 0 });
    expect(ticketReads(w).map((r) => r.rows)).toEqual([0]);
  });

  it('rows sharing one second across several pages: every one read once (keyset paging, not offsets)', async () => {
    const s = await settled(7, { changedTicketsPageSize: 2 });
    w = s.w;
    for (const a of s.tickets) closeInServiceNow(w, a);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ removedInServiceNow: 7, ticketRowsRead: 7, errors: 0 });
    const reads = ticketReads(w);
    expect(reads.map((r) => r.rows)).toEqual([2, 2, 2, 1, 0]);
    expect(reads[0]!.query).toBe('sys_updated_on>=2026-11-26 09:05:00^ORDERBYsys_updated_on^ORDERBYsys_id');
    for (const r of reads.slice(1, 4)) expect(r.query).toMatch(/^sys_updated_on=2026-11-26 09:11:00\^sys_id>[0-9a-f]{32}\^ORDERBYsys_id$/);
    expect(reads[4]!.query).toBe('sys_updated_on>2026-11-26 09:11:00^ORDERBYsys_updated_on^ORDERBYsys_id');
  });

  it('a change committed during a pass, stamped before the pass read, is seen by the next pass (overlap)', async () => {
    const s = await settled(2);
    w = s.w;
    const [a, b] = s.tickets as [Assignment, Assignment];
    // A ServiceNow transaction stamped 09:10:30 that commits while the pass is reading: the answer
    // in flight does not have it, and its stamp is before the watermark the pass moves to.
    w.snow.control.afterNextList('incident', () => closeInServiceNow(w!, b, { sys_updated_on: '2026-11-26 09:10:30' }));
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 0, errors: 0 });
    expect(await watermark(w)).toBe('2026-11-26T09:11:00.000Z');
    expect((await get(w, b)).status).toBe('open');
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 1, errors: 0 });
    expect((await get(w, b)).status).toBe('removed');
    expect((await get(w, a)).status).toBe('open');
  });

  it('without the overlap that late commit is missed until the full reconcile (what the overlap is for)', async () => {
    const s = await settled(1, { ticketWatermarkOverlapMs: 0 });
    w = s.w;
    const [a] = s.tickets as [Assignment];
    w.snow.control.afterNextList('incident', () => closeInServiceNow(w!, a, { sys_updated_on: '2026-11-26 09:10:30' }));
    await w.job.runOnce();
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 0 });
    expect(await w.job.runOnce({ full: true })).toMatchObject({ removedInServiceNow: 1, ticketGroupsReadInFull: 1 });
  });

  it('a failed page keeps the watermark and nothing of the partial read is acted on; the next pass reads the window again', async () => {
    const s = await settled(3, { changedTicketsPageSize: 2 });
    w = s.w;
    for (const a of s.tickets) closeInServiceNow(w, a);
    // The first page arrives; every try of the second fails.
    w.snow.control.afterNextList('incident', () =>
      w!.snow.control.failNext({ status: 503, count: 4, method: 'GET', pathPrefix: '/api/now/v2/table/incident' }),
    );
    const failed = await w.job.runOnce();
    expect(failed.errors).toBeGreaterThan(0);
    expect(failed).toMatchObject({ removedInServiceNow: 0 });
    expect(await watermark(w)).toBe('2026-11-26T09:10:00.000Z');
    for (const a of s.tickets) expect((await get(w, a)).status).toBe('open');

    w.clock.advance(MINUTE);
    w.snow.control.resetStats();
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 3, errors: 0 });
    expect(ticketReads(w)[0]!.query).toBe('sys_updated_on>=2026-11-26 09:05:00^ORDERBYsys_updated_on^ORDERBYsys_id');
    expect(await watermark(w)).toBe('2026-11-26T09:12:00.000Z');
  });

  it('a changed ticket that cannot be judged this pass (Defender unreadable) keeps the watermark; the next pass judges it', async () => {
    const s = await settled(1);
    w = s.w;
    const [a] = s.tickets as [Assignment];
    closeInServiceNow(w, a);
    w.defender.control.injectFaults({ count: 50, status: 500, target: 'resourceGraph' });
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 0, ticketRowsRead: 1 });
    expect(await watermark(w)).toBe('2026-11-26T09:10:00.000Z');
    w.defender.control.clearFaults();
    // Well past the overlap: only the kept watermark brings the change back.
    w.clock.advance(30 * MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 1 });
    expect((await get(w, a)).status).toBe('removed');
  });

  it('the daily full reconcile still catches a change whose sys_updated_on was left in the past', async () => {
    const s = await settled(2);
    w = s.w;
    const [a, b] = s.tickets as [Assignment, Assignment];
    // E.g. a script with autoSysFields(false): the ticket is closed, its stamp says 08:00.
    closeInServiceNow(w, a, { sys_updated_on: '2026-11-26 08:00:00' });
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 0, ticketRowsRead: 0, errors: 0 });
    expect((await get(w, a)).status).toBe('open');

    w.snow.control.resetStats();
    const full = await w.job.runOnce({ full: true });
    expect(full).toMatchObject({ removedInServiceNow: 1, ticketGroupsReadInFull: 1, ticketRowsRead: 2, errors: 0 });
    expect((await get(w, a)).status).toBe('removed');
    expect((await get(w, b)).status).toBe('open');
    expect(ticketReads(w).some((r) => r.query?.startsWith('sys_idIN'))).toBe(true);
  });

  it('a ticket shared by a batch: its change reaches every assignment of it', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    const b0 = await w.seed({ ticketType: 'incident', withCard: false });
    // b shares a's ticket, as the form's "one ticket for the selection" creates them.
    const b = { ...b0, ticketGrouping: 'single' as const, ticket: a.ticket, batchId: a.batchId };
    await w.bot.store.assignments.upsertMany([{ ...(await get(w, a)), ticketGrouping: 'single' }, b]);
    await w.job.runOnce();
    w.clock.advance(10 * MINUTE);
    await w.job.runOnce();
    w.clock.advance(MINUTE);
    closeInServiceNow(w, a);
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 2, ticketGroupsReadByChanges: 1, errors: 0 });
    expect((await get(w, a)).status).toBe('removed');
    expect((await get(w, b)).status).toBe('removed');
  });

  it('each integration and table has its own watermark; only tables with live assignments are queried', async () => {
    w = await startWorld();
    const inc = await w.seed({ ticketType: 'incident', withCard: false });
    const prb = await w.seed({ ticketType: 'problem', withCard: false });
    await w.job.runOnce();
    const problemKey = ticketWatermarkKey(w.integration.id, 'problem');
    expect(await watermark(w)).toBe('2026-11-26T09:00:00.000Z');
    expect(await w.bot.store.meta.get(problemKey)).toBe('2026-11-26T09:00:00.000Z');
    expect(await w.bot.store.meta.get(ticketWatermarkKey(w.integration.id, 'change_request'))).toBeUndefined();

    // The problem table fails: its watermark stays, the incident table's moves.
    w.clock.advance(10 * MINUTE);
    w.snow.control.failNext({ status: 503, count: 4, method: 'GET', pathPrefix: '/api/now/v2/table/problem' });
    w.snow.control.resetStats();
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ ticketGroupsReadByChanges: 2 });
    expect(await watermark(w)).toBe('2026-11-26T09:10:00.000Z');
    expect(await w.bot.store.meta.get(problemKey)).toBe('2026-11-26T09:00:00.000Z');
    expect(w.snow.control.requests().some((r) => r.path.endsWith('/table/change_request'))).toBe(false);

    // Once nothing is live in a table, it is not queried at all.
    closeInServiceNow(w, inc);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 1 });
    w.snow.control.resetStats();
    w.clock.advance(MINUTE);
    await w.job.runOnce();
    expect(ticketReads(w)).toEqual([]);
    expect(w.snow.control.requests().filter((r) => r.path === '/api/now/v2/table/problem').length).toBe(1);
    expect((await get(w, prb)).status).toBe('open');
  });
});
