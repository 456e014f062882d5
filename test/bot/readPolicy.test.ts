/**
 * The read policy in chat (README "Access control"), end to end over HTTP: the real bot, the fake
 * Bot Connector, the Defender simulator's RBAC behind the real Azure client, synced data of its
 * three subscriptions. Reading needs Owner, Contributor, Security Admin, Security Reader or Reader.
 */
import { BUILTIN_SUBSCRIPTIONS, CHILD_MANAGEMENT_GROUP, userObjectId } from '../../sandbox/defender/dataset.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../../sandbox/servicenow/index.js';
import { execute, message } from '../harness/activities.js';
import { SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { assignment, conversation } from '../reminders/fixtures.js';

const [PRD, SHD, DEV] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];
const NAME: Record<string, string> = Object.fromEntries(BUILTIN_SUBSCRIPTIONS.map((s) => [s.subscriptionId, s.displayName]));
const CHANNEL = { conversationType: 'channel' as const };
const person = (upn: string, name: string) => ({ id: `29:${upn.split('.')[0]}`, name, aadObjectId: userObjectId(upn) });
/** No Azure role at all. */
const GRACE = person('grace.lee@contoso.com', 'Grace Lee');
/** Contributor on Production and Shared Services, nothing on Development. */
const BOB = person('bob.martinez@contoso.com', 'Bob Martinez');
/** Contributor on Development, Reader on Production. */
const DAVE = person('dave.kim@contoso.com', 'Dave Kim');
/** Security Admin on the child management group (Production, Shared Services); a resource-group grant on Development, which does not count. */
const FRANK = person('frank.osei@contoso.com', 'Frank Osei');
/** Reader on all three. */
const ERIN = person('erin.walsh@contoso.com', 'Erin Walsh');

