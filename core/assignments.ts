import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Assignment, Recommendation, ResourceSnapshot, Severity, TicketType } from './model.js';
import { addDays, daysBetween, localDay, zonedDayEnd } from './calendar.js';
import { isEntraObjectId, PERSON_NOT_FOUND } from './owner.js';
import { htmlToCardText, truncateText } from './recommendations.js';
import { isLive } from './lifecycle.js';
import { formatGlideDateTime } from './servicenow-rules.js';

/** Remediation timeframe by severity when the form does not say otherwise (days). */
export interface DueDatePolicy {
  High: number;
  Medium: number;
  Low: number;
}
export const DEFAULT_DUE_DAYS: DueDatePolicy = { High: 7, Medium: 14, Low: 30 };

/** Above this many resources, "all unhealthy resources" asks for a confirmation first. */
export const CONFIRM_ABOVE = 10;

export { addDays } from './calendar.js';

export function defaultDueDate(severity: Severity, now: Date, timeZone: string, policy: DueDatePolicy = DEFAULT_DUE_DAYS): string {
  return addDays(localDay(now, timeZone), policy[severity]);
}

const day = /^\d{4}-\d{2}-\d{2}$/;
const bool = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');
const email = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(200)
  .regex(/^[^\s@]+@[^\s@]+$|^[\w.-]+$/, 'must be an email / UPN or a ServiceNow user name');

/**
 * What the assignment form submits; ids are fixed because automation and tests rely on them.
 * "After today" is judged in `timeZone` (REMINDER_TIMEZONE), where the due dates live.
 */
export function assignmentFormSchema(now: Date, timeZone: string) {
  const today = localDay(now, timeZone);
  const maxDay = addDays(today, 366);
  return z.object({
    recommendationKey: z.string().min(1).max(200),
    resourceIds: z
      .string()
      .min(1, 'no resource selected')
      .transform((s) => [
        ...new Set(
          s
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        ),
      ]),
    integrationId: z.string({ error: 'is required' }).min(1, 'is required'),
    ticketType: z.enum(['incident', 'change_request', 'problem'], { error: 'must be incident, change_request or problem' }),
    // Teams' people picker submits the person's Entra object id; the submit path turns it into the
    // UPN with Microsoft Graph first (core/owner.ts#withOwnerUpn). An id still here (Graph does not
    // know it, or is unreachable) is refused next to the field, never sent to ServiceNow as a user name.
    assignedTo: email.refine((v) => !isEntraObjectId(v), PERSON_NOT_FOUND),
    caller: email,
    shortDescription: z.string().trim().min(1, 'is required').max(160, 'must be at most 160 characters'),
    description: z.string().trim().min(1, 'is required').max(4000, 'must be at most 4000 characters'),
    dueDate: z
      .string({ error: 'is required' })
      .regex(day, 'must be a date (YYYY-MM-DD)')
      .refine((d) => d > today, 'must be after today')
      .refine((d) => d <= maxDay, 'must be within a year'),
    gracePeriod: bool.default(false),
    notifyOwner: bool.default(true),
    notifyManager: bool.default(false),
    grouping: z.enum(['perResource', 'single']).default('perResource'),
    assignmentGroup: z.string().trim().max(100).optional(),
    impact: z.enum(['1', '2', '3']).optional(),
    urgency: z.enum(['1', '2', '3']).optional(),
  });
}
export type AssignmentForm = z.output<ReturnType<typeof assignmentFormSchema>>;

/** Field-by-field errors, keyed by input id, for showing on the same form. */
export function formErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    out[field] ??= issue.message;
  }
  return out;
}

export interface Prefill {
  shortDescription: string;
  description: string;
}

