/**
 * The security-admin side of "request more time". An owner's request is posted to the channel
 * where the assignment was created; an admin approves it (the due date becomes the requested
 * date), declines it, or sets another due date. Every change is stored first, then noted on the
 * ServiceNow ticket and written to Defender's governance assignment as `remediationDueDate`.
 */
import { z } from 'zod';
import { errorCard, noticeCard } from '../../cards/index.js';
import { dueDateRequestCard } from '../../cards/dueDateCards.js';
import { isLive } from '../../core/lifecycle.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { addDays, daysBetween, futureDaySchema, localDay, realDaySchema } from '../../core/calendar.js';
import { daysText } from '../../core/reminders.js';
import type { GovernanceAssignment, GovernanceAssignmentBody } from '../../connectors/defender/azureClient.js';
import type { ServiceNowClient } from '../../connectors/servicenow/client.js';
import type { Store } from '../../app/ports.js';
import type { Assignment, Integration } from '../../core/model.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import type { Authorizer } from '../authorizer.js';
import { callerUpn } from '../commands/digest.js';
import { addTicketWorkNote, oneLine, syncGovernance, type Outcome } from '../ticketUpdates.js';
import type { Messenger } from '../messenger.js';
import type { Locks } from '../../app/ports.js';

export interface DueDateDeps {
  /** Shared with the more-time actions: one change per assignment at a time. */
  lock: Locks;
  store: Store;
  clock: Clock;
  logger: Logger;
  authorizer: Pick<Authorizer, 'canManage'>;
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): Pick<ServiceNowClient, 'addWorkNote'> };
  /** Defender governance (AzureClient); absent = the Defender side is not updated. */
  azure?: {
    getGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<GovernanceAssignment | undefined>;
    putGovernanceAssignment(resourceId: string, assessmentName: string, key: string, body: GovernanceAssignmentBody): Promise<GovernanceAssignment>;
  };
  messenger: Pick<Messenger, 'send'>;
  /** Re-renders the posted recommendation cards (AssignmentService.refreshCards). */
  refreshCards(recommendationKey: string): Promise<void>;
  /** REMINDER_TIMEZONE: "after today" is judged there. Default UTC. */
  timezone?: string;
  /** Sandbox only: the Emulator user's UPN, for the admin's name on notes. */
  emulatorUpn?: string;
}

export type { Outcome };

const assignmentId = z.string().trim().min(1).max(200);

/** Audit actions of this module: the "already handled by …" answer reads them back. */
const APPROVED = 'assignment.dueDate';
const DECLINED = 'assignment.eta.declined';
/** The owner's request (actions/moreTime.ts); its entry records the requester's Entra object id. */
export const REQUESTED = 'assignment.eta';

/** Someone on an assignment, as far as the bot knows them. */
export interface Person {
  upn?: string;
  objectId?: string;
}

/**
 * Whether two people are the same: any known identifier in common (UPN case-insensitively, Entra
 * object id) makes them the same; "different" needs at least one identifier known on both sides.
 */
export function samePerson(a: Person, b: Person): 'same' | 'different' | 'unknown' {
  const eq = (x?: string, y?: string) => !!x && !!y && x.trim().toLowerCase() === y.trim().toLowerCase();
  if (eq(a.upn, b.upn) || eq(a.objectId, b.objectId)) return 'same';
  return (a.upn && b.upn) || (a.objectId && b.objectId) ? 'different' : 'unknown';
}

/**
 * Posts the request card for security admins to the channel where the assignment was created.
 * Called after the owner's `eta` is stored, so a failed post loses nothing.
 */
export async function postDueDateRequest(deps: Pick<DueDateDeps, 'store' | 'clock' | 'logger' | 'messenger' | 'timezone'>, a: Assignment): Promise<Outcome> {
  if (!a.eta) return { ok: true, text: 'nothing to ask' };
  if (!a.conversationId) return { ok: false, text: 'not asked: no channel is recorded for this assignment' };
  const conversation = await deps.store.conversations.get(a.conversationId);
  if (!conversation) return { ok: false, text: 'not asked: the bot is no longer in the channel where the assignment was created' };
  const today = localDay(deps.clock.now(), deps.timezone ?? 'UTC');
  const ticket = a.ticket ? `[${a.ticket.number}](${a.ticket.link})` : 'no ticket yet';
  const card = dueDateRequestCard(
    {
      assignmentId: a.id,
      headline: `**${a.eta.requestedBy}** asks for more time on **${a.recommendationName}** / ${a.resourceName} (${ticket}): new date **${a.eta.date}**, reason: ${escapeMarkdown(a.eta.justification)}`,
      owner: a.owner,
      recommendation: a.recommendationName,
      resource: a.resourceName,
      ticketText: a.ticket?.number ?? 'not created yet',
      dueText: `${a.dueDate} · ${daysText(daysBetween(today, a.dueDate))}`,
      eta: a.eta.date,
      minDate: addDays(today, 1),
      maxDate: addDays(today, 365),
      adminNote: 'For security admins: approving, declining or changing the due date needs the Owner, Contributor or Security Admin role on the subscription.',
    },
    { channelId: conversation.channelId },
  );
  try {
    await deps.messenger.send(conversation.id, { card, summary: `${a.eta.requestedBy} asks for more time on ${a.recommendationName}` });
    return { ok: true, text: `asked in ${conversation.name ? `"${conversation.name}"` : 'the channel where the assignment was created'}` };
  } catch (err) {
    deps.logger.warn({ err, assignmentId: a.id, conversationId: conversation.id }, 'could not post the more-time request for admins');
    return { ok: false, text: `not asked: ${oneLine(err instanceof Error ? err.message : String(err))}` };
  }
}

