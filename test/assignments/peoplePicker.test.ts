import { assignmentFormCard, type AssignmentFormModel } from '../../cards/assignmentCards.js';
import { findById } from '../clients/cards.js';
import { execute, submit } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { userObjectId } from '../../sandbox/defender/dataset.js';
import { cardProblems } from '../cards/validate.js';

const MODEL: AssignmentFormModel = {
  recommendationKey: 'k',
  recommendationName: 'Rec',
  severity: 'High',
  resourceSummary: 'vm-1',
  resourceIdsCsv: '/r',
  ticketWord: 'ticket',
  integrations: [{ title: 'I', value: 'i' }],
  customized: false,
  minDate: '2026-11-27',
  maxDate: '2027-11-27',
  errors: {},
  values: {
    integrationId: 'i',
    ticketType: 'incident',
    assignedTo: '',
    caller: 'alice.johnson@contoso.com',
    shortDescription: 's',
    description: 'd',
    dueDate: '2026-12-10',
    grouping: 'perResource',
    gracePeriod: 'false',
    notifyOwner: 'true',
    notifyManager: 'false',
    assignmentGroup: '',
    impact: '',
    urgency: '',
  },
};

describe('owner field: the people picker in Teams, a typed e-mail elsewhere', () => {
  it('Teams gets an Input.ChoiceSet over graph.microsoft.com/users, prefilled with the suggested owner as a ready choice', () => {
    const card = assignmentFormCard({ ...MODEL, suggestedOwner: 'bob.martinez@contoso.com' }, { channelId: 'msteams' });
    const owner = findById(card, 'assignedTo');
    expect(owner).toMatchObject({
      type: 'Input.ChoiceSet',
      style: 'filtered',
      isRequired: true,
      value: 'bob.martinez@contoso.com',
      'choices.data': { type: 'Data.Query', dataset: 'graph.microsoft.com/users' },
    });
    expect(owner.choices).toEqual([
      { title: 'bob.martinez@contoso.com', value: 'bob.martinez@contoso.com' },
      { title: 'alice.johnson@contoso.com', value: 'alice.johnson@contoso.com' },
    ]);
    expect(cardProblems(card)).toEqual([]);
  });

  it.each(['emulator', 'webchat'])('%s gets a typed e-mail input with the same id, prefilled, never with an object id', (channelId) => {
    const card = assignmentFormCard({ ...MODEL, suggestedOwner: 'bob.martinez@contoso.com' }, { channelId });
    expect(findById(card, 'assignedTo')).toEqual({
      type: 'Input.Text',
      id: 'assignedTo',
      label: 'Assigned to (owner e-mail)',
      isRequired: true,
      style: 'email',
      placeholder: 'name@contoso.com',
      errorMessage: "Type the person's e-mail address",
      value: 'bob.martinez@contoso.com',
    });
    expect(JSON.stringify(card)).not.toContain('choices.data');
    const picked = assignmentFormCard({ ...MODEL, values: { ...MODEL.values, assignedTo: userObjectId('bob.martinez@contoso.com') } }, { channelId });
    expect(findById(picked, 'assignedTo').value).toBeUndefined();
    expect(cardProblems(card)).toEqual([]);
  });
});

describe('owner field: the submit side (real server, Graph of the Defender simulator)', () => {
  let h: SandboxHarness;
  beforeEach(async () => {
    h = await startSandboxBot();
  });
  afterEach(() => h.stop());

  const send = async (assignedTo: string, via: 'teams' | 'emulator' = 'teams') => {
    const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy')!;
    const data = { recommendationKey: rec.key, resourceIds: rec.resources[0]!.resourceId, ...assignmentFormValues(h.integrationId, { assignedTo }) };
    const base = { serviceUrl: h.bot.connector.url, conversationType: 'channel' as const, from: SANDBOX_ADMIN };
    if (via === 'teams') return (await h.bot.send(execute('submitAssignment', data, base))).body.value;
    await h.bot.send(submit({ ...data, verb: 'submitAssignment' }, { ...base, channelId: 'emulator' }));
    return h.bot.connector.cards().at(-1);
  };

  it("a picked person's Entra object id becomes their UPN: the ticket and the assignment go to them", async () => {
    const card = await send(userObjectId('bob.martinez@contoso.com'));
    expect(JSON.stringify(card)).toMatch(/1 resource\(s\) assigned/);
    const [a] = await h.bot.store.assignments.list();
    expect(a!.owner).toBe('bob.martinez@contoso.com');
    const bob = h.servicenow.control.records('sys_user').find((u) => u.user_name === 'bob.martinez')!;
    expect(h.servicenow.control.records('incident')[0]!.assigned_to).toBe(bob.sys_id);
  });

  it('an object id nobody knows: "could not find this person" next to the field, nothing created', async () => {
    const card = await send('0f0e0d0c-0b0a-4909-8807-060504030201');
    expect(findById(card, 'assignedToError')?.text).toBe(
      'Assigned to: could not find this person in the directory; pick them again or type their e-mail address',
    );
    expect(await h.bot.store.assignments.list()).toEqual([]);
    expect(h.servicenow.control.records('incident')).toEqual([]);
    // ServiceNow was never asked about a GUID.
    expect(JSON.stringify(h.servicenow.control.requests())).not.toContain('0f0e0d0c-0b0a-4909-8807-060504030201');
  });

  it('a typed e-mail still works (Emulator)', async () => {
    const card = await send('bob.martinez@contoso.com', 'emulator');
    expect(JSON.stringify(card)).toMatch(/1 resource\(s\) assigned/);
    expect((await h.bot.store.assignments.list())[0]!.owner).toBe('bob.martinez@contoso.com');
  });
});
