/**
 * Governance rules and resource tags over HTTP: the real AzureClient against the Defender
 * simulator, both checked against the official OpenAPI files (governanceRules.json,
 * resourcegraph.json), and the pieces of a rule run put together on the built-in dataset.
 */
import axios from 'axios';
import { importDefenderRule } from '../../core/defenderRules.js';
import { ruleSchema, type Recommendation } from '../../core/model.js';
import { groupRecommendations, normaliseAncestry } from '../../core/recommendations.js';
import { buildTagSource, findingsOf, planRules, resourcesNeedingTags } from '../../core/rules.js';
import { AzureApiError } from '../../connectors/defender/azureClient.js';
import { kqlBatches } from '../../connectors/defender/resourceGraph.js';
import type { UnhealthyResource } from '../../core/defender-model.js';
import { BUILTIN_SUBSCRIPTIONS, builtInDataset, builtInResourceTags, ROOT_MANAGEMENT_GROUP } from '../../sandbox/defender/dataset.js';
import { SPEC, validateOperationRequest, validateOperationResponse } from './openapi.js';
import { startHarness, type Harness } from './helpers.js';

const [PRD, SHD, DEV] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];
const ROOT = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
const SUB_LIST = '/subscriptions/{subscriptionId}/providers/Microsoft.Security/governanceRules';
const MG_LIST = '/providers/Microsoft.Management/managementGroups/{managementGroupId}/providers/Microsoft.Security/governanceRules';
const SUB_GET = '/subscriptions/{subscriptionId}/providers/Microsoft.Security/governanceRules/{ruleId}';
const ARG_PATH = '/providers/Microsoft.ResourceGraph/resources';

