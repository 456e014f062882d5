import { connectorOf, coveringAll, parseScope, scopeDistance, type ResourceLocation } from '../../core/scope.js';

const SUB_A = '11111111-1111-4111-8111-111111111111';
const SUB_B = '22222222-2222-4222-8222-222222222222';
const vmA: ResourceLocation = {
  resourceId: `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`,
  subscriptionId: SUB_A,
  managementGroups: ['prod', 'contoso-root'],
};
const vmB: ResourceLocation = {
  resourceId: `/subscriptions/${SUB_B}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2`,
  subscriptionId: SUB_B,
  managementGroups: ['dev', 'contoso-root'],
};
const connector = `/subscriptions/${SUB_A}/resourceGroups/mc/providers/Microsoft.Security/securityConnectors/aws-prod`;
const ec2: ResourceLocation = {
  resourceId: `${connector.toLowerCase()}/securityentitydata/aws-ec2-instance-i-0abc`,
  subscriptionId: SUB_A,
  managementGroups: ['prod', 'contoso-root'],
};

describe('integration scopes', () => {
  it('parses the three scope forms and refuses others', () => {
    expect(parseScope('/providers/Microsoft.Management/managementGroups/Contoso-Root')).toEqual({ kind: 'managementGroup', id: 'contoso-root' });
    expect(parseScope(`/subscriptions/${SUB_A.toUpperCase()}`)).toEqual({ kind: 'subscription', id: SUB_A });
    expect(parseScope(connector)?.kind).toBe('connector');
    expect(parseScope('/subscriptions/not-a-guid')).toBeUndefined();
    expect(parseScope(`/subscriptions/${SUB_A}/resourceGroups/rg`)).toBeUndefined();
  });

  it('measures distance: connector < subscription < nearest management group < root', () => {
    expect(scopeDistance(connector, ec2)).toBe(0);
    expect(scopeDistance(`/subscriptions/${SUB_A}`, ec2)).toBe(1);
    expect(scopeDistance('/providers/Microsoft.Management/managementGroups/prod', vmA)).toBe(2);
    expect(scopeDistance('/providers/Microsoft.Management/managementGroups/contoso-root', vmA)).toBe(3);
    expect(scopeDistance(`/subscriptions/${SUB_B}`, vmA)).toBeUndefined();
    expect(scopeDistance(connector, vmA)).toBeUndefined();
    expect(connectorOf(vmA.resourceId)).toBeUndefined();
  });

  it('lists the integrations covering every selected resource, nearest first', () => {
    const integrations = [
      { name: 'root', scope: '/providers/Microsoft.Management/managementGroups/contoso-root' },
      { name: 'prod', scope: '/providers/Microsoft.Management/managementGroups/prod' },
      { name: 'sub-a', scope: `/subscriptions/${SUB_A}` },
      { name: 'sub-b', scope: `/subscriptions/${SUB_B}` },
    ];
    expect(coveringAll(integrations, [vmA]).map((i) => i.name)).toEqual(['sub-a', 'prod', 'root']);
    expect(coveringAll(integrations, [vmA, vmB]).map((i) => i.name)).toEqual(['root']);
    expect(coveringAll(integrations.slice(1), [vmA, vmB])).toEqual([]);
    expect(coveringAll(integrations, [])).toEqual([]);
  });
});
