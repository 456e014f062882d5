/**
 * Pure decisions of the resolution / two-way sync job: what an assignment should become given what
 * Defender says about its assessment and what ServiceNow says about its ticket, plus the texts
 * (close-note evidence, announcements) that explain it. No I/O; time comes in as a parameter.
 */
import { DAY_MS } from './clock.js';
import { CHANGE_STATE, INCIDENT_STATE, isResolvedState, CORRELATION_ID_MAX, type TicketTable } from './servicenow-rules.js';
import type { Assignment } from './model.js';

/** What Resource Graph says about one assessment right now. */
export type AssessmentState =
  | { kind: 'Unhealthy' | 'Healthy' | 'NotApplicable'; statusChangeDate: string }
  /** Not returned by a by-id query: the resource (or the assessment) no longer exists. */
  | { kind: 'gone' };

/** closeReason values written by this job (kept as constants so regression can recognise them). */
export const CLOSE_REASON = {
  autoResolved: 'resolved automatically: resource healthy',
  closedAfterHealthy: 'closed in ServiceNow after the resource became healthy',
  closedInServiceNow: 'closed in ServiceNow',
  integrationRemoved: 'integration removed',
  healthyBeforeTicket: 'resource healthy before a ticket was created',
} as const;

/** Resolutions that may be undone by a regression inside the reopen window. */
const REOPENABLE_REASONS = new Set<string>([CLOSE_REASON.autoResolved, CLOSE_REASON.closedAfterHealthy]);

export function isFixed(state: AssessmentState): boolean {
  return state.kind !== 'Unhealthy';
}

/** Resolved, Closed or Canceled: the ticket is finished from ServiceNow's side. */
export function isClosedInServiceNow(table: TicketTable, state: string): boolean {
  if (isResolvedState(table, state)) return true;
  if (table === 'incident') return state === INCIDENT_STATE.canceled;
  if (table === 'change_request') return state === CHANGE_STATE.canceled;
  return false;
}

export type LiveDecision =
  | { kind: 'none' }
  /** Unhealthy again before the debounce completed: start counting from zero. */
  | { kind: 'reset'; healthyPasses: 0 }
  | { kind: 'wait'; healthyPasses: number }
  | { kind: 'resolve'; healthyPasses: number }
  /** Healthy was reported, ServiceNow was asked, but the resource regressed before anyone closed the ticket. */
  | { kind: 'back-to-open' };

/** Decision for an assignment that has a ticket and is open or awaiting manual closure. */
export function decideLive(a: Pick<Assignment, 'status' | 'healthyPasses'>, state: AssessmentState, resolveAfterHealthyPasses: number): LiveDecision {
  const needed = Math.max(1, Math.floor(resolveAfterHealthyPasses));
  if (a.status === 'awaiting-manual-close') return isFixed(state) ? { kind: 'none' } : { kind: 'back-to-open' };
  if (a.status !== 'open') return { kind: 'none' };
  if (!isFixed(state)) return a.healthyPasses > 0 ? { kind: 'reset', healthyPasses: 0 } : { kind: 'none' };
  const passes = a.healthyPasses + 1;
  return passes >= needed ? { kind: 'resolve', healthyPasses: passes } : { kind: 'wait', healthyPasses: passes };
}

/**
 * For an assignment whose ticket was never created (pending/failed): once the resource is fixed
 * (with the same debounce as tickets) nothing needs a ticket any more, so it is resolved as is.
 */
export function decideUnticketed(
  a: Pick<Assignment, 'status' | 'healthyPasses' | 'ticket'>,
  state: AssessmentState,
  resolveAfterHealthyPasses: number,
): LiveDecision {
  if ((a.status !== 'pending' && a.status !== 'failed') || a.ticket) return { kind: 'none' };
  return decideLive({ status: 'open', healthyPasses: a.healthyPasses }, state, resolveAfterHealthyPasses);
}

export function withinReopenWindow(resolvedAt: string | undefined, now: Date, windowDays: number): boolean {
  if (!resolvedAt) return false;
  const at = Date.parse(resolvedAt);
  return !Number.isNaN(at) && now.getTime() - at <= windowDays * DAY_MS;
}

export type RegressionDecision = { kind: 'none' } | { kind: 'reopen' } | { kind: 'forget' };

/**
 * For a resolved assignment: reopen when the resource turned unhealthy again inside the window
 * (after the resolution, so a stale row from before it cannot trigger one); after the window the
 * recommendation simply shows the resource unassigned again, which needs no action ("forget").
 */
