import { execute } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, SANDBOX_READER, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { cardProblems } from '../cards/validate.js';

/**
 * Reassign (issue 13 item 4): the form lists the selected resources that already have a live
 * assignment and offers an explicit "Reassign" toggle; chosen, the ticket's assignee (with a work
 * note), Defender's governance owner, the stored assignment and the recommendation card follow the
 * new owner. Without it nothing changes, and the outcome says so.
 */
const CHANNEL = { conversationType: 'channel' as const };
const BOB = 'bob.martinez@contoso.com';
const ALICE = 'alice.johnson@contoso.com';
const titleOf = (card: any): string => card?.body?.[0]?.text ?? '';

const findById = (card: any, id: string): any => {
  let found: any;
  const walk = (n: any) => {
    if (found || !n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(walk);
    if (n.id === id) found = n;
    else Object.values(n).forEach(walk);
  };
  walk(card);
  return found;
};

describe('Reassign from the Create assignment form', () => {
  let h: SandboxHarness;
  beforeEach(async () => {
    h = await startSandboxBot();
  });
  afterEach(() => h.stop());

  async function assignedToBob() {
    const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length >= 2)!;
    const [first, second] = rec.resources;
    await submit(rec.key, [first!.resourceId], { assignedTo: BOB });
    // On a loaded machine the creation may outlast the invoke's inline budget and finish in the background.
    await h.bot.app.assignments.idle();
    const [bobs] = await h.bot.store.assignments.list();
    expect(bobs).toMatchObject({ owner: BOB, status: 'open' });
    return { rec, first: first!, second: second!, bobs: bobs! };
  }

  const submit = (recommendationKey: string, ids: string[], over: Record<string, string>, from = SANDBOX_ADMIN) =>
    h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey, resourceIds: ids.join(','), ...assignmentFormValues(h.integrationId, over) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from },
      ),
    );
  const userSysId = (userName: string) => h.servicenow.control.records('sys_user').find((u) => u.user_name === userName)!.sys_id;
  const ticketOf = (sysId: string) => h.servicenow.control.record('incident', sysId)!;
  const governanceOwners = () => h.defender.control.listGovernanceAssignments().map((g) => g.properties.owner);

  it('the form lists the already-assigned resources (owner, ticket, due date) with a Reassign toggle, only then', async () => {
    const { rec, first, second, bobs } = await assignedToBob();
    const open = (ids: string[]) =>
      h.bot.send(
        execute(
          'createAssignment',
          { recommendationKey: rec.key, resourceIds: ids.join(',') },
          { serviceUrl: h.bot.connector.url, ...CHANNEL, from: SANDBOX_ADMIN },
        ),
      );
    const form = (await open([first.resourceId, second.resourceId])).body.value;
    expect(cardProblems(form)).toEqual([]);
    const text = JSON.stringify(findById(form, 'alreadyAssigned'));
    expect(text).toContain('1 of the selected resources already assigned');
    expect(text).toContain(`${first.name}: ${BOB} · ${bobs.ticket!.number} · due ${bobs.dueDate}`);
    expect(findById(form, 'reassign')).toMatchObject({ type: 'Input.Toggle', value: 'false', valueOn: 'true' });

    const fresh = (await open([second.resourceId])).body.value;
    expect(findById(fresh, 'alreadyAssigned')).toBeUndefined();
    expect(findById(fresh, 'reassign')).toBeUndefined();
  }, 60_000);

  it('reassign changes ServiceNow assigned_to (with a work note), Defender’s owner, the stored assignment, the audit log and the card', async () => {
    const { rec, first, second, bobs } = await assignedToBob();
    expect(ticketOf(bobs.ticket!.sysId).assigned_to).toBe(userSysId('bob.martinez'));
    h.bot.connector.reset();

    const res = await submit(rec.key, [first.resourceId, second.resourceId], { assignedTo: ALICE, reassign: 'true' });
    expect(titleOf(res.body.value)).toBe(`✅ 2 resource(s) assigned; 1 reassigned to ${ALICE}`);
    expect(JSON.stringify(res.body.value)).toContain(`reassigned from ${BOB}`);

    expect(ticketOf(bobs.ticket!.sysId).assigned_to).toBe(userSysId('alice.johnson'));
    const notes = h.servicenow.control.journal(bobs.ticket!.sysId).filter((j) => j.element === 'work_notes');
    expect(notes.map((n) => n.value)).toContainEqual(expect.stringMatching(new RegExp(`^Reassigned from ${BOB} to ${ALICE} by Alice Johnson`)));

    const stored = await h.bot.store.assignments.get(bobs.id);
    expect(stored).toMatchObject({ owner: ALICE, status: 'open', ticket: { number: bobs.ticket!.number }, governance: { status: 'synced' } });
    const gov = h.defender.control.listGovernanceAssignments().find((g) => g.name === bobs.governance!.key)!;
    expect(gov.properties.owner).toBe(ALICE);
    expect(governanceOwners()).not.toContain(BOB);
    const audit = (await h.bot.store.audit.list(20)).find((e) => e.action === 'assignment.reassign');
    expect(audit).toMatchObject({ actor: 'Alice Johnson', target: bobs.id, details: { from: BOB, to: ALICE, ticket: bobs.ticket!.number } });

    // The recommendation card, updated in place, shows the new owner by the old ticket.
    const update = h.bot.connector.calls.filter((c) => c.method === 'PUT').pop();
    const card = JSON.stringify(update!.body);
    expect(card).toContain(bobs.ticket!.number);
    expect(card).toContain(ALICE);
    expect(card).not.toContain(BOB);
  }, 60_000);

  it('without the toggle nothing changes, and the outcome says so', async () => {
    const { rec, first, second, bobs } = await assignedToBob();
    const res = await submit(rec.key, [first.resourceId, second.resourceId], { assignedTo: ALICE, reassign: 'false' });
    expect(titleOf(res.body.value)).toBe('⚠️ 1 resource(s) assigned; 1 already assigned to someone else, not changed');
    expect(JSON.stringify(res.body.value)).toContain(`already assigned to ${BOB}: not reassigned`);
    expect(ticketOf(bobs.ticket!.sysId).assigned_to).toBe(userSysId('bob.martinez'));
    expect(h.servicenow.control.journal(bobs.ticket!.sysId).filter((j) => /Reassigned/.test(j.value))).toEqual([]);
    expect((await h.bot.store.assignments.get(bobs.id))!.owner).toBe(BOB);
    expect(h.defender.control.listGovernanceAssignments().find((g) => g.name === bobs.governance!.key)!.properties.owner).toBe(BOB);
  }, 60_000);

  it('a reader is refused and nothing changes', async () => {
    const { rec, first, bobs } = await assignedToBob();
    h.bot.connector.reset();
    const res = await submit(rec.key, [first.resourceId], { assignedTo: ALICE, reassign: 'true' }, SANDBOX_READER);
    expect(res.status).toBe(200);
    expect(JSON.stringify(h.bot.connector.cards().pop())).toContain('Owner, Contributor or Security Admin');
    expect(ticketOf(bobs.ticket!.sysId).assigned_to).toBe(userSysId('bob.martinez'));
    expect((await h.bot.store.assignments.get(bobs.id))!.owner).toBe(BOB);
    expect(h.defender.control.listGovernanceAssignments().find((g) => g.name === bobs.governance!.key)!.properties.owner).toBe(BOB);
    expect((await h.bot.store.audit.list(20)).some((e) => e.action === 'assignment.reassign')).toBe(false);
  }, 60_000);

  it('an owner unknown to ServiceNow is a form error next to the field, and nothing changes', async () => {
    const { rec, first, bobs } = await assignedToBob();
    const res = await submit(rec.key, [first.resourceId], { assignedTo: 'nobody.here@contoso.com', reassign: 'true' });
    const form = res.body.value;
    expect(titleOf(form)).toBe('Create assignment');
    expect(findById(form, 'assignedToError')?.text).toMatch(/^Assigned to: /);
    expect(findById(form, 'reassign')).toBeDefined();
    expect(ticketOf(bobs.ticket!.sysId).assigned_to).toBe(userSysId('bob.martinez'));
    expect((await h.bot.store.assignments.get(bobs.id))!.owner).toBe(BOB);
    expect(h.defender.control.listGovernanceAssignments().find((g) => g.name === bobs.governance!.key)!.properties.owner).toBe(BOB);
  }, 60_000);
});
