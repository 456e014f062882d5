import axios from 'axios';
import { BUILTIN_ROLE_IDS, groupByRecommendation, parseResourceId, roleNameFromDefinitionId, splitAssessmentId } from '../../core/defender-model.js';
import { builtInDataset, generateDataset } from '../../sandbox/defender/dataset.js';
import { startDefenderSimulator } from '../../sandbox/defender/index.js';
import { ManualClock } from '../../core/clock.js';

describe('parseResourceId', () => {
  it('parses resource, child resource, group and subscription ids', () => {
    expect(
      parseResourceId(
        '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2/resourceGroups/rg-prd-web/providers/Microsoft.Compute/virtualMachines/vm-prd-portal-01',
      ),
    ).toEqual({
      id: '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2/resourceGroups/rg-prd-web/providers/Microsoft.Compute/virtualMachines/vm-prd-portal-01',
      subscriptionId: '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2',
      resourceGroup: 'rg-prd-web',
      provider: 'Microsoft.Compute',
      type: 'Microsoft.Compute/virtualMachines',
      name: 'vm-prd-portal-01',
    });
    expect(
      parseResourceId('/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2/resourcegroups/rg/providers/Microsoft.Sql/servers/s1/databases/db1'),
    ).toMatchObject({ type: 'Microsoft.Sql/servers/databases', name: 'db1', resourceGroup: 'rg' });
    expect(parseResourceId('/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2')).toMatchObject({
      type: 'Microsoft.Resources/subscriptions',
      name: '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2',
    });
    expect(parseResourceId('/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2/resourceGroups/rg-x')).toMatchObject({
      type: 'Microsoft.Resources/resourceGroups',
      name: 'rg-x',
    });
  });

  it('rejects malformed ids', () => {
    for (const bad of [
      '',
      'subscriptions/x',
      '/subscriptions/not-a-guid!/',
      '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2/providers/Microsoft.Compute/virtualMachines',
      '/tenants/x',
      '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2//x',
    ]) {
      expect(parseResourceId(bad)).toBeUndefined();
    }
  });

  it('splits assessment ids and names roles', () => {
    expect(splitAssessmentId('/subscriptions/s/resourceGroups/r/providers/A.B/c/d/providers/Microsoft.Security/assessments/k1')).toEqual({
      resourceId: '/subscriptions/s/resourceGroups/r/providers/A.B/c/d',
      assessmentKey: 'k1',
    });
    expect(splitAssessmentId('/subscriptions/s')).toBeUndefined();
    expect(roleNameFromDefinitionId(`/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/${BUILTIN_ROLE_IDS['Security Admin']}`)).toBe(
      'Security Admin',
    );
    expect(roleNameFromDefinitionId('/providers/Microsoft.Authorization/roleDefinitions/11111111-2222-3333-4444-555555555555')).toBe(
      '11111111-2222-3333-4444-555555555555',
    );
  });
});

describe('datasets', () => {
  it('the built-in dataset is deterministic and realistic', () => {
    const a = builtInDataset();
    expect(builtInDataset()).toEqual(a);
    expect(a.subscriptions).toHaveLength(3);
    expect(a.managementGroups.map((g) => g.name)).toEqual(['mg-contoso', 'mg-contoso-prod']);
    expect(a.recommendations.length).toBeGreaterThanOrEqual(30);
    expect(new Set(a.recommendations.map((r) => r.key)).size).toBe(a.recommendations.length);
    expect(new Set(a.recommendations.map((r) => r.severity))).toEqual(new Set(['High', 'Medium', 'Low']));
    expect(a.recommendations.every((r) => /<ol>.*<li>/.test(r.remediationDescription))).toBe(true);
    expect(a.resources.length).toBeGreaterThanOrEqual(200);
    expect(new Set(a.resources.map((r) => r.type)).size).toBeGreaterThanOrEqual(8);
    const unhealthy = a.assessments.filter((x) => x.code === 'Unhealthy');
    expect(unhealthy.length).toBeGreaterThan(300);
    expect(new Set(a.assessments.map((x) => `${x.resourceId}|${x.key}`)).size).toBe(a.assessments.length);
    expect(a.users.filter((u) => !u.managerId).map((u) => u.userPrincipalName)).toEqual(['carol.nguyen@contoso.com']);
    const rolesOf = new Set(a.roleAssignments.map((r) => r.roleDefinitionGuid));
    for (const role of ['Owner', 'Contributor', 'Security Admin', 'Reader'] as const) expect(rolesOf).toContain(BUILTIN_ROLE_IDS[role]);
    expect(builtInDataset(7)).not.toEqual(a);
  });

  it('generates benchmark datasets of the requested size without duplicate assessments', () => {
    const d = generateDataset({ recommendations: 50, assessments: 3000, seed: 1 });
    expect(d.recommendations).toHaveLength(50);
    expect(d.assessments).toHaveLength(3000);
    expect(d.resources).toHaveLength(300);
    expect(new Set(d.assessments.map((x) => `${x.resourceId}|${x.key}`)).size).toBe(3000);
    expect(d.assessments.every((x) => x.code === 'Unhealthy')).toBe(true);
    expect(generateDataset({ recommendations: 50, assessments: 3000, seed: 1 })).toEqual(d);
    expect(() => generateDataset({ recommendations: 2, assessments: 100, resources: 10 })).toThrow();
  });

  it('groups rows by recommendation', () => {
    const base = {
      assessmentKey: 'k',
      displayName: 'D',
      description: '',
      remediationSteps: '',
      portalLink: '',
      status: 'Unhealthy' as const,
      statusChangeDate: '2025-01-01T00:00:00.000Z',
      resourceName: 'n',
      resourceType: 't',
      subscriptionId: 's',
    };
    const g = groupByRecommendation([
      { ...base, assessmentId: 'a1', resourceId: 'r1', severity: 'Low' },
      { ...base, assessmentId: 'a2', resourceId: 'r2', severity: 'High' },
    ]);
    expect(g.get('k')!.resources).toHaveLength(2);
    expect(g.get('k')!.recommendation.severity).toBe('High');
  });
});

describe('simulator control over HTTP', () => {
  it('flips status and lists governance assignments through /__control', async () => {
    const sim = await startDefenderSimulator({ clock: new ManualClock('2025-06-01T00:00:00Z'), quota: 'off' });
    try {
      const a = sim.control.listAssessments({ code: 'Unhealthy' })[0]!;
      const flip = await axios.post(`${sim.url}/__control/setAssessmentStatus`, { resourceId: a.resourceId, assessmentKey: a.assessmentKey, code: 'Healthy' });
      expect(flip.data).toEqual({ updated: 1 });
      expect(sim.control.listAssessments({ code: 'Unhealthy' }).some((x) => x.id === a.id)).toBe(false);
      const bad = await axios.post(`${sim.url}/__control/setPageSize`, { pageSize: 'big' }, { validateStatus: () => true });
      expect(bad.status).toBe(400);
      const list = await axios.get(`${sim.url}/__control/governanceAssignments`);
      expect(list.data).toEqual({ value: [] });
    } finally {
      await sim.close();
    }
  });
});