/** Ticket texts pre-filled from the recommendation, as Defender's own integration does. */
export function prefillTexts(rec: Recommendation, resources: readonly ResourceSnapshot[]): Prefill {
  const subject = resources.length === 1 ? resources[0].name : `${resources.length} resources`;
  const shortDescription = truncateText(`[Defender for Cloud] ${rec.displayName} – ${subject}`, 160);
  const list = resources
    .slice(0, 50)
    .map((r) => `- ${r.name} (${r.type}, subscription ${r.subscriptionId}${r.resourceGroup ? `, resource group ${r.resourceGroup}` : ''})\n  ${r.resourceId}`)
    .join('\n');
  const more = resources.length > 50 ? `\n…and ${resources.length - 50} more` : '';
  const description = truncateText(
    [
      `Recommendation: ${rec.displayName}`,
      `Severity: ${rec.severity}`,
      '',
      htmlToCardText(rec.description, 800),
      '',
      'Remediation steps:',
      htmlToCardText(rec.remediation, 1500),
      '',
      `Unhealthy resources:\n${list}${more}`,
      '',
      rec.portalLink ? `Microsoft Defender for Cloud: ${rec.portalLink}` : '',
    ].join('\n'),
    4000,
  );
  return { shortDescription, description };
}

/** The reference field that holds "Caller" differs by table. */
export const CALLER_FIELD: Record<TicketType, string> = {
  incident: 'caller_id',
  change_request: 'requested_by',
  problem: 'opened_by',
};

/** ServiceNow's impact and urgency: 1 High, 2 Medium, 3 Low (reference §3.1). */
export type Level = '1' | '2' | '3';
export interface ImpactUrgency {
  impact: Level;
  urgency: Level;
}
export type SeverityImpactUrgency = Readonly<Record<Severity, ImpactUrgency>>;

/**
 * A High recommendation becomes impact 1 / urgency 1, which the base priority lookup turns into
 * priority 1 (Critical); Medium 2/2 → 3 (Moderate); Low 3/3 → 5 (Planning). Without impact and
 * urgency an instance defaults both to 3, so every ticket was priority 5.
 */
export const DEFAULT_SEVERITY_IMPACT_URGENCY: SeverityImpactUrgency = {
  High: { impact: '1', urgency: '1' },
  Medium: { impact: '2', urgency: '2' },
  Low: { impact: '3', urgency: '3' },
};
export const DEFAULT_SEVERITY_IMPACT_URGENCY_TEXT = 'High=1/1,Medium=2/2,Low=3/3';

/**
 * Parses SEVERITY_IMPACT_URGENCY, e.g. "High=1/1,Medium=2/2,Low=3/3" (impact/urgency, each 1–3).
 * A severity left out keeps its default; returns the problems instead when the text is invalid.
 */
export function parseSeverityImpactUrgency(text: string): { ok: true; value: SeverityImpactUrgency } | { ok: false; problems: string[] } {
  const value: Record<Severity, ImpactUrgency> = { ...DEFAULT_SEVERITY_IMPACT_URGENCY };
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const m = /^(High|Medium|Low)\s*=\s*([123])\s*\/\s*([123])$/i.exec(entry);
    if (!m) {
      problems.push(`"${entry.slice(0, 40)}" is not severity=impact/urgency (e.g. High=1/1, each 1 to 3)`);
      continue;
    }
    const severity = (m[1]!.charAt(0).toUpperCase() + m[1]!.slice(1).toLowerCase()) as Severity;
    if (seen.has(severity)) problems.push(`${severity} is given twice`);
    seen.add(severity);
    value[severity] = { impact: m[2] as Level, urgency: m[3] as Level };
  }
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

export interface TicketPolicy {
  /** SEVERITY_IMPACT_URGENCY; the documented defaults without it. */
  severityImpactUrgency?: SeverityImpactUrgency;
  /** REMINDER_TIMEZONE: the due date is the end of that day there. Default UTC. */
  timeZone?: string;
}

/**
 * The ticket's fields. Every table here extends `task`, so the default set writes only task's
 * standard fields: texts, assigned to, the table's caller field, impact and urgency from the
 * severity (the instance computes the priority from them; priority itself is read-only) and
 * `due_date`, the end of the due day. Customized integrations add the assignment group, and the
 * impact and urgency the user picked win over the severity's.
 */
