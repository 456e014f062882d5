import { randomUUID } from 'node:crypto';
import { parseResourceId } from '../../core/defender-model.js';
import type { Assignment } from '../../core/model.js';
import { SEED_OWNER, type TicketSeed } from '../simulatorChild.js';

/** An open assignment as the bot stores it after creating its ticket (state '1' as in AssignmentService). */
export function assignmentFromSeed(s: TicketSeed, opts: { integrationId: string; servicenowUrl: string; conversationId: string; at: string }): Assignment {
  const parsed = parseResourceId(s.resourceId);
  if (!parsed) throw new Error(`not a resource id: ${s.resourceId}`);
  const id = randomUUID();
  return {
    id,
    key: s.key,
    batchId: randomUUID(),
    recommendationKey: s.assessmentKey.toLowerCase(),
    recommendationName: s.recommendationName,
    severity: 'High',
    assessmentId: s.assessmentId,
    resourceId: s.resourceId,
    resourceName: parsed.name,
    subscriptionId: parsed.subscriptionId,
    integrationId: opts.integrationId,
    ticketType: 'incident',
    owner: SEED_OWNER,
    caller: SEED_OWNER,
    dueDate: '2027-12-31',
    gracePeriod: false,
    notifyOwner: true,
    notifyManager: false,
    customFields: {},
    ticketGrouping: 'perResource',
    shortDescription: `Defender for Cloud: ${s.recommendationName}`,
    description: 'seeded by a benchmark',
    status: 'open',
    ticket: { table: 'incident', sysId: s.sysId, number: s.number, link: `${opts.servicenowUrl}/incident.do?sys_id=${s.sysId}`, state: '1' },
    governance: { key: id, status: 'synced' },
    conversationId: opts.conversationId,
    createdBy: { id: 'bench' },
    createdAt: opts.at,
    updatedAt: opts.at,
    healthyPasses: 0,
    attempts: 0,
  };
}
