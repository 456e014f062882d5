import { DAY_MS } from '../../core/clock.js';
import { CLOSE_REASON } from '../../core/resolution.js';
import { userId } from '../../sandbox/servicenow/index.js';
import { WATERMARK_KEY } from '../../app/resolution.js';
import type { Assignment } from '../../core/model.js';
import { ALICE, healthy, startWorld, type World } from './world.js';

const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;
const row = (w: World, a: Assignment) => w.snow.control.record(a.ticketType, a.ticket!.sysId)!;
const journal = (w: World, sysId: string) => w.snow.control.journal(sysId).map((j) => j.value);
const governance = (w: World, a: Assignment) =>
  w.defender.control.listGovernanceAssignments().find((g) => g.name === a.id && g.resourceId.toLowerCase() === a.resourceId.toLowerCase());
const unhealthy = (w: World, a: Assignment) => w.defender.control.markUnhealthy({ resourceId: a.resourceId, assessmentKey: a.recommendationKey });
const subject = (a: Assignment) => `*${a.recommendationName}* on *${a.resourceName}*`;

describe('resolution job: Defender → ServiceNow', () => {
  let w: World;
  afterEach(() => w?.close());

  it('incident: healthy → ticket resolved with evidence, governance deleted, card updated, announced once', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident' });
    const card = (await w.bot.store.recommendations.getCard('19:channel-1@thread.tacv2', a.recommendationKey))!;
    expect(governance(w, a)).toBeDefined();

    // Still unhealthy: nothing happens.
    const idle = await w.job.runOnce();
    expect(idle).toMatchObject({ resolved: 0, announcements: 0, errors: 0 });
    expect(row(w, a).state).toBe('1');

    w.clock.advance(60_000);
    healthy(w, a);
    const changedAt = w.clock.now().toISOString();
    w.clock.advance(60_000);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ resolved: 1, needsManual: 0, governanceDeleted: 1, announcements: 1, cardsUpdated: 1, errors: 0 });

    expect(row(w, a)).toMatchObject({ state: '6', close_code: 'Solution provided' });
    expect(row(w, a).close_notes).toContain(`assessment status Healthy since ${changedAt}`);
    expect(row(w, a).close_notes).toContain(a.recommendationName);
    expect(row(w, a).close_notes).toContain(a.resourceId);
    expect(await get(w, a)).toMatchObject({
      status: 'resolved',
      closeReason: CLOSE_REASON.autoResolved,
      resolvedAt: w.clock.now().toISOString(),
      governance: { status: 'deleted' },
    });
    expect(governance(w, a)).toBeUndefined();
    expect(w.announcements()).toEqual([`✅ ${subject(a)} is healthy again — ${a.ticket!.number} resolved automatically.`]);
    const put = w.bot.connector.activities().find((c) => c.method === 'PUT' && c.activityId === card.activityId)!;
    expect(put.body.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(JSON.stringify(put.body)).not.toContain(a.ticket!.number);
    expect((await w.bot.store.audit.list(20)).some((e) => e.action === 'assignment.resolve' && e.target === a.id)).toBe(true);

    // Next pass: nothing more to say.
    w.bot.connector.reset();
    const again = await w.job.runOnce();
    expect(again).toMatchObject({ resolved: 0, announcements: 0 });
    expect(w.announcements()).toEqual([]);
  });

  it('one ticket shared by a batch stays open until its last resource is healthy', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    const b0 = await w.seed({ ticketType: 'incident', withCard: false });
    // b shares a's ticket, as the form's "one ticket for the selection" creates them.
    const b = { ...b0, ticketGrouping: 'single' as const, ticket: a.ticket, batchId: a.batchId };
    await w.bot.store.assignments.upsertMany([{ ...(await get(w, a)), ticketGrouping: 'single' }, b]);
    healthy(w, a);
    expect(await w.job.runOnce()).toMatchObject({ resolved: 1, errors: 0 });
    expect(row(w, a).state).toBe('1');
    expect((await get(w, a)).status).toBe('resolved');
    expect((await get(w, b)).status).toBe('open');
    expect(w.announcements()).toEqual([`✅ ${subject(a)} is healthy again — ${a.ticket!.number} stays open for 1 other resource.`]);
    healthy(w, b);
    await w.job.runOnce();
    expect(row(w, a).state).toBe('6');
    expect((await get(w, b)).status).toBe('resolved');
  });

  it('resource deleted counts as fixed: incident resolved with that evidence', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    w.defender.control.deleteResource(a.resourceId);
    await w.job.runOnce();
    expect(row(w, a).state).toBe('6');
    expect(row(w, a).close_notes).toContain('no longer reported by Azure Resource Graph');
    expect(w.announcements()).toEqual([`✅ ${subject(a)} no longer exists (resource deleted) — ${a.ticket!.number} resolved automatically.`]);
  });

  it('problem: honest "needs manual closure", awaiting-manual-close, then resolved once ServiceNow shows it closed', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'problem' });
    healthy(w, a);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ resolved: 0, needsManual: 1, announcements: 1 });
    expect(row(w, a).state).toBe('101');
    expect(await get(w, a)).toMatchObject({ status: 'awaiting-manual-close', governance: { status: 'deleted' } });
    const [text] = w.announcements();
    expect(text).toContain(`✅ ${subject(a)} is healthy again — ${a.ticket!.number} needs manual closure in ServiceNow (${a.ticket!.link}).`);
    expect(text).not.toContain('resolved automatically');
    expect(journal(w, a.ticket!.sysId).some((n) => n.includes('Please resolve it manually'))).toBe(true);

    // Nothing changes while ServiceNow keeps it open; no second announcement.
    w.bot.connector.reset();
    expect(await w.job.runOnce()).toMatchObject({ needsManual: 0, closedAfterManual: 0, announcements: 0 });

    w.snow.control.setFields('problem', a.ticket!.sysId, { state: '107', resolution_code: 'fix_applied' });
    const closed = await w.job.runOnce();
    expect(closed).toMatchObject({ closedAfterManual: 1, announcements: 1 });
    expect(await get(w, a)).toMatchObject({ status: 'resolved', closeReason: CLOSE_REASON.closedAfterHealthy });
    expect(w.announcements()).toEqual([`✅ ${a.ticket!.number} was closed in ServiceNow — the assignment for ${subject(a)} is resolved.`]);
  });

  it('normal change request waiting for approval: needs manual closure, state untouched', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'change_request', withCard: false });
    healthy(w, a);
    expect(await w.job.runOnce()).toMatchObject({ needsManual: 1, resolved: 0 });
    expect(row(w, a).state).toBe('-5');
    expect((await get(w, a)).status).toBe('awaiting-manual-close');
    expect(w.announcements()[0]).toContain(`${a.ticket!.number} needs manual closure in ServiceNow`);
  });

  it('debounce: RESOLVE_AFTER_HEALTHY_PASSES=2 waits for two consecutive healthy passes', async () => {
    w = await startWorld({ resolveAfterHealthyPasses: 2 });
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    healthy(w, a);
    expect(await w.job.runOnce()).toMatchObject({ waiting: 1, resolved: 0, announcements: 0 });
    expect(await get(w, a)).toMatchObject({ status: 'open', healthyPasses: 1 });
    expect(row(w, a).state).toBe('1');

    // Flaps back: the count restarts.
    w.clock.advance(60_000);
    unhealthy(w, a);
    await w.job.runOnce();
    expect(await get(w, a)).toMatchObject({ status: 'open', healthyPasses: 0 });

    w.clock.advance(60_000);
    healthy(w, a);
    await w.job.runOnce();
    expect(row(w, a).state).toBe('1');
    const second = await w.job.runOnce();
    expect(second).toMatchObject({ resolved: 1 });
    expect(row(w, a).state).toBe('6');
    expect(await get(w, a)).toMatchObject({ status: 'resolved', healthyPasses: 2 });
  });
});

