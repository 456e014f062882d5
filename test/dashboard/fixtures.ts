import { assignmentSchema, type Assignment, type AssignmentStatus, type Recommendation, type Severity } from '../../core/model.js';

/** Contoso Production and Contoso Development of the Defender simulator, so its RBAC answers for them. */
export const SUBS = ['3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2', 'c5e1a3b7-9f2d-4c06-b8e4-6d0f2a9c1e73'];

export function assignment(over: Partial<Assignment> & { id: string }): Assignment {
  const sub = over.subscriptionId ?? SUBS[0]!;
  const name = over.resourceName ?? `vm-${over.id}`;
  const resourceId = `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;
  const key = over.recommendationKey ?? 'rec-a';
  // Parsed, so fields the schema defaults stay filled as the schema grows.
  return assignmentSchema.parse({
    key: `${key}|${resourceId}`,
    batchId: 'b1',
    recommendationKey: key,
    recommendationName: `Recommendation ${key}`,
    severity: 'High',
    assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
    resourceId,
    resourceName: name,
    subscriptionId: sub,
    integrationId: 'int-1',
    ticketType: 'incident',
    owner: 'alex@contoso.com',
    caller: 'lead@contoso.com',
    dueDate: '2026-12-01',
    gracePeriod: false,
    notifyOwner: true,
    notifyManager: false,
    customFields: {},
    status: 'open',
    createdBy: { id: 'u1', name: 'Lead' },
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    healthyPasses: 0,
    ...over,
  });
}

export function recommendation(key: string, severity: Severity, portalLink?: string): Recommendation {
  return {
    key,
    displayName: `Recommendation ${key}`,
    severity,
    description: '',
    remediation: '',
    ...(portalLink ? { portalLink } : {}),
    resources: [],
    contentHash: 'h',
    status: 'unhealthy',
    firstSeenAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  };
}

/** ~30 assignments in every state, relative to 2026-11-26, for the endpoint and browser tests. */
export function seededAssignments(): Assignment[] {
  const owners = ['alex@contoso.com', 'bea@contoso.com', 'chen@contoso.com', 'dana@contoso.com'];
  const statuses: AssignmentStatus[] = ['open', 'open', 'pending', 'failed', 'awaiting-manual-close', 'resolved', 'removed', 'open'];
  const severities: Severity[] = ['High', 'Medium', 'Low'];
  const dues = ['2026-11-10', '2026-11-20', '2026-11-25', '2026-11-26', '2026-11-30', '2026-12-04', '2026-12-09', '2026-12-15', '2026-12-22', '2027-01-15'];
  return Array.from({ length: 30 }, (_, i) => {
    const status = statuses[i % statuses.length]!;
    return assignment({
      id: `a${String(i).padStart(2, '0')}`,
      recommendationKey: `rec-${i % 3}`,
      severity: severities[i % 3]!,
      owner: owners[(i * 7) % owners.length]!,
      subscriptionId: SUBS[i % 2]!,
      dueDate: dues[i % dues.length]!,
      gracePeriod: i % 4 === 0,
      status,
      ...(status === 'pending' || status === 'failed'
        ? {}
        : {
            ticket: {
              table: 'incident' as const,
              sysId: `sys${i}`,
              number: `INC00${1000 + i}`,
              link: `https://dev.service-now.com/incident.do?sys_id=sys${i}`,
            },
          }),
      ...(status === 'resolved' ? { resolvedAt: '2026-11-20T00:00:00.000Z' } : {}),
    });
  });
}