export function decideRegression(
  a: Pick<Assignment, 'status' | 'closeReason' | 'resolvedAt'>,
  state: AssessmentState,
  now: Date,
  reopenWindowDays: number,
): RegressionDecision {
  if (a.status !== 'resolved' || !a.closeReason || !REOPENABLE_REASONS.has(a.closeReason)) return { kind: 'none' };
  if (state.kind !== 'Unhealthy') return { kind: 'none' };
  if (a.resolvedAt && Date.parse(state.statusChangeDate) < Date.parse(a.resolvedAt) - DAY_MS) {
    // The unhealthy status predates the resolution by far: Resource Graph is behind, not a regression.
    return { kind: 'none' };
  }
  return withinReopenWindow(a.resolvedAt, now, reopenWindowDays) ? { kind: 'reopen' } : { kind: 'forget' };
}

/** Whether a resolved assignment still needs watching for a regression. */
export function watchForRegression(a: Pick<Assignment, 'status' | 'closeReason' | 'resolvedAt'>, now: Date, reopenWindowDays: number): boolean {
  return a.status === 'resolved' && !!a.closeReason && REOPENABLE_REASONS.has(a.closeReason) && withinReopenWindow(a.resolvedAt, now, reopenWindowDays);
}

/** What the ticket looks like in ServiceNow now. */
export interface TicketView {
  state: string;
  /** Email (or user name when no email) of `assigned_to`; undefined when unassigned or unknown. */
  assignee?: string;
}

export type TicketDecision =
  | { kind: 'none' }
  /** Closed by a human while the resource is still unhealthy: Defender deletes the assignment. */
  | { kind: 'remove' }
  /** The manual closure we asked for happened. */
  | { kind: 'close-awaiting' }
  | { kind: 'owner'; owner: string };

export function decideTicket(
  a: Pick<Assignment, 'status' | 'owner' | 'ticketType'> & { ticket?: { table: TicketTable } },
  ticket: TicketView,
  resourceUnhealthy: boolean,
): TicketDecision {
  const table = a.ticket?.table ?? a.ticketType;
  const closed = isClosedInServiceNow(table, ticket.state);
  if (a.status === 'awaiting-manual-close') return closed ? { kind: 'close-awaiting' } : ownerDecision(a.owner, ticket.assignee);
  if (a.status !== 'open') return { kind: 'none' };
  if (closed && resourceUnhealthy) return { kind: 'remove' };
  // Closed while healthy: the Defender side resolves it (with the debounce), nothing to do here.
  if (closed) return { kind: 'none' };
  return ownerDecision(a.owner, ticket.assignee);
}

function ownerDecision(current: string, assignee: string | undefined): TicketDecision {
  if (!assignee || assignee.trim().toLowerCase() === current.trim().toLowerCase()) return { kind: 'none' };
  return { kind: 'owner', owner: assignee.trim() };
}

/** Close notes / fix notes: the evidence ServiceNow keeps for the automatic resolution. */
export function resolutionEvidence(
  a: Pick<Assignment, 'recommendationName' | 'resourceName' | 'resourceId' | 'assessmentId'>,
  state: AssessmentState,
  checkedAt: Date,
): string {
  const status =
    state.kind === 'gone'
      ? `the assessment is no longer reported by Azure Resource Graph (resource deleted) as of ${checkedAt.toISOString()}`
      : `assessment status ${state.kind} since ${state.statusChangeDate}`;
  return [
    `Microsoft Defender for Cloud: ${status}.`,
    `Recommendation: ${a.recommendationName}.`,
    `Resource: ${a.resourceName} (${a.resourceId}).`,
    `Assessment: ${a.assessmentId}.`,
    `Checked by the Defender for Cloud bot at ${checkedAt.toISOString()}.`,
  ].join(' ');
}

export function regressionNote(a: Pick<Assignment, 'recommendationName' | 'resourceName'>, statusChangeDate: string): string {
  return `Microsoft Defender for Cloud reports "${a.recommendationName}" on ${a.resourceName} as Unhealthy again since ${statusChangeDate}.`;
}

/**
 * Correlation id of the ticket opened when the old one cannot be reopened. Derived from the old
 * ticket's number so a retry after a crash finds the same ticket, and it differs from the old id.
 */