describe('resolution job: regressions', () => {
  let w: World;
  afterEach(() => w?.close());

  it('incident unhealthy again inside the window: reopened (In Progress + work note), governance re-created, announced', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    healthy(w, a);
    await w.job.runOnce();
    expect(row(w, a).state).toBe('6');
    w.bot.connector.reset();

    w.clock.advance(3 * DAY_MS);
    unhealthy(w, a);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ reopened: 1, reopenedAsNew: 0, announcements: 1, errors: 0 });
    expect(row(w, a).state).toBe('2');
    expect(journal(w, a.ticket!.sysId).some((n) => n.includes('Reopened automatically') && n.includes('Unhealthy again'))).toBe(true);
    expect(await get(w, a)).toMatchObject({ status: 'open', healthyPasses: 0, governance: { status: 'synced' } });
    expect((await get(w, a)).closeReason).toBeUndefined();
    expect(governance(w, a)?.properties).toMatchObject({ owner: ALICE, additionalData: { ticketLink: a.ticket!.link } });
    expect(w.announcements()).toEqual([`🔁 ${subject(a)} is unhealthy again — ${a.ticket!.number} reopened.`]);

    // And it can be resolved again, with a new announcement.
    w.bot.connector.reset();
    w.clock.advance(DAY_MS);
    healthy(w, a);
    expect(await w.job.runOnce()).toMatchObject({ resolved: 1, announcements: 1 });
    expect(row(w, a).state).toBe('6');
  });

  it('problem unhealthy again inside the window: a new problem referencing the old one', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'problem', withCard: false });
    healthy(w, a);
    await w.job.runOnce();
    w.snow.control.setFields('problem', a.ticket!.sysId, { state: '107', resolution_code: 'fix_applied' });
    await w.job.runOnce();
    expect((await get(w, a)).status).toBe('resolved');
    w.bot.connector.reset();

    w.clock.advance(2 * DAY_MS);
    unhealthy(w, a);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ reopenedAsNew: 1, announcements: 1, errors: 0 });
    const now = await get(w, a);
    expect(now.status).toBe('open');
    expect(now.previousTicket).toMatchObject({ number: a.ticket!.number, sysId: a.ticket!.sysId });
    expect(now.ticket!.number).not.toBe(a.ticket!.number);
    const fresh = w.snow.control.record('problem', now.ticket!.sysId)!;
    const old = row(w, a);
    expect(fresh.correlation_id).not.toBe(old.correlation_id);
    expect(fresh.description).toContain(a.ticket!.number);
    expect(fresh.assigned_to).toBe(userId('alice.owner'));
    expect(old.state).toBe('107');
    expect(journal(w, a.ticket!.sysId).some((n) => n.includes(`follow-up: ${now.ticket!.number}`))).toBe(true);
    expect(governance(w, a)?.properties.additionalData?.ticketLink).toBe(now.ticket!.link);
    expect(w.announcements()).toEqual([
      `🔁 ${subject(a)} is unhealthy again — ${a.ticket!.number} cannot be reopened, so ${now.ticket!.number} was opened referencing it (${now.ticket!.link}).`,
    ]);

    // A second pass does not open yet another ticket.
    await w.job.runOnce({ full: true });
    expect(w.snow.control.records('problem')).toHaveLength(2);
  });

  it('outside the window nothing is reopened: the assignment stays resolved (the resource simply shows unassigned)', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    healthy(w, a);
    await w.job.runOnce();
    w.bot.connector.reset();
    w.clock.advance(15 * DAY_MS);
    unhealthy(w, a);
    const inc = await w.job.runOnce();
    const full = await w.job.runOnce({ full: true });
    expect(inc).toMatchObject({ reopened: 0, reopenedAsNew: 0 });
    expect(full).toMatchObject({ reopened: 0, reopenedAsNew: 0 });
    expect(row(w, a).state).toBe('6');
    expect((await get(w, a)).status).toBe('resolved');
    expect(await w.bot.store.assignments.findLiveByKey(a.key)).toBeUndefined();
    expect(governance(w, a)).toBeUndefined();
    expect(w.announcements()).toEqual([]);
  });

  it('watermark ahead: the incremental pass misses the regression, the full reconcile heals it', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    healthy(w, a);
    await w.job.runOnce();
    expect(await w.bot.store.meta.get(WATERMARK_KEY)).toBeDefined();
    w.clock.advance(DAY_MS);
    unhealthy(w, a);
    // As if a change had been indexed late: the stored watermark is already past it.
    await w.bot.store.meta.set(WATERMARK_KEY, new Date(w.clock.now().getTime() + DAY_MS).toISOString());
    const inc = await w.job.runOnce();
    expect(inc).toMatchObject({ full: false, reopened: 0 });
    expect(row(w, a).state).toBe('6');

    const full = await w.job.runOnce({ full: true });
    expect(full).toMatchObject({ full: true, reopened: 1 });
    expect(row(w, a).state).toBe('2');
  });

  it('incremental pass picks up a regression through the changed-since query', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    healthy(w, a);
    await w.job.runOnce();
    const wm = (await w.bot.store.meta.get(WATERMARK_KEY))!;
    w.clock.advance(DAY_MS);
    unhealthy(w, a);
    const rgBefore = w.defender.control.requestCount({ kind: 'resourceGraph' });
    const inc = await w.job.runOnce();
    expect(inc).toMatchObject({ full: false, reopened: 1 });
    // One changed-since query; no open assignment left to read by id.
    expect(w.defender.control.requestCount({ kind: 'resourceGraph' }) - rgBefore).toBe(1);
    expect(Date.parse((await w.bot.store.meta.get(WATERMARK_KEY))!)).toBeGreaterThan(Date.parse(wm));
  });
});

