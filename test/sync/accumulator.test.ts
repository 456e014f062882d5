import type { UnhealthyResource } from '../../core/defender-model.js';
import { RecommendationAccumulator } from '../../core/recommendations.js';

const SUB = '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const KEY = 'ab12cd34-0000-4000-8000-000000000001';

function row(resourceId: string, statusChangeDate = '2025-05-01T00:00:00.000Z'): UnhealthyResource {
  return {
    assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${KEY}`,
    assessmentKey: KEY,
    resourceId,
    resourceName: resourceId.split('/').pop()!,
    resourceType: 'Microsoft.Compute/virtualMachines',
    subscriptionId: SUB,
    resourceGroup: 'rg-app',
    severity: 'Medium',
    status: 'Unhealthy',
    statusChangeDate,
    displayName: 'Machines should have vulnerability findings resolved',
    description: 'Fix findings.',
    remediationSteps: 'Apply the fix.',
    portalLink: 'https://portal.azure.com/#x',
  };
}

const vm = (name: string, rg = 'rg-app') => `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

describe('RecommendationAccumulator resources', () => {
  it('merges ids that differ only in case across pages, keeping the later row, sorted by lower-cased id', () => {
    const acc = new RecommendationAccumulator();
    acc.add([row(vm('vm-b')), row(vm('VM-A', 'RG-APP'), '2025-05-01T00:00:00.000Z')]);
    acc.add([row(vm('vm-a'), '2025-05-02T00:00:00.000Z'), row(vm('vm-c'))]);
    const rec = acc.snapshots(() => undefined, new Date('2025-06-01T00:00:00Z')).get(KEY)!;
    expect(rec.resources.map((r) => r.resourceId)).toEqual([vm('vm-a'), vm('vm-b'), vm('vm-c')]);
    expect(rec.resources[0]!.statusChangeDate).toBe('2025-05-02T00:00:00.000Z');
    // Rows are still counted as they came.
    expect(acc.rows).toBe(4);
  });

  it('keeps the same content hash whatever the casing and order of the rows', () => {
    const a = new RecommendationAccumulator();
    a.add([row(vm('vm-1')), row(vm('vm-2'))]);
    const b = new RecommendationAccumulator();
    b.add([row(vm('vm-2')), row(vm('VM-1')), row(vm('vm-1'))]);
    const at = new Date('2025-06-01T00:00:00Z');
    expect(b.snapshots(() => undefined, at).get(KEY)!.contentHash).toBe(a.snapshots(() => undefined, at).get(KEY)!.contentHash);
  });
});

describe('RecommendationAccumulator and the stored snapshot', () => {
  it('keeps the stored resource objects for unchanged rows and takes new ones for changed rows', () => {
    const at = new Date('2025-06-01T00:00:00Z');
    const first = new RecommendationAccumulator();
    first.add([row(vm('vm-1')), row(vm('vm-2')), row(vm('vm-3'))]);
    const stored = first.snapshots(() => undefined, at).get(KEY)!;

    const unchanged = new RecommendationAccumulator((key) => (key === KEY ? stored : undefined));
    unchanged.add([row(vm('vm-3')), row(vm('vm-1')), row(vm('vm-2'))]);
    const same = unchanged.snapshots(() => stored, at).get(KEY)!;
    expect(same).toBe(stored);

    // The rows are fresh objects each pass: what a pass holds is the stored copy, not a second one.
    const next = new RecommendationAccumulator((key) => (key === KEY ? stored : undefined));
    next.add([row(vm('vm-1')), row(vm('vm-2'), '2025-05-09T00:00:00.000Z'), row(vm('vm-4'))]);
    const changed = next.snapshots(() => undefined, at).get(KEY)!;
    expect(changed.resources.map((r) => r.resourceId)).toEqual([vm('vm-1'), vm('vm-2'), vm('vm-4')]);
    expect(changed.resources[0]).toBe(stored.resources[0]);
    expect(changed.resources[1]).not.toBe(stored.resources[1]);
    expect(changed.resources[1]!.statusChangeDate).toBe('2025-05-09T00:00:00.000Z');
    expect(changed.resources[2]!.resourceId).toBe(vm('vm-4'));
  });
});
