import { selectionCorrelationKey } from '../../core/assignments.js';
import { assignmentSchema, ruleSchema, type Recommendation, type Rule, type RuleInput, type Severity } from '../../core/model.js';
import {
  buildTagSource,
  evaluationOrder,
  findingsOf,
  NO_TAGS,
  planRules,
  previewRule,
  resourcesNeedingTags,
  ruleAssignments,
  type PlanInput,
  type RuleFinding,
  type TagSource,
} from '../../core/rules.js';
import { correlationKey } from '../../core/servicenow-rules.js';

const NOW = new Date('2026-11-30T10:00:00Z');
const SUB_A = '11111111-1111-1111-1111-111111111111';
const SUB_B = '22222222-2222-2222-2222-222222222222';
const ROOT = 'mg-root';
const CHILD = 'mg-child';
const REC_KV = 'aaaaaaaa-0000-0000-0000-000000000001';
const REC_VM = 'aaaaaaaa-0000-0000-0000-000000000002';
const REC_ST = 'aaaaaaaa-0000-0000-0000-000000000003';
const REC_NAMES: Record<string, { name: string; severity: Severity }> = {
  [REC_KV]: { name: 'Key Vault keys should have an expiration date', severity: 'High' },
  [REC_VM]: { name: 'Machines should be configured securely', severity: 'Medium' },
  [REC_ST]: { name: 'Storage accounts should restrict network access', severity: 'Low' },
};
/** SUB_A is under CHILD under ROOT; SUB_B directly under ROOT. */
const ANCESTRY: Record<string, string[]> = { [SUB_A]: [CHILD, ROOT, 'tenant'], [SUB_B]: [ROOT, 'tenant'] };

