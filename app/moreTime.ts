/**
 * "Request more time" from a reminder: the owner proposes a new date with a reason. Under the
 * assignment's lock the stored assignment gets the `eta` first (lifecycle transition + audit
 * entry); then the ServiceNow ticket gets a work note, the Defender governance assignment its
 * `remediationEta`, and the security admins a request card (app/dueDates.ts). The due date itself
 * is left to security admins.
 */
import type { MoreTimeFormModel } from '../cards/reminderCards.js';
import type { Clock } from '../core/clock.js';
import { addDays, daysBetween, localDay } from '../core/calendar.js';
import { etaRequested, isRemindable } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Assignment, Integration } from '../core/model.js';
import { daysText } from '../core/reminders.js';
import type { AssignmentWriter } from './assignmentWriter.js';
import { REQUESTED, type DueDates, type WorkflowResult } from './dueDates.js';
import type { GovernanceWriteBack } from './governance.js';
import { addTicketWorkNote } from './ticketNotes.js';
import type { Caller, Directory, Store, TicketSystem } from './ports.js';

export interface MoreTimeDeps {
  store: Store;
  writer: AssignmentWriter;
  governance: GovernanceWriteBack;
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): Pick<TicketSystem, 'addWorkNote'> };
  directory: Pick<Directory, 'upnOf'>;
  /** Posts the request for security admins; absent = nobody is asked. */
  dueDates?: Pick<DueDates, 'postRequest'>;
  clock: Clock;
  logger: Logger;
  /** REMINDER_TIMEZONE: "after today" is judged there. */
  timezone: string;
}

export class MoreTime {
  constructor(private readonly deps: MoreTimeDeps) {}

  today(): string {
    return localDay(this.deps.clock.now(), this.deps.timezone);
  }

  /** The form to ask with (a date and a reason), for the owner only. */
  async form(caller: Caller, assignmentId: string): Promise<{ kind: 'form'; model: MoreTimeFormModel } | WorkflowResult> {
    const found = await this.owned(caller, await this.deps.store.assignments.get(assignmentId));
    if ('refusal' in found) return found.refusal;
    const a = found.assignment;
    const t = this.today();
    return {
      kind: 'form',
      model: {
        assignmentId: a.id,
        title: `${a.recommendationName}`,
        resource: a.resourceName,
        dueText: `${a.dueDate} · ${daysText(daysBetween(t, a.dueDate))}`,
        etaText: a.eta ? `${a.eta.date}: ${a.eta.justification}` : '',
        minDate: addDays(t, 1),
        maxDate: addDays(t, 365),
        suggestedDate: a.eta?.date && a.eta.date > t ? a.eta.date : addDays(a.dueDate > t ? a.dueDate : t, 7),
      },
    };
  }

  /** The owner's request: stored first, whatever the outside systems answer. */
  submit(caller: Caller, assignmentId: string, request: { eta: string; justification: string }): Promise<WorkflowResult> {
    return this.deps.writer.withLock(assignmentId, async (s) => {
      const found = await this.owned(caller, await s.get(assignmentId));
      if ('refusal' in found) return found.refusal;
      const { assignment, upn } = found;
      // The same request again (a double click, a resent card): ServiceNow, Defender and the
      // admins already have it, so nothing is sent twice.
      if (assignment.eta && assignment.eta.date === request.eta && assignment.eta.justification === request.justification) {
        return {
          kind: 'notice',
          title: 'More time already requested',
          text:
            `Your request for ${request.eta} on "${assignment.recommendationName}" (${assignment.resourceName}) is already recorded, so nothing was sent again. ` +
            `The due date stays ${assignment.dueDate} until a security admin changes it.`,
          facts: [{ title: 'Requested', value: `${assignment.eta.at.slice(0, 10)} by ${assignment.eta.requestedBy}` }],
        };
      }
      const now = this.deps.clock.now();
      const updated = await s.apply(
        assignment.id,
        (x) => etaRequested(x, { date: request.eta, justification: request.justification, requestedBy: upn, at: now.toISOString() }, now),
        {
          actor: upn,
          action: REQUESTED,
          details: {
            eta: request.eta,
            justification: request.justification,
            previousEta: assignment.eta?.date ?? null,
            dueDate: assignment.dueDate,
            // The approver must be someone else (four eyes); the object id tells people apart whatever their UPN's casing or aliases.
            ...(caller.actor.aadObjectId ? { requestedByObjectId: caller.actor.aadObjectId } : {}),
          },
        },
      );

      const eta = updated.eta!;
      const ticket = await addTicketWorkNote(
        this.deps,
        updated,
        `${upn} asked for more time on this Defender for Cloud recommendation: expected fix by ${eta.date} (due date ${updated.dueDate}). Reason: ${eta.justification}`,
      );
      const defender = await this.deps.governance.syncIn(s, assignment.id, { ifMissing: 'report' });
      const admins = this.deps.dueDates ? await this.deps.dueDates.postRequest(updated) : undefined;
      const problems = [ticket, defender, ...(admins ? [admins] : [])].filter((r) => !r.ok).length;
      return {
        kind: 'notice',
        title: problems === 0 ? 'More time requested' : 'More time requested, with problems',
        text:
          `Your date ${request.eta} is recorded for "${assignment.recommendationName}" on ${assignment.resourceName}. ` +
          `The due date stays ${assignment.dueDate} until a security admin changes it.` +
          (problems > 0 ? ' Your request is saved here; the failed updates below were not applied.' : ''),
        facts: [
          { title: 'ServiceNow', value: ticket.text },
          { title: 'Defender for Cloud', value: defender.text },
          ...(admins ? [{ title: 'Security admins', value: admins.text }] : []),
        ],
      };
    });
  }

  /** The assignment, if the caller owns it and it still needs them; otherwise the message to show. */
  private async owned(caller: Caller, assignment: Assignment | undefined): Promise<{ assignment: Assignment; upn: string } | { refusal: WorkflowResult }> {
    if (!assignment || !isRemindable(assignment)) {
      return { refusal: { kind: 'message', text: 'This assignment is closed or no longer exists, so there is nothing to extend.' } };
    }
    const upn = await this.deps.directory.upnOf(caller);
    if (!upn || upn.toLowerCase() !== assignment.owner.toLowerCase()) {
      return { refusal: { kind: 'message', text: `Only the owner (${assignment.owner}) can ask for more time on this assignment.` } };
    }
    return { assignment, upn };
  }
}
