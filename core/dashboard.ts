import * as z from 'zod';
import type { Assignment, AssignmentStatus, Recommendation, Severity } from './model.js';
import { addDays, localDay } from './calendar.js';
import { recommendationPortalLink } from './defender-model.js';
import { isLive } from './lifecycle.js';

/**
 * What the dashboard tab shows, computed from the store in one pass. Pure: the tab fetches it as
 * JSON and validates it with `dashboardDataSchema`, so this file is bundled into the browser too
 * (it must not import anything that needs Node).
 */

export const SEVERITIES = ['High', 'Medium', 'Low'] as const satisfies readonly Severity[];
export const STATUSES = ['pending', 'open', 'failed', 'awaiting-manual-close', 'resolved', 'removed'] as const satisfies readonly AssignmentStatus[];
export const TIMELINE_WEEKS = 4;
export const TOP_OWNERS = 5;

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const severity = z.enum(SEVERITIES);
const status = z.enum(STATUSES);
// Links end up in href attributes: only web URLs, never javascript: or data:.
const webUrl = z.url({ protocol: /^https?$/ });

export const dashboardRowSchema = z.object({
  id: z.string(),
  recommendationKey: z.string(),
  recommendationName: z.string(),
  severity,
  resourceName: z.string(),
  resourceId: z.string(),
  subscriptionId: z.string(),
  owner: z.string(),
  status,
  dueDate: day,
  overdue: z.boolean(),
  inGrace: z.boolean(),
  ticketNumber: z.string().optional(),
  ticketLink: webUrl.optional(),
  defenderLink: webUrl,
});
export type DashboardRow = z.infer<typeof dashboardRowSchema>;

export const dashboardDataSchema = z.object({
  generatedAt: z.string(),
  /** The day "overdue" is measured against, in the due dates' time zone (REMINDER_TIMEZONE). */
  today: day,
  counts: z.object({
    total: z.number().int().min(0),
    /** Live: pending, open, failed or awaiting manual close. */
    open: z.number().int().min(0),
    overdue: z.number().int().min(0),
    inGrace: z.number().int().min(0),
    resolved: z.number().int().min(0),
  }),
  bySeverityStatus: z.array(z.object({ severity, counts: z.record(status, z.number().int().min(0)) })),
  timeline: z.array(z.object({ start: day, end: day, total: z.number().int().min(0), bySeverity: z.record(severity, z.number().int().min(0)) })),
  topOverdueOwners: z.array(z.object({ owner: z.string(), overdue: z.number().int().min(1), oldestDueDate: day })),
  rows: z.array(dashboardRowSchema),
});
export type DashboardData = z.infer<typeof dashboardDataSchema>;

/** Due dates are whole days: an assignment due today is not overdue yet. */
export function isOverdue(a: Pick<Assignment, 'status' | 'dueDate'>, today: string): boolean {
  return isLive(a) && a.dueDate < today;
}

export function isInGrace(a: Pick<Assignment, 'status' | 'dueDate' | 'gracePeriod'>, today: string): boolean {
  return a.gracePeriod && isLive(a) && !isOverdue(a, today);
}

function safeLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  // The Defender API sometimes returns portal links without a scheme.
  const candidate = /^[a-z][a-z0-9+.-]*:/i.test(link) ? link : `https://${link}`;
  return webUrl.safeParse(candidate).success ? candidate : undefined;
}

const zeroStatuses = () => Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<AssignmentStatus, number>;
const zeroSeverities = () => Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;

export function buildDashboard(assignments: readonly Assignment[], recommendations: readonly Recommendation[], now: Date, timeZone: string): DashboardData {
  const today = localDay(now, timeZone);
  const recs = new Map(recommendations.map((r) => [r.key.toLowerCase(), r]));

  const counts = { total: assignments.length, open: 0, overdue: 0, inGrace: 0, resolved: 0 };
  const bySeverity = new Map(SEVERITIES.map((s) => [s, zeroStatuses()]));
  const timeline = Array.from({ length: TIMELINE_WEEKS }, (_, i) => ({
    start: addDays(today, 7 * i),
    end: addDays(today, 7 * i + 6),
    total: 0,
    bySeverity: zeroSeverities(),
  }));
  const owners = new Map<string, { owner: string; overdue: number; oldestDueDate: string }>();

  const rows: DashboardRow[] = assignments.map((a) => {
    const overdue = isOverdue(a, today);
    const inGrace = isInGrace(a, today);
    if (isLive(a)) counts.open++;
    if (overdue) counts.overdue++;
    if (inGrace) counts.inGrace++;
    if (a.status === 'resolved') counts.resolved++;
    bySeverity.get(a.severity)![a.status]++;
    if (isLive(a) && !overdue) {
      const week = timeline.find((w) => a.dueDate >= w.start && a.dueDate <= w.end);
      if (week) {
        week.total++;
        week.bySeverity[a.severity]++;
      }
    }
    if (overdue) {
      // Owners are e-mail addresses: one person, whatever the casing.
      const key = a.owner.toLowerCase();
      const o = owners.get(key) ?? { owner: a.owner, overdue: 0, oldestDueDate: a.dueDate };
      o.overdue++;
      if (a.dueDate < o.oldestDueDate) o.oldestDueDate = a.dueDate;
      owners.set(key, o);
    }
    const rec = recs.get(a.recommendationKey.toLowerCase());
    const ticketLink = safeLink(a.ticket?.link);
    return {
      id: a.id,
      recommendationKey: a.recommendationKey,
      recommendationName: a.recommendationName,
      severity: a.severity,
      resourceName: a.resourceName,
      resourceId: a.resourceId,
      subscriptionId: a.subscriptionId,
      owner: a.owner,
      status: a.status,
      dueDate: a.dueDate,
      overdue,
      inGrace,
      ...(a.ticket ? { ticketNumber: a.ticket.number } : {}),
      ...(ticketLink ? { ticketLink } : {}),
      defenderLink: safeLink(rec?.portalLink) ?? recommendationPortalLink(encodeURIComponent(a.recommendationKey)),
    };
  });

  // Most urgent first: overdue, then by due date; ties by name so the order is stable.
  const rank = (r: DashboardRow) => (r.overdue ? 0 : isLive(r) ? 1 : 2);
  rows.sort((x, y) => rank(x) - rank(y) || x.dueDate.localeCompare(y.dueDate) || x.resourceName.localeCompare(y.resourceName) || x.id.localeCompare(y.id));

  const topOverdueOwners = [...owners.values()]
    .sort((x, y) => y.overdue - x.overdue || x.oldestDueDate.localeCompare(y.oldestDueDate) || x.owner.localeCompare(y.owner))
    .slice(0, TOP_OWNERS);

  return {
    generatedAt: now.toISOString(),
    today,
    counts,
    bySeverityStatus: SEVERITIES.map((s) => ({ severity: s, counts: bySeverity.get(s)! })),
    timeline,
    topOverdueOwners,
    rows,
  };
}