export function ticketFields(
  form: Pick<AssignmentForm, 'ticketType' | 'shortDescription' | 'description' | 'assignmentGroup' | 'impact' | 'urgency'> & {
    severity: Severity;
    /** YYYY-MM-DD */
    dueDate: string;
  },
  users: { ownerSysId: string; callerSysId: string; groupSysId?: string },
  customized: boolean,
  policy: TicketPolicy = {},
): Record<string, string> {
  const bySeverity = (policy.severityImpactUrgency ?? DEFAULT_SEVERITY_IMPACT_URGENCY)[form.severity];
  const fields: Record<string, string> = {
    short_description: form.shortDescription,
    description: form.description,
    assigned_to: users.ownerSysId,
    [CALLER_FIELD[form.ticketType]]: users.callerSysId,
    impact: bySeverity.impact,
    urgency: bySeverity.urgency,
    due_date: formatGlideDateTime(zonedDayEnd(form.dueDate, policy.timeZone ?? 'UTC')),
  };
  if (customized) {
    if (users.groupSysId) fields.assignment_group = users.groupSysId;
    if (form.impact) fields.impact = form.impact;
    if (form.urgency) fields.urgency = form.urgency;
  }
  return fields;
}

/** One ticket for a whole selection is keyed by the recommendation and the set of resources. */
export function selectionCorrelationKey(assessmentKey: string, resourceIds: readonly string[]): string {
  const hash = createHash('sha256')
    .update(
      `${assessmentKey.toLowerCase()}|${[...resourceIds]
        .map((r) => r.toLowerCase())
        .sort()
        .join('|')}`,
    )
    .digest('hex')
    .slice(0, 40);
  return `mdc-sel-${hash}`;
}

/**
 * The Defender governance assignment that mirrors a ticket, shaped as the official
 * governanceAssignments schema (2022-01-01-preview): ticketNumber is an int32, so only the
 * numeric part of "INC0010023" fits there; the full number stays in ticketLink/ticketStatus.
 */
export function governanceProperties(a: Assignment) {
  const numeric = a.ticket ? Number(/(\d+)$/.exec(a.ticket.number)?.[1]) : undefined;
  return {
    owner: a.owner,
    remediationDueDate: `${a.dueDate}T23:59:59Z`,
    isGracePeriod: a.gracePeriod,
    governanceEmailNotification: { disableManagerEmailNotification: !a.notifyManager, disableOwnerEmailNotification: !a.notifyOwner },
    additionalData: a.ticket
      ? {
          ...(numeric !== undefined && Number.isSafeInteger(numeric) && numeric <= 2_147_483_647 ? { ticketNumber: numeric } : {}),
          ticketLink: a.ticket.link,
          ticketStatus: a.ticket.state ? `${a.ticket.number} (state ${a.ticket.state})` : a.ticket.number,
        }
      : undefined,
    ...(a.eta ? { remediationEta: { eta: `${a.eta.date}T00:00:00Z`, justification: a.eta.justification } } : {}),
  };
}

/** Days until (positive) or since (negative) the due date, by calendar day in `timeZone`. */
export function daysUntil(dueDate: string, now: Date, timeZone: string): number {
  return daysBetween(localDay(now, timeZone), dueDate);
}

/**
 * What a card says about an assignment's due date: overdue (and, with a grace period, that the
 * secure score is now affected) or still in its grace period.
 */
export function dueStateText(a: Pick<Assignment, 'dueDate' | 'gracePeriod'>, now: Date, timeZone: string): string {
  const days = daysUntil(a.dueDate, now, timeZone);
  if (days < 0) return a.gracePeriod ? ` · ${-days} day(s) overdue, grace period ended (affects secure score)` : ` · ${-days} day(s) overdue`;
  return a.gracePeriod ? ' · in grace period (not affecting secure score)' : '';
}

export function isOverdue(a: Assignment, now: Date, timeZone: string): boolean {
  return isLive(a) && daysUntil(a.dueDate, now, timeZone) < 0;
}
