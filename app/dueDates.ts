/**
 * The security-admin side of "request more time". An owner's request is posted to the channel
 * where the assignment was created; an admin approves it (the due date becomes the requested
 * date), declines it, or sets another due date. Each decision runs under the assignment's lock:
 * the change is stored first (lifecycle transition + audit entry, one transaction), then noted on
 * the ServiceNow ticket and written to Defender's governance assignment (`remediationDueDate`),
 * the cards are refreshed and the owner is told. Four eyes: nobody decides their own request.
 */
import { dueDateRequestCard } from '../cards/dueDateCards.js';
import type { Clock } from '../core/clock.js';
import { addDays, daysBetween, localDay } from '../core/calendar.js';
import { dueDateChanged, etaDeclined, isLive } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Assignment, Integration } from '../core/model.js';
import { daysText } from '../core/reminders.js';
import type { AssignmentSession, AssignmentWriter } from './assignmentWriter.js';
import { oneLine, type GovernanceWriteBack } from './governance.js';
import type { RecommendationCards } from './recommendationCards.js';
import { addTicketWorkNote, type Outcome } from './ticketNotes.js';
import type { Authorizer, Caller, Directory, Messenger, Store, TicketSystem } from './ports.js';

export type { Outcome };

/** What a workflow answers, for the adapter to show: a short text, a refusal, or a notice with facts. */
export type WorkflowResult =
  | { kind: 'message'; text: string }
  | { kind: 'refused'; message: string }
  | { kind: 'notice'; title: string; text: string; facts: Array<{ title: string; value: string }> };

export interface DueDateDeps {
  store: Store;
  writer: AssignmentWriter;
  governance: GovernanceWriteBack;
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): Pick<TicketSystem, 'addWorkNote'> };
  authorizer: Pick<Authorizer, 'canManage'>;
  directory: Pick<Directory, 'upnOf' | 'objectIdOf' | 'personalConversationOf'>;
  messenger: Pick<Messenger, 'send'>;
  cards: Pick<RecommendationCards, 'refresh'>;
  clock: Clock;
  logger: Logger;
  /** REMINDER_TIMEZONE: "after today" is judged there. Default UTC. */
  timezone?: string;
}

/** Audit actions of this module: the "already handled by …" answer reads them back. */
const APPROVED = 'assignment.dueDate';
const DECLINED = 'assignment.eta.declined';
/** The owner's request (app/moreTime.ts); its entry records the requester's Entra object id. */
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

export class DueDates {
  constructor(private readonly deps: DueDateDeps) {}

  /** Today where the due dates live. */
  today(): string {
    return localDay(this.deps.clock.now(), this.deps.timezone ?? 'UTC');
  }