let seq = 0;
function aRule(over: Partial<RuleInput> = {}): Rule {
  seq++;
  return ruleSchema.parse({
    id: `rule-${seq}`,
    name: `Rule ${seq}`,
    priority: 100,
    scope: `/providers/Microsoft.Management/managementGroups/${ROOT}`,
    owner: { kind: 'fixed', email: 'fixed@contoso.com' },
    integrationId: 'int-1',
    dueInDays: 7,
    enabled: true,
    createdBy: { id: 'admin' },
    createdAt: `2026-11-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
    updatedBy: { id: 'admin' },
    updatedAt: '2026-11-01T00:00:00.000Z',
    ...over,
  });
}

function aFinding(name: string, over: Partial<Omit<RuleFinding, 'key'>> = {}): RuleFinding {
  const subscriptionId = over.subscriptionId ?? SUB_A;
  const resourceGroup = over.resourceGroup ?? 'rg-app';
  const recommendationKey = over.recommendationKey ?? REC_VM;
  const resourceId = over.resourceId ?? `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`;
  const assessmentId = `${resourceId}/providers/Microsoft.Security/assessments/${recommendationKey}`;
  return {
    recommendationName: REC_NAMES[recommendationKey]?.name ?? recommendationKey,
    severity: REC_NAMES[recommendationKey]?.severity ?? 'Medium',
    resourceName: name,
    resourceType: 'Microsoft.Compute/virtualMachines',
    managementGroups: ANCESTRY[subscriptionId] ?? [],
    ...over,
    key: correlationKey(assessmentId, resourceId),
    subscriptionId,
    resourceGroup,
    recommendationKey,
    resourceId,
    assessmentId,
  };
}

const tags = (resources: Record<string, Record<string, string>>, extra: Omit<Parameters<typeof buildTagSource>[0], 'resources'> = {}): TagSource =>
  buildTagSource({ resources: Object.entries(resources).map(([id, t]) => ({ id, tags: t })), ...extra });

/** Every finding known to have no tags at all. */
const untagged = (findings: readonly RuleFinding[]) => tags(Object.fromEntries(findings.map((f) => [f.resourceId, {}])));

function plan(rules: Rule[], findings: RuleFinding[], over: Partial<PlanInput> = {}) {
  return planRules({ rules, findings, liveKeys: new Set(), tags: untagged(findings), now: NOW, timeZone: 'UTC', ...over });
}

/** Which rule took each finding (by resource name), from the tickets. */
function winners(p: ReturnType<typeof planRules>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of [...p.tickets, ...p.paused]) for (const f of t.findings) out[f.resourceName] = t.ruleName;
  for (const n of p.needsOwner) out[n.finding.resourceName] = `${n.ruleName} (needs an owner)`;
  return out;
}

describe('matching', () => {
  it('matches by scope (management-group ancestry, subscription, resource group), severity and recommendation key or name', () => {
    const findings = [
      aFinding('vm-a', { recommendationKey: REC_VM }),
      aFinding('kv-a', { recommendationKey: REC_KV }),
      aFinding('vm-b', { subscriptionId: SUB_B }),
      aFinding('st-web', { recommendationKey: REC_ST, resourceGroup: 'rg-web' }),
    ];
    const rules = [
      aRule({ name: 'high only', conditions: { severities: ['High'] } }),
      aRule({ name: 'by name', scope: `/subscriptions/${SUB_B}`, conditions: { recommendations: ['  machines SHOULD be configured securely '] } }),
      aRule({ name: 'one group', scope: `/subscriptions/${SUB_A}`, resourceGroup: 'RG-WEB', conditions: { recommendations: [REC_ST.toUpperCase()] } }),
    ];
    const p = plan(rules, [...findings, aFinding('nothing', { recommendationKey: REC_ST })]);
    expect(winners(p)).toEqual({ 'kv-a': 'high only', 'vm-b': 'by name', 'st-web': 'one group' });
    expect(p.unmatched).toBe(2);
    expect(p.summaries.map((s) => [s.ruleName, s.matched])).toEqual([
      ['high only', 1],
      ['by name', 1],
      ['one group', 1],
    ]);
  });

  it('a child management group covers only the subscriptions below it; excluded scopes are left out', () => {
    const findings = [aFinding('vm-a'), aFinding('vm-b', { subscriptionId: SUB_B }), aFinding('vm-batch', { resourceGroup: 'rg-batch' })];
    const child = aRule({ name: 'child', scope: `/providers/Microsoft.Management/managementGroups/${CHILD}` });
    expect(winners(plan([child], findings))).toEqual({ 'vm-a': 'child', 'vm-batch': 'child' });
    const excluding = aRule({
      name: 'root minus',
      excludedScopes: [`/subscriptions/${SUB_A}/resourceGroups/RG-Batch`, `/providers/Microsoft.Management/managementGroups/${CHILD.toUpperCase()}`],
    });
    expect(winners(plan([excluding], findings))).toEqual({ 'vm-b': 'root minus' });
    const noSubB = aRule({ name: 'no B', excludedScopes: [`/subscriptions/${SUB_B}`] });
    expect(winners(plan([noSubB], findings))).toEqual({ 'vm-a': 'no B', 'vm-batch': 'no B' });
  });

  it('a tag condition reads the resource, then its resource group, then its subscription (tag names in any case)', () => {
    const onResource = aFinding('vm-1');
    const inGroup = aFinding('vm-2', { resourceGroup: 'rg-prod' });
    const inSub = aFinding('vm-3', { subscriptionId: SUB_B });
    const other = aFinding('vm-4', { resourceGroup: 'rg-prod' });
    const source = buildTagSource({
      resources: [
        { id: onResource.resourceId, tags: { ENV: 'prod' } },
        { id: inGroup.resourceId, tags: {} },
        { id: inSub.resourceId, tags: null },
        // Its own tag overrides the group's.
        { id: other.resourceId, tags: { env: 'dev' } },
      ],
      resourceGroups: [{ subscriptionId: SUB_A, name: 'RG-PROD', tags: { Env: 'prod' } }],
      subscriptions: [{ subscriptionId: SUB_B.toUpperCase(), tags: { env: 'prod' } }],
    });
    const prod = aRule({ name: 'prod', conditions: { tag: { name: 'env', value: 'prod' } } });
    const rest = aRule({ name: 'rest', priority: 200 });
    const p = plan([prod, rest], [onResource, inGroup, inSub, other], { tags: source });
    expect(winners(p)).toEqual({ 'vm-1': 'prod', 'vm-2': 'prod', 'vm-3': 'prod', 'vm-4': 'rest' });
    // The value compares exactly.
    const exact = aRule({ name: 'Prod', conditions: { tag: { name: 'env', value: 'Prod' } } });
    expect(winners(plan([exact], [onResource], { tags: source }))).toEqual({});
  });
});

describe('evaluation order', () => {
  it('within a level, priority decides: 1 first', () => {
    const rules = [aRule({ name: 'second', priority: 20 }), aRule({ name: 'first', priority: 10 }), aRule({ name: 'third', priority: 999 })];
    expect(winners(plan(rules, [aFinding('vm')]))).toEqual({ vm: 'first' });
    expect(evaluationOrder(rules).map((r) => r.name)).toEqual(['first', 'second', 'third']);
  });

  it('management-group rules apply before subscription rules whatever the priority (Defender: scope order)', () => {
    const sub = aRule({ name: 'subscription p1', scope: `/subscriptions/${SUB_A}`, priority: 1 });
    const mg = aRule({ name: 'management group p900', priority: 900 });
    expect(winners(plan([sub, mg], [aFinding('vm')]))).toEqual({ vm: 'management group p900' });
    expect(evaluationOrder([sub, mg]).map((r) => r.name)).toEqual(['management group p900', 'subscription p1']);
    // Where the management-group rule does not match, the subscription rule still takes it.
    const highOnly = aRule({ name: 'mg high', priority: 900, conditions: { severities: ['High'] } });
    expect(winners(plan([sub, highOnly], [aFinding('vm')]))).toEqual({ vm: 'subscription p1' });
  });

  it('ties (same level, same priority): the nearer scope first, then the older rule', () => {
    const root = aRule({ name: 'root', priority: 50 });
    const child = aRule({ name: 'child', priority: 50, scope: `/providers/Microsoft.Management/managementGroups/${CHILD}` });
    expect(winners(plan([root, child], [aFinding('vm-a'), aFinding('vm-b', { subscriptionId: SUB_B })]))).toEqual({ 'vm-a': 'child', 'vm-b': 'root' });

    const wholeSub = aRule({ name: 'subscription', priority: 50, scope: `/subscriptions/${SUB_A}` });
    const group = aRule({ name: 'resource group', priority: 50, scope: `/subscriptions/${SUB_A}`, resourceGroup: 'rg-app' });
    expect(winners(plan([wholeSub, group], [aFinding('in-group'), aFinding('elsewhere', { resourceGroup: 'rg-x' })]))).toEqual({
      'in-group': 'resource group',
      elsewhere: 'subscription',
    });

    const older = aRule({ name: 'older', priority: 50, scope: `/subscriptions/${SUB_A}`, createdAt: '2026-01-01T00:00:00.000Z' });
    const newer = aRule({ name: 'newer', priority: 50, scope: `/subscriptions/${SUB_A}`, createdAt: '2026-06-01T00:00:00.000Z' });
    expect(winners(plan([newer, older], [aFinding('vm')]))).toEqual({ vm: 'older' });
  });

  it('disabled rules take nothing: the next rule does', () => {
    const off = aRule({ name: 'off', priority: 1, enabled: false });
    const on = aRule({ name: 'on', priority: 2 });
    const p = plan([off, on], [aFinding('vm')]);
    expect(winners(p)).toEqual({ vm: 'on' });
    expect(p.summaries.map((s) => s.ruleName)).toEqual(['on']);
    expect(plan([off], [aFinding('vm')]).unmatched).toBe(1);
  });
});

describe('owners', () => {
  const tagRule = (over: Partial<RuleInput> = {}) => aRule({ name: 'by tag', owner: { kind: 'tag', tags: ['owner', 'SecurityOwner'] }, ...over });

  it('from the resource tag (any case), lower-cased; nearest level first; the rule’s tag names in order within a level', () => {
    const a = aFinding('a');
    const b = aFinding('b', { resourceGroup: 'rg-data' });
    const c = aFinding('c', { subscriptionId: SUB_B });
    const d = aFinding('d');
    const source = buildTagSource({
      resources: [
        { id: a.resourceId, tags: { Owner: ' Alice@Contoso.com ' } },
        { id: b.resourceId, tags: {} },
        { id: c.resourceId, tags: {} },
        // Both names on one level: the first name of the rule wins.
        { id: d.resourceId, tags: { SECURITYOWNER: 'sec@contoso.com', owner: 'dave@contoso.com' } },
      ],
      resourceGroups: [
        { subscriptionId: SUB_A, name: 'rg-data', tags: { securityowner: 'data-team@contoso.com' } },
        { subscriptionId: SUB_A, name: 'rg-app', tags: { owner: 'app-team@contoso.com' } },
      ],
      subscriptions: [{ subscriptionId: SUB_B, tags: { owner: 'platform@contoso.com' } }],
    });
    const p = plan([tagRule()], [a, b, c, d], { tags: source });
    const owners = Object.fromEntries(p.tickets.map((t) => [t.findings[0]!.resourceName, [t.owner, t.ownerSource]]));
    expect(owners).toEqual({
      a: ['alice@contoso.com', 'tag'],
      b: ['data-team@contoso.com', 'tag'],
      c: ['platform@contoso.com', 'tag'],
      d: ['dave@contoso.com', 'tag'],
    });
  });

  it('a fixed owner, whatever the tags', () => {
    const p = plan([aRule({ owner: { kind: 'fixed', email: 'Frank.Osei@contoso.com' } })], [aFinding('vm')]);
    expect(p.tickets.map((t) => [t.owner, t.ownerSource])).toEqual([['frank.osei@contoso.com', 'fixed']]);
  });

  it('the fallback owner when the tag is missing, not an e-mail, or its owner is unknown to ServiceNow', () => {
    const missing = aFinding('missing');
    const notEmail = aFinding('not-email');
    const unknown = aFinding('unknown');
    const source = tags({ [missing.resourceId]: {}, [notEmail.resourceId]: { owner: 'Team Payments' }, [unknown.resourceId]: { owner: 'gone@contoso.com' } });
    const rule = tagRule({ fallbackOwner: 'SecOps@contoso.com' });
    const p = plan([rule], [missing, notEmail, unknown], { tags: source, unknownOwners: new Map([['int-1', new Set(['gone@contoso.com'])]]) });
    expect(p.tickets.map((t) => [t.findings[0]!.resourceName, t.owner, t.ownerSource]).sort()).toEqual([
      ['missing', 'secops@contoso.com', 'fallback'],
      ['not-email', 'secops@contoso.com', 'fallback'],
      ['unknown', 'secops@contoso.com', 'fallback'],
    ]);
    expect(p.needsOwner).toEqual([]);
  });

  it('needs an owner, with the reason, when there is no fallback (or ServiceNow knows neither)', () => {
    const missing = aFinding('missing');
    const notEmail = aFinding('not-email');
    const unknown = aFinding('unknown');
    const source = tags({ [missing.resourceId]: {}, [notEmail.resourceId]: { owner: 'John Smith' }, [unknown.resourceId]: { owner: 'gone@contoso.com' } });
    const p = plan([tagRule()], [missing, notEmail, unknown], { tags: source, unknownOwners: new Map([['int-1', new Set(['gone@contoso.com'])]]) });
    expect(p.tickets).toEqual([]);
    expect(p.needsOwner.map((n) => [n.finding.resourceName, n.reason, n.detail])).toEqual([
      ['missing', 'no-tag', 'no owner / SecurityOwner tag on the resource, its resource group or its subscription, and the rule has no fallback owner'],
      ['not-email', 'tag-not-email', 'the owner tag on the resource is "John Smith", not an e-mail address, and the rule has no fallback owner'],
      ['unknown', 'owner-unknown', 'gone@contoso.com (owner tag on the resource) is not a ServiceNow user, and the rule has no fallback owner'],
    ]);
    expect(p.summaries[0]).toMatchObject({ matched: 3, needsOwner: 3, tickets: 0 });

    const fixed = aRule({ owner: { kind: 'fixed', email: 'gone@contoso.com' }, fallbackOwner: 'also-gone@contoso.com' });
    const both = plan([fixed], [aFinding('vm')], { unknownOwners: new Map([['int-1', new Set(['gone@contoso.com', 'also-gone@contoso.com'])]]) });
    expect(both.needsOwner.map((n) => [n.reason, n.detail])).toEqual([
      ['owner-unknown', 'gone@contoso.com is not a ServiceNow user; the fallback owner also-gone@contoso.com is not a ServiceNow user'],
    ]);
    // Unknown in another integration's ServiceNow: irrelevant here.
    expect(plan([fixed], [aFinding('vm')], { unknownOwners: new Map([['int-2', new Set(['gone@contoso.com'])]]) }).tickets).toHaveLength(1);
  });

  it('a finding whose tags Resource Graph did not return waits for the next sync (no lower rule takes it)', () => {
    const known = aFinding('known');
    const unknownTags = aFinding('unknown-tags');
    const p = plan([tagRule(), aRule({ name: 'catch-all', priority: 999 })], [known, unknownTags], {
      tags: tags({ [known.resourceId]: { owner: 'a@contoso.com' } }),
    });
    expect(winners(p)).toEqual({ known: 'by tag' });
    expect(p.deferred.map((d) => [d.finding.resourceName, d.reason])).toEqual([['unknown-tags', 'tags-unavailable']]);
    expect(p.summaries.find((s) => s.ruleName === 'by tag')).toMatchObject({ matched: 1, deferred: 1 });
  });

  it('tags are asked for only where the deciding rule needs them', () => {
    const fixedFirst = aRule({ name: 'fixed', priority: 1, conditions: { severities: ['High'] } });
    const byTag = tagRule({ priority: 2 });
    const condition = aRule({ name: 'tag condition', priority: 3, scope: `/subscriptions/${SUB_B}`, conditions: { tag: { name: 'env', value: 'prod' } } });
    const kv = aFinding('kv', { recommendationKey: REC_KV }); // High: the fixed-owner rule decides, no tags
    const vm = aFinding('vm'); // the tag-owner rule decides
    const live = aFinding('live');
    const subB = aFinding('b', { subscriptionId: SUB_B }); // the tag-owner rule (MG) decides before the subscription rule
    const outside = aFinding('outside', { subscriptionId: '33333333-3333-3333-3333-333333333333' });
    const needed = resourcesNeedingTags([fixedFirst, byTag, condition], [kv, vm, live, subB, outside], new Set([live.key]));
    expect(needed.sort()).toEqual([subB.resourceId, vm.resourceId].sort());
    // A bucket whose only match has a tag condition may pass the finding on: the next rule is tried too.
    expect(resourcesNeedingTags([condition, aRule({ name: 'later', scope: `/subscriptions/${SUB_B}`, priority: 9 })], [subB], new Set())).toEqual([
      subB.resourceId,
    ]);
    expect(resourcesNeedingTags([aRule({ name: 'disabled tag rule', owner: { kind: 'tag', tags: ['owner'] }, enabled: false })], [vm], new Set())).toEqual([]);
  });
});

describe('tickets', () => {
  it('per resource: one ticket each, correlated by the finding key (the same key a manual assignment uses)', () => {
    const findings = [aFinding('vm-2'), aFinding('vm-1')];
    const p = plan([aRule()], findings);
    expect(p.tickets).toHaveLength(2);
    for (const t of p.tickets) {
      expect(t.findings).toHaveLength(1);
      expect(t.correlationId).toBe(correlationKey(t.findings[0]!.assessmentId, t.findings[0]!.resourceId));
      expect(t.correlationId).toBe(t.findings[0]!.key);
    }
    expect(new Set(p.tickets.map((t) => t.batchId)).size).toBe(2);
  });

  it('one ticket per recommendation and owner, correlated by selectionCorrelationKey', () => {
    const a = aFinding('a');
    const b = aFinding('b');
    const c = aFinding('c');
    const kv = aFinding('kv', { recommendationKey: REC_KV });
    const source = tags({
      [a.resourceId]: { owner: 'x@contoso.com' },
      [b.resourceId]: { owner: 'x@contoso.com' },
      [c.resourceId]: { owner: 'y@contoso.com' },
      [kv.resourceId]: { owner: 'x@contoso.com' },
    });
    const p = plan([aRule({ ticketGrouping: 'single', owner: { kind: 'tag', tags: ['owner'] } })], [c, b, a, kv], { tags: source });
    const shape = p.tickets.map((t) => [t.recommendationKey, t.owner, t.findings.map((f) => f.resourceName)]);
    expect(shape).toEqual([
      [REC_KV, 'x@contoso.com', ['kv']],
      [REC_VM, 'x@contoso.com', ['a', 'b']],
      [REC_VM, 'y@contoso.com', ['c']],
    ]);
    expect(p.tickets[1]!.correlationId).toBe(selectionCorrelationKey(REC_VM, [b.resourceId, a.resourceId]));
    expect(p.summaries[0]).toMatchObject({ tickets: 3, assignments: 4 });
  });

  it('due in N days from the day the rule assigns, in REMINDER_TIMEZONE', () => {
    const late = new Date('2026-11-30T23:30:00Z');
    const rule = aRule({ dueInDays: 14, gracePeriod: true, notifyOwner: false, notifyManager: true, ticketType: 'problem' });
    expect(plan([rule], [aFinding('vm')], { now: late, timeZone: 'UTC' }).tickets[0]).toMatchObject({
      dueDate: '2026-12-14',
      gracePeriod: true,
      notifyOwner: false,
      notifyManager: true,
      ticketType: 'problem',
    });
    // Already 1 December in Auckland.
    expect(plan([rule], [aFinding('vm')], { now: late, timeZone: 'Pacific/Auckland' }).tickets[0]!.dueDate).toBe('2026-12-15');
  });
});

describe('the per-sync cap', () => {
  const many = (n: number, over: Partial<Omit<RuleFinding, 'key'>> = {}) =>
    Array.from({ length: n }, (_, i) => aFinding(`vm-${String(i).padStart(3, '0')}`, over));

  it('plans at most RULE_MAX_TICKETS_PER_SYNC tickets per rule and pauses the rest, most severe first', () => {
    const findings = [...many(55), aFinding('kv-late', { recommendationKey: REC_KV })];
    const rule = aRule();
    const p = plan([rule], findings, { maxTicketsPerRule: 50 });
    expect(p.tickets).toHaveLength(50);
    expect(p.paused).toHaveLength(6);
    expect(p.tickets[0]!.findings[0]!.resourceName).toBe('kv-late');
    expect(p.summaries[0]).toMatchObject({ matched: 56, tickets: 50, assignments: 50, pausedTickets: 6, pausedAssignments: 6 });
    // The default is 50.
    expect(plan([rule], findings).tickets).toHaveLength(50);
    // Another rule has its own cap.
    const onA = aRule({ name: 'A', scope: `/subscriptions/${SUB_A}` });
    const onB = aRule({ name: 'B', scope: `/subscriptions/${SUB_B}` });
    const both = plan([onA, onB], [...findings, ...many(3, { subscriptionId: SUB_B })], { maxTicketsPerRule: 50 });
    expect(both.tickets).toHaveLength(53);
    expect(both.summaries.map((s) => [s.ruleName, s.tickets, s.pausedTickets])).toEqual([
      ['A', 50, 6],
      ['B', 3, 0],
    ]);
  });

  it('counts tickets, not resources: one shared ticket is one', () => {
    const p = plan([aRule({ ticketGrouping: 'single' })], many(80), { maxTicketsPerRule: 1 });
    expect(p.tickets).toHaveLength(1);
    expect(p.tickets[0]!.findings).toHaveLength(80);
    expect(p.paused).toEqual([]);
  });

  it('a paused rule opens nothing until an allowance says how many it may (an admin confirmed)', () => {
    const paused = aRule({ paused: { since: NOW.toISOString(), waiting: 30 } });
    const p = plan([paused, aRule({ name: 'lower', priority: 500 })], many(30));
    expect(p.tickets).toEqual([]);
    expect(p.paused).toHaveLength(30);
    // Still its findings: a lower rule does not take them meanwhile.
    expect(p.summaries.map((s) => [s.ruleName, s.matched])).toEqual([
      [paused.name, 30],
      ['lower', 0],
    ]);
    expect(plan([paused], many(30), { allowances: new Map([[paused.id, Infinity]]) }).tickets).toHaveLength(30);
    expect(plan([aRule({ id: paused.id })], many(70), { allowances: new Map([[paused.id, 60]]) }).tickets).toHaveLength(60);
  });
});

describe('manual assignments and replays', () => {
  it('findings with a live assignment are never touched', () => {
    const manual = aFinding('manual');
    const free = aFinding('free');
    const p = plan([aRule()], [manual, free], { liveKeys: new Set([manual.key]) });
    expect(winners(p)).toEqual({ free: p.tickets[0]!.ruleName });
    expect(p.alreadyAssigned).toBe(1);
    expect(resourcesNeedingTags([aRule({ owner: { kind: 'tag', tags: ['owner'] } })], [manual], new Set([manual.key]))).toEqual([]);
  });

  it('the same input gives the same plan; once its assignments exist it plans nothing new (nor a second ticket)', () => {
    const findings = Array.from({ length: 12 }, (_, i) => aFinding(`vm-${i}`));
    const rules = [aRule({ ticketGrouping: 'single' }), aRule({ name: 'per resource', scope: `/subscriptions/${SUB_B}` })];
    const all = [...findings, aFinding('b-1', { subscriptionId: SUB_B }), aFinding('b-2', { subscriptionId: SUB_B })];
    const first = plan(rules, all);
    expect(plan(rules, all)).toEqual(first);
    const created = new Set(first.tickets.flatMap((t) => t.findings.map((f) => f.key)));
    expect(created.size).toBe(14);
    const again = plan(rules, all, { liveKeys: created });
    expect(again.tickets).toEqual([]);
    expect(again.paused).toEqual([]);
    expect(again.alreadyAssigned).toBe(14);
    // A new unhealthy resource later gets its own ticket; the old ones stay as they are.
    const later = plan(rules, [...all, aFinding('vm-new')], { liveKeys: created });
    expect(later.tickets.map((t) => t.findings.map((f) => f.resourceName))).toEqual([['vm-new']]);
    expect(later.tickets[0]!.batchId).not.toBe(first.tickets[0]!.batchId);
  });
});

describe('preview', () => {
  const recs = (n: number, over: Partial<Omit<RuleFinding, 'key'>> = {}, prefix = 'vm') =>
    Array.from({ length: n }, (_, i) => aFinding(`${prefix}-${String(i).padStart(2, '0')}`, over));

  it('counts by recommendation and owner, the first 20 resources and those needing an owner; creates nothing and ignores the cap', () => {
    const vms = recs(25);
    const kvs = recs(3, { recommendationKey: REC_KV }, 'kv');
    const noOwner = aFinding('orphan');
    const all = [...vms, ...kvs, noOwner];
    const source = tags(
      Object.fromEntries(
        all.map((f, i) => [f.resourceId, f === noOwner ? ({} as Record<string, string>) : { owner: i % 2 ? 'odd@contoso.com' : 'even@contoso.com' }]),
      ),
    );
    const rule = aRule({ owner: { kind: 'tag', tags: ['owner'] }, enabled: false });
    const input = { rules: [rule], findings: all, liveKeys: new Set<string>(), tags: source, now: NOW, timeZone: 'UTC', maxTicketsPerRule: 10 };
    const p = previewRule(rule.id, input);
    expect(p).toMatchObject({ ruleName: rule.name, matched: 29, tickets: 28, assignments: 28, beyondCap: 18, alreadyAssigned: 0, deferred: 0 });
    expect(p.byRecommendation).toEqual([
      { recommendationKey: REC_VM, recommendationName: REC_NAMES[REC_VM]!.name, severity: 'Medium', assignments: 25, tickets: 25 },
      { recommendationKey: REC_KV, recommendationName: REC_NAMES[REC_KV]!.name, severity: 'High', assignments: 3, tickets: 3 },
    ]);
    expect(p.byOwner).toEqual([
      { owner: 'even@contoso.com', assignments: 14, tickets: 14 },
      { owner: 'odd@contoso.com', assignments: 14, tickets: 14 },
    ]);
    expect(p.sample).toHaveLength(20);
    // High severity first.
    expect(
      p.sample
        .slice(0, 3)
        .map((s) => s.resourceName)
        .sort(),
    ).toEqual(['kv-00', 'kv-01', 'kv-02']);
    expect(p.sample.slice(3).every((s) => s.severity === 'Medium')).toBe(true);
    expect(p.needsOwner.map((n) => [n.finding.resourceName, n.reason])).toEqual([['orphan', 'no-tag']]);
    // The rule is still disabled: the plan of the same input opens nothing.
    expect(planRules(input).tickets).toEqual([]);
  });

  it('says what earlier rules take and what is assigned already', () => {
    const all = recs(6);
    const kv = aFinding('kv', { recommendationKey: REC_KV });
    const earlier = aRule({ name: 'earlier', priority: 1, conditions: { recommendations: [REC_KV] } });
    const mine = aRule({ name: 'mine', priority: 2 });
    const input = {
      rules: [earlier, mine],
      findings: [...all, kv],
      liveKeys: new Set([all[0]!.key, all[1]!.key]),
      tags: untagged([...all, kv]),
      now: NOW,
      timeZone: 'UTC',
    };
    const p = previewRule(mine.id, input);
    expect(p).toMatchObject({ matched: 4, tickets: 4, alreadyAssigned: 2, takenByEarlierRules: [{ ruleId: earlier.id, ruleName: 'earlier', count: 1 }] });
    // For an enabled rule without a cap, the preview is what the plan does.
    const planned = planRules({ ...input, maxTicketsPerRule: 1000 });
    expect(planned.tickets.filter((t) => t.ruleId === mine.id).flatMap((t) => t.findings.map((f) => f.resourceName))).toEqual(
      p.sample.map((s) => s.resourceName),
    );
    expect(() => previewRule('nope', input)).toThrow(/no rule nope/);
  });

  it('previews a paused rule as if confirmed', () => {
    const rule = aRule({ paused: { since: NOW.toISOString(), waiting: 3 } });
    const findings = recs(3);
    expect(previewRule(rule.id, { rules: [rule], findings, liveKeys: new Set(), tags: NO_TAGS, now: NOW, timeZone: 'UTC' }).tickets).toBe(3);
  });
});

describe('from recommendations to assignment rows', () => {
  const rec: Recommendation = {
    key: REC_VM,
    displayName: REC_NAMES[REC_VM]!.name,
    severity: 'Medium',
    description: '<p>Remediate vulnerabilities</p>',
    remediation: 'Fix it',
    resources: [
      {
        resourceId: `/subscriptions/${SUB_A}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-1`,
        assessmentId: `/subscriptions/${SUB_A}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-1/providers/Microsoft.Security/assessments/${REC_VM}`,
        name: 'vm-1',
        type: 'Microsoft.Compute/virtualMachines',
        subscriptionId: SUB_A,
      },
      {
        resourceId: `/subscriptions/${SUB_B}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-2`,
        assessmentId: `/subscriptions/${SUB_B}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-2/providers/Microsoft.Security/assessments/${REC_VM}`,
        name: 'vm-2',
        type: 'Microsoft.Compute/virtualMachines',
        subscriptionId: SUB_B,
        resourceGroup: 'rg-web',
      },
    ],
    contentHash: 'h',
    status: 'unhealthy',
    firstSeenAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
  };

  it('findingsOf: one finding per resource of unhealthy recommendations, with keys, resource groups and ancestry', () => {
    const findings = findingsOf([rec, { ...rec, key: 'resolved', status: 'resolved' }], new Map([[SUB_A.toLowerCase(), [CHILD, ROOT]]]));
    expect(findings).toEqual([
      expect.objectContaining({
        key: correlationKey(rec.resources[0]!.assessmentId, rec.resources[0]!.resourceId),
        resourceGroup: 'rg-app',
        managementGroups: [CHILD, ROOT],
      }),
      expect.objectContaining({ resourceName: 'vm-2', resourceGroup: 'rg-web', managementGroups: [] }),
    ]);
  });

  it('ruleAssignments: valid rows, keyed like manual ones, marked "by rule", sharing one batch', () => {
    const findings = findingsOf(
      [rec],
      new Map([
        [SUB_A.toLowerCase(), [ROOT]],
        [SUB_B.toLowerCase(), [ROOT]],
      ]),
    );
    const rule = aRule({ name: 'Machines to Alice', ticketGrouping: 'single', owner: { kind: 'fixed', email: 'alice@contoso.com' } });
    const [ticket] = plan([rule], findings).tickets;
    let n = 0;
    const rows = ruleAssignments(ticket!, rec, { newId: () => `asg-${++n}`, caller: 'Admin@Contoso.com', conversationId: 'conv-1', now: NOW });
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(assignmentSchema.parse(r)).toEqual(r);
      expect(r).toMatchObject({
        owner: 'alice@contoso.com',
        caller: 'admin@contoso.com',
        status: 'pending',
        batchId: ticket!.batchId,
        ticketGrouping: 'single',
        byRule: { id: rule.id, name: 'Machines to Alice' },
        governance: { key: r.id, status: 'pending' },
        conversationId: 'conv-1',
      });
      expect(r.description).toMatch(/^Assigned by governance rule "Machines to Alice" \(owner set by the rule\)\./);
      expect(r.description).toContain('vm-1');
      expect(r.description).toContain('vm-2');
    }
    expect(rows.map((r) => r.key)).toEqual(findings.map((f) => f.key));
  });
});

describe('the rule entity (core/model.ts ruleSchema)', () => {
  const base = {
    id: 'r',
    name: 'Rule',
    priority: 1,
    scope: `/subscriptions/${SUB_A}/`,
    owner: { kind: 'tag', tags: ['owner'] },
    integrationId: 'int-1',
    dueInDays: 30,
    createdBy: { id: 'a' },
    createdAt: NOW.toISOString(),
    updatedBy: { id: 'a' },
    updatedAt: NOW.toISOString(),
  };

  it('parses with its defaults in output form: disabled, per resource, incident, notify the owner only, no conditions, zero stats', () => {
    const r = ruleSchema.parse(base);
    expect(r).toMatchObject({
      scope: `/subscriptions/${SUB_A}`,
      enabled: false,
      ticketGrouping: 'perResource',
      ticketType: 'incident',
      gracePeriod: false,
      notifyOwner: true,
      notifyManager: false,
      excludedScopes: [],
      conditions: { severities: [], recommendations: [] },
      stats: { matched: 0, assigned: 0, needsOwner: 0 },
    });
    expect(ruleSchema.parse({ ...base, owner: { kind: 'fixed', email: ' Bob@Contoso.COM ' } }).owner).toEqual({ kind: 'fixed', email: 'bob@contoso.com' });
  });

  it('refuses what it cannot mean, field by field', () => {
    const problems = (over: Record<string, unknown>) =>
      ruleSchema.safeParse({ ...base, ...over }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(problems({ priority: 0 })).toEqual([expect.stringMatching(/^priority: /)]);
    expect(problems({ priority: 1001 })).toEqual([expect.stringMatching(/^priority: /)]);
    expect(problems({ scope: '/subscriptions/not-a-guid' })).toEqual([expect.stringMatching(/^scope: must be /)]);
    expect(problems({ scope: `/subscriptions/${SUB_A}/resourceGroups/rg` })).toEqual([expect.stringMatching(/^scope: /)]);
    expect(problems({ scope: `/providers/Microsoft.Management/managementGroups/${ROOT}`, resourceGroup: 'rg' })).toEqual([
      'resourceGroup: a resource group narrows a subscription scope only',
    ]);
    expect(problems({ owner: { kind: 'fixed', email: 'John Smith' } })).toEqual(['owner.email: must be an e-mail address / UPN']);
    expect(problems({ owner: { kind: 'tag', tags: [] } })).toEqual([expect.stringMatching(/^owner.tags: /)]);
    expect(problems({ owner: { kind: 'tag', tags: ['a/b'] } })).toEqual(['owner.tags.0: is not a valid Azure tag name']);
    expect(problems({ dueInDays: 0 })).toEqual([expect.stringMatching(/^dueInDays: /)]);
    expect(problems({ dueInDays: 366 })).toEqual([expect.stringMatching(/^dueInDays: /)]);
    expect(problems({ ticketType: 'task' })).toEqual([expect.stringMatching(/^ticketType: /)]);
    expect(problems({ excludedScopes: ['/somewhere'] })).toEqual(['excludedScopes.0: must be a management group, subscription or resource group id']);
    expect(problems({ conditions: { severities: ['Critical'] } })).toEqual([expect.stringMatching(/^conditions.severities.0: /)]);
  });
});