export function dueDateActions(deps: DueDateDeps): ActionHandler[] {
  const today = () => localDay(deps.clock.now(), deps.timezone ?? 'UTC');
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => deps.lock.withLock(key, fn);

  const admin = async (ctx: ActionContext) => {
    const upn = await callerUpn(deps.store, ctx, { emulatorUpn: deps.emulatorUpn });
    const name = ctx.actor.name?.trim();
    return {
      /** For the audit trail: the most stable identity. */
      id: upn ?? name ?? ctx.actor.id,
      /** For people: "Alice Johnson". */
      name: name || upn || ctx.actor.id,
      /** For the ticket: "Alice Johnson (alice.johnson@contoso.com)". */
      full: name && upn ? `${name} (${upn})` : name || upn || ctx.actor.id,
    };
  };

  /**
   * Who the caller and the people on an assignment are, for the four-eyes rules. A UPN compares
   * case-insensitively; the Entra object id comes from the request's audit entry (recorded since
   * requests carry it) or from the person's stored 1:1 chat.
   */
  const callerPerson = async (ctx: ActionContext): Promise<Person> => ({
    upn: await callerUpn(deps.store, ctx, { emulatorUpn: deps.emulatorUpn }),
    objectId: ctx.actor.aadObjectId,
  });
  const objectIdOfUpn = async (upn: string): Promise<string | undefined> =>
    (await deps.store.conversations.list({ kinds: ['personal'], userUpn: upn })).find((c) => c.userAadObjectId)?.userAadObjectId;
  const requesterOf = async (a: Assignment, eta: NonNullable<Assignment['eta']>): Promise<Person> => {
    const entry = await deps.store.audit.findLast(a.id, { actions: [REQUESTED], details: { eta: eta.date }, actor: eta.requestedBy });
    const recorded = typeof entry?.details.requestedByObjectId === 'string' ? entry.details.requestedByObjectId : undefined;
    return { upn: eta.requestedBy, objectId: recorded ?? (await objectIdOfUpn(eta.requestedBy)) };
  };
  const ownerOf = async (a: Assignment): Promise<Person> => {
    const requested = a.eta && a.eta.requestedBy.toLowerCase() === a.owner.toLowerCase() ? (await requesterOf(a, a.eta)).objectId : undefined;
    return { upn: a.owner, objectId: (await objectIdOfUpn(a.owner)) ?? requested };
  };
  /** Four eyes: the refusal when the caller is (or cannot be told apart from) `other`. */
  const fourEyes = async (ctx: ActionContext, other: Person, refusal: string): Promise<ActionResult | undefined> => {
    const verdict = samePerson(await callerPerson(ctx), other);
    if (verdict === 'different') return undefined;
    deps.logger.info({ actor: ctx.actor.aadObjectId, verdict }, 'due-date decision refused: four eyes');
    const message =
      verdict === 'same'
        ? refusal
        : 'I could not confirm that you are not the person who asked for this, and someone else must decide it (four eyes). Send me a message in a 1:1 chat so I learn your account, then try again.';
    return { kind: 'reply', card: errorCard({ title: 'Not allowed', message: `${message} Nothing was changed.`, details: [] }, ctx) };
  };

  /** The live assignment, once the caller's role on its subscription is checked. */
  const managed = async (ctx: ActionContext, id: string): Promise<{ assignment: Assignment } | { refusal: ActionResult }> => {
    const assignment = await deps.store.assignments.get(id);
    if (!assignment || !isLive(assignment)) {
      return { refusal: { kind: 'message', text: 'This assignment is closed or no longer exists, so its due date cannot change.' } };
    }
    const decision = await deps.authorizer.canManage(ctx.actor, [assignment.subscriptionId]);
    if (!decision.allowed) return { refusal: { kind: 'reply', card: errorCard({ title: 'Not allowed', message: decision.reason, details: [] }, ctx) } };
    // Re-read: the role check awaited, and the assignment may have moved meanwhile.
    return { assignment: (await deps.store.assignments.get(id)) ?? assignment };
  };

  /** `eta` is the date the clicked card carried, when it carried one. */
  const alreadyHandled = async (ctx: ActionContext, a: Assignment, eta: string | undefined): Promise<ActionResult> => {
    // By target, not among the latest entries: the resolution job's entries soon bury a decision.
    const last = await deps.store.audit.findLast(a.id, {
      actions: [APPROVED, DECLINED],
      detailKeys: ['eta'],
      ...(eta === undefined ? {} : { details: { eta } }),
    });
    const request = eta ? `This request (new date ${eta})` : 'This request';
    const text = last
      ? `${request} was already handled by ${last.actor}: ${last.action === DECLINED ? `declined, the due date stays ${a.dueDate}` : `the due date is now ${a.dueDate}`}.`
      : a.eta
        ? `${request} was replaced by a newer one (new date ${a.eta.date}); use the newest request card.`
        : `${request} was already handled; the due date is ${a.dueDate}.`;
    return { kind: 'replace', card: noticeCard({ title: 'Already handled', text, facts: facts(a) }, ctx) };
  };

  /** Stores the new due date, then tells ServiceNow, Defender, the cards and the owner. */
  const applyDueDate = async (
    ctx: ActionContext,
    a: Assignment,
    change: { to: string; reason: string; clearEta: boolean; via: 'approve' | 'change'; note?: string },
  ): Promise<ActionResult> => {
    const who = await admin(ctx);
    const at = deps.clock.now().toISOString();
    const current = (await deps.store.assignments.get(a.id)) ?? a;
    const from = current.dueDate;
    const eta = current.eta;
    const updated: Assignment = { ...current, dueDate: change.to, eta: change.clearEta ? undefined : current.eta, updatedAt: at };
    await deps.store.assignments.upsertMany([updated]);
    await deps.store.audit.append({
      at,
      actor: who.id,
      action: APPROVED,
      target: a.id,
      details: {
        from,
        to: change.to,
        via: change.via,
        reason: change.reason,
        ...(change.clearEta && eta ? { eta: eta.date, requestedBy: eta.requestedBy } : {}),
      },
    });

    const ticket = await addTicketWorkNote(deps, updated, `Due date changed from ${from} to ${change.to} by ${who.full}: ${change.reason}`);
    const defender = await syncGovernance(deps, updated, { clearEta: !updated.eta });
    await refresh(deps, updated);
    await tellOwner(
      deps,
      updated,
      change.via === 'approve'
        ? `${who.name} approved your request for more time: "${a.recommendationName}" on ${a.resourceName} is now due ${change.to} (was ${from}).`
        : `${who.name} changed the due date of "${a.recommendationName}" on ${a.resourceName} from ${from} to ${change.to}.${change.note ? ` Note: ${change.note}` : ''}` +
            (change.clearEta && eta && eta.date !== change.to ? ` This answers your request for ${eta.date}.` : ''),
    );
    const problems = [ticket, defender].filter((r) => !r.ok).length;
    const title = change.via === 'approve' ? 'More time approved' : 'Due date changed';
    return {
      kind: 'replace',
      card: noticeCard(
        {
          title: problems ? `${title}, with problems` : title,
          text:
            `${change.via === 'approve' ? 'Approved' : 'Changed'} by ${who.name} — new due date ${change.to} (was ${from}).` +
            (problems ? ' The new date is saved here; the failed updates below were not applied.' : ''),
          facts: [...facts(updated), { title: 'ServiceNow', value: ticket.text }, { title: 'Defender for Cloud', value: defender.text }],
        },
        ctx,
      ),
    };
  };

  const approveSchema = z.object({ assignmentId, eta: futureDaySchema(today) });
  const declineSchema = z.object({ assignmentId, eta: realDaySchema.optional() });
  const changeSchema = z.object({
    assignmentId,
    dueDate: futureDaySchema(today),
    // An empty optional input arrives as "".
    note: z
      .string()
      .trim()
      .max(1000, 'must be at most 1000 characters')
      .optional()
      .transform((s) => s || undefined),
    /** Set when the form is on a request card: the change answers that request. */
    eta: realDaySchema.optional(),
  });

  return [
    defineAction({
      verb: 'approveMoreTime',
      schema: approveSchema,
      handle: (ctx, data) =>
        serial(data.assignmentId, async () => {
          const found = await managed(ctx, data.assignmentId);
          if ('refusal' in found) return found.refusal;
          const a = found.assignment;
          if (a.eta?.date !== data.eta) return alreadyHandled(ctx, a, data.eta);
          const refused = await fourEyes(
            ctx,
            await requesterOf(a, a.eta),
            'You asked for this extension yourself, so another security admin must approve it (four eyes).',
          );
          if (refused) return refused;
          return applyDueDate(ctx, a, {
            to: data.eta,
            reason: `approved the request of ${a.eta.requestedBy} for more time: ${a.eta.justification}`,
            clearEta: true,
            via: 'approve',
          });
        }),
    }),
    defineAction({
      verb: 'declineMoreTime',
      schema: declineSchema,
      handle: (ctx, data) =>
        serial(data.assignmentId, async () => {
          const found = await managed(ctx, data.assignmentId);
          if ('refusal' in found) return found.refusal;
          const a = found.assignment;
          const eta = a.eta;
          if (!eta || (data.eta && eta.date !== data.eta)) return alreadyHandled(ctx, a, data.eta);
          const who = await admin(ctx);
          const at = deps.clock.now().toISOString();
          const current = (await deps.store.assignments.get(a.id)) ?? a;
          const updated: Assignment = { ...current, eta: undefined, updatedAt: at };
          await deps.store.assignments.upsertMany([updated]);
          await deps.store.audit.append({
            at,
            actor: who.id,
            action: DECLINED,
            target: a.id,
            details: { eta: eta.date, requestedBy: eta.requestedBy, justification: eta.justification, dueDate: a.dueDate },
          });

          const ticket = await addTicketWorkNote(
            deps,
            updated,
            `${who.full} declined the request of ${eta.requestedBy} for more time until ${eta.date}; the due date stays ${a.dueDate}.`,
          );
          const defender = await syncGovernance(deps, updated, { clearEta: !updated.eta });
          await tellOwner(
            deps,
            updated,
            `${who.name} declined your request for more time on "${a.recommendationName}" (${a.resourceName}): the due date stays ${a.dueDate}.`,
          );
          const problems = [ticket, defender].filter((r) => !r.ok).length;
          return {
            kind: 'replace',
            card: noticeCard(
              {
                title: problems ? 'More time declined, with problems' : 'More time declined',
                text: `Declined by ${who.name} — the due date stays ${a.dueDate} (${eta.requestedBy} asked for ${eta.date}).`,
                facts: [...facts(updated), { title: 'ServiceNow', value: ticket.text }, { title: 'Defender for Cloud', value: defender.text }],
              },
              ctx,
            ),
          };
        }),
    }),
    defineAction({
      verb: 'changeDueDate',
      schema: changeSchema,
      handle: (ctx, data) =>
        serial(data.assignmentId, async () => {
          const found = await managed(ctx, data.assignmentId);
          if ('refusal' in found) return found.refusal;
          const a = found.assignment;
          const answersRequest = Boolean(data.eta && a.eta?.date === data.eta);
          if (a.dueDate === data.dueDate && !answersRequest) {
            return { kind: 'message', text: `The due date is already ${a.dueDate}; nothing changed.` };
          }
          // An owner moving their own deadline is approving their own extension.
          const refused = await fourEyes(ctx, await ownerOf(a), `You own this assignment, so another security admin must change its due date (four eyes).`);
          if (refused) return refused;
          return applyDueDate(ctx, a, { to: data.dueDate, reason: data.note ?? 'no reason given', note: data.note, clearEta: answersRequest, via: 'change' });
        }),
    }),
  ];
}

function facts(a: Assignment): Array<{ title: string; value: string }> {
  return [
    { title: 'Owner', value: a.owner },
    { title: 'Recommendation', value: a.recommendationName },
    { title: 'Resource', value: a.resourceName },
    { title: 'Due date', value: a.dueDate },
  ];
}

async function refresh(deps: DueDateDeps, a: Assignment): Promise<void> {
  try {
    await deps.refreshCards(a.recommendationKey);
  } catch (err) {
    deps.logger.warn({ err, assignmentId: a.id }, 'could not refresh the recommendation cards after a due-date change');
  }
}

/** The owner hears it in their 1:1 chat when the bot has one; otherwise the next digest shows it. */
async function tellOwner(deps: DueDateDeps, a: Assignment, text: string): Promise<void> {
  const owner = a.owner.toLowerCase();
  const [chat] = await deps.store.conversations.list({ kinds: ['personal'], userUpn: owner });
  if (!chat) return;
  try {
    await deps.messenger.send(chat.id, { text });
  } catch (err) {
    deps.logger.warn({ err, assignmentId: a.id }, 'could not tell the owner about the due-date decision');
  }
}

/** The owner's words go into a markdown TextBlock: they must not become links or bold "approved" text. */
function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]])/g, '\\$1');
}
