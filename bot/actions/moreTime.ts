/**
 * "Request more time" from a reminder: the owner proposes a new date with a reason. The stored
 * assignment gets the `eta` first; then the ServiceNow ticket gets a work note and the Defender
 * governance assignment its `remediationEta`. The due date itself is left to security admins.
 */
import { z } from 'zod';
import { noticeCard } from '../../cards/index.js';
import { moreTimeFormCard } from '../../cards/reminderCards.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { addDays, daysBetween, futureDaySchema, localDay } from '../../core/calendar.js';
import { daysText, REMINDABLE } from '../../core/reminders.js';
import type { GovernanceAssignment, GovernanceAssignmentBody } from '../../connectors/defender/azureClient.js';
import type { ServiceNowClient } from '../../connectors/servicenow/client.js';
import type { Store } from '../../app/ports.js';
import type { Assignment, Integration } from '../../core/model.js';
import { defineAction, type ActionHandler, type ActionResult } from '../actionRouter.js';
import { callerUpn, type CallerIdentityOptions } from '../commands/digest.js';
import type { Messenger } from '../messenger.js';
import type { Locks } from '../../app/ports.js';
import { postDueDateRequest, REQUESTED } from './dueDate.js';
import { addTicketWorkNote, syncGovernance } from '../ticketUpdates.js';
import type { TurnInfo } from '../turn.js';

export interface MoreTimeDeps extends CallerIdentityOptions {
  /** Shared with the due-date actions: one change per assignment at a time. */
  lock: Locks;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** REMINDER_TIMEZONE: "after today" is judged there. */
  timezone: string;
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): Pick<ServiceNowClient, 'addWorkNote'> };
  /** Defender governance (AzureClient); absent = the Defender side is not updated. */
  azure?: {
    getGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<GovernanceAssignment | undefined>;
    putGovernanceAssignment(resourceId: string, assessmentName: string, key: string, body: GovernanceAssignmentBody): Promise<GovernanceAssignment>;
  };
  /** Posts the request for security admins to the assignment's channel; absent = nobody is asked. */
  messenger?: Pick<Messenger, 'send'>;
}

const assignmentId = z.string().trim().min(1).max(200);
const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 1000) : '');