  /**
   * Posts the request card for security admins to the channel where the assignment was created.
   * Called after the owner's `eta` is stored, so a failed post loses nothing.
   */
  async postRequest(a: Assignment): Promise<Outcome> {
    const { store, messenger, logger } = this.deps;
    if (!a.eta) return { ok: true, text: 'nothing to ask' };
    if (!a.conversationId) return { ok: false, text: 'not asked: no channel is recorded for this assignment' };
    const conversation = await store.conversations.get(a.conversationId);
    if (!conversation) return { ok: false, text: 'not asked: the bot is no longer in the channel where the assignment was created' };
    const today = this.today();
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
        adminNote:
          'For security admins: approving, declining or changing the due date needs the Owner, Contributor or Security Admin role on the subscription.',
      },
      { channelId: conversation.channelId },
    );
    try {
      await messenger.send(conversation.id, { card, summary: `${a.eta.requestedBy} asks for more time on ${a.recommendationName}` });
      return { ok: true, text: `asked in ${conversation.name ? `"${conversation.name}"` : 'the channel where the assignment was created'}` };
    } catch (err) {
      logger.warn({ err, assignmentId: a.id, conversationId: conversation.id }, 'could not post the more-time request for admins');
      return { ok: false, text: `not asked: ${oneLine(err instanceof Error ? err.message : String(err))}` };
    }
  }

  /** An admin approves the request for `eta` (the date the clicked card carried). */
  approve(caller: Caller, assignmentId: string, eta: string): Promise<WorkflowResult> {
    return this.deps.writer.withLock(assignmentId, async (s) => {
      const found = await this.managed(s, caller, assignmentId);
      if ('refusal' in found) return found.refusal;
      const a = found.assignment;
      if (a.eta?.date !== eta) return this.alreadyHandled(a, eta);
      const refused = await this.fourEyes(
        caller,
        await this.requesterOf(a, a.eta),
        'You asked for this extension yourself, so another security admin must approve it (four eyes).',
      );
      if (refused) return refused;
      return this.applyDueDate(s, caller, a, {
        to: eta,
        reason: `approved the request of ${a.eta.requestedBy} for more time: ${a.eta.justification}`,
        clearEta: true,
        via: 'approve',
      });
    });
  }

  /** An admin (or the requester, withdrawing it) declines the request; `eta`: the date the clicked card carried, if any. */
  decline(caller: Caller, assignmentId: string, eta: string | undefined): Promise<WorkflowResult> {
    return this.deps.writer.withLock(assignmentId, async (s) => {
      const found = await this.managed(s, caller, assignmentId);
      if ('refusal' in found) return found.refusal;
      const a = found.assignment;
      const request = a.eta;
      if (!request || (eta && request.date !== eta)) return this.alreadyHandled(a, eta);
      const who = await this.admin(caller);
      const updated = await s.apply(a.id, (x) => etaDeclined(x, this.deps.clock.now()), {
        actor: who.id,
        action: DECLINED,
        details: { eta: request.date, requestedBy: request.requestedBy, justification: request.justification, dueDate: a.dueDate },
      });
      const ticket = await addTicketWorkNote(
        this.deps,
        updated,
        `${who.full} declined the request of ${request.requestedBy} for more time until ${request.date}; the due date stays ${a.dueDate}.`,
      );
      const defender = await this.deps.governance.syncIn(s, a.id, { ifMissing: 'report', clearEta: true });
      await this.tellOwner(
        updated,
        `${who.name} declined your request for more time on "${a.recommendationName}" (${a.resourceName}): the due date stays ${a.dueDate}.`,
      );
      const problems = [ticket, defender].filter((r) => !r.ok).length;
      return {
        kind: 'notice',
        title: problems ? 'More time declined, with problems' : 'More time declined',
        text: `Declined by ${who.name} — the due date stays ${a.dueDate} (${request.requestedBy} asked for ${request.date}).`,
        facts: [...facts(updated), { title: 'ServiceNow', value: ticket.text }, { title: 'Defender for Cloud', value: defender.text }],
      };
    });
  }

  /** An admin sets the due date; `eta`: set when the form is on a request card (the change answers that request). */
  change(caller: Caller, assignmentId: string, change: { dueDate: string; note?: string; eta?: string }): Promise<WorkflowResult> {
    return this.deps.writer.withLock(assignmentId, async (s) => {
      const found = await this.managed(s, caller, assignmentId);
      if ('refusal' in found) return found.refusal;
      const a = found.assignment;
      const answersRequest = Boolean(change.eta && a.eta?.date === change.eta);
      if (a.dueDate === change.dueDate && !answersRequest) return { kind: 'message', text: `The due date is already ${a.dueDate}; nothing changed.` };
      // An owner moving their own deadline is approving their own extension.
      const refused = await this.fourEyes(
        caller,
        await this.ownerOf(a),
        `You own this assignment, so another security admin must change its due date (four eyes).`,
      );
      if (refused) return refused;
      return this.applyDueDate(s, caller, a, {
        to: change.dueDate,
        reason: change.note ?? 'no reason given',
        note: change.note,
        clearEta: answersRequest,
        via: 'change',
      });
    });
  }

  /** Stores the new due date, then tells ServiceNow, Defender, the cards and the owner. */
  private async applyDueDate(
    s: AssignmentSession,
    caller: Caller,
    a: Assignment,
    change: { to: string; reason: string; clearEta: boolean; via: 'approve' | 'change'; note?: string },
  ): Promise<WorkflowResult> {
    const who = await this.admin(caller);
    const current = (await s.get(a.id)) ?? a;
    const from = current.dueDate;
    const eta = current.eta;
    const updated = await s.apply(a.id, (x) => dueDateChanged(x, change.to, { clearEta: change.clearEta }, this.deps.clock.now()), {
      actor: who.id,
      action: APPROVED,
      details: {
        from,
        to: change.to,
        via: change.via,
        reason: change.reason,
        ...(change.clearEta && eta ? { eta: eta.date, requestedBy: eta.requestedBy } : {}),
      },
    });

    const ticket = await addTicketWorkNote(this.deps, updated, `Due date changed from ${from} to ${change.to} by ${who.full}: ${change.reason}`);
    const defender = await this.deps.governance.syncIn(s, a.id, { ifMissing: 'report', clearEta: !updated.eta });
    await this.refresh(updated);
    await this.tellOwner(
      updated,
      change.via === 'approve'
        ? `${who.name} approved your request for more time: "${a.recommendationName}" on ${a.resourceName} is now due ${change.to} (was ${from}).`
        : `${who.name} changed the due date of "${a.recommendationName}" on ${a.resourceName} from ${from} to ${change.to}.${change.note ? ` Note: ${change.note}` : ''}` +
            (change.clearEta && eta && eta.date !== change.to ? ` This answers your request for ${eta.date}.` : ''),
    );
    const problems = [ticket, defender].filter((r) => !r.ok).length;
    const title = change.via === 'approve' ? 'More time approved' : 'Due date changed';
    return {
      kind: 'notice',
      title: problems ? `${title}, with problems` : title,
      text:
        `${change.via === 'approve' ? 'Approved' : 'Changed'} by ${who.name} — new due date ${change.to} (was ${from}).` +
        (problems ? ' The new date is saved here; the failed updates below were not applied.' : ''),
      facts: [...facts(updated), { title: 'ServiceNow', value: ticket.text }, { title: 'Defender for Cloud', value: defender.text }],
    };
  }

  /** The live assignment, once the caller's role on its subscription is checked. */
  private async managed(s: AssignmentSession, caller: Caller, id: string): Promise<{ assignment: Assignment } | { refusal: WorkflowResult }> {
    const assignment = await s.get(id);
    if (!assignment || !isLive(assignment)) {
      return { refusal: { kind: 'message', text: 'This assignment is closed or no longer exists, so its due date cannot change.' } };
    }
    const decision = await this.deps.authorizer.canManage(caller.actor, [assignment.subscriptionId]);
    if (!decision.allowed) return { refusal: { kind: 'refused', message: decision.reason } };
    // Re-read: the role check awaited (under the lock, but a store may have been changed by hand).
    return { assignment: (await s.get(id)) ?? assignment };
  }

  /** `eta` is the date the clicked card carried, when it carried one. */
  private async alreadyHandled(a: Assignment, eta: string | undefined): Promise<WorkflowResult> {
    // By target, not among the latest entries: the resolution job's entries soon bury a decision.
    const last = await this.deps.store.audit.findLast(a.id, {
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
    return { kind: 'notice', title: 'Already handled', text, facts: facts(a) };
  }

  /** The admin as the audit trail, people and the ticket name them. */
  private async admin(caller: Caller) {
    const upn = await this.deps.directory.upnOf(caller);
    const name = caller.actor.name?.trim();
    const id = caller.actor.id;
    return {
      /** For the audit trail: the most stable identity. */
      id: upn ?? name ?? id,
      /** For people: "Alice Johnson". */
      name: name || upn || id,
      /** For the ticket: "Alice Johnson (alice.johnson@contoso.com)". */
      full: name && upn ? `${name} (${upn})` : name || upn || id,
    };
  }

  /**
   * Who the caller and the people on an assignment are, for the four-eyes rules. A UPN compares
   * case-insensitively; the Entra object id comes from the request's audit entry (recorded since
   * requests carry it) or from the person's stored 1:1 chat.
   */
  private async requesterOf(a: Assignment, eta: NonNullable<Assignment['eta']>): Promise<Person> {
    const entry = await this.deps.store.audit.findLast(a.id, { actions: [REQUESTED], details: { eta: eta.date }, actor: eta.requestedBy });
    const recorded = typeof entry?.details.requestedByObjectId === 'string' ? entry.details.requestedByObjectId : undefined;
    return { upn: eta.requestedBy, objectId: recorded ?? (await this.deps.directory.objectIdOf(eta.requestedBy)) };
  }

  private async ownerOf(a: Assignment): Promise<Person> {
    const requested = a.eta && a.eta.requestedBy.toLowerCase() === a.owner.toLowerCase() ? (await this.requesterOf(a, a.eta)).objectId : undefined;
    return { upn: a.owner, objectId: (await this.deps.directory.objectIdOf(a.owner)) ?? requested };
  }

  /** Four eyes: the refusal when the caller is (or cannot be told apart from) `other`. */
  private async fourEyes(caller: Caller, other: Person, refusal: string): Promise<WorkflowResult | undefined> {
    const me: Person = { upn: await this.deps.directory.upnOf(caller), objectId: caller.actor.aadObjectId };
    const verdict = samePerson(me, other);
    if (verdict === 'different') return undefined;
    this.deps.logger.info({ actor: caller.actor.aadObjectId, verdict }, 'due-date decision refused: four eyes');
    const message =
      verdict === 'same'
        ? refusal
        : 'I could not confirm that you are not the person who asked for this, and someone else must decide it (four eyes). Send me a message in a 1:1 chat so I learn your account, then try again.';
    return { kind: 'refused', message: `${message} Nothing was changed.` };
  }

  private async refresh(a: Assignment): Promise<void> {
    try {
      await this.deps.cards.refresh(a.recommendationKey);
    } catch (err) {
      this.deps.logger.warn({ err, assignmentId: a.id }, 'could not refresh the recommendation cards after a due-date change');
    }
  }

  /** The owner hears it in their 1:1 chat when the bot has one; otherwise the next digest shows it. */
  private async tellOwner(a: Assignment, text: string): Promise<void> {
    const chat = await this.deps.directory.personalConversationOf(a.owner);
    if (!chat) return;
    try {
      await this.deps.messenger.send(chat, { text });
    } catch (err) {
      this.deps.logger.warn({ err, assignmentId: a.id }, 'could not tell the owner about the due-date decision');
    }
  }
}

function facts(a: Assignment): Array<{ title: string; value: string }> {
  return [
    { title: 'Owner', value: a.owner },
    { title: 'Recommendation', value: a.recommendationName },
    { title: 'Resource', value: a.resourceName },
    { title: 'Due date', value: a.dueDate },
  ];
}

/** The owner's words go into a markdown TextBlock: they must not become links or bold "approved" text. */
function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]])/g, '\\$1');
}
