import { mapAssessmentRow, RepeatedStrings } from '../../connectors/defender/resourceGraph.js';

const SUB = '00000000-0000-0000-0000-00000000000a';

function rawRow(resource: string, key: string, description: string, at: string) {
  const resourceId = `/subscriptions/${SUB}/resourceGroups/rg-one/providers/Microsoft.Compute/virtualMachines/${resource}`;
  return {
    id: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
    name: key,
    tenantId: 'tenant-1',
    subscriptionId: SUB,
    resourceGroup: 'rg-one',
    properties: {
      resourceDetails: { Id: resourceId },
      status: { code: 'Unhealthy', cause: 'OffByPolicy', description: 'not compliant', statusChangeDate: at },
      metadata: { displayName: `Recommendation ${key}`, severity: 'High', description, remediationDescription: `<ol><li>fix ${key}</li></ol>` },
      links: { azurePortal: `portal.azure.com/#blade/x/${key}` },
    },
  };
}

describe('RepeatedStrings: one copy of the texts rows repeat', () => {
  it('hands back the first copy of each text, and forgets them on clear()', () => {
    const pool = new RepeatedStrings();
    expect(pool.of('a')).toBe('a');
    expect(pool.of(undefined)).toBeUndefined();
    expect(pool.of(['a', 'b'].join(''))).toBe('ab');
    expect(pool.of('ab')).toBe('ab');
    pool.clear();
    expect(pool.of('b')).toBe('b');
  });

  it('rows mapped with a shared pool (across a clear, as between pages) equal rows mapped alone', () => {
    const rows = [
      rawRow('vm-1', 'k1', 'Install the agent.', '2026-01-02T03:04:05Z'),
      rawRow('vm-2', 'k1', 'Install the agent.', '2026-01-02T03:04:06Z'),
      rawRow('vm-1', 'k2', 'Patch the machine.', '2026-01-03T03:04:05Z'),
      rawRow('vm-3', 'k2', 'Patch the machine.', '2026-01-04T03:04:05Z'),
    ];
    const pool = new RepeatedStrings();
    const pooled = rows.map((r, i) => {
      if (i === 2) pool.clear();
      return mapAssessmentRow(structuredClone(r), pool);
    });
    const alone = rows.map((r) => mapAssessmentRow(structuredClone(r)));
    expect(pooled).toEqual(alone);
    expect(alone.every((r) => typeof r !== 'string')).toBe(true);
    // Each row keeps its own fields: no text of one recommendation or resource leaks into another's row.
    expect(pooled.map((r) => typeof r !== 'string' && [r.assessmentKey, r.resourceName, r.description, r.statusChangeDate])).toEqual([
      ['k1', 'vm-1', 'Install the agent.', '2026-01-02T03:04:05.000Z'],
      ['k1', 'vm-2', 'Install the agent.', '2026-01-02T03:04:06.000Z'],
      ['k2', 'vm-1', 'Patch the machine.', '2026-01-03T03:04:05.000Z'],
      ['k2', 'vm-3', 'Patch the machine.', '2026-01-04T03:04:05.000Z'],
    ]);
  });
});