export function regressionCorrelationId(key: string, oldTicketNumber: string): string {
  const suffix = `-r-${oldTicketNumber.replace(/[^A-Za-z0-9]/g, '')}`;
  return `${key.slice(0, CORRELATION_ID_MAX - suffix.length)}${suffix}`;
}

/**
 * Idempotency key of one announcement. `n` tells occurrences apart (the statusChangeDate of the
 * transition, a ticket number…), so a replay of the same event is recognised after a restart.
 */
export function announcementKey(assignmentId: string, transition: string, n: string): string {
  return `announce:${assignmentId}:${transition}:${n}`;
}

type Subject = Pick<Assignment, 'recommendationName' | 'resourceName'>;
const subject = (a: Subject) => `*${a.recommendationName}* on *${a.resourceName}*`;

function fixedPhrase(state: AssessmentState): string {
  switch (state.kind) {
    case 'gone':
      return 'no longer exists (resource deleted)';
    case 'NotApplicable':
      return 'no longer applies (Defender reports it as not applicable)';
    default:
      return 'is healthy again';
  }
}

export const announcements = {
  resolved: (a: Subject, state: AssessmentState, number: string) => `✅ ${subject(a)} ${fixedPhrase(state)} — ${number} resolved automatically.`,
  resolvedShared: (a: Subject, state: AssessmentState, number: string, stillOpen: number) =>
    `✅ ${subject(a)} ${fixedPhrase(state)} — ${number} stays open for ${stillOpen} other resource${stillOpen === 1 ? '' : 's'}.`,
  /** Never claims a resolution ServiceNow did not make. */
  needsManual: (a: Subject, state: AssessmentState, number: string, link: string, reason?: string) =>
    `✅ ${subject(a)} ${fixedPhrase(state)} — ${number} needs manual closure in ServiceNow (${link}).${reason ? ` ServiceNow did not move the state: ${reason}.` : ''}`,
  manuallyClosed: (a: Subject, number: string) => `✅ ${number} was closed in ServiceNow — the assignment for ${subject(a)} is resolved.`,
  reopened: (a: Subject, number: string) => `🔁 ${subject(a)} is unhealthy again — ${number} reopened.`,
  reopenedAsNew: (a: Subject, oldNumber: string, newNumber: string, link: string) =>
    `🔁 ${subject(a)} is unhealthy again — ${oldNumber} cannot be reopened, so ${newNumber} was opened referencing it (${link}).`,
  stillOpen: (a: Subject, number: string) => `🔁 ${subject(a)} is unhealthy again — ${number} is still open in ServiceNow.`,
  closedInServiceNow: (a: Subject, number: string) =>
    `${subject(a)} is unassigned again: ${number} was closed in ServiceNow while the resource is still unhealthy.`,
  ownerChanged: (a: Subject, number: string, owner: string) =>
    `👤 ${number} (${subject(a)}) was reassigned in ServiceNow to ${owner}; the assignment owner is updated.`,
  integrationRemoved: (a: Subject, integrationName: string, number: string | undefined) =>
    `${subject(a)} is unassigned: the ServiceNow integration "${integrationName}" was removed${number ? ` (${number} is left open in ServiceNow)` : ''}.`,
};

/** Fields of the replacement ticket opened when a regression cannot reopen the old one. */
export function regressionTicketFields(
  a: Pick<Assignment, 'recommendationName' | 'resourceName' | 'resourceId' | 'severity' | 'dueDate' | 'customFields' | 'ticketType'>,
  old: { number: string; link: string },
  statusChangeDate: string,
  ids: { assignedTo?: string; caller?: string },
): Record<string, string> {
  const short = `Defender for Cloud: ${a.recommendationName} on ${a.resourceName} (regression of ${old.number})`.slice(0, 160);
  const description = [
    `Microsoft Defender for Cloud reports "${a.recommendationName}" on ${a.resourceName} as Unhealthy again since ${statusChangeDate}.`,
    `Resource: ${a.resourceId}. Severity: ${a.severity}. Due date: ${a.dueDate}.`,
    `The earlier ticket ${old.number} (${old.link}) cannot be reopened, so this ticket continues it.`,
  ].join('\n');
  const fields: Record<string, string> = { short_description: short, description };
  for (const [k, v] of Object.entries(a.customFields ?? {})) if (v) fields[k] = v;
  if (ids.assignedTo) fields.assigned_to = ids.assignedTo;
  if (ids.caller && a.ticketType === 'incident') fields.caller_id = ids.caller;
  if (a.ticketType === 'change_request') fields.type = 'normal';
  return fields;
}
