import type { Logger } from '../core/logger.js';
import type { GovernanceAssignment, GovernanceAssignmentBody } from '../connectors/defender/governance.js';
import type { ServiceNowClient } from '../connectors/servicenow/client.js';
import type { Assignment, Integration } from '../core/model.js';
import { mergeGovernance } from '../core/governance.js';
import { reasonOf } from './integrations.js';

/** What an outside update did, in words for the card that reports it. */
export interface Outcome {
  ok: boolean;
  text: string;
}

export interface TicketUpdateDeps {
  logger: Logger;
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): Pick<ServiceNowClient, 'addWorkNote'> };
  azure?: {
    getGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<GovernanceAssignment | undefined>;
    putGovernanceAssignment(resourceId: string, assessmentName: string, key: string, body: GovernanceAssignmentBody): Promise<GovernanceAssignment>;
  };
}

export function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** A work note on the assignment's ticket; failures are reported, never thrown. */
export async function addTicketWorkNote(deps: TicketUpdateDeps, a: Assignment, note: string): Promise<Outcome> {
  if (!a.ticket) return { ok: true, text: 'no ticket yet: the date will be on the ticket once it is created' };
  const integration = await deps.integrations.find(a.integrationId);
  if (!integration || integration.removedAt) return { ok: false, text: 'work note not added: the ServiceNow integration was removed' };
  try {
    await deps.integrations.clientFor(integration).addWorkNote(a.ticket.table, a.ticket.sysId, note);
    return { ok: true, text: `work note added to ${a.ticket.number}` };
  } catch (err) {
    deps.logger.warn({ err, assignmentId: a.id }, 'could not add a work note');
    return { ok: false, text: `work note not added to ${a.ticket.number}: ${oneLine(reasonOf(err))}` };
  }
}

/**
 * Makes Defender's governance assignment show what the bot stores (owner, due date, grace,
 * notifications, ticket, ETA). PUT replaces the whole resource, so the current one is read and
 * our fields are merged over it. `clearEta`: an answered request is no longer an open ETA.
 */
export async function syncGovernance(deps: TicketUpdateDeps, a: Assignment, opts: { clearEta?: boolean } = {}): Promise<Outcome> {
  if (!deps.azure) return { ok: true, text: 'not connected: nothing to update' };
  if (!a.governance || a.governance.status === 'deleted') return { ok: true, text: 'no governance assignment for this item' };
  try {
    const current = await deps.azure.getGovernanceAssignment(a.resourceId, a.recommendationKey, a.governance.key);
    if (!current) return { ok: false, text: 'not updated: the governance assignment no longer exists in Defender' };
    const properties = mergeGovernance(current.properties, a, { clearEta: opts.clearEta });
    await deps.azure.putGovernanceAssignment(a.resourceId, a.recommendationKey, a.governance.key, { properties });
    return { ok: true, text: a.eta && !opts.clearEta ? `remediation ETA set to ${a.eta.date}` : `remediation due date set to ${a.dueDate}` };
  } catch (err) {
    deps.logger.warn({ err, assignmentId: a.id }, 'could not update the governance assignment');
    return { ok: false, text: `not updated: ${oneLine(err instanceof Error ? err.message : String(err))}` };
  }
}