export function moreTimeActions(deps: MoreTimeDeps): ActionHandler[] {
  const today = () => localDay(deps.clock.now(), deps.timezone);
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => deps.lock.withLock(key, fn);
  const submitSchema = z.object({
    assignmentId,
    eta: futureDaySchema(today),
    justification: z.string().trim().min(10, 'must be at least 10 characters').max(1000, 'must be at most 1000 characters'),
  });

  /** The assignment, if the caller owns it and it is still open; otherwise the message to show. */
  const ownedAssignment = async (ctx: TurnInfo, id: string): Promise<{ assignment: Assignment; upn: string } | { refusal: ActionResult }> => {
    const assignment = await deps.store.assignments.get(id);
    if (!assignment || !REMINDABLE.has(assignment.status)) {
      return { refusal: { kind: 'message', text: 'This assignment is closed or no longer exists, so there is nothing to extend.' } };
    }
    const upn = await callerUpn(deps.store, ctx, deps);
    if (!upn || upn.toLowerCase() !== assignment.owner.toLowerCase()) {
      return { refusal: { kind: 'message', text: `Only the owner (${assignment.owner}) can ask for more time on this assignment.` } };
    }
    return { assignment, upn };
  };

  const form = async (
    ctx: TurnInfo,
    id: string,
    kind: 'reply' | 'replace',
    errors?: Record<string, string>,
    values?: { eta: string; justification: string },
  ): Promise<ActionResult> => {
    const found = await ownedAssignment(ctx, id);
    if ('refusal' in found) return found.refusal;
    const a = found.assignment;
    const t = today();
    const card = moreTimeFormCard(
      {
        assignmentId: a.id,
        title: `${a.recommendationName}`,
        resource: a.resourceName,
        dueText: `${a.dueDate} · ${daysText(daysBetween(t, a.dueDate))}`,
        etaText: a.eta ? `${a.eta.date}: ${a.eta.justification}` : '',
        minDate: addDays(t, 1),
        maxDate: addDays(t, 365),
        suggestedDate: a.eta?.date && a.eta.date > t ? a.eta.date : addDays(a.dueDate > t ? a.dueDate : t, 7),
        errors,
        values,
      },
      ctx,
    );
    return { kind, card };
  };

  return [
    defineAction({
      verb: 'requestMoreTime',
      schema: z.object({ assignmentId }),
      handle: (ctx, data) => form(ctx, data.assignmentId, 'reply'),
    }),
    defineAction({
      verb: 'submitMoreTime',
      schema: submitSchema,
      // The same form again, each problem under its input, with what the owner typed.
      invalid: (ctx, raw, errors) => form(ctx, String(raw.assignmentId ?? ''), 'replace', errors, { eta: str(raw.eta), justification: str(raw.justification) }),
      handle: (ctx, data) =>
        serial(data.assignmentId, async () => {
          const found = await ownedAssignment(ctx, data.assignmentId);
          if ('refusal' in found) return found.refusal;
          const { assignment, upn } = found;
          // The same request again (a double click, a resent card): ServiceNow, Defender and the
          // admins already have it, so nothing is sent twice.
          if (assignment.eta && assignment.eta.date === data.eta && assignment.eta.justification === data.justification) {
            return {
              kind: 'replace',
              card: noticeCard(
                {
                  title: 'More time already requested',
                  text:
                    `Your request for ${data.eta} on "${assignment.recommendationName}" (${assignment.resourceName}) is already recorded, so nothing was sent again. ` +
                    `The due date stays ${assignment.dueDate} until a security admin changes it.`,
                  facts: [{ title: 'Requested', value: `${assignment.eta.at.slice(0, 10)} by ${assignment.eta.requestedBy}` }],
                },
                ctx,
              ),
            };
          }
          const at = deps.clock.now().toISOString();
          // Persist first: whatever the outside systems answer, the owner's request is kept.
          const updated: Assignment = { ...assignment, eta: { date: data.eta, justification: data.justification, requestedBy: upn, at }, updatedAt: at };
          await deps.store.assignments.upsertMany([updated]);
          await deps.store.audit.append({
            at,
            actor: upn,
            action: REQUESTED,
            target: assignment.id,
            details: {
              eta: data.eta,
              justification: data.justification,
              previousEta: assignment.eta?.date ?? null,
              dueDate: assignment.dueDate,
              // The approver must be someone else (four eyes); the object id tells people apart whatever their UPN's casing or aliases.
              ...(ctx.actor.aadObjectId ? { requestedByObjectId: ctx.actor.aadObjectId } : {}),
            },
          });

          const eta = updated.eta!;
          const ticket = await addTicketWorkNote(
            deps,
            updated,
            `${upn} asked for more time on this Defender for Cloud recommendation: expected fix by ${eta.date} (due date ${updated.dueDate}). Reason: ${eta.justification}`,
          );
          const defender = await syncGovernance(deps, updated);
          const admins = deps.messenger ? await postDueDateRequest({ ...deps, messenger: deps.messenger }, updated) : undefined;
          const problems = [ticket, defender, ...(admins ? [admins] : [])].filter((r) => !r.ok).length;
          return {
            kind: 'replace',
            card: noticeCard(
              {
                title: problems === 0 ? 'More time requested' : 'More time requested, with problems',
                text:
                  `Your date ${data.eta} is recorded for "${assignment.recommendationName}" on ${assignment.resourceName}. ` +
                  `The due date stays ${assignment.dueDate} until a security admin changes it.` +
                  (problems > 0 ? ' Your request is saved here; the failed updates below were not applied.' : ''),
                facts: [
                  { title: 'ServiceNow', value: ticket.text },
                  { title: 'Defender for Cloud', value: defender.text },
                  ...(admins ? [{ title: 'Security admins', value: admins.text }] : []),
                ],
              },
              ctx,
            ),
          };
        }),
    }),
  ];
}
