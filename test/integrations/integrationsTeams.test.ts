import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHILD_MANAGEMENT_GROUP, ROOT_MANAGEMENT_GROUP, userObjectId } from '../../sandbox/defender/dataset.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../../sandbox/servicenow/index.js';
import { cardProblems } from '../cards/validate.js';
import { execute, message, submit } from '../harness/activities.js';
import { startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';

const CHANNEL = { conversationType: 'channel' as const };
/** Teams users carry an Entra object id from the Defender simulator's directory. */
const ADMIN = { id: '29:alice', name: 'Alice Johnson', aadObjectId: userObjectId('alice.johnson@contoso.com') };
const READER = { id: '29:erin', name: 'Erin Walsh', aadObjectId: userObjectId('erin.walsh@contoso.com') };
/** Security Admin on the child management group only (not on the Development subscription under the root). */
const FRANK = { id: '29:frank', name: 'Frank Osei', aadObjectId: userObjectId('frank.osei@contoso.com') };
const EMULATOR = { id: 'emulator-user', name: 'User' };

const ROOT_SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
const CHILD_SCOPE = `/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`;
const PASSWORD = DEFAULT_SIMULATOR_CREDENTIALS.password;
const CLIENT_SECRET = DEFAULT_SIMULATOR_CREDENTIALS.clientSecret;

/** Every Input.* and every element with an id, by id. */
function byId(card: any): Record<string, any> {
  const out: Record<string, any> = {};
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (typeof n.id === 'string' && typeof n.type === 'string') out[n.id] = n;
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
}

/** Every Action.Execute/Action.Submit on a card, wherever it sits. */
function actionsOf(card: any): any[] {
  const out: any[] = [];
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (n.type === 'Action.Execute' || n.type === 'Action.Submit') out.push(n);
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
}

describe('ServiceNow integrations from Teams and the Emulator', () => {
  let h: SandboxHarness;
  /** Everything the bot answered to invokes, to search for secrets along with the connector calls. */
  let responses: unknown[];

  const teams = async (verb: string, data: Record<string, unknown>, from: object = ADMIN) => {
    const res = await h.bot.send(execute(verb, data, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: from as any }));
    expect(res.status).toBe(200);
    responses.push(res.body);
    return res.body;
  };
  const emulator = async (value: Record<string, unknown>) => {
    const before = h.bot.connector.cards().length;
    const res = await h.bot.send(submit(value, { serviceUrl: h.bot.connector.url, channelId: 'emulator', conversationId: 'emulator-conv', from: EMULATOR }));
    expect(res.status).toBeLessThan(300);
    await h.bot.connector.waitFor(() => h.bot.connector.cards().length > before);
    return h.bot.connector.cards().at(-1);
  };
  const lastPosted = () => h.bot.connector.cards().at(-1);
  const everythingTheBotSent = () => JSON.stringify(h.bot.connector.calls) + JSON.stringify(responses);

  const form = (over: Record<string, string> = {}) => ({
    name: 'Fabrikam ITSM',
    scope: CHILD_SCOPE,
    instanceUrl: h.servicenow.url,
    ...DEFAULT_SIMULATOR_CREDENTIALS,
    fieldMode: 'default',
    customIncident: 'assignment_group,impact,urgency',
    customProblem: 'assignment_group,impact,urgency',
    customChange: 'assignment_group,impact,urgency',
    ...over,
  });

  beforeEach(async () => {
    h = await startSandboxBot();
    responses = [];
  });
  afterEach(() => h.stop());

  it('lists integrations with scope, instance, field mode, last success and per-integration actions', async () => {
    await h.bot.send(message('integrations', { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    const card = lastPosted();
    expect(cardProblems(card)).toEqual([]);
    const text = JSON.stringify(card);
    expect(text).toContain('Contoso ServiceNow');
    expect(text).toContain(`Management group: ${ROOT_SCOPE}`);
    expect(text).toContain(new URL(h.servicenow.url).origin);
    expect(text).toContain('"value":"Default"');
    expect(text).toContain('"title":"Last success","value":"2026-11-26 09:00 UTC"');
    expect(text).toContain('"title":"Last error","value":"none"');
    expect(text).not.toContain('⚠');
    const actions = actionsOf(card);
    expect(actions.map((a) => [a.type, a.verb, a.data])).toEqual(
      expect.arrayContaining([
        ['Action.Execute', 'testIntegration', { integrationId: h.integrationId }],
        ['Action.Execute', 'removeIntegration', { integrationId: h.integrationId }],
        ['Action.Execute', 'addIntegrationForm', {}],
      ]),
    );

    // Outside Teams the same card carries Action.Submit with the verb in the data.
    await h.bot.send(message('integrations', { serviceUrl: h.bot.connector.url, channelId: 'emulator', conversationId: 'emulator-conv', from: EMULATOR }));
    const emu = lastPosted();
    expect(cardProblems(emu)).toEqual([]);
    expect(actionsOf(emu).find((a) => a.data?.verb === 'testIntegration')).toMatchObject({ type: 'Action.Submit', data: { integrationId: h.integrationId } });
  });

  it('adds a customized integration through the form in Teams and answers with the refreshed list', async () => {
    const formRes = await teams('addIntegrationForm', {});
    expect(formRes.type).toBe('application/vnd.microsoft.card.adaptive');
    const card = formRes.value;
    expect(cardProblems(card)).toEqual([]);
    const inputs = byId(card);
    for (const id of [
      'name',
      'scope',
      'instanceUrl',
      'username',
      'password',
      'clientId',
      'clientSecret',
      'fieldMode',
      'customIncident',
      'customProblem',
      'customChange',
    ])
      expect(inputs[id]?.type).toMatch(/^Input\./);
    expect(inputs.password.style).toBe('password');
    expect(inputs.clientSecret.style).toBe('password');
    expect(inputs.scope.placeholder).toContain('managementGroups');
    expect(JSON.stringify(card)).toContain('/subscriptions/{subscription id}');
    expect(JSON.stringify(card)).toContain('securityConnectors/{name}');
    expect(inputs.customIncident).toMatchObject({ isMultiSelect: true, value: 'assignment_group,impact,urgency' });
    // Known scopes come from stored recommendations and the Defender management-group ancestry.
    const known = inputs.knownScope.choices.map((c: any) => c.value);
    expect(known).toEqual(expect.arrayContaining([ROOT_SCOPE, CHILD_SCOPE, '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2']));
    expect(actionsOf(card).find((a) => a.verb === 'addIntegration')).toBeDefined();

    const res = await teams(
      'addIntegration',
      form({ fieldMode: 'customized', customIncident: 'impact,urgency', customProblem: '', customChange: 'assignment_group' }),
    );
    expect(res.type).toBe('application/vnd.microsoft.card.adaptive');
    const list = res.value;
    expect(cardProblems(list)).toEqual([]);
    expect(JSON.stringify(list)).toContain('Added **Fabrikam ITSM**');
    expect(JSON.stringify(list)).toContain('Customized: incident (impact, urgency) · problem (no extra field) · change request (assignment group)');

    const stored = (await h.bot.store.integrations.findByName('Fabrikam ITSM'))!;
    expect(stored).toMatchObject({
      scope: CHILD_SCOPE,
      fieldMode: 'customized',
      customFields: { incident: ['impact', 'urgency'], problem: [], change_request: ['assignment_group'] },
    });
    expect(JSON.stringify(stored)).not.toContain(PASSWORD);
    expect((await h.bot.store.audit.list(10)).find((e) => e.action === 'integration.add' && e.target === 'Fabrikam ITSM')?.actor).toBe('Alice Johnson');
    expect(everythingTheBotSent()).not.toContain(PASSWORD);
    expect(everythingTheBotSent()).not.toContain(CLIENT_SECRET);
  });

  it('adds an integration from the Emulator (Action.Submit) with the known scope picked from the list', async () => {
    const formCard = await emulator({ verb: 'addIntegrationForm' });
    expect(cardProblems(formCard)).toEqual([]);
    expect(actionsOf(formCard).find((a) => a.data?.verb === 'addIntegration')?.type).toBe('Action.Submit');
    const list = await emulator({ verb: 'addIntegration', ...form({ name: 'Emulator ITSM', scope: '', knownScope: CHILD_SCOPE }) });
    expect(JSON.stringify(list)).toContain('Emulator ITSM');
    expect((await h.bot.store.integrations.findByName('Emulator ITSM'))?.scope).toBe(CHILD_SCOPE);
    expect(await h.bot.store.integrations.list()).toHaveLength(2);
  });

  it('returns validation errors field by field, keeps the input, and never echoes the password or client secret', async () => {
    const res = await teams('addIntegration', form({ name: '', scope: '/subscriptions/not-a-guid', username: 'svc.kept', clientId: 'client-kept' }));
    const card = res.value;
    expect(cardProblems(card)).toEqual([]);
    const el = byId(card);
    expect(el.nameError.text).toBe('Name: required');
    // Next to the button, where the user is after a long form: the last thing in the card's body.
    expect(card.body.at(-1).id).toBe('formProblems');
    expect(JSON.stringify(card.body.at(-1))).toContain('Nothing was saved: fix the 2 fields marked above');
    expect(el.scopeError.text).toMatch(/^Scope: use one of: \/providers\/Microsoft\.Management/);
    expect(el.instanceUrlError).toBeUndefined();
    expect(el.scope.value).toBe('/subscriptions/not-a-guid');
    expect(el.username.value).toBe('svc.kept');
    expect(el.clientId.value).toBe('client-kept');
    expect(el.instanceUrl.value).toBe(h.servicenow.url);
    expect(el.password.value).toBeUndefined();
    expect(el.clientSecret.value).toBeUndefined();
    expect(el.retypeSecrets.text).toMatch(/type them again/);

    // A duplicate name is the service's own rule, reported on the name field too.
    const dup = await teams('addIntegration', form({ name: 'Contoso ServiceNow' }));
    expect(byId(dup.value).nameError.text).toContain('already exists');

    // The Emulator gets the same form as a new message.
    const emu = await emulator({ verb: 'addIntegration', ...form({ instanceUrl: '' }) });
    expect(byId(emu).instanceUrlError.text).toBe('Instance URL: required');

    expect((await h.bot.store.integrations.list()).map((i) => i.name)).toEqual(['Contoso ServiceNow']);
    const sent = everythingTheBotSent();
    expect(sent).not.toContain(PASSWORD);
    expect(sent).not.toContain(CLIENT_SECRET);
    expect(h.bot.logs.join('')).not.toContain(PASSWORD);
    expect(h.bot.logs.join('')).not.toContain(CLIENT_SECRET);
  });

  it("shows ServiceNow's own reason when the credentials are wrong, and stores nothing", async () => {
    const res = await teams('addIntegration', form({ password: 'wrong-password-123' }));
    const card = res.value;
    expect(cardProblems(card)).toEqual([]);
    const text = JSON.stringify(card);
    expect(text).toContain('Nothing was saved.');
    expect(text).toContain('ServiceNow refused the connection');
    expect(text).toContain('access_denied');
    expect(text).not.toContain('wrong-password-123');
    expect(byId(card).name.value).toBe('Fabrikam ITSM');
    expect(await h.bot.store.integrations.findByName('Fabrikam ITSM')).toBeUndefined();
    expect(everythingTheBotSent()).not.toContain('wrong-password-123');
  });

  it('refuses a Reader: nothing added, tested or removed', async () => {
    const before = h.servicenow.control.tokenGrants().length;
    const body = await teams('addIntegration', form(), READER);
    expect(body.type).not.toBe('application/vnd.microsoft.card.adaptive');
    const refusal = JSON.stringify(lastPosted());
    expect(refusal).toContain('Not allowed');
    expect(refusal).toContain('Owner, Contributor or Security Admin');
    expect(await h.bot.store.integrations.findByName('Fabrikam ITSM')).toBeUndefined();
    // The credentials were not even tried.
    expect(h.servicenow.control.tokenGrants().length).toBe(before);

    await teams('testIntegration', { integrationId: h.integrationId }, READER);
    expect(JSON.stringify(lastPosted())).toContain('Not allowed');
    await teams('confirmRemoveIntegration', { integrationId: h.integrationId }, READER);
    expect(JSON.stringify(lastPosted())).toContain('Not allowed');
    expect((await h.bot.store.integrations.get(h.integrationId))?.removedAt).toBeUndefined();
    expect((await h.bot.store.audit.list(50)).filter((e) => e.actor === 'Erin Walsh')).toEqual([]);
  });

  it('checks a management-group scope against the subscriptions below it (Defender ancestry)', async () => {
    // Frank manages the child group's subscriptions only: the child group is fine, the root is not.
    const child = await teams('addIntegration', form({ name: 'Prod ITSM', scope: CHILD_SCOPE }), FRANK);
    expect(JSON.stringify(child.value)).toContain('Added **Prod ITSM**');
    await teams('addIntegration', form({ name: 'Everything ITSM', scope: ROOT_SCOPE }), FRANK);
    expect(JSON.stringify(lastPosted())).toContain('Not allowed');
    expect(await h.bot.store.integrations.findByName('Everything ITSM')).toBeUndefined();
    // The same rule guards the existing root-scoped integration.
    await teams('confirmRemoveIntegration', { integrationId: h.integrationId }, FRANK);
    expect(JSON.stringify(lastPosted())).toContain('Not allowed');
    expect((await h.bot.store.integrations.get(h.integrationId))?.removedAt).toBeUndefined();
  });

  it('Test records the last success or the last error, marking an error newer than the last success', async () => {
    h.clock.advance(60_000);
    h.servicenow.control.failNext({ status: 500, count: 20 });
    const failed = await teams('testIntegration', { integrationId: h.integrationId });
    const failedCard = failed.value;
    expect(cardProblems(failedCard)).toEqual([]);
    const failedText = JSON.stringify(failedCard);
    expect(failedText).toContain('⚠ Test of **Contoso ServiceNow** failed');
    expect(failedText).toMatch(/"title":"Last error","value":"⚠ 2026-11-26 09:01 UTC: [^"]+"/);
    expect(failedText).toContain('"title":"Last success","value":"2026-11-26 09:00 UTC"');
    expect(failedText).toContain('⚠ Failing');
    expect((await h.bot.store.integrations.get(h.integrationId))?.lastError?.at).toBe('2026-11-26T09:01:00.000Z');

    h.servicenow.control.clearFaults();
    h.clock.advance(60_000);
    const ok = await teams('testIntegration', { integrationId: h.integrationId });
    const okText = JSON.stringify(ok.value);
    expect(okText).toContain('✅ Test of **Contoso ServiceNow** passed');
    expect(okText).toContain('"title":"Last success","value":"2026-11-26 09:02 UTC"');
    expect(okText).not.toContain('⚠ Failing');
    expect((await h.bot.store.integrations.get(h.integrationId))?.lastSuccessAt).toBe('2026-11-26T09:02:00.000Z');

    // The Emulator gets the list as a new message.
    const emu = await emulator({ verb: 'testIntegration', integrationId: h.integrationId });
    expect(JSON.stringify(emu)).toContain('passed');
  });

  it('removes an integration after confirmation; it leaves the list and keeps its history', async () => {
    const confirm = await teams('removeIntegration', { integrationId: h.integrationId });
    const confirmCardJson = confirm.value;
    expect(cardProblems(confirmCardJson)).toEqual([]);
    expect(confirmCardJson.body[0].text).toBe('Remove the integration "Contoso ServiceNow"?');
    // Asking is not removing.
    expect((await h.bot.store.integrations.get(h.integrationId))?.removedAt).toBeUndefined();
    const yes = actionsOf(confirmCardJson).find((a) => a.verb === 'confirmRemoveIntegration');
    const cancel = actionsOf(confirmCardJson).find((a) => a.title === 'Cancel');
    expect(cancel.verb).toBe('listIntegrations');

    const list = await teams(yes.verb, yes.data);
    expect(cardProblems(list.value)).toEqual([]);
    const text = JSON.stringify(list.value);
    expect(text).toContain('Removed **Contoso ServiceNow**');
    expect(actionsOf(list.value).filter((a) => a.verb === 'testIntegration')).toEqual([]);
    expect(text).toContain('No integration yet');
    expect((await h.bot.store.integrations.get(h.integrationId))?.removedAt).toBe('2026-11-26T09:00:00.000Z');
    expect(await h.bot.store.integrations.list()).toEqual([]);
    expect((await h.bot.store.audit.list(10)).find((e) => e.action === 'integration.remove')).toMatchObject({
      actor: 'Alice Johnson',
      target: 'Contoso ServiceNow',
    });

    // A second click on an old card is harmless.
    const again = await teams('confirmRemoveIntegration', { integrationId: h.integrationId });
    expect(JSON.stringify(again.value)).toContain('no longer exists');
  });

  it('keeps secrets out of the data file', async () => {
    await teams('addIntegration', form({ name: 'Fabrikam ITSM' }));
    await teams('testIntegration', { integrationId: h.integrationId });
    expect(await h.bot.store.integrations.list()).toHaveLength(2);
    await h.bot.store.flush();
    const file = readFileSync(path.join(h.bot.dataDir, 'db.json'), 'utf8');
    expect(file).toContain('Fabrikam ITSM');
    expect(file).not.toContain(PASSWORD);
    expect(file).not.toContain(CLIENT_SECRET);
    expect(everythingTheBotSent()).not.toContain(PASSWORD);
  });
});
