import { execute, message, submit } from '../harness/activities.js';
import { SANDBOX_ADMIN, SANDBOX_READER, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { ROOT_MANAGEMENT_GROUP } from '../../sandbox/defender/dataset.js';
import type { RuleActor } from '../../app/rules.js';

/**
 * The Add/Edit rule form over HTTP: the real server (fake Bot Connector), the Defender simulator
 * behind the real Azure client and the ServiceNow simulator behind the real ServiceNow client.
 */
const CHANNEL = { conversationType: 'channel' as const };
const CLI: RuleActor = { kind: 'cli', name: 'cli:test' };
const STORAGE = 'Secure transfer to storage accounts should be enabled';
const LOG_AGENT = 'Log Analytics agent should be installed on virtual machines';

/** Every element of a card (body, columns, containers), to find an input's error line by id. */
function elements(node: any): any[] {
  if (!node || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap(elements);
  return [node, ...Object.values(node).flatMap(elements)];
}
const byId = (card: any, id: string) => elements(card).find((e) => e.id === id);
const errorsOf = (card: any) =>
  Object.fromEntries(
    elements(card)
      .filter((e) => typeof e.id === 'string' && e.id.endsWith('Error') && e.type === 'TextBlock')
      .map((e) => [e.id, e.text]),
  );

describe('the Add/Edit rule form in Teams', () => {
  let h: SandboxHarness;
  afterEach(() => h?.stop());

  const act = (verb: string, data: Record<string, unknown>, from = SANDBOX_ADMIN) =>
    h.bot.send(execute(verb, data, { serviceUrl: h.bot.connector.url, ...CHANNEL, from, replyToId: 'card-1' }));
  const recKey = async (name: string) => (await h.bot.store.recommendations.list()).find((r) => r.displayName === name)!.key;
  const incidents = () => h.servicenow.control.records('incident');
  async function filled(over: Record<string, string> = {}) {
    return {
      ruleName: 'Storage from Teams',
      integrationId: h.integrationId,
      priority: '10',
      maxTicketsPerSync: '',
      scopeType: 'managementGroup',
      scopeId: ROOT_MANAGEMENT_GROUP,
      severities: '',
      recommendations: await recKey(STORAGE),
      tagName: '',
      tagValue: '',
      resourceGroup: '',
      ownerSource: 'fixed',
      ownerTags: '',
      ownerEmail: 'bob.martinez@contoso.com',
      fallbackOwner: '',
      ticketType: 'incident',
      dueInDays: '14',
      gracePeriod: 'false',
      enabled: 'true',
      ...over,
    };
  }

  it('adds a rule from Teams (Preview first creates nothing); the next sync opens its tickets; the change is audited', async () => {
    h = await startSandboxBot();
    const list = await act('listRules', {});
    expect(JSON.stringify(list.body.value)).toContain('"verb":"openRuleForm"');
    const opened = await act('openRuleForm', {});
    const form = opened.body.value;
    expect(JSON.stringify(form)).toContain('Add a governance rule');
    // Prefilled where a default is sensible: the integration, its scope, the next priority.
    expect(byId(form, 'integrationId').value).toBe(h.integrationId);
    expect(byId(form, 'scopeId').value).toBe(ROOT_MANAGEMENT_GROUP);
    expect(byId(form, 'recommendations').choices.map((c: any) => c.value)).toContain(await recKey(STORAGE));
    // Teams names the clicked card itself (replyToId): the form carries no id of its own there.
    expect(JSON.stringify(form.actions)).not.toMatch(/"cardActivityId":"[^"]|"cardKey"/);

    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    const preview = (await act('previewRuleForm', { ruleId: '', ...(await filled()) })).body.value;
    expect(JSON.stringify(preview)).toContain(`Preview: Now it would assign ${storage.resources.length} finding(s) in ${storage.resources.length} ticket(s)`);
    expect(JSON.stringify(preview)).toContain('bob.martinez@contoso.com');
    expect(await h.bot.store.rules.list()).toHaveLength(0);

    const saved = (await act('saveRule', { ruleId: '', ...(await filled()) })).body.value;
    expect(JSON.stringify(saved)).toContain('Added rule \\"Storage from Teams\\" (enabled: it assigns on the next sync)');
    const [rule] = await h.bot.store.rules.list();
    expect(rule).toMatchObject({
      name: 'Storage from Teams',
      priority: 10,
      scope: `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`,
      owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' },
      enabled: true,
      conversationId: '19:channel-1@thread.tacv2',
      createdBy: { id: SANDBOX_ADMIN.id },
    });
    const audit = await h.bot.store.audit.list(50);
    expect(audit.filter((e) => e.action === 'rule.add' && e.actor === SANDBOX_ADMIN.id && e.target === rule!.id)).toHaveLength(1);

    expect(incidents()).toHaveLength(0);
    await h.bot.app.runCycle!();
    expect(incidents()).toHaveLength(storage.resources.length);
    const made = (await h.bot.store.assignments.list()).filter((a) => a.byRule?.name === 'Storage from Teams');
    expect(made).toHaveLength(storage.resources.length);
    expect(new Set(made.map((a) => a.owner))).toEqual(new Set(['bob.martinez@contoso.com']));
  });

  it("edit opens prefilled and changes the next run: another recommendation and owner, the rule's earlier tickets untouched", async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(
      {
        name: 'Storage',
        integration: 'Contoso ServiceNow',
        recommendations: [STORAGE],
        owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' },
        fallbackOwner: 'dave.okafor@contoso.com',
        dueInDays: 30,
        priority: 7,
      },
      CLI,
    );
    await h.bot.app.runCycle!();
    const first = incidents().length;
    expect(first).toBeGreaterThan(0);
    const rule = (await h.bot.store.rules.list())[0]!;

    const form = (await act('openRuleForm', { ruleId: rule.id })).body.value;
    expect(JSON.stringify(form)).toContain('Edit rule Storage');
    // The CLI wrote the recommendation by name: the form selects it by key.
    expect(byId(form, 'recommendations').value).toBe(await recKey(STORAGE));
    expect(byId(form, 'ownerEmail').value).toBe('bob.martinez@contoso.com');
    expect(byId(form, 'fallbackOwner').value).toBe('dave.okafor@contoso.com');
    expect(byId(form, 'dueInDays').value).toBe(30);
    expect(byId(form, 'priority').value).toBe(7);

    const edited = await filled({
      ruleName: 'Storage',
      priority: '7',
      recommendations: await recKey(LOG_AGENT),
      ownerEmail: 'carol.nguyen@contoso.com',
      fallbackOwner: '', // cleared on purpose
      dueInDays: '30',
    });
    const saved = (await act('saveRule', { ruleId: rule.id, ...edited })).body.value;
    expect(JSON.stringify(saved)).toContain('Saved rule \\"Storage\\"');
    const after = await rules.get(rule.id);
    expect(after.conditions.recommendations).toEqual([await recKey(LOG_AGENT)]);
    expect(after.owner).toEqual({ kind: 'fixed', email: 'carol.nguyen@contoso.com' });
    expect(after.fallbackOwner).toBeUndefined();
    expect(after.stats.assigned).toBe(first);
    const audit = (await h.bot.store.audit.list(50)).filter((e) => e.action === 'rule.edit' && e.target === rule.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe(SANDBOX_ADMIN.id);

    await h.bot.app.runCycle!();
    const logAgent = (await h.bot.store.recommendations.list()).find((r) => r.displayName === LOG_AGENT)!;
    expect(incidents()).toHaveLength(first + logAgent.resources.length);
    const mine = (await h.bot.store.assignments.list()).filter((a) => a.byRule?.name === 'Storage');
    expect(mine.filter((a) => a.recommendationKey === logAgent.key).every((a) => a.owner === 'carol.nguyen@contoso.com')).toBe(true);
    expect(mine.filter((a) => a.recommendationKey !== logAgent.key).every((a) => a.owner === 'bob.martinez@contoso.com')).toBe(true);
  });

  it('a Reader is refused: the Edit form does not open and a save adds nothing', async () => {
    h = await startSandboxBot();
    const rule = await h.bot.app.services.rules.add(
      {
        name: 'Storage',
        integration: 'Contoso ServiceNow',
        recommendations: [STORAGE],
        owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' },
        dueInDays: 14,
      },
      CLI,
    );
    await act('openRuleForm', { ruleId: rule.id }, SANDBOX_READER);
    await act('saveRule', { ruleId: '', ...(await filled({ ruleName: 'Reader rule' })) }, SANDBOX_READER);
    await act('saveRule', { ruleId: rule.id, ...(await filled({ ruleName: 'Storage', ownerEmail: 'erin.walsh@contoso.com' })) }, SANDBOX_READER);
    const refusals = () => h.bot.connector.activities().filter((c) => JSON.stringify(c.body).includes('Not allowed'));
    await h.bot.connector.waitFor(() => refusals().length === 3);
    expect((await h.bot.store.rules.list()).map((r) => r.name)).toEqual(['Storage']);
    expect((await h.bot.app.services.rules.get(rule.id)).owner).toEqual({ kind: 'fixed', email: 'bob.martinez@contoso.com' });
    expect((await h.bot.store.audit.list(50)).filter((e) => e.actor === SANDBOX_READER.id)).toHaveLength(0);
  });

  it('bad input comes back on the form, each problem under its input, and creates nothing', async () => {
    h = await startSandboxBot();
    const bad = await filled({ ownerEmail: 'bob at contoso', dueInDays: '0', scopeId: 'not a group!', tagName: 'env', priority: '' });
    const card = (await act('saveRule', { ruleId: '', ...bad })).body.value;
    expect(errorsOf(card)).toEqual({
      ownerEmailError: 'Owner e-mail: enter an e-mail address such as name@contoso.com',
      dueInDaysError: 'Due in days: must be at least 1',
      scopeIdError: expect.stringMatching(/^Management group name or subscription id: enter the management group name/),
      tagValueError: 'Tag value: give the value the tag must have',
      priorityError: 'Priority: required',
    });
    expect(JSON.stringify(card)).toContain('Nothing was saved: fix the 5 fields marked above.');
    // What was typed stays in the inputs.
    expect(byId(card, 'ownerEmail').value).toBe('bob at contoso');
    // The use case's own checks land under their input too: an unknown subscription.
    const unknown = (await act('saveRule', { ruleId: '', ...(await filled({ scopeType: 'subscription', scopeId: '00000000-0000-0000-0000-000000000000' })) }))
      .body.value;
    expect(errorsOf(unknown)).toEqual({ scopeIdError: expect.stringMatching(/^Management group name or subscription id: unknown scope/) });
    expect(await h.bot.store.rules.list()).toHaveLength(0);
    await h.bot.app.runCycle!();
    expect(incidents()).toHaveLength(0);
  });

  it('renaming a rule to the name of another, in any case, is refused under the name; nothing changes', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    const owner = { kind: 'fixed' as const, email: 'bob.martinez@contoso.com' };
    await rules.add({ name: 'Storage by tag', integration: 'Contoso ServiceNow', recommendations: [STORAGE], owner, dueInDays: 14 }, CLI);
    const other = await rules.add({ name: 'Log agent', integration: 'Contoso ServiceNow', recommendations: [LOG_AGENT], owner, dueInDays: 14 }, CLI);
    const card = (await act('saveRule', { ruleId: other.id, ...(await filled({ ruleName: 'storage BY TAG', recommendations: await recKey(LOG_AGENT) })) })).body
      .value;
    expect(errorsOf(card)).toEqual({ ruleNameError: 'Name: a rule named "storage BY TAG" exists already' });
    expect((await rules.get(other.id)).name).toBe('Log agent');
    expect((await h.bot.store.audit.list(50)).filter((e) => e.action === 'rule.edit')).toHaveLength(0);
    // Its own name in another case is not a conflict.
    const renamed = (await act('saveRule', { ruleId: other.id, ...(await filled({ ruleName: 'LOG AGENT', recommendations: await recKey(LOG_AGENT) })) })).body
      .value;
    expect(JSON.stringify(renamed)).toContain('Saved rule \\"LOG AGENT\\"');
  });

  it('Web Chat (no replyToId): Add rule on the posted list, then Preview, Save and Cancel on the form, update that one message by the key it carries', async () => {
    h = await startSandboxBot();
    const send = (value: Record<string, unknown>) =>
      h.bot.send(submit(value, { serviceUrl: h.bot.connector.url, channelId: 'webchat', conversationId: 'webchat-1', from: SANDBOX_ADMIN }));
    const posts = () => h.bot.connector.calls.filter((c) => c.conversationId === 'webchat-1' && c.body?.type === 'message');
    /** The data of the posted or updated card's button `title`, as Web Chat submits it on a click. */
    const button = (call: { body?: any }, title: string) => {
      const actions = elements(call.body.attachments[0].content).filter((e) => e.type === 'Action.Submit');
      const found = actions.find((a) => a.title === title);
      if (!found) throw new Error(`no "${title}" among ${actions.map((a) => a.title).join(', ')}`);
      return found.data as Record<string, unknown>;
    };
    // As in Web Chat: the user types `rules`, then clicks Add rule on that card.
    await h.bot.send(message('rules', { serviceUrl: h.bot.connector.url, channelId: 'webchat', conversationId: 'webchat-1', from: SANDBOX_ADMIN }));
    await h.bot.connector.waitFor(() => posts().some((c) => c.method === 'POST'));
    const listPost = posts().find((c) => c.method === 'POST')!;
    const addRule = button(listPost, 'Add rule');
    expect(addRule.cardKey).toMatch(/^[0-9a-f-]{36}$/);
    await send(addRule);
    // The form takes the list's place: an update of that message, which now names itself.
    const updates = () => posts().filter((c) => c.method === 'PUT');
    await h.bot.connector.waitFor(() => updates().length === 1);
    const form = updates()[0]!;
    const formId = form.activityId!;
    expect(JSON.stringify(form.body)).toContain('Add a governance rule');
    expect(button(form, 'Preview').cardActivityId).toBe(formId);

    await send({ ...button(form, 'Preview'), ...(await filled()) });
    await h.bot.connector.waitFor(() => updates().length === 2);
    expect(updates()[1]!.activityId).toBe(formId);
    expect(JSON.stringify(updates()[1]!.body)).toContain('Preview: Now it would assign');
    // The form's own save button is titled Add rule on a new rule; the list has one of that title too.
    await send({ ...button(updates()[1]!, 'Add rule'), ...(await filled()) });
    await h.bot.connector.waitFor(() => updates().some((c) => JSON.stringify(c.body).includes('Added rule')));
    const saved = updates().find((c) => JSON.stringify(c.body).includes('Added rule'))!;
    expect(saved.activityId).toBe(formId);
    expect(await h.bot.store.rules.list()).toHaveLength(1);

    // Cancel on a second form (Add rule on the list the save left) puts the list back in place.
    await send(button(saved, 'Add rule'));
    await h.bot.connector.waitFor(() => updates().length === 4);
    await send(button(updates()[3]!, 'Cancel'));
    await h.bot.connector.waitFor(() => updates().length === 5);
    expect(updates()[4]!.activityId).toBe(formId);
    expect(JSON.stringify(updates()[4]!.body)).toContain('Storage from Teams');
    // One message posted (the list) in the whole flow: no copies.
    expect(posts().filter((c) => c.method === 'POST')).toHaveLength(1);
  });
});
