import { startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { SANDBOX_SCOPE } from '../../sandbox/index.js';
import { CHILD_MANAGEMENT_GROUP } from '../../sandbox/defender/dataset.js';
import type { RuleActor, RuleDraft } from '../../app/rules.js';

/**
 * Rules of equal priority on different scopes, through the real sync → rules → ticket path (the
 * Defender simulator's management-group tree behind the real Azure client, the ServiceNow
 * simulator): Defender's order decides, and within one level the nearer scope wins. The nearer
 * rule is always added last (the clock moved on), so "the older rule first" alone would pick the
 * wrong one.
 */
const CLI: RuleActor = { kind: 'cli', name: 'cli:test' };
const LOG_AGENT = 'Log Analytics agent should be installed on virtual machines';
const PROD = '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const SHARED = 'a7d4e9f0-2b6c-4f18-8e53-1c9d7b2a6f04';
const CHILD_SCOPE = `/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`;

const rule = (name: string, scope: string, owner: string, over: Partial<RuleDraft> = {}): RuleDraft => ({
  name,
  integration: 'Contoso ServiceNow',
  scope,
  recommendations: [LOG_AGENT],
  owner: { kind: 'fixed', email: owner },
  dueInDays: 14,
  priority: 50,
  ...over,
});

describe('governance rules: ties at equal priority on the real sync path', () => {
  let h: SandboxHarness;
  afterEach(() => h?.stop());

  async function outcome() {
    const rec = (await h.bot.store.recommendations.list()).find((r) => r.displayName === LOG_AGENT)!;
    const assignments = await h.bot.store.assignments.list({ recommendationKey: rec.key });
    const tickets = h.servicenow.control.records('incident');
    return { rec, assignments, tickets };
  }

  it('management group over subscription (Defender: scope order), the child management group over its parent', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(rule('Prod subscription', `/subscriptions/${PROD}`, 'carol.nguyen@contoso.com'), CLI);
    h.clock.advance(60_000);
    await rules.add(rule('Contoso', SANDBOX_SCOPE, 'bob.martinez@contoso.com'), CLI);
    h.clock.advance(60_000);
    await rules.add(rule('Contoso Production', CHILD_SCOPE, 'dave.okafor@contoso.com'), CLI);
    await h.bot.app.runCycle!();

    const { rec, assignments, tickets } = await outcome();
    expect(assignments).toHaveLength(rec.resources.length);
    const expected = (subscriptionId: string) => ([PROD, SHARED].includes(subscriptionId.toLowerCase()) ? 'Contoso Production' : 'Contoso');
    for (const a of assignments) {
      expect({ resource: a.resourceId, rule: a.byRule?.name }).toEqual({ resource: a.resourceId, rule: expected(a.subscriptionId) });
      expect(a.owner).toBe(expected(a.subscriptionId) === 'Contoso' ? 'bob.martinez@contoso.com' : 'dave.okafor@contoso.com');
      expect(a.status).toBe('open');
    }
    // Both levels really took findings, and the subscription rule (older, same priority) none.
    expect(new Set(assignments.map((a) => a.byRule?.name))).toEqual(new Set(['Contoso', 'Contoso Production']));
    expect((await rules.get('Prod subscription')).stats.assigned).toBe(0);
    // One ticket per finding, each naming the rule that won.
    expect(tickets).toHaveLength(assignments.length);
    for (const a of assignments) {
      const t = tickets.find((x) => x.number === a.ticket!.number)!;
      expect(String(t.description)).toContain(`Assigned by governance rule "${a.byRule!.name}"`);
    }
  });

  it('a subscription rule limited to a resource group wins its group over the whole-subscription rule; the rest stays with the subscription rule', async () => {
    h = await startSandboxBot();
    const rules = h.bot.app.services.rules;
    await rules.add(rule('Prod subscription', `/subscriptions/${PROD}`, 'carol.nguyen@contoso.com'), CLI);
    h.clock.advance(60_000);
    await rules.add(rule('Prod app group', `/subscriptions/${PROD}`, 'bob.martinez@contoso.com', { resourceGroup: 'rg-prd-app' }), CLI);
    await h.bot.app.runCycle!();

    const { rec, assignments, tickets } = await outcome();
    const inProd = rec.resources.filter((r) => r.subscriptionId.toLowerCase() === PROD);
    const inGroup = inProd.filter((r) => r.resourceId.toLowerCase().includes('/resourcegroups/rg-prd-app/'));
    expect(inGroup.length).toBeGreaterThan(0);
    expect(inProd.length).toBeGreaterThan(inGroup.length);
    expect(assignments).toHaveLength(inProd.length);
    const byName = (name: string) => assignments.filter((a) => a.byRule?.name === name).map((a) => a.resourceId);
    expect(byName('Prod app group').sort()).toEqual(inGroup.map((r) => r.resourceId).sort());
    expect(byName('Prod subscription').sort()).toEqual(
      inProd
        .filter((r) => !inGroup.includes(r))
        .map((r) => r.resourceId)
        .sort(),
    );
    expect(tickets).toHaveLength(inProd.length);
    const ownerOf = (name: string) => new Set(assignments.filter((a) => a.byRule?.name === name).map((a) => a.owner));
    expect(ownerOf('Prod app group')).toEqual(new Set(['bob.martinez@contoso.com']));
    expect(ownerOf('Prod subscription')).toEqual(new Set(['carol.nguyen@contoso.com']));
    // A second sync keeps the split (no second ticket, nothing moves between the rules).
    await h.bot.app.runCycle!();
    expect(h.servicenow.control.records('incident')).toHaveLength(inProd.length);
  });
});
