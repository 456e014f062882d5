/** Work notes on an assignment's ServiceNow ticket, for the workflows that report each outside update on their card. */
import type { Logger } from '../core/logger.js';
import type { Assignment, Integration } from '../core/model.js';
import { oneLine } from './governance.js';
import { reasonOf, type TicketSystem } from './ports.js';

/** What an outside update did, in words for the card that reports it. */
export interface Outcome {
  ok: boolean;
  text: string;
}

export interface TicketNoteDeps {
  logger: Logger;
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): Pick<TicketSystem, 'addWorkNote'> };
}

/** A work note on the assignment's ticket; failures are reported, never thrown. */
export async function addTicketWorkNote(deps: TicketNoteDeps, a: Assignment, note: string): Promise<Outcome> {
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