describe('resolution job: ServiceNow → bot', () => {
  let w: World;
  afterEach(() => w?.close());

  it('ticket closed in ServiceNow while the resource is still unhealthy: removed, governance deleted, channel told', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident' });
    w.snow.control.setFields('incident', a.ticket!.sysId, { state: '8' });
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ removedInServiceNow: 1, governanceDeleted: 1, announcements: 1, cardsUpdated: 1 });
    expect(await get(w, a)).toMatchObject({ status: 'removed', closeReason: 'closed in ServiceNow', governance: { status: 'deleted' } });
    expect(governance(w, a)).toBeUndefined();
    expect(w.announcements()).toEqual([
      `${subject(a)} is unassigned again: ${a.ticket!.number} was closed in ServiceNow while the resource is still unhealthy.`,
    ]);
    expect(await w.bot.store.assignments.findLiveByKey(a.key)).toBeUndefined();
  });

  it('change closed in ServiceNow (state Closed) is removed the same way', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'change_request', withCard: false });
    w.snow.control.setFields('change_request', a.ticket!.sysId, { state: '3' });
    expect(await w.job.runOnce()).toMatchObject({ removedInServiceNow: 1 });
    expect((await get(w, a)).status).toBe('removed');
  });

  it('assigned_to changed in ServiceNow: assignment owner and governance owner follow', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    w.snow.control.setFields('incident', a.ticket!.sysId, { assigned_to: userId('carol.nguyen') });
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ ownersChanged: 1, errors: 0 });
    expect(await get(w, a)).toMatchObject({ status: 'open', owner: 'carol.nguyen@contoso.com', governance: { status: 'synced' } });
    expect(governance(w, a)?.properties).toMatchObject({ owner: 'carol.nguyen@contoso.com', remediationDueDate: '2026-12-31T23:59:59Z' });
    expect(w.announcements()[0]).toContain('reassigned in ServiceNow to carol.nguyen@contoso.com');
    expect(await w.job.runOnce()).toMatchObject({ ownersChanged: 0 });
  });

  it("owner write-back: Defender's copy is read only when it can matter (a portal ETA is kept), not when our fields cover every property", async () => {
    w = await startWorld();
    const plain = await w.seed({ ticketType: 'incident', withCard: false });
    const withEta = await w.seed({ ticketType: 'incident', withCard: false });
    const eta = { date: '2026-12-20', justification: 'waiting for the vendor patch', requestedBy: ALICE, at: '2026-11-25T09:00:00.000Z' };
    await w.bot.store.assignments.upsertMany([{ ...(await get(w, withEta)), eta }]);
    // Someone sets an ETA in the Defender portal on the assignment that has none of ours.
    const portalEta = { eta: '2026-12-24T00:00:00Z', justification: 'set in the portal' };
    const current = governance(w, plain)!;
    await w.azure.putGovernanceAssignment(plain.resourceId, plain.recommendationKey, plain.id, {
      properties: { ...(current.properties as { remediationDueDate: string }), remediationEta: portalEta },
    });
    for (const a of [plain, withEta]) w.snow.control.setFields('incident', a.ticket!.sysId, { assigned_to: userId('carol.nguyen') });
    w.defender.control.resetRequestLog();
    expect(await w.job.runOnce()).toMatchObject({ ownersChanged: 2, errors: 0 });
    const governanceCalls = (a: Assignment) =>
      w.defender.control
        .requests()
        .filter((r) => r.kind === 'arm' && r.path.toLowerCase().includes(`/governanceassignments/${a.id}`))
        .map((r) => r.method);
    expect(governanceCalls(plain)).toEqual(['GET', 'PUT']);
    expect(governanceCalls(withEta)).toEqual(['PUT']);
    expect(governance(w, plain)?.properties).toMatchObject({ owner: 'carol.nguyen@contoso.com', remediationEta: portalEta });
    expect(governance(w, withEta)?.properties).toMatchObject({
      owner: 'carol.nguyen@contoso.com',
      remediationEta: { eta: '2026-12-20T00:00:00Z', justification: 'waiting for the vendor patch' },
    });
  });

  it('integration removed: assignments removed, work note on each ticket, tickets left open, governance deleted', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident' });
    const b = await w.seed({ ticketType: 'problem', withCard: false });
    await w.bot.app.integrations.remove('Contoso ITSM', 'tester');
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ integrationRemoved: 2, governanceDeleted: 2, announcements: 2, announcementMessages: 1, errors: 0 });
    for (const x of [a, b]) {
      expect(await get(w, x)).toMatchObject({ status: 'removed', closeReason: 'integration removed' });
      expect(governance(w, x)).toBeUndefined();
      expect(journal(w, x.ticket!.sysId).some((n) => n.includes('integration "Contoso ITSM" was removed'))).toBe(true);
    }
    expect(row(w, a).state).toBe('1');
    expect(row(w, b).state).toBe('101');
    // Both outcomes of the pass are lines of one message in the channel.
    expect(w.announcements()).toHaveLength(1);
    const lines = w
      .announcements()[0]!
      .split('\n')
      .filter((l) => l.startsWith('- '));
    expect(lines).toHaveLength(2);
    for (const x of [a, b])
      expect(lines.filter((l) => l.includes(x.ticket!.number) && l.includes('the ServiceNow integration "Contoso ITSM" was removed'))).toHaveLength(1);
  });
});

describe('resolution job: restarts', () => {
  let w: World;
  afterEach(() => w?.close());

  it('never replays an announcement after a restart, even when the resolution has to be redone', async () => {
    w = await startWorld();
    const a = await w.seed({ ticketType: 'incident', withCard: false });
    healthy(w, a);
    await w.job.runOnce();
    expect(w.announcements()).toHaveLength(1);

    await w.restart();
    // As if the process had died after ServiceNow resolved the ticket but before our write landed.
    await w.bot.store.assignments.upsertMany([
      { ...(await get(w, a)), status: 'open', resolvedAt: undefined, closeReason: undefined, governance: { key: a.id, status: 'synced' } },
    ]);
    const again = await w.job.runOnce();
    expect(again).toMatchObject({ resolved: 1, announcements: 0 });
    expect((await get(w, a)).status).toBe('resolved');
    await w.bot.app.messenger.drain();
    expect(w.announcements()).toHaveLength(1);
  });
});
