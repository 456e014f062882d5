/**
 * The security-admin side of "request more time", end to end over HTTP: the real bot, the fake
 * Bot Connector, the ServiceNow simulator and the Defender simulator (roles come from its RBAC).
 */
import { userObjectId } from '../../sandbox/defender/dataset.js';
import type { ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import type { Assignment, Recommendation } from '../../core/model.js';
import { execute } from '../harness/activities.js';
import type { BotHarness } from '../harness/botHarness.js';
import { cardProblems } from '../cards/validate.js';
import type { Harness } from '../defender/helpers.js';
import { SPEC, validateOperationRequest } from '../defender/openapi.js';
import { conversation } from './fixtures.js';
import { BOB, startMoreTimeWorld, type MoreTimeWorld } from './moreTimeWorld.js';
import { samePerson } from '../../bot/actions/dueDate.js';

const GOV_PATH = '/{scope}/providers/Microsoft.Security/assessments/{assessmentName}/governanceAssignments/{assignmentKey}';
const CHANNEL = '19:channel-1@thread.tacv2';
const BOB_FROM = { id: '29:bob', name: 'Bob Martinez', aadObjectId: userObjectId(BOB) };
const ALICE = 'alice.johnson@contoso.com';
const ALICE_FROM = { id: '29:alice', name: 'Alice Johnson', aadObjectId: userObjectId(ALICE) };
const CAROL_FROM = { id: '29:carol', name: 'Carol Nguyen', aadObjectId: userObjectId('carol.nguyen@contoso.com') };
const ERIN_FROM = { id: '29:erin', name: 'Erin Walsh', aadObjectId: userObjectId('erin.walsh@contoso.com') };
const JUSTIFICATION = 'Waiting for the vendor patch window on 15 December';

describe('security admins decide on requests for more time, end to end', () => {
  let bot: BotHarness;
  let sn: ServiceNowSimulator;
  let defender: Harness;
  let seeded: Assignment;

  let world: MoreTimeWorld;

  beforeEach(async () => {
    world = await startMoreTimeWorld({ assignment: { conversationId: CHANNEL } });
    ({ bot, sn, defender, seeded } = world);
    const { resourceId, subscriptionId } = seeded;

    // The recommendation card posted in the channel, which shows owners and due dates.
    const rec: Recommendation = {
      key: seeded.recommendationKey,
      displayName: seeded.recommendationName,
      severity: 'High',
      description: '',
      remediation: '',
      resources: [{ resourceId, assessmentId: seeded.assessmentId, name: seeded.resourceName, type: 'Microsoft.Compute/virtualMachines', subscriptionId }],
      contentHash: 'h',
      status: 'unhealthy',
      firstSeenAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-01T00:00:00.000Z',
    };
    await bot.store.recommendations.upsertMany([rec]);
    await bot.store.recommendations.upsertCard({
      conversationId: CHANNEL,
      recommendationKey: rec.key,
      activityId: 'act-rec-card',
      contentHash: 'h',
      postedAt: rec.updatedAt,
      updatedAt: rec.updatedAt,
    });

    await bot.store.conversations.upsert(conversation(CHANNEL, bot.connector.url, { name: 'Security' }));
    await bot.store.conversations.upsert(conversation('a:bob', bot.connector.url, { userUpn: BOB, userAadObjectId: BOB_FROM.aadObjectId }));
    await bot.store.conversations.upsert(conversation('a:alice', bot.connector.url, { userUpn: ALICE, userAadObjectId: ALICE_FROM.aadObjectId }));
  });
  afterEach(() => world.stop());

  const asBob = () => ({ serviceUrl: bot.connector.url, conversationId: 'a:bob', from: BOB_FROM });
  const inChannel = (from: { id: string; name: string; aadObjectId: string }) => ({
    serviceUrl: bot.connector.url,
    conversationId: CHANNEL,
    conversationType: 'channel' as const,
    from,
  });
  const requestCards = () =>
    bot.connector
      .activities()
      .filter((c) => c.conversationId === CHANNEL && c.method === 'POST' && c.body.attachments?.[0]?.content?.body?.[0]?.text === 'Request for more time');
  const textsTo = (conversationId: string) =>
    bot.connector
      .activities()
      .filter((c) => c.conversationId === conversationId && c.body.text)
      .map((c) => c.body.text as string);
  const workNotes = () =>
    sn.control
      .journal(seeded.ticket!.sysId)
      .filter((j) => j.element === 'work_notes')
      .map((j) => j.value);
  const governancePuts = () => defender.sim.control.requests().filter((r) => r.method === 'PUT' && r.path.includes('/governanceAssignments/'));
  const governance = () => defender.sim.control.listGovernanceAssignments().find((g) => g.name === seeded.id)!;
  const stored = async () => (await bot.store.assignments.get(seeded.id))!;

  async function ownerAsks(eta = '2026-12-18') {
    const res = await bot.send(execute('submitMoreTime', { assignmentId: seeded.id, eta, justification: JUSTIFICATION }, asBob()));
    const facts = res.body.value.body.find((b: any) => b.type === 'FactSet').facts;
    expect(facts).toContainEqual({ title: 'Security admins', value: 'asked in "Security"' });
    return requestCards().at(-1)!.body.attachments[0].content;
  }

  it('posts one request card for security admins to the channel where the assignment was created', async () => {
    const card = await ownerAsks();
    expect(requestCards()).toHaveLength(1);
    expect(cardProblems(card)).toEqual([]);
    expect(card.body[1].text).toBe(
      `**${BOB}** asks for more time on **${seeded.recommendationName}** / ${seeded.resourceName} ([${seeded.ticket!.number}](${seeded.ticket!.link})): new date **2026-12-18**, reason: ${JUSTIFICATION}`,
    );
    const [approve, decline, change] = card.actions;
    expect(approve).toMatchObject({ type: 'Action.Execute', title: 'Approve', verb: 'approveMoreTime', data: { assignmentId: seeded.id, eta: '2026-12-18' } });
    expect(decline).toMatchObject({ type: 'Action.Execute', title: 'Decline', verb: 'declineMoreTime', data: { assignmentId: seeded.id } });
    expect(change).toMatchObject({ type: 'Action.ShowCard', title: 'Change due date' });
    expect(change.card.body.map((i: any) => [i.type, i.id, i.isRequired ?? false])).toEqual([
      ['Input.Date', 'dueDate', true],
      ['Input.Text', 'note', false],
    ]);
    expect(change.card.body[0]).toMatchObject({ min: '2026-12-01', max: '2027-11-30' });
    expect(change.card.actions[0]).toMatchObject({ type: 'Action.Execute', verb: 'changeDueDate', data: { assignmentId: seeded.id } });
  });

  it('an admin approves: due date moved, work note, governance remediationDueDate, cards re-rendered, owner told', async () => {
    const request = await ownerAsks();
    const putsBefore = governancePuts().length;
    const res = await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(ALICE_FROM)));

    expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
    const outcome = res.body.value;
    expect(outcome.body[0].text).toBe('More time approved');
    expect(outcome.body[1].text).toBe('Approved by Alice Johnson — new due date 2026-12-18 (was 2026-12-04).');
    expect(JSON.stringify(outcome)).toContain(`work note added to ${seeded.ticket!.number}`);
    expect(JSON.stringify(outcome)).toContain('remediation due date set to 2026-12-18');
    expect(outcome.actions ?? []).toEqual([]);
    expect(cardProblems(outcome)).toEqual([]);

    expect((await stored()).dueDate).toBe('2026-12-18');
    expect((await stored()).eta).toBeUndefined();
    expect((await bot.store.audit.list(5)).find((e) => e.action === 'assignment.dueDate')).toMatchObject({
      actor: ALICE,
      target: seeded.id,
      details: { from: '2026-12-04', to: '2026-12-18', via: 'approve', eta: '2026-12-18', requestedBy: BOB },
    });

    expect(workNotes()).toContainEqual(
      `Due date changed from 2026-12-04 to 2026-12-18 by Alice Johnson (${ALICE}): approved the request of ${BOB} for more time: ${JUSTIFICATION}`,
    );

    const puts = governancePuts().slice(putsBefore);
    expect(puts).toHaveLength(1);
    expect(validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', puts[0]!.body)).toEqual([]);
    // The whole governance assignment follows the stored assignment (notifications, ticket too).
    expect((puts[0]!.body as any).properties).toEqual({
      owner: BOB,
      remediationDueDate: '2026-12-18T23:59:59Z',
      isGracePeriod: true,
      governanceEmailNotification: { disableManagerEmailNotification: !seeded.notifyManager, disableOwnerEmailNotification: !seeded.notifyOwner },
      additionalData: { ticketNumber: 10001, ticketLink: seeded.ticket!.link, ticketStatus: seeded.ticket!.number },
    });
    expect(governance().properties).toMatchObject({ remediationDueDate: expect.stringMatching(/^2026-12-18T23:59:59/) });
    expect(governance().properties.remediationEta).toBeUndefined();

    const recUpdate = bot.connector.calls.filter((c) => c.method === 'PUT' && c.conversationId === CHANNEL && c.activityId === 'act-rec-card').at(-1);
    expect(JSON.stringify(recUpdate?.body)).toContain('2026-12-18');
    expect(textsTo('a:bob')).toEqual([
      `Alice Johnson approved your request for more time: "${seeded.recommendationName}" on ${seeded.resourceName} is now due 2026-12-18 (was 2026-12-04).`,
    ]);
  });

  it('refuses someone without an admin role (Reader) and changes nothing', async () => {
    const request = await ownerAsks();
    const putsBefore = governancePuts().length;
    const notesBefore = workNotes().length;
    for (const [verb, data] of [
      ['approveMoreTime', request.actions[0].data],
      ['declineMoreTime', request.actions[1].data],
      ['changeDueDate', { assignmentId: seeded.id, dueDate: '2027-01-15', note: 'trust me' }],
    ] as const) {
      await bot.send(execute(verb, data, inChannel(ERIN_FROM)));
      const reply = bot.connector.cards().at(-1);
      expect(reply.body[0].items[0].text).toBe('⚠️ Not allowed');
      expect(JSON.stringify(reply)).toContain('Owner, Contributor or Security Admin role');
    }
    expect((await stored()).dueDate).toBe('2026-12-04');
    expect((await stored()).eta?.date).toBe('2026-12-18');
    expect(workNotes()).toHaveLength(notesBefore);
    expect(governancePuts()).toHaveLength(putsBefore);
    expect(textsTo('a:bob')).toEqual([]);
  });

  it('an admin declines: the request is cleared, the due date stays, the ticket and the owner hear it', async () => {
    const request = await ownerAsks();
    expect(governance().properties.remediationEta).toBeDefined();
    const putsBefore = governancePuts().length;
    const res = await bot.send(execute('declineMoreTime', request.actions[1].data, inChannel(ALICE_FROM)));

    expect(res.body.value.body[0].text).toBe('More time declined');
    expect(res.body.value.body[1].text).toBe(`Declined by Alice Johnson — the due date stays 2026-12-04 (${BOB} asked for 2026-12-18).`);
    expect((await stored()).dueDate).toBe('2026-12-04');
    expect((await stored()).eta).toBeUndefined();
    expect(workNotes()).toContainEqual(
      `Alice Johnson (${ALICE}) declined the request of ${BOB} for more time until 2026-12-18; the due date stays 2026-12-04.`,
    );
    const puts = governancePuts().slice(putsBefore);
    expect(puts).toHaveLength(1);
    expect(validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', puts[0]!.body)).toEqual([]);
    expect(governance().properties.remediationEta).toBeUndefined();
    expect(governance().properties.remediationDueDate).toMatch(/^2026-12-04T23:59:59/);
    expect(textsTo('a:bob')).toEqual([
      `Alice Johnson declined your request for more time on "${seeded.recommendationName}" (${seeded.resourceName}): the due date stays 2026-12-04.`,
    ]);

    // Approving the same request afterwards does nothing.
    const late = await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(CAROL_FROM)));
    expect(late.body.value.body[1].text).toBe(`This request (new date 2026-12-18) was already handled by ${ALICE}: declined, the due date stays 2026-12-04.`);
    expect((await stored()).dueDate).toBe('2026-12-04');
  });

  it('names who handled a request even after thousands of later audit entries', async () => {
    const request = await ownerAsks();
    await bot.send(execute('declineMoreTime', request.actions[1].data, inChannel(ALICE_FROM)));
    // The resolution job appends an entry per assignment and pass: the decision is soon far back.
    const at = bot.clock.now().toISOString();
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) =>
        bot.store.audit.append({ at, actor: 'resolution', action: 'assignment.healthy-pass', target: `other-${i}`, details: {} }),
      ),
    );
    expect((await bot.store.audit.list(1000)).some((e) => e.target === seeded.id)).toBe(false);

    const late = await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(CAROL_FROM)));
    expect(late.body.value.body[1].text).toBe(`This request (new date 2026-12-18) was already handled by ${ALICE}: declined, the due date stays 2026-12-04.`);
  });

  it('two admins approving at once (or a double click) apply the change once', async () => {
    const request = await ownerAsks();
    const putsBefore = governancePuts().length;
    const [first, second] = await Promise.all([
      bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(ALICE_FROM))),
      bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(CAROL_FROM))),
    ]);
    const again = await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(ALICE_FROM)));

    const titles = [first, second, again].map((r) => r.body.value.body[0].text);
    expect(titles.filter((t) => t === 'More time approved')).toHaveLength(1);
    expect(titles.filter((t) => t === 'Already handled')).toHaveLength(2);
    const winner = first.body.value.body[0].text === 'More time approved' ? ALICE : 'carol.nguyen@contoso.com';
    // Carol has no stored 1:1 chat, so her audit identity is her display name.
    const winnerId = winner === ALICE ? ALICE : 'Carol Nguyen';
    expect(again.body.value.body[1].text).toBe(`This request (new date 2026-12-18) was already handled by ${winnerId}: the due date is now 2026-12-18.`);

    expect(workNotes().filter((n) => n.startsWith('Due date changed'))).toHaveLength(1);
    expect(governancePuts().slice(putsBefore)).toHaveLength(1);
    expect((await bot.store.audit.list(20)).filter((e) => e.action === 'assignment.dueDate')).toHaveLength(1);
    expect(textsTo('a:bob')).toHaveLength(1);
    expect((await stored()).dueDate).toBe('2026-12-18');
  });

  it('changeDueDate: validates the date and note, then changes the due date with the admin note', async () => {
    const putsBefore = governancePuts().length;
    for (const [data, problem] of [
      [{ assignmentId: seeded.id, dueDate: '2026-11-30' }, 'New due date: pick a date after today'],
      [{ assignmentId: seeded.id, dueDate: '2027-12-01' }, 'New due date: pick a date within a year from today'],
      [{ assignmentId: seeded.id, dueDate: '2026-02-30' }, 'New due date: pick a date that exists'],
      [{ assignmentId: seeded.id, dueDate: 'next week' }, 'New due date: pick a date (YYYY-MM-DD)'],
      [{ assignmentId: seeded.id }, 'New due date: required'],
      [{ assignmentId: seeded.id, dueDate: '2027-01-15', note: 'x'.repeat(1001) }, 'Note for the ticket: write at most 1000 characters'],
      [{ assignmentId: '', dueDate: '2027-01-15' }, 'Assignment: required'],
    ] as const) {
      await bot.send(execute('changeDueDate', data, inChannel(ALICE_FROM)));
      const reply = bot.connector.cards().at(-1);
      expect(reply.body[0].items[0].text).toBe('⚠️ That did not work');
      expect(JSON.stringify(reply)).toContain(problem);
      // The field's label, never the input id and the validator's own words.
      expect(JSON.stringify(reply)).not.toMatch(/dueDate:|note:|assignmentId:|must be/);
    }
    for (const [verb, data, problem] of [
      ['approveMoreTime', { assignmentId: seeded.id, eta: '2026-11-29' }, 'New date: pick a date after today'],
      ['approveMoreTime', { assignmentId: seeded.id }, 'New date: required'],
      ['declineMoreTime', { assignmentId: seeded.id, eta: '18/12/2026' }, 'New date: pick a date (YYYY-MM-DD)'],
    ] as const) {
      await bot.send(execute(verb, data, inChannel(ALICE_FROM)));
      expect(JSON.stringify(bot.connector.cards().at(-1))).toContain(problem);
    }
    expect((await stored()).dueDate).toBe('2026-12-04');
    expect(governancePuts()).toHaveLength(putsBefore);

    // Admins can change the due date without any request; an empty note is allowed.
    const res = await bot.send(
      execute('changeDueDate', { assignmentId: seeded.id, dueDate: '2027-01-15', note: 'Agreed in the change board' }, inChannel(ALICE_FROM)),
    );
    expect(res.body.value.body[1].text).toBe('Changed by Alice Johnson — new due date 2027-01-15 (was 2026-12-04).');
    expect((await stored()).dueDate).toBe('2027-01-15');
    expect(workNotes()).toContainEqual(`Due date changed from 2026-12-04 to 2027-01-15 by Alice Johnson (${ALICE}): Agreed in the change board`);
    const put = governancePuts().at(-1)!;
    expect(validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', put.body)).toEqual([]);
    expect((put.body as any).properties.remediationDueDate).toBe('2027-01-15T23:59:59Z');
    expect(textsTo('a:bob')).toEqual([
      `Alice Johnson changed the due date of "${seeded.recommendationName}" on ${seeded.resourceName} from 2026-12-04 to 2027-01-15. Note: Agreed in the change board`,
    ]);

    const same = await bot.send(execute('changeDueDate', { assignmentId: seeded.id, dueDate: '2027-01-15', note: '' }, inChannel(ALICE_FROM)));
    expect(same.body.value).toBe('The due date is already 2027-01-15; nothing changed.');
  });

  it('changing the date from a request card answers that request', async () => {
    const request = await ownerAsks();
    const change = request.actions[2].card.actions[0];
    const res = await bot.send(execute('changeDueDate', { ...change.data, dueDate: '2026-12-11', note: '' }, inChannel(ALICE_FROM)));
    expect(res.body.value.body[0].text).toBe('Due date changed');
    expect((await stored()).dueDate).toBe('2026-12-11');
    expect((await stored()).eta).toBeUndefined();
    expect(workNotes()).toContainEqual(`Due date changed from 2026-12-04 to 2026-12-11 by Alice Johnson (${ALICE}): no reason given`);
    expect(governance().properties.remediationEta).toBeUndefined();
    expect(textsTo('a:bob')).toEqual([
      `Alice Johnson changed the due date of "${seeded.recommendationName}" on ${seeded.resourceName} from 2026-12-04 to 2026-12-11. This answers your request for 2026-12-18.`,
    ]);
    const approveLater = await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(CAROL_FROM)));
    expect(approveLater.body.value.body[0].text).toBe('Already handled');
    expect((await stored()).dueDate).toBe('2026-12-11');
  });
  describe('four eyes: the requester or owner is not their own approver', () => {
    beforeEach(() => {
      // Bob owns the assignment and is also a security admin on its subscription.
      defender.sim.control.grantRole(BOB_FROM.aadObjectId, 'Security Admin', `/subscriptions/${seeded.subscriptionId}`);
    });
    const fourEyesRefusal = () => {
      const reply = bot.connector.cards().at(-1);
      expect(reply.body[0].items[0].text).toBe('⚠️ Not allowed');
      return JSON.stringify(reply);
    };

    it('the owner cannot approve their own request, however the bot knows them; another admin then can', async () => {
      const request = await ownerAsks();
      const putsBefore = governancePuts().length;
      const notesBefore = workNotes().length;
      await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(BOB_FROM)));
      expect(fourEyesRefusal()).toContain('You asked for this extension yourself, so another security admin must approve it (four eyes). Nothing was changed.');

      // Known only by the Entra object id (no stored 1:1 chat): the request recorded it.
      expect((await bot.store.audit.findLast(seeded.id, { actions: ['assignment.eta'] }))?.details.requestedByObjectId).toBe(BOB_FROM.aadObjectId);
      await bot.store.conversations.remove('a:bob');
      await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel({ ...BOB_FROM, id: '29:bob-other-device' })));
      expect(fourEyesRefusal()).toContain('four eyes');

      // A request recorded before object ids were (no audit id) with the UPN in other casing.
      await bot.store.conversations.upsert(conversation('a:bob', bot.connector.url, { userUpn: BOB, userAadObjectId: BOB_FROM.aadObjectId }));
      await bot.store.assignments.upsertMany([{ ...(await stored()), eta: { ...(await stored()).eta!, requestedBy: 'Bob.Martinez@CONTOSO.com' } }]);
      await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(BOB_FROM)));
      expect(fourEyesRefusal()).toContain('four eyes');

      expect((await stored()).dueDate).toBe('2026-12-04');
      expect((await stored()).eta?.date).toBe('2026-12-18');
      expect(workNotes()).toHaveLength(notesBefore);
      expect(governancePuts()).toHaveLength(putsBefore);

      const res = await bot.send(execute('approveMoreTime', request.actions[0].data, inChannel(ALICE_FROM)));
      expect(res.body.value.body[0].text).toBe('More time approved');
      expect((await stored()).dueDate).toBe('2026-12-18');
    });

    it('the owner cannot change their own due date, with or without a request card', async () => {
      const request = await ownerAsks();
      const change = request.actions[2].card.actions[0];
      await bot.send(execute('changeDueDate', { ...change.data, dueDate: '2026-12-20', note: '' }, inChannel(BOB_FROM)));
      expect(fourEyesRefusal()).toContain('You own this assignment, so another security admin must change its due date (four eyes).');
      await bot.send(execute('changeDueDate', { assignmentId: seeded.id, dueDate: '2027-01-15', note: 'mine' }, inChannel(BOB_FROM)));
      expect(fourEyesRefusal()).toContain('four eyes');
      expect((await stored()).dueDate).toBe('2026-12-04');
      expect((await stored()).eta?.date).toBe('2026-12-18');
    });

    it('the requester may decline (withdraw) their own request: nothing moves but the request', async () => {
      const request = await ownerAsks();
      const res = await bot.send(execute('declineMoreTime', request.actions[1].data, inChannel(BOB_FROM)));
      expect(res.body.value.body[0].text).toBe('More time declined');
      expect((await stored()).dueDate).toBe('2026-12-04');
      expect((await stored()).eta).toBeUndefined();
    });
  });

  it('samePerson: any identifier in common is the same person; nothing comparable is unknown', () => {
    expect(samePerson({ upn: 'Bob@Contoso.com' }, { upn: 'bob@contoso.com' })).toBe('same');
    expect(samePerson({ upn: 'alias@contoso.com', objectId: 'ABC' }, { upn: 'bob@contoso.com', objectId: 'abc' })).toBe('same');
    expect(samePerson({ upn: 'alice@contoso.com' }, { upn: 'bob@contoso.com', objectId: 'b' })).toBe('different');
    expect(samePerson({ objectId: 'a' }, { objectId: 'b', upn: 'bob@contoso.com' })).toBe('different');
    expect(samePerson({ objectId: 'a' }, { upn: 'bob@contoso.com' })).toBe('unknown');
  });
});
