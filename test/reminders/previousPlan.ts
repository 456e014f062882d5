/**
 * The planner as it was before issue #16's figure 4 rewrite (one item object per assignment,
 * filter/map chains per owner, owners sorted by lower-casing them per comparison), kept verbatim
 * as the reference the faster planner must equal on generated data (planEquivalence.test.ts).
 */
import { daysBetween, localTime } from '../../core/calendar.js';
import { recommendationPortalLink } from '../../core/defender-model.js';
import { isRemindable } from '../../core/lifecycle.js';
import type { Severity } from '../../core/model.js';
import {
  digestKey,
  graceEndedKey,
  graceStateOf,
  groupOf,
  inQuietHours,
  isoWeek,
  nudgeKey,
  type GraceEndedPlan,
  type NudgePlan,
  type OwnerDigestPlan,
  type EscalationPlan,
  type PlanInput,
  type ReminderItem,
  type MaterialisedPlan,
} from '../../core/reminders.js';

const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

const SEVERITY_RANK: Record<Severity, number> = { High: 0, Medium: 1, Low: 2 };

function compareItems(a: ReminderItem, b: ReminderItem): number {
  return (
    a.daysLeft - b.daysLeft ||
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    cmp(a.recommendationName, b.recommendationName) ||
    cmp(a.resourceName, b.resourceName)
  );
}

function countsOf(items: readonly ReminderItem[]): OwnerDigestPlan['counts'] {
  const c = { open: items.length, overdue: 0, thisWeek: 0, later: 0 };
  for (const i of items) c[i.group]++;
  return c;
}

interface OwnerBucket {
  /** As the owner's first assignment with notifications on writes it; undefined: no digest. */
  owner: string | undefined;
  items: ReminderItem[];
  escalate: ReminderItem[] | undefined;
}

/**
 * Days since 1970-01-01 of a YYYY-MM-DD day, read digit by digit (no Date, no string slices:
 * this runs once per assignment); NaN for anything else, which daysBetween then handles.
 * The same number as Date.UTC(y, m - 1, d) / DAY_MS, day overflow included.
 */
