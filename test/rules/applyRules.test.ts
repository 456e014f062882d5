import { execute } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { SANDBOX_SCOPE } from '../../sandbox/index.js';
import type { RuleActor, RuleDraft } from '../../app/rules.js';

/**
 * Governance rules applied by the real sync cycle: the real server, the Defender simulator (owner
 * tags on some resources, none or bad ones on others) behind the real Azure client, and the
 * ServiceNow simulator behind the real ServiceNow client.
 */
const CLI: RuleActor = { kind: 'cli', name: 'cli:test' };
const CHANNEL = '19:channel-1@thread.tacv2';
const STORAGE = 'Secure transfer to storage accounts should be enabled';

function draft(over: Partial<RuleDraft> = {}): RuleDraft {
  return {
    name: 'Storage by tag',
    integration: 'Contoso ServiceNow',
    scope: SANDBOX_SCOPE,
    recommendations: [STORAGE],
    owner: { kind: 'tag', tags: ['owner', 'SecurityOwner'] },
    dueInDays: 14,
    ...over,
  };
}

async function byRule(h: SandboxHarness, name: string) {
  return (await h.bot.store.assignments.list()).filter((a) => a.byRule?.name === name);
}

const incidents = (h: SandboxHarness) => h.servicenow.control.records('incident');