let h: Harness;
let token: string;
const get = async (path: string) =>
  axios.get(`${h.sim.url}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
    validateStatus: () => true,
    params: { 'api-version': '2022-01-01-preview' },
  });

beforeEach(async () => {
  h = await startHarness({ pageSize: 50 });
  token = (await h.credential.getToken('https://management.azure.com/.default')).token;
});
afterEach(async () => {
  await h.sim.close();
});

describe('Defender governance rules: client and simulator', () => {
  it('lists the built-in rules at both scopes: one by tag on the root group, one by e-mail on production, one disabled', async () => {
    const root = await h.client.listGovernanceRules(ROOT);
    const prd = await h.client.listGovernanceRules(`/subscriptions/${PRD}`);
    const dev = await h.client.listGovernanceRules(`/subscriptions/${DEV}/`);
    expect(root.rules.map((r) => [r.properties.displayName, r.properties.ownerSource])).toEqual([
      ['High severity: owner from the owner tag', { type: 'ByTag', value: 'owner' }],
    ]);
    expect(prd.rules.map((r) => [r.properties.displayName, r.properties.ruleType, r.properties.ownerSource.type])).toEqual([
      ['Key Vault findings to Frank Osei', 'ServiceNow', 'Manually'],
    ]);
    expect(dev.rules.map((r) => [r.properties.displayName, r.properties.isDisabled])).toEqual([['Low severity backlog (disabled)', true]]);
    expect((await h.client.listGovernanceRules(`/subscriptions/${SHD}`)).rules).toEqual([]);
    expect(root.skipped).toEqual([]);
    expect(root.rules[0]!.id).toBe(`${ROOT}/providers/Microsoft.Security/governanceRules/${root.rules[0]!.name}`);
    // The client's requests: the documented paths and api-version.
    const sent = h.sim.control.requests().filter((r) => r.path.endsWith('/governanceRules'));
    expect(sent.map((r) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['GET', 200],
      ['GET', 200],
      ['GET', 200],
    ]);
  });

  it('the simulator answers GovernanceRuleList and GovernanceRule as the spec defines them, and ARM errors otherwise', async () => {
    const root = await get(`${ROOT}/providers/Microsoft.Security/governanceRules`);
    expect(validateOperationResponse(SPEC.governanceRules, MG_LIST, 'get', '200', root.data, { noExtra: true })).toEqual([]);
    const prd = await get(`/subscriptions/${PRD}/providers/Microsoft.Security/governanceRules`);
    expect(validateOperationResponse(SPEC.governanceRules, SUB_LIST, 'get', '200', prd.data, { noExtra: true })).toEqual([]);
    const one = await get(
      `/subscriptions/${PRD}/providers/Microsoft.Security/governanceRules/${(prd.data as { value: Array<{ name: string }> }).value[0]!.name}`,
    );
    expect(one.status).toBe(200);
    expect(validateOperationResponse(SPEC.governanceRules, SUB_GET, 'get', '200', one.data, { noExtra: true })).toEqual([]);
    const missing = await get(`/subscriptions/${PRD}/providers/Microsoft.Security/governanceRules/00000000-0000-0000-0000-000000000000`);
    expect(missing.status).toBe(404);
    expect(validateOperationResponse(SPEC.governanceRules, SUB_GET, 'get', 'default', missing.data, { noExtra: true })).toEqual([]);
    const noSub = await get('/subscriptions/99999999-9999-9999-9999-999999999999/providers/Microsoft.Security/governanceRules');
    expect([noSub.status, (noSub.data as { error: { code: string } }).error.code]).toEqual([404, 'SubscriptionNotFound']);
    const badVersion = await axios.get(`${h.sim.url}/subscriptions/${PRD}/providers/Microsoft.Security/governanceRules?api-version=2021-06-01`, {
      headers: { Authorization: `Bearer ${token}` },
      validateStatus: () => true,
    });
    expect([badVersion.status, (badVersion.data as { error: { code: string } }).error.code]).toEqual([400, 'InvalidApiVersionParameter']);
    await expect(h.client.listGovernanceRules('/subscriptions/99999999-9999-9999-9999-999999999999')).rejects.toMatchObject({ status: 404 });
    await expect(h.client.listGovernanceRules('/subscriptions/x/resourceGroups/rg')).rejects.toThrow(/at a management group or a subscription/);
  });

  it('follows nextLink through every page; a rule that does not fit the spec is skipped with its reason, the others kept', async () => {
    const base = h.sim.control.listGovernanceRules().find((g) => g.scope === `/subscriptions/${PRD}`)!;
    for (let i = 1; i <= 4; i++)
      h.sim.control.addGovernanceRule({
        ...base,
        name: `00000000-0000-0000-0000-00000000000${i}`,
        properties: { ...base.properties, displayName: `Extra ${i}`, rulePriority: 200 + i },
      });
    h.sim.control.addGovernanceRule({
      ...base,
      name: '00000000-0000-0000-0000-0000000000ff',
      properties: { ...base.properties, displayName: 'Broken', rulePriority: 5000 },
    });
    h.sim.control.setGovernanceRulesPageSize(2);
    h.sim.control.resetRequestLog();
    const listing = await h.client.listGovernanceRules(`/subscriptions/${PRD}`);
    expect(listing.rules.map((r) => r.properties.displayName)).toEqual(['Key Vault findings to Frank Osei', 'Extra 1', 'Extra 2', 'Extra 3', 'Extra 4']);
    expect(listing.skipped).toEqual([
      {
        id: `/subscriptions/${PRD}/providers/Microsoft.Security/governanceRules/00000000-0000-0000-0000-0000000000ff`,
        reason: expect.stringMatching(/rulePriority/),
      },
    ]);
    expect(h.sim.control.requestCount({ pathIncludes: '/governanceRules' })).toBe(3);
    expect(h.logs.some((l) => l.level === 'warn' && /does not fit/.test(l.msg ?? ''))).toBe(true);
  });

  it('each built-in Defender rule imports as a bot rule', async () => {
    const all = [
      ...(await h.client.listGovernanceRules(ROOT)).rules,
      ...(await h.client.listGovernanceRules(`/subscriptions/${PRD}`)).rules,
      ...(await h.client.listGovernanceRules(`/subscriptions/${DEV}`)).rules,
    ];
    const now = h.clock.now();
    const imported = all.map((r, i) => importDefenderRule(r, { id: `imported-${i}`, integrationId: 'int-1', actor: { id: 'alice' }, now }));
    expect(imported.map((r) => r.ok)).toEqual([true, true, true]);
    const rules = imported.flatMap((r) => (r.ok ? [r.rule] : []));
    expect(rules.map((r) => [r.scope, r.owner, r.dueInDays, r.conditions.severities])).toEqual([
      [ROOT, { kind: 'tag', tags: ['owner'] }, 14, ['High']],
      [`/subscriptions/${PRD}`, { kind: 'fixed', email: 'frank.osei@contoso.com' }, 7, []],
      [`/subscriptions/${DEV}`, { kind: 'fixed', email: 'dave.kim@contoso.com' }, 90, ['Low']],
    ]);
    expect(rules[1]!.conditions.recommendations.length).toBeGreaterThan(0);
    for (const r of rules) expect(ruleSchema.parse(r)).toEqual(r);
  });
});

describe('resource tags from Resource Graph', () => {
  const dataset = builtInDataset();
  const vms = dataset.resources.filter((r) => r.type === 'Microsoft.Compute/virtualMachines');
  const kv = dataset.resources.find((r) => r.resourceGroup === 'rg-shd-security')!;

  it('resources, their resource groups and subscriptions, in queries the spec accepts, answered as QueryResponse', async () => {
    const ids = [
      vms[0]!.id,
      vms[1]!.id.toUpperCase(),
      kv.id,
      `/subscriptions/${SHD}`,
      '/subscriptions/x/resourceGroups/none/providers/Microsoft.Compute/virtualMachines/gone',
    ];
    const tags = await h.client.getResourceTags(ids);
    expect(tags.resources.map((r) => r.id).sort()).toEqual([vms[0]!.id, vms[1]!.id, kv.id].sort());
    expect(tags.resources.find((r) => r.id === vms[0]!.id)!.tags).toEqual(vms[0]!.tags);
    expect(tags.resourceGroups.map((g) => g.name).sort()).toEqual([...new Set([vms[0]!.resourceGroup!, vms[1]!.resourceGroup!, 'rg-shd-security'])].sort());
    expect(tags.resourceGroups.find((g) => g.name === 'rg-shd-security')!.tags).toEqual({ owner: 'frank.osei@contoso.com', environment: 'shared' });
    expect(tags.subscriptions).toEqual(
      expect.arrayContaining([{ subscriptionId: SHD, tags: { SecurityOwner: 'alice.johnson@contoso.com', environment: 'shared' } }]),
    );
    expect(tags.unconfirmed).toEqual([]);
    const sent = h.sim.control.requests().filter((r) => r.kind === 'resourceGraph');
    expect(sent).toHaveLength(3);
    for (const r of sent) {
      expect(validateOperationRequest(SPEC.resourceGraph, ARG_PATH, 'post', r.body)).toEqual([]);
      const resp = await axios.post(`${h.sim.url}${ARG_PATH}?api-version=2024-04-01`, r.body, { headers: { Authorization: `Bearer ${token}` } });
      expect(validateOperationResponse(SPEC.resourceGraph, ARG_PATH, 'post', '200', resp.data, { noExtra: true })).toEqual([]);
    }
    const queries = sent.map((r) => (r.body as { query: string }).query);
    expect(queries[0]).toMatch(/^resources\n\| where id in~ \(.*\)\n\| project id, tags, resourceGroup, subscriptionId\n\| order by id asc$/);
    expect(queries[1]).toMatch(/^resourcecontainers\n\| where type =~ 'microsoft.resources\/subscriptions\/resourcegroups'/);
    expect(queries[2]).toMatch(/^resourcecontainers\n\| where type =~ 'microsoft.resources\/subscriptions'\n/);
    // Without inheritance only the resources are read.
    h.sim.control.resetRequestLog();
    const own = await h.client.getResourceTags([vms[0]!.id], { inherited: false });
    expect(own.resourceGroups).toEqual([]);
    expect(h.sim.control.requestCount({ kind: 'resourceGraph' })).toBe(1);
  });

  it('in batches that keep each query small, every id asked once', async () => {
    const client = h.makeClient({ idBatchSize: 40, maxListChars: 4_000 });
    const ids = vms.map((v) => v.id);
    const tags = await client.getResourceTags(ids, { inherited: false });
    expect(tags.resources).toHaveLength(ids.length);
    const queries = h.sim.control
      .requests()
      .filter((r) => r.kind === 'resourceGraph')
      .map((r) => (r.body as { query: string }).query);
    expect(queries.length).toBeGreaterThan(Math.ceil(ids.length / 40));
    for (const q of queries) expect(q.length).toBeLessThan(4_200);
    expect(kqlBatches(['a', 'b', 'c'], 2, 100)).toEqual([['a', 'b'], ['c']]);
    // Each value costs its quoted length plus a separator: 'aaaa' 8, 'b' 5.
    expect(kqlBatches(['aaaa', 'b', 'c'], 10, 13)).toEqual([['aaaa', 'b'], ['c']]);
    // A value longer than the budget still goes, alone.
    expect(kqlBatches(['a-very-long-id', 'b'], 10, 5)).toEqual([['a-very-long-id'], ['b']]);
    expect(kqlBatches([], 10, 10)).toEqual([]);
  });

  it('an incomplete answer leaves the ids it did not return unconfirmed (their tags are unknown)', async () => {
    h.sim.control.injectResultFault({ count: 1, kind: 'truncated', query: 'tags' });
    const ids = vms.slice(0, 10).map((v) => v.id);
    const tags = await h.client.getResourceTags(ids, { inherited: false });
    expect(tags.incomplete).toMatch(/resultTruncated/);
    expect(tags.resources.length + tags.unconfirmed.length).toBe(10);
    expect(tags.unconfirmed.length).toBeGreaterThan(0);
  });
});

describe('the sandbox dataset has owners for some resources and not for others', () => {
  it('owner tags on ~60% (a few not e-mails, a few ServiceNow cannot assign), SecurityOwner on ~15%, none on the rest', () => {
    const tagged = builtInDataset().resources.filter((r) => r.type !== 'Microsoft.Resources/subscriptions');
    const owner = (t: Record<string, string>) => t.owner ?? t.Owner;
    const share = (f: (t: Record<string, string>) => boolean) => tagged.filter((r) => f(r.tags!)).length / tagged.length;
    expect(share((t) => owner(t) !== undefined)).toBeGreaterThan(0.5);
    expect(share((t) => owner(t) !== undefined)).toBeLessThan(0.7);
    expect(share((t) => t.SecurityOwner !== undefined)).toBeGreaterThan(0.08);
    expect(share((t) => owner(t) === undefined && t.SecurityOwner === undefined)).toBeGreaterThan(0.15);
    expect(tagged.some((r) => r.tags!.Owner !== undefined)).toBe(true);
    expect(tagged.some((r) => r.tags!.owner !== undefined && !r.tags!.owner.includes('@'))).toBe(true);
    expect(tagged.some((r) => r.tags!.owner === 'sam.rivera@contoso.com' || r.tags!.owner === 'former.employee@contoso.com')).toBe(true);
    // Derived from the id alone: the same resource always carries the same tags.
    expect(builtInResourceTags(tagged[0]!.id, 'prd')).toEqual(builtInResourceTags(tagged[0]!.id, 'prd'));
  });

  it('a rule run over the simulator: tags fetched only for what matched; owners from resource, group and subscription tags, the fallback, and needs-an-owner', async () => {
    const rows: UnhealthyResource[] = [];
    await h.client.queryUnhealthyAssessments([ROOT], { onPage: (p) => void rows.push(...p) });
    const recs: Recommendation[] = [...groupRecommendations(rows, h.clock.now()).values()];
    const ancestry = normaliseAncestry(await h.client.getSubscriptionAncestry(BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId)));
    const findings = findingsOf(recs, ancestry);
    const stamp = h.clock.now().toISOString();
    const rule = (over: Record<string, unknown>) =>
      ruleSchema.parse({
        integrationId: 'int-1',
        dueInDays: 14,
        enabled: true,
        createdBy: { id: 'alice' },
        createdAt: stamp,
        updatedBy: { id: 'alice' },
        updatedAt: stamp,
        ...over,
      });
    const rules = [
      rule({
        id: 'high',
        name: 'High by owner tag',
        priority: 1,
        scope: ROOT,
        conditions: { severities: ['High'] },
        owner: { kind: 'tag', tags: ['owner', 'SecurityOwner'] },
      }),
      rule({
        id: 'medium',
        name: 'Medium by tag, else SecOps',
        priority: 2,
        scope: ROOT,
        conditions: { severities: ['Medium'] },
        owner: { kind: 'tag', tags: ['owner'] },
        fallbackOwner: 'carol.nguyen@contoso.com',
      }),
      rule({
        id: 'low',
        name: 'Low to Dave',
        priority: 3,
        scope: `/subscriptions/${DEV}`,
        conditions: { severities: ['Low'] },
        owner: { kind: 'fixed', email: 'dave.kim@contoso.com' },
      }),
    ];
    const needed = resourcesNeedingTags(rules, findings, new Set());
    const lowOnly = new Set(findings.filter((f) => f.severity === 'Low').map((f) => f.resourceId.toLowerCase()));
    expect(
      needed.some((id) => lowOnly.has(id.toLowerCase()) && !findings.some((f) => f.severity !== 'Low' && f.resourceId.toLowerCase() === id.toLowerCase())),
    ).toBe(false);
    h.sim.control.resetRequestLog();
    const tags = await h.client.getResourceTags(needed);
    expect(tags.unconfirmed).toEqual([]);
    const plan = planRules({
      rules,
      findings,
      liveKeys: new Set(),
      tags: buildTagSource(tags),
      now: h.clock.now(),
      timeZone: 'Europe/Dublin',
      maxTicketsPerRule: 10_000,
      unknownOwners: new Map([['int-1', new Set(['sam.rivera@contoso.com', 'former.employee@contoso.com'])]]),
    });
    const sources = new Set(plan.tickets.map((t) => `${t.ruleId}:${t.ownerSource}`));
    expect(sources).toEqual(new Set(['high:tag', 'medium:tag', 'medium:fallback', 'low:fixed']));
    expect(new Set(plan.needsOwner.map((n) => `${n.ruleId}:${n.reason}`))).toEqual(new Set(['high:no-tag', 'high:tag-not-email', 'high:owner-unknown']));
    // Inherited: a Key Vault without an owner tag of its own gets frank from rg-*-security.
    expect(plan.tickets.some((t) => t.owner === 'frank.osei@contoso.com' && t.findings.some((f) => /\/rg-\w+-security\//i.test(f.resourceId)))).toBe(true);
    expect(plan.deferred).toEqual([]);
    expect(plan.summaries.every((s) => s.matched > 0)).toBe(true);
  });
});

describe('simulator control', () => {
  it('sets tags of a resource, a resource group and a subscription over HTTP, and lists the governance rules', async () => {
    const vm = builtInDataset().resources.find((r) => r.type === 'Microsoft.Compute/virtualMachines')!;
    const group = `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}`;
    for (const [id, tags] of [
      [vm.id, { owner: 'grace.lee@contoso.com' }],
      [group, { SecurityOwner: 'erin.walsh@contoso.com' }],
      [`/subscriptions/${vm.subscriptionId}`, {}],
    ] as const) {
      expect((await axios.post(`${h.sim.url}/__control/setTags`, { id, tags })).data).toEqual({ updated: true });
    }
    expect((await axios.post(`${h.sim.url}/__control/setTags`, { id: '/subscriptions/x/resourceGroups/y/providers/A/b/c', tags: {} })).data).toEqual({
      updated: false,
    });
    expect((await axios.post(`${h.sim.url}/__control/setTags`, { id: vm.id, tags: { n: 1 } }, { validateStatus: () => true })).status).toBe(400);
    const tags = await h.client.getResourceTags([vm.id]);
    expect(tags.resources).toEqual([{ id: vm.id, tags: { owner: 'grace.lee@contoso.com' } }]);
    expect(tags.resourceGroups).toEqual([
      { id: group, subscriptionId: vm.subscriptionId, name: vm.resourceGroup, tags: { SecurityOwner: 'erin.walsh@contoso.com' } },
    ]);
    // No tags: Resource Graph's null, read as none.
    expect(tags.subscriptions).toEqual([{ subscriptionId: vm.subscriptionId, tags: {} }]);
    const listed = (await axios.get(`${h.sim.url}/__control/governanceRules`)).data as { value: Array<{ properties: { displayName: string } }> };
    expect(listed.value.map((g) => g.properties.displayName)).toHaveLength(3);
  });
});

describe('errors', () => {
  it('a listing at an unknown management group is a 404 AzureApiError', async () => {
    const err = await h.client.listGovernanceRules('/providers/Microsoft.Management/managementGroups/nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AzureApiError);
    expect(err).toMatchObject({ status: 404, code: 'ManagementGroupNotFound' });
  });
});