function dayNumberOf(day: string): number {
  if (day.length !== 10 || day.charCodeAt(4) !== 45 || day.charCodeAt(7) !== 45) return NaN;
  let y = 0;
  for (let i = 0; i < 4; i++) {
    const c = day.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    y = y * 10 + c;
  }
  const m1 = day.charCodeAt(5) - 48,
    m2 = day.charCodeAt(6) - 48,
    d1 = day.charCodeAt(8) - 48,
    d2 = day.charCodeAt(9) - 48;
  if (m1 < 0 || m1 > 9 || m2 < 0 || m2 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return NaN;
  const m = m1 * 10 + m2;
  // Date.UTC reads years 0-99 as 1900-1999 and rolls months over: leave those to it.
  if (y < 100 || m < 1 || m > 12) return NaN;
  // Days from civil (H. Hinnant): March-based years, so leap days come last.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5);
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468 + d1 * 10 + d2 - 1;
}

/**
 * Plans one pass in O(n log k): one walk over the assignments buckets them per owner and per
 * conversation; only each owner's few items are sorted.
 */
export function previousPlanReminders(input: PlanInput): MaterialisedPlan {
  const { now, timezone, settings, wasSent } = input;
  const { date: today, time } = localTime(now, timezone);
  const week = isoWeek(today);
  const empty: MaterialisedPlan = { today, week, quiet: false, digests: [], nudges: [], escalations: [], graceEnded: [] };
  if (inQuietHours(time, settings.quietHours)) return { ...empty, quiet: true };

  const todayNumber = dayNumberOf(today);
  const portalLinks = new Map<string, string>();
  // One entry per owner as written (its lower-case bucket shared): one map lookup per assignment.
  const ownerOf = new Map<string, OwnerBucket>();
  const byOwner = new Map<string, OwnerBucket>();
  const graceByConversation = new Map<string, GraceEndedPlan>();
  const nudgeWindow = Math.max(0, Math.floor(settings.remindDaysBefore));

  for (const a of input.assignments) {
    // Each field read once: a pass reads 100,000 rows, and rows of many shapes make every read a slow one.
    if (!isRemindable(a)) continue;
    const dueDate = a.dueDate;
    const due = dayNumberOf(dueDate);
    const daysLeft = Number.isNaN(due) || Number.isNaN(todayNumber) ? daysBetween(today, dueDate) : due - todayNumber;
    const overdue = daysLeft < 0;
    const notifyOwner = a.notifyOwner;
    const notifyManager = a.notifyManager;
    const gracePeriod = a.gracePeriod;
    const conversationId = a.conversationId;
    const wantGrace = gracePeriod && overdue && conversationId !== undefined && (!input.conversations || input.conversations.has(conversationId));
    const escalates = notifyManager && overdue;
    if (!notifyOwner && !escalates && !wantGrace) continue;
    const owner = a.owner;
    const recommendationKey = a.recommendationKey;
    let defenderLink = portalLinks.get(recommendationKey);
    if (defenderLink === undefined) portalLinks.set(recommendationKey, (defenderLink = recommendationPortalLink(recommendationKey)));
    const ticket = a.ticket;
    const item: ReminderItem = {
      assignmentId: a.id,
      owner,
      recommendationKey,
      recommendationName: a.recommendationName,
      resourceId: a.resourceId,
      resourceName: a.resourceName,
      severity: a.severity,
      dueDate,
      daysLeft,
      group: groupOf(daysLeft),
      grace: graceStateOf(gracePeriod, daysLeft),
      ticketNumber: ticket?.number,
      ticketLink: ticket?.link,
      defenderLink,
      eta: a.eta?.date,
      conversationId,
      notifyManager,
    };

    if (notifyOwner || escalates) {
      let bucket = ownerOf.get(owner);
      if (!bucket) {
        const lower = owner.toLowerCase();
        bucket = byOwner.get(lower);
        if (!bucket) byOwner.set(lower, (bucket = { owner: undefined, items: [], escalate: undefined }));
        ownerOf.set(owner, bucket);
      }
      if (notifyOwner) {
        bucket.owner ??= owner;
        bucket.items.push(item);
      }
      if (escalates) (bucket.escalate ??= []).push(item);
    }
    if (wantGrace) {
      const key = graceEndedKey(item.assignmentId);
      if (!wasSent(key)) {
        let g = graceByConversation.get(conversationId!);
        if (!g) graceByConversation.set(conversationId!, (g = { conversationId: conversationId!, items: [] }));
        g.items.push({ key, item });
      }
    }
  }

  const digests: OwnerDigestPlan[] = [];
  const nudges: NudgePlan[] = [];
  for (const { owner, items } of byOwner.values()) {
    if (owner === undefined) continue;
    items.sort(compareItems);
    const dueSoon =
      nudgeWindow > 0
        ? items
            .filter((i) => i.daysLeft >= 0 && i.daysLeft <= nudgeWindow)
            .map((item) => ({ key: nudgeKey(item.assignmentId, item.dueDate), item }))
            .filter((n) => !wasSent(n.key))
        : [];
    const key = digestKey(owner, week);
    if (!wasSent(key)) {
      // The digest already lists these under "Due this week": a separate nudge would repeat it.
      digests.push({ key, owner, items, counts: countsOf(items), nudgeKeys: dueSoon.map((n) => n.key) });
    } else if (dueSoon.length > 0) {
      nudges.push({ owner, items: dueSoon });
    }
  }

  const escalations: EscalationPlan[] = [];
  for (const { escalate: items } of byOwner.values()) if (items) escalations.push({ owner: items[0]!.owner, items: items.sort(compareItems) });

  const graceEnded = [...graceByConversation.values()];
  for (const g of graceEnded) g.items.sort((x, y) => compareItems(x.item, y.item));

  const byOwnerName = (x: { owner: string }, y: { owner: string }) => cmp(x.owner.toLowerCase(), y.owner.toLowerCase());
  return { ...empty, digests: digests.sort(byOwnerName), nudges: nudges.sort(byOwnerName), escalations: escalations.sort(byOwnerName), graceEnded };
}