describe('governance rules on the sync cycle', () => {
  let h: SandboxHarness;
  afterEach(() => h?.stop());

  it('assigns by tag through the manual path (ticket, governance, "by rule" in the description and the audit), and never twice, across restarts', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(draft(), CLI);
    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;

    await h.bot.app.runCycle!();
    const made = await byRule(h, 'Storage by tag');
    expect(made.length).toBeGreaterThan(3);
    expect(made.length).toBeLessThan(storage.resources.length); // some resources carry no usable owner
    expect(made.every((a) => a.status === 'open' && a.ticket && a.governance?.status === 'synced')).toBe(true);
    const tickets = incidents(h);
    expect(tickets).toHaveLength(made.length);
    expect(tickets.every((t) => String(t.description).startsWith('Assigned by governance rule "Storage by tag"'))).toBe(true);
    const audit = await h.bot.store.audit.list(500);
    expect(audit.filter((e) => e.actor === 'rule:Storage by tag' && e.action === 'assignment.create')).toHaveLength(made.length);
    // The owner came from the tag: Defender's governance assignment names the same person.
    const gov = await h.azure.getGovernanceAssignment(made[0]!.resourceId, made[0]!.assessmentId.split('/').pop()!, made[0]!.governance!.key);
    expect(String(gov?.properties.owner).toLowerCase()).toBe(made[0]!.owner);

    const stats = (await rules.get('Storage by tag')).stats;
    expect(stats).toMatchObject({ assigned: made.length, needsOwner: storage.resources.length - made.length });

    await h.bot.app.runCycle!();
    expect(incidents(h)).toHaveLength(made.length);
    h.bot = await h.bot.restart();
    await h.bot.app.runCycle!();
    expect(incidents(h)).toHaveLength(made.length);
    expect(await byRule(h, 'Storage by tag')).toHaveLength(made.length);
  });

  it('a ticket whose response was lost is not created twice: the stored assignment is finished by the next cycle', async () => {
    h = await startSandboxBot();
    await h.bot.app.services.rules.add(draft({ owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' } }), CLI);
    h.servicenow.control.dropNextCreateResponse();
    await h.bot.app.runCycle!();
    h.bot = await h.bot.restart();
    await h.bot.app.runCycle!();
    const made = await byRule(h, 'Storage by tag');
    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    expect(made).toHaveLength(storage.resources.length);
    expect(made.every((a) => a.status === 'open')).toBe(true);
    // One ticket per finding, by correlation id, although one create's answer never arrived.
    expect(new Set(incidents(h).map((t) => t.correlation_id)).size).toBe(incidents(h).length);
    expect(incidents(h)).toHaveLength(made.length);
  });

  it('never touches a manual assignment; the fallback owner takes what has no usable tag', async () => {
    h = await startSandboxBot();
    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    const manual = storage.resources[0]!;
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        {
          recommendationKey: storage.key,
          resourceIds: manual.resourceId,
          ...assignmentFormValues(h.integrationId, { assignedTo: 'carol.nguyen@contoso.com' }),
        },
        { serviceUrl: h.bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN },
      ),
    );
    expect(JSON.stringify(res.body.value)).toMatch(/assigned/);
    await h.bot.app.services.rules.add(draft({ fallbackOwner: 'dave.okafor@contoso.com' }), CLI);
    await h.bot.app.runCycle!();
    const all = await h.bot.store.assignments.list({ recommendationKey: storage.key });
    expect(all).toHaveLength(storage.resources.length);
    const mine = all.filter((a) => a.resourceId === manual.resourceId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ owner: 'carol.nguyen@contoso.com' });
    expect(mine[0]!.byRule).toBeUndefined();
    const ruled = all.filter((a) => a.byRule);
    expect(ruled).toHaveLength(storage.resources.length - 1);
    expect(ruled.some((a) => a.owner === 'dave.okafor@contoso.com')).toBe(true);
    expect(ruled.some((a) => a.owner !== 'dave.okafor@contoso.com')).toBe(true);
    expect((await h.bot.app.services.rules.get('Storage by tag')).stats.needsOwner).toBe(0);
  });

  it('the needs-an-owner list is announced in the rule conversation once, kept for `rules`, not repeated every sync', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(draft({ conversationId: CHANNEL }), CLI);
    await h.bot.app.runCycle!();
    const said = () => h.bot.connector.activities().filter((c) => String(c.body?.text ?? '').includes('they need an owner'));
    await h.bot.connector.waitFor(() => said().length === 1);
    const view = (await rules.list()).find((v) => v.rule.name === 'Storage by tag')!;
    expect(view.needsOwner.length).toBeGreaterThan(0);
    expect(view.needsOwner.length).toBe(view.rule.stats.needsOwner);
    expect(String(said()[0]!.body.text)).toContain(view.needsOwner[0]!.resourceName);
    await h.bot.app.runCycle!();
    await h.bot.app.runCycle!();
    await h.bot.app.messenger.drain();
    expect(said()).toHaveLength(1);
    expect((await rules.list()).find((v) => v.rule.name === 'Storage by tag')!.needsOwner).toHaveLength(view.needsOwner.length);
  });

  it("an owner ServiceNow cannot assign, and a fallback it cannot either: needs an owner, in the fallback contact's weekly digest while it stays unowned", async () => {
    h = await startSandboxBot();
    const at = h.clock.now().toISOString();
    // sam.rivera@contoso.com is two ServiceNow users (ambiguous); former.employee@contoso.com none.
    await h.bot.store.conversations.upsert({
      id: 'a:sam-personal',
      channelId: 'msteams',
      serviceUrl: h.bot.connector.url,
      kind: 'personal',
      reference: { conversation: { id: 'a:sam-personal' }, serviceUrl: h.bot.connector.url, channelId: 'msteams', bot: { id: 'bot' }, user: { id: '29:sam' } },
      subscribed: false,
      filters: { severities: [], scopes: [] },
      userUpn: 'sam.rivera@contoso.com',
      createdAt: at,
      updatedAt: at,
    });
    const rules = h.bot.app.services.rules;
    await rules.add(draft({ owner: { kind: 'fixed', email: 'former.employee@contoso.com' }, fallbackOwner: 'sam.rivera@contoso.com' }), CLI);
    await h.bot.app.runCycle!();
    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    expect(await byRule(h, 'Storage by tag')).toHaveLength(0);
    expect(incidents(h)).toHaveLength(0);
    const view = (await rules.list())[0]!;
    expect(view.needsOwner).toHaveLength(storage.resources.length);
    expect(view.needsOwner[0]!.reason).toContain('the fallback owner sam.rivera@contoso.com is not a ServiceNow user');
    const toSam = () => h.bot.connector.activities().filter((c) => c.conversationId === 'a:sam-personal');
    const section = `Findings that need an owner (rule Storage by tag): ${storage.resources.length}`;
    const digests = () => toSam().filter((c) => JSON.stringify(c.body).includes(section));
    await h.bot.app.messenger.drain();
    // No separate message any more: the list waits for the weekly digest.
    expect(toSam()).toHaveLength(0);

    await h.bot.app.reminders.runOnce();
    await h.bot.connector.waitFor(() => digests().length === 1);
    const card = JSON.stringify(digests()[0]!.body);
    expect(card).toContain('finding');
    expect(card).toContain(view.needsOwner[0]!.resourceName);
    expect(card).toContain(`…and ${storage.resources.length - 5} more`);
    // Once a week: the same week's passes and syncs say nothing more.
    await h.bot.app.reminders.runOnce();
    await h.bot.app.runCycle!();
    await h.bot.app.messenger.drain();
    expect(toSam()).toHaveLength(1);

    // Still unowned a week later: listed again.
    h.clock.advance(7 * 24 * 3600_000);
    await h.bot.app.runCycle!();
    await h.bot.app.reminders.runOnce();
    await h.bot.connector.waitFor(() => digests().length === 2);

    // Given an owner, the findings leave the list: the next week's digest has no section (Sam owns nothing: no digest).
    await rules.edit('Storage by tag', { owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' } }, CLI);
    await h.bot.app.runCycle!();
    expect(await byRule(h, 'Storage by tag')).toHaveLength(storage.resources.length);
    h.clock.advance(7 * 24 * 3600_000);
    await h.bot.app.runCycle!();
    await h.bot.app.reminders.runOnce();
    await h.bot.app.messenger.drain();
    expect(toSam()).toHaveLength(2);
  });

  it('preview creates nothing and says what the rule would assign', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(draft({ enabled: false }), CLI);
    const p = await rules.preview('Storage by tag');
    expect(p.assignments).toBeGreaterThan(0);
    expect(p.needsOwner.length).toBeGreaterThan(0);
    expect(p.byRecommendation.map((r) => r.recommendationName)).toEqual([STORAGE]);
    expect(p.sample.length).toBe(Math.min(20, p.assignments));
    await h.bot.app.runCycle!();
    expect(incidents(h)).toHaveLength(0);
    expect(await byRule(h, 'Storage by tag')).toHaveLength(0);
    // Enabled, it assigns what the preview said.
    await rules.setEnabled('Storage by tag', true, CLI);
    await h.bot.app.runCycle!();
    expect(await byRule(h, 'Storage by tag')).toHaveLength(p.assignments);
  });

  it('stops at RULE_MAX_TICKETS_PER_SYNC, asks its conversation to confirm, and opens the rest only after a confirmation', async () => {
    h = await startSandboxBot({ env: { RULE_MAX_TICKETS_PER_SYNC: '3' } });
    const rules = h.bot.app.services.rules;
    await rules.add(draft({ owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' }, conversationId: CHANNEL }), CLI);
    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    await h.bot.app.runCycle!();
    expect(incidents(h)).toHaveLength(3);
    const rule = await rules.get('Storage by tag');
    expect(rule.paused).toMatchObject({ waiting: storage.resources.length - 3 });
    const confirmCards = () => h.bot.connector.cards().filter((c) => JSON.stringify(c).includes('confirmRule'));
    await h.bot.connector.waitFor(() => confirmCards().length === 1);
    expect(JSON.stringify(confirmCards()[0])).toContain(`would open ${storage.resources.length - 3} more`);

    await h.bot.app.runCycle!();
    expect(incidents(h)).toHaveLength(3);
    await h.bot.app.messenger.drain();
    expect(confirmCards()).toHaveLength(1);

    await rules.confirm('Storage by tag', CLI);
    await h.bot.app.runCycle!();
    expect(incidents(h)).toHaveLength(storage.resources.length);
    expect((await rules.get('Storage by tag')).paused).toBeUndefined();
  });

  it('disabling or removing keeps the assignments it made and says so; a disabled rule assigns nothing more', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(draft({ owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' } }), CLI);
    await rules.add(
      draft({
        name: 'Key vaults',
        recommendations: ['Key vaults should have soft delete enabled'],
        owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' },
      }),
      CLI,
    );
    const { message } = await rules.setEnabled('Key vaults', false, CLI);
    expect(message).toMatch(/assignments and tickets it made stay/);
    await h.bot.app.runCycle!();
    const made = await byRule(h, 'Storage by tag');
    expect(made.length).toBeGreaterThan(0);
    expect(await byRule(h, 'Key vaults')).toHaveLength(0);
    expect(await rules.remove('Storage by tag', CLI)).toMatch(/assignments and tickets it made stay/);
    await h.bot.app.runCycle!();
    expect((await byRule(h, 'Storage by tag')).map((a) => a.status)).toEqual(made.map(() => 'open'));
    await expect(rules.get('Storage by tag')).rejects.toThrow(/no rule named/);
  });

  it('management-group rules win over subscription rules whatever their priority; priority orders rules of one level', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    const storage = (await h.bot.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    const sub = storage.resources[0]!.subscriptionId;
    await rules.add(
      draft({ name: 'Sub first', scope: `/subscriptions/${sub}`, priority: 1, owner: { kind: 'fixed', email: 'carol.nguyen@contoso.com' } }),
      CLI,
    );
    await rules.add(draft({ name: 'MG late', priority: 900, owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' } }), CLI);
    await rules.add(draft({ name: 'MG later', priority: 950, owner: { kind: 'fixed', email: 'dave.okafor@contoso.com' } }), CLI);
    await h.bot.app.runCycle!();
    expect(await byRule(h, 'MG late')).toHaveLength(storage.resources.length);
    expect(await byRule(h, 'Sub first')).toHaveLength(0);
    expect(await byRule(h, 'MG later')).toHaveLength(0);
  });

  it("imports Defender's governance rule with its owner source, due offset and grace; a second import is refused", async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    const { rules: defender } = await rules.defenderRules();
    expect(defender.length).toBe(3);
    const byTag = defender.find((d) => d.properties.ownerSource.type === 'ByTag')!;
    const { rule } = await rules.importDefender(byTag.properties.displayName, { integration: 'Contoso ServiceNow' }, CLI);
    expect(rule).toMatchObject({
      owner: { kind: 'tag', tags: [byTag.properties.ownerSource.value] },
      gracePeriod: byTag.properties.isGracePeriod === true,
      enabled: false,
      source: { kind: 'defender', id: byTag.id },
    });
    await expect(rules.importDefender(byTag.id, { integration: 'Contoso ServiceNow' }, CLI)).rejects.toThrow(/imported already/);
  });

  it('names an unknown integration, scope or recommendation', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await expect(rules.add(draft({ integration: 'Nope' }), CLI)).rejects.toThrow('unknown integration "Nope"');
    await expect(rules.add(draft({ scope: '/subscriptions/00000000-0000-0000-0000-000000000000' }), CLI)).rejects.toThrow(
      'unknown scope "/subscriptions/00000000-0000-0000-0000-000000000000"',
    );
    await expect(rules.add(draft({ recommendations: ['No such thing'] }), CLI)).rejects.toThrow('unknown recommendation "No such thing"');
    expect(await h.bot.store.rules.list()).toHaveLength(0);
  });
});
