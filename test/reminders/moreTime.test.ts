import type { ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import type { Assignment } from '../../core/model.js';
import { execute, message } from '../harness/activities.js';
import type { BotHarness } from '../harness/botHarness.js';
import type { Harness } from '../defender/helpers.js';
import { SPEC, validateDefinition } from '../defender/openapi.js';
import { cardProblems } from '../cards/validate.js';
import { conversation } from './fixtures.js';
import { BOB, startMoreTimeWorld, type MoreTimeWorld } from './moreTimeWorld.js';

const BOB_FROM = { id: '29:bob', name: 'Bob Martinez', aadObjectId: '00000000-0000-0000-0000-0000000000b0' };
const ALICE_FROM = { id: '29:alice', name: 'Alice Johnson', aadObjectId: '00000000-0000-0000-0000-0000000000a0' };

describe('request more time, end to end', () => {
  let bot: BotHarness;
  let sn: ServiceNowSimulator;
  let defender: Harness;
  let seeded: Assignment;

  let world: MoreTimeWorld;

  beforeEach(async () => {
    // The seeded governance due date is in another format, so the test sees our write replace it.
    world = await startMoreTimeWorld({ env: { SANDBOX_EMULATOR_UPN: 'alice.owner@contoso.com' }, governanceDueDate: '2026-12-04T00:00:00.000Z' });
    ({ bot, sn, defender, seeded } = world);
    await bot.store.conversations.upsert(conversation('a:bob', bot.connector.url, { userUpn: BOB, userAadObjectId: BOB_FROM.aadObjectId }));
    await bot.store.conversations.upsert(
      conversation('a:alice', bot.connector.url, { userUpn: 'alice.johnson@contoso.com', userAadObjectId: ALICE_FROM.aadObjectId }),
    );
  });
  afterEach(() => world.stop());

  const asBob = () => ({ serviceUrl: bot.connector.url, conversationId: 'a:bob', from: BOB_FROM });

  it('digest shows the caller their own digest at once, in Teams and (as the sandbox owner) in the Emulator', async () => {
    await bot.send(message('digest', asBob()));
    const card = bot.connector.cards().at(-1);
    expect(card.body[0].text).toBe('Hi Bob,');
    expect(card.body[1].text).toBe('Your security assignments: 1 open, 0 overdue, 1 due this week');
    expect(JSON.stringify(card)).toContain('in grace period (not affecting secure score)');

    await bot.send(message('digest', { serviceUrl: bot.connector.url, channelId: 'emulator', conversationId: 'emu-1' }));
    expect(bot.connector.activities().at(-1)!.body.text).toBe('You (alice.owner@contoso.com) have no open security assignments. Nothing to do.');
  });

  it('asks for a date and a reason, keeps the due date, notes the ticket and writes remediationEta to Defender', async () => {
    const form = await bot.send(execute('requestMoreTime', { assignmentId: seeded.id }, asBob()));
    expect(form.status).toBe(200);
    const formCard = bot.connector.cards().at(-1);
    const inputs = formCard.body.filter((b: any) => b.type.startsWith('Input.'));
    expect(inputs.map((i: any) => [i.type, i.id, i.isRequired])).toEqual([
      ['Input.Date', 'eta', true],
      ['Input.Text', 'justification', true],
    ]);
    expect(inputs[1].isMultiline).toBe(true);
    expect(formCard.actions[0]).toMatchObject({ type: 'Action.Execute', verb: 'submitMoreTime', data: { assignmentId: seeded.id } });

    const justification = 'Waiting for the vendor patch window on 15 December';
    const res = await bot.send(execute('submitMoreTime', { assignmentId: seeded.id, eta: '2026-12-18', justification }, asBob()));
    expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
    const result = JSON.stringify(res.body.value);
    expect(result).toContain('More time requested');
    expect(result).toContain(`work note added to ${seeded.ticket!.number}`);
    expect(result).toContain('remediation ETA set to 2026-12-18');

    const stored = (await bot.store.assignments.get(seeded.id))!;
    expect(stored.eta).toEqual({ date: '2026-12-18', justification, requestedBy: BOB, at: '2026-11-30T09:00:00.000Z' });
    expect(stored.dueDate).toBe('2026-12-04');
    expect((await bot.store.audit.list(5)).find((e) => e.action === 'assignment.eta')).toMatchObject({
      actor: BOB,
      target: seeded.id,
      details: { eta: '2026-12-18' },
    });

    const notes = sn.control
      .journal(seeded.ticket!.sysId)
      .filter((j) => j.element === 'work_notes')
      .map((j) => j.value);
    expect(notes.some((n) => n.includes('expected fix by 2026-12-18') && n.includes(justification))).toBe(true);

    const [gov] = defender.sim.control.listGovernanceAssignments();
    expect(gov!.properties).toMatchObject({
      owner: BOB,
      // Defender follows the store, in the one format every writer uses (end of the due day).
      remediationDueDate: '2026-12-04T23:59:59Z',
      isGracePeriod: true,
      remediationEta: { eta: '2026-12-18T00:00:00Z', justification },
      additionalData: { ticketNumber: 10001 },
    });
    expect(validateDefinition(SPEC.governanceAssignments, 'GovernanceAssignment', { properties: gov!.properties }, { request: true, noExtra: true })).toEqual(
      [],
    );
  });

  it('a double click on Submit sends one work note, one Defender write and one admin request', async () => {
    // The channel where the assignment was created, so the admins' request card is posted.
    await bot.store.conversations.upsert(conversation(seeded.conversationId!, bot.connector.url, { name: 'Security' }));
    const justification = 'Waiting for the vendor patch window on 15 December';
    const governancePuts = () => defender.sim.control.requests().filter((r) => r.method === 'PUT' && r.path.includes('/governanceAssignments/'));
    const requestCards = () =>
      bot.connector
        .activities()
        .filter(
          (c) =>
            c.conversationId === seeded.conversationId && c.method === 'POST' && c.body.attachments?.[0]?.content?.body?.[0]?.text === 'Request for more time',
        );
    const putsBefore = governancePuts().length;

    const submit = () => bot.send(execute('submitMoreTime', { assignmentId: seeded.id, eta: '2026-12-18', justification }, asBob()));
    const [first, second] = await Promise.all([submit(), submit()]);

    const titles = [first, second].map((r) => r.body.value.body[0].text).sort();
    expect(titles).toEqual(['More time already requested', 'More time requested']);
    const repeat = [first, second].find((r) => r.body.value.body[0].text === 'More time already requested')!.body.value;
    expect(cardProblems(repeat)).toEqual([]);
    expect(JSON.stringify(repeat)).toContain('is already recorded, so nothing was sent again');
    const notes = sn.control.journal(seeded.ticket!.sysId).filter((j) => j.element === 'work_notes' && j.value.includes('expected fix by 2026-12-18'));
    expect(notes).toHaveLength(1);
    expect(governancePuts().slice(putsBefore)).toHaveLength(1);
    expect(requestCards()).toHaveLength(1);
    expect((await bot.store.audit.list(50)).filter((e) => e.action === 'assignment.eta')).toHaveLength(1);

    // A different date is a new request and goes out again.
    const changed = await bot.send(execute('submitMoreTime', { assignmentId: seeded.id, eta: '2026-12-22', justification }, asBob()));
    expect(changed.body.value.body[0].text).toBe('More time requested');
    expect(governancePuts().slice(putsBefore)).toHaveLength(2);
    expect(requestCards()).toHaveLength(2);
  });

  it('refuses other people, bad dates and short reasons', async () => {
    const other = await bot.send(
      execute('requestMoreTime', { assignmentId: seeded.id }, { serviceUrl: bot.connector.url, conversationId: 'a:alice', from: ALICE_FROM }),
    );
    expect(other.body.value).toBe(`Only the owner (${BOB}) can ask for more time on this assignment.`);

    // The same form comes back in place, each problem under its input with the field's label, what Bob typed kept.
    for (const [eta, justification, field, problem] of [
      ['2026-11-30', 'A good enough reason', 'eta', 'New date: pick a date after today'],
      ['2028-01-01', 'A good enough reason', 'eta', 'New date: pick a date within a year from today'],
      ['2026-02-30', 'A good enough reason', 'eta', 'New date: pick a date that exists'],
      ['2026-12-18', 'too short', 'justification', 'Reason: write at least 10 characters'],
    ]) {
      const sentAt = bot.connector.activities().length;
      const res = await bot.send(execute('submitMoreTime', { assignmentId: seeded.id, eta, justification }, asBob()));
      expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
      const card = res.body.value;
      expect(card.body[0].text).toBe('Request more time');
      const byId = Object.fromEntries(card.body.filter((b: any) => b.id).map((b: any) => [b.id, b]));
      expect([field, byId[`${field}Error`]?.text]).toEqual([field, problem]);
      expect(Object.keys(byId).filter((id) => id.endsWith('Error'))).toEqual([`${field}Error`]);
      expect([byId.eta.value, byId.justification.value]).toEqual([eta, justification]);
      expect(JSON.stringify(byId.formProblems)).toContain('Nothing was sent: fix the field marked above');
      expect(JSON.stringify(card)).not.toMatch(/eta:|justification:/);
      // Nothing else was posted: no separate error card.
      expect(bot.connector.activities().slice(sentAt)).toEqual([]);
    }
    expect((await bot.store.assignments.get(seeded.id))!.eta).toBeUndefined();
    expect(sn.control.journal(seeded.ticket!.sysId).filter((j) => j.element === 'work_notes' && j.value.includes('more time'))).toEqual([]);
  });

  it('keeps the request when Defender fails and says so on the card', async () => {
    await defender.client.deleteGovernanceAssignment(seeded.resourceId, seeded.recommendationKey, seeded.id);
    const res = await bot.send(
      execute('submitMoreTime', { assignmentId: seeded.id, eta: '2026-12-18', justification: 'Waiting for the patch window' }, asBob()),
    );
    const result = JSON.stringify(res.body.value);
    expect(result).toContain('More time requested, with problems');
    expect(result).toContain('the governance assignment no longer exists in Defender');
    expect((await bot.store.assignments.get(seeded.id))!.eta?.date).toBe('2026-12-18');
  });
});
