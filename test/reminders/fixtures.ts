import type { Store } from '../../app/ports.js';
import { assignmentSchema, type Assignment, type Conversation } from '../../core/model.js';

let seq = 0;

/** An assignment as the "Create assignment" flow stores it; schema defaults fill the rest. */
export function assignment(over: Partial<Assignment> & { owner: string; dueDate: string }): Assignment {
  const n = ++seq;
  const recommendationKey = over.recommendationKey ?? `4fb67663-9ab9-475d-b026-8c544cced43${n % 10}`;
  const resourceId =
    over.resourceId ?? `/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-${n}`;
  return assignmentSchema.parse({
    id: `asg-${n}`,
    key: `key-${n}`,
    batchId: `batch-${n}`,
    recommendationKey,
    recommendationName: `Machines should have recommendation ${n} fixed`,
    severity: 'High',
    assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${recommendationKey}`,
    resourceId,
    resourceName: resourceId.split('/').pop(),
    subscriptionId: '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2',
    integrationId: 'int-1',
    ticketType: 'incident',
    caller: 'admin@contoso.com',
    gracePeriod: false,
    notifyOwner: true,
    notifyManager: false,
    status: 'open',
    ticket: {
      table: 'incident',
      sysId: `sys${n}`,
      number: `INC00100${String(n).padStart(2, '0')}`,
      link: `https://contoso.service-now.com/incident.do?sys_id=sys${n}`,
    },
    governance: { key: `asg-${n}`, status: 'synced' },
    conversationId: '19:channel-1@thread.tacv2',
    createdBy: { id: '29:admin', name: 'Ada Admin' },
    createdAt: '2026-11-01T09:00:00.000Z',
    updatedAt: '2026-11-01T09:00:00.000Z',
    ...over,
  });
}

export function conversation(id: string, serviceUrl: string, over: Partial<Conversation> = {}): Conversation {
  const kind = over.kind ?? (id.startsWith('19:') ? 'channel' : 'personal');
  return {
    id,
    channelId: 'msteams',
    serviceUrl,
    tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    kind,
    reference: {
      channelId: 'msteams',
      serviceUrl,
      bot: { id: '28:bot-app-id', name: 'Defender bot' },
      conversation: { id, conversationType: kind, tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
      ...(over.userUpn ? { user: { id: `29:${over.userUpn}` } } : {}),
    },
    subscribed: kind !== 'personal',
    filters: { severities: [], scopes: [] },
    createdAt: '2026-11-01T09:00:00.000Z',
    updatedAt: '2026-11-01T09:00:00.000Z',
    ...over,
  };
}

export async function seed(store: Store, ...assignments: Assignment[]): Promise<void> {
  await store.assignments.upsertMany(assignments);
}