const resourceIn = (sub: string, name: string) => `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;

describe('who may read what in chat', () => {
  let h: SandboxHarness;
  beforeEach(async () => {
    h = await startSandboxBot();
    await h.bot.store.assignments.upsertMany([
      assignment({ id: 'asg-prd', owner: 'carol.nguyen@contoso.com', dueDate: '2026-12-10', subscriptionId: PRD, resourceId: resourceIn(PRD, 'vm-prd-1') }),
      assignment({ id: 'asg-dev', owner: 'carol.nguyen@contoso.com', dueDate: '2026-12-11', subscriptionId: DEV, resourceId: resourceIn(DEV, 'vm-dev-1') }),
      // Grace owns one, in a subscription she has no role on.
      assignment({ id: 'asg-grace', owner: 'grace.lee@contoso.com', dueDate: '2026-12-12', subscriptionId: DEV, resourceId: resourceIn(DEV, 'vm-dev-grace') }),
    ]);
    // Grace has talked to the bot in a 1:1 chat, so it knows her UPN.
    await h.bot.store.conversations.upsert(
      conversation('a:grace', h.bot.connector.url, { userUpn: 'grace.lee@contoso.com', userAadObjectId: GRACE.aadObjectId, subscribed: false }),
    );
    h.bot.connector.reset();
  });
  afterEach(() => h.stop());

  const ask = async (text: string, from: object, where: object = CHANNEL) => {
    const before = h.bot.connector.cards().length;
    await h.bot.send(message(text, { serviceUrl: h.bot.connector.url, ...where, from: from as any }));
    const cards = h.bot.connector.cards();
    expect(cards.length).toBe(before + 1);
    return JSON.stringify(cards.at(-1));
  };
  const roleCalls = () => h.defender.control.requests().filter((r) => r.path.endsWith('/providers/Microsoft.Authorization/roleAssignments'));

  it('someone with no role gets a clear refusal for assignments, recommendations and integrations, not an empty list', async () => {
    for (const command of ['assignments', 'assignments overdue', 'recommendations', 'integrations']) {
      const card = await ask(command, GRACE);
      expect([command, card]).toEqual([command, expect.stringContaining('Not allowed')]);
      expect(card).toContain('Owner, Contributor, Security Admin, Security Reader or Reader');
      expect(card).not.toContain('Nothing here');
      expect(card).not.toContain('vm-prd-1');
      expect(card).not.toContain('carol.nguyen');
      expect(card).not.toContain(new URL(h.servicenow.url).host);
    }
    expect(await ask('assignments', GRACE)).toContain('assignments mine');
  });

  it('"assignments mine" always shows the actor their own assignments, wherever they are', async () => {
    const card = await ask('assignments mine', GRACE, { conversationId: 'a:grace' });
    expect(card).toContain('vm-dev-grace');
    expect(card).toContain('1 open');
    expect(card).not.toContain('vm-dev-1');
  });

  it('assignments shows only the subscriptions the actor may read (roles at the subscription or a management group above it)', async () => {
    const bob = await ask('assignments', BOB);
    expect(bob).toContain('vm-prd-1');
    expect(bob).not.toContain('vm-dev-1');
    expect(bob).not.toContain('vm-dev-grace');
    expect(bob).toMatch(/subscriptions you may read: 2 of 3/);

    const frank = await ask('assignments', FRANK);
    expect(frank).toContain('vm-prd-1');
    expect(frank).not.toContain('vm-dev-1');

    const dave = await ask('assignments', DAVE);
    expect(dave).toContain('vm-prd-1');
    expect(dave).toContain('vm-dev-1');
    expect(dave).toMatch(/subscriptions you may read: 2 of 3/);

    const erin = await ask('assignments', ERIN);
    expect(erin).toContain('3 open');
  });

  it('a Security Reader may read', async () => {
    const henry = { id: '29:henry', name: 'Henry', aadObjectId: '0e0e0e0e-0000-4000-8000-00000000e0e0' };
    expect(await ask('assignments', henry)).toContain('Not allowed');
    h.defender.control.grantRole(henry.aadObjectId, 'Security Reader', `/subscriptions/${DEV}`);
    h.clock.advance(5 * 60_000 + 1);
    const card = await ask('assignments', henry);
    expect(card).toContain('vm-dev-1');
    expect(card).not.toContain('vm-prd-1');
  });

  it('recommendations counts only the readable subscriptions', async () => {
    const all = await ask('recommendations', ERIN);
    // Subscriptions by name (issue 13), not by id.
    for (const sub of [PRD, SHD, DEV]) expect(all).toContain(`"title":"${NAME[sub]}"`);
    const frank = await ask('recommendations', FRANK);
    expect(frank).toContain(NAME[PRD]);
    expect(frank).toContain(NAME[SHD]);
    expect(frank).not.toContain(NAME[DEV]);
    expect(frank).not.toContain(DEV);
    expect(frank).toContain('only the 2 of 3 subscriptions you may read');
  });

  it('integrations: shown to those who may read a subscription the scope covers; managing them still needs the managing role', async () => {
    const dev = await h.bot.app.integrations.add(
      { name: 'Dev ITSM', scope: `/subscriptions/${DEV}`, instanceUrl: h.servicenow.url, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
      'test',
    );
    await h.bot.app.integrations.add(
      {
        name: 'Prod ITSM',
        scope: `/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`,
        instanceUrl: h.servicenow.url,
        ...DEFAULT_SIMULATOR_CREDENTIALS,
        fieldMode: 'default',
      },
      'test',
    );
    const bob = await ask('integrations', BOB);
    expect(bob).toContain('Contoso ServiceNow');
    expect(bob).toContain('Prod ITSM');
    expect(bob).not.toContain('Dev ITSM');
    const dave = await ask('integrations', DAVE);
    expect(dave).toContain('Dev ITSM');
    expect(dave).toContain('Prod ITSM');

    // Erin may read everything but manage nothing.
    const erin = await ask('integrations', ERIN);
    expect(erin).toContain('Dev ITSM');
    expect(erin).not.toContain(DEFAULT_SIMULATOR_CREDENTIALS.password);
    await h.bot.send(execute('testIntegration', { integrationId: dev.id }, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ERIN }));
    expect(JSON.stringify(h.bot.connector.cards().at(-1))).toContain('Owner, Contributor or Security Admin');

    // The card's buttons follow the same rule: the list and the form (which lists the known scopes).
    for (const verb of ['listIntegrations', 'addIntegrationForm']) {
      const res = await h.bot.send(execute(verb, {}, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: GRACE }));
      const answer = JSON.stringify(res.body) + JSON.stringify(h.bot.connector.cards().at(-1));
      expect([verb, answer]).toEqual([verb, expect.stringContaining('Not allowed')]);
      expect(answer).not.toContain('Dev ITSM');
      expect(answer).not.toContain(`Subscription: ${PRD}`);
    }
  });

  it('one ARM role call per configured scope answers for every subscription, cached per user for 5 minutes', async () => {
    h.defender.control.resetRequestLog();
    await ask('assignments', ERIN);
    await ask('recommendations', ERIN);
    await ask('integrations', ERIN);
    // Three subscriptions under one configured scope (the root management group): one listing.
    expect(roleCalls().map((r) => r.path)).toEqual([
      `/providers/Microsoft.Management/managementGroups/mg-contoso/providers/Microsoft.Authorization/roleAssignments`,
    ]);
    // Managing over all three subscriptions (sync) uses the same listing.
    await ask('sync', SANDBOX_ADMIN);
    expect(roleCalls()).toHaveLength(2);
    await ask('sync', SANDBOX_ADMIN);
    expect(roleCalls()).toHaveLength(2);
    h.clock.advance(5 * 60_000 + 1);
    await ask('assignments', ERIN);
    expect(roleCalls()).toHaveLength(3);
  });
});
