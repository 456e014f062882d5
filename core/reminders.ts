/**
 * Reminder planning: which owner digests, due-soon nudges, manager escalations and grace-period
 * announcements one pass should send. Pure: the caller passes the assignments, "now", the
 * timezone and what was already sent; the job does the sending and claims the keys.
 */
import { daysBetween, localDay, localTime } from './calendar.js';
import { recommendationPortalLink } from './defender-model.js';
import type { Assignment, Severity } from './model.js';
import { isRemindable } from './lifecycle.js';

export interface QuietHours {
  /** HH:mm, local time in the reminder timezone. */
  start: string;
  end: string;
}

export interface ReminderSettings {
  /** A nudge goes out when an item is due within this many days; 0 turns nudges off. */
  remindDaysBefore: number;
  quietHours?: QuietHours;
}

export const DEFAULT_REMINDER_SETTINGS: ReminderSettings = { remindDaysBefore: 3 };

/** Overdue: the due date is before today. Due this week: due today or in the next 6 days. */
export type ReminderGroup = 'overdue' | 'thisWeek' | 'later';

export type GraceState = 'in-grace' | 'grace-ended' | 'none';

export const GRACE_TEXT: Record<GraceState, string> = {
  'in-grace': 'in grace period (not affecting secure score)',
  'grace-ended': 'grace period ended (affecting secure score)',
  none: 'no grace period (affecting secure score)',
};

export interface ReminderItem {
  assignmentId: string;
  owner: string;
  recommendationKey: string;
  recommendationName: string;
  resourceId: string;
  resourceName: string;
  severity: Severity;
  /** YYYY-MM-DD */
  dueDate: string;
  /** Days from today (in the reminder timezone) to the due date; negative when overdue. */
  daysLeft: number;
  group: ReminderGroup;
  grace: GraceState;
  ticketNumber?: string;
  ticketLink?: string;
  defenderLink: string;
  /** The owner's proposed new date, when they asked for more time. */
  eta?: string;
  conversationId?: string;
  notifyManager: boolean;
}

export interface OwnerDigestPlan {
  key: string;
  owner: string;
  items: ReminderItem[];
  counts: { open: number; overdue: number; thisWeek: number; later: number };
  /** Nudge keys this digest covers (its "Due this week" group shows them), claimed with it. */
  nudgeKeys: string[];
}

export interface NudgePlan {
  owner: string;
  /** One message per owner; one key per item. */
  items: Array<{ key: string; item: ReminderItem }>;
}

export interface EscalationPlan {
  /** The report whose manager is resolved later (Graph). */
  owner: string;
  items: ReminderItem[];
}

export interface GraceEndedPlan {
  conversationId: string;
  items: Array<{ key: string; item: ReminderItem }>;
}

/**
 * One pass's plan: which messages go out, each holding the rows it is about, not their items.
 * A pass decides about every remindable assignment but sends a few thousand messages, one at a
 * time; each message's items are built (and sorted) by digestOf / nudgeOf / escalationOf /
 * graceEndedOf when it is sent, so planning 100,000 rows allocates next to nothing per row.
 */
export interface ReminderPlan {
  /** Local date in the reminder timezone. */
  today: string;
  /** ISO week of `today`, e.g. 2026-W48: the period of digests and escalations. */
  week: string;
  quiet: boolean;
  digests: PlannedDigest[];
  nudges: PlannedNudge[];
  escalations: PlannedEscalation[];
  graceEnded: PlannedGraceEnded[];
  /** What building a message's items needs: the pass's day, nudge window and sent keys. */
  readonly pass: PlannedPass;
}

export interface PlannedDigest {
  key: string;
  owner: string;
  /** The owner's remindable assignments with notifications on, in the order the store gave them. */
  rows: readonly Assignment[];
}

export interface PlannedNudge {
  owner: string;
  /** Due soon and not nudged yet: one key per row. */
  rows: ReadonlyArray<{ key: string; row: Assignment }>;
}

export interface PlannedEscalation {
  owner: string;
  rows: readonly Assignment[];
}

export interface PlannedGraceEnded {
  conversationId: string;
  /**
   * Overdue rows with a grace period: at least one not announced yet (planning stops asking
   * about a conversation's keys once it found one); graceEndedOf drops the announced ones.
   */
  rows: readonly Assignment[];
}

export interface PlannedPass {
  readonly today: string;
  readonly todayNumber: number;
  readonly nudgeWindow: number;
  readonly wasSent: (key: string) => boolean;
  /** Recommendation key → portal link, shared by the pass's messages. */
  readonly portalLinks: Map<string, string>;
}

/** Every message of a plan with its items built: what tests compare, and what a pass would send. */
export interface MaterialisedPlan {
  today: string;
  week: string;
  quiet: boolean;
  digests: OwnerDigestPlan[];
  nudges: NudgePlan[];
  escalations: EscalationPlan[];
  graceEnded: GraceEndedPlan[];
}

export interface PlanInput {
  assignments: Iterable<Assignment>;
  now: Date;
  timezone: string;
  settings: ReminderSettings;
  /** Keys recorded by earlier passes (store.reminders.wasSent). */
  wasSent: (key: string) => boolean;
  /** Ids of conversations the bot can post to; grace announcements elsewhere are not planned. */
  conversations?: ReadonlySet<string>;
}

export const digestKey = (owner: string, week: string) => `digest:${owner.toLowerCase()}:${week}`;
export const managerKey = (manager: string, week: string) => `manager:${manager.toLowerCase()}:${week}`;
export const graceEndedKey = (assignmentId: string) => `grace-ended:${assignmentId}`;
export const nudgeKey = (assignmentId: string, dueDate: string) => `nudge:${assignmentId}:${dueDate}`;

// ------------------------------------------------------------------ time in a timezone

// Re-exported: callers (config, the more-time and due-date actions) import them from here.
export { addDays, daysBetween, isValidTimeZone, localTime } from './calendar.js';

const DAY_MS = 86_400_000;
const dayNumber = (day: string) => Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / DAY_MS;

/** ISO-8601 week (weeks start on Monday; week 1 holds the first Thursday), e.g. 2026-W01. */
export function isoWeek(day: string): string {
  const n = dayNumber(day);
  const weekday = (new Date(n * DAY_MS).getUTCDay() + 6) % 7; // Monday = 0
  const thursday = new Date((n - weekday + 3) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** "20:00-07:00" → {start, end}; undefined when malformed. */
export function parseQuietHours(text: string): QuietHours | undefined {
  const m = /^\s*(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})\s*$/.exec(text);
  if (!m || !HHMM.test(m[1]!) || !HHMM.test(m[2]!) || m[1] === m[2]) return undefined;
  return { start: m[1]!, end: m[2]! };
}

/** Start inclusive, end exclusive; a window whose end is earlier than its start spans midnight. */
export function inQuietHours(localHHmm: string, quiet: QuietHours | undefined): boolean {
  if (!quiet) return false;
  const { start, end } = quiet;
  return start <= end ? localHHmm >= start && localHHmm < end : localHHmm >= start || localHHmm < end;
}

// ------------------------------------------------------------------ planning

export function groupOf(daysLeft: number): ReminderGroup {
  return daysLeft < 0 ? 'overdue' : daysLeft < 7 ? 'thisWeek' : 'later';
}

export function graceStateOf(gracePeriod: boolean, daysLeft: number): GraceState {
  return !gracePeriod ? 'none' : daysLeft < 0 ? 'grace-ended' : 'in-grace';
}

function passOf(today: string, nudgeWindow: number, wasSent: (key: string) => boolean): PlannedPass {
  return { today, todayNumber: dayNumberOf(today), nudgeWindow, wasSent, portalLinks: new Map() };
}

/** Days from the pass's today to a due date; daysBetween (through Date) only for what dayNumberOf cannot read. */
function daysLeftOf(dueDate: string, pass: PlannedPass): number {
  const due = dayNumberOf(dueDate);
  return Number.isNaN(due) || Number.isNaN(pass.todayNumber) ? daysBetween(pass.today, dueDate) : due - pass.todayNumber;
}

/** Plain assignments, no spreads: a digest of an owner with hundreds of items builds them all at once. */
function toItem(a: Assignment, pass: PlannedPass): ReminderItem {
  const daysLeft = daysLeftOf(a.dueDate, pass);
  let defenderLink = pass.portalLinks.get(a.recommendationKey);
  if (defenderLink === undefined) {
    defenderLink = recommendationPortalLink(a.recommendationKey);
    pass.portalLinks.set(a.recommendationKey, defenderLink);
  }
  const item: ReminderItem = {
    assignmentId: a.id,
    owner: a.owner,
    recommendationKey: a.recommendationKey,
    recommendationName: a.recommendationName,
    resourceId: a.resourceId,
    resourceName: a.resourceName,
    severity: a.severity,
    dueDate: a.dueDate,
    daysLeft,
    group: groupOf(daysLeft),
    grace: graceStateOf(a.gracePeriod, daysLeft),
    ticketNumber: a.ticket?.number,
    ticketLink: a.ticket?.link,
    defenderLink,
    eta: a.eta?.date,
    conversationId: a.conversationId,
    notifyManager: a.notifyManager,
  };
  return item;
}

const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

const severityRank = (s: Severity) => (s === 'High' ? 0 : s === 'Medium' ? 1 : 2);

/**
 * Most urgent first: earliest due date, then severity, then name (stable output for tests and cards).
 * Early returns, no rank table: a digest of hundreds of items makes thousands of these calls.
 */
export function compareItems(a: ReminderItem, b: ReminderItem): number {
  // NaN days (an unreadable due date) are falsy, so they fall through to severity, as `||` did.
  const days = a.daysLeft - b.daysLeft;
  if (days) return days;
  const severity = severityRank(a.severity) - severityRank(b.severity);
  if (severity) return severity;
  const an = a.recommendationName,
    bn = b.recommendationName;
  if (an !== bn) return an < bn ? -1 : 1;
  return cmp(a.resourceName, b.resourceName);
}

function countsOf(items: readonly ReminderItem[]): OwnerDigestPlan['counts'] {
  const c = { open: items.length, overdue: 0, thisWeek: 0, later: 0 };
  for (const i of items) c[i.group]++;
  return c;
}

const sortedItems = (rows: readonly Assignment[], pass: PlannedPass) => rows.map((r) => toItem(r, pass)).sort(compareItems);

function keyedItems(rows: PlannedNudge['rows'], pass: PlannedPass): Array<{ key: string; item: ReminderItem }> {
  return rows.map(({ key, row }) => ({ key, item: toItem(row, pass) })).sort((x, y) => compareItems(x.item, y.item));
}

function graceRows(rows: readonly Assignment[], pass: PlannedPass): Array<{ key: string; row: Assignment }> {
  const out: Array<{ key: string; row: Assignment }> = [];
  for (const row of rows) {
    const key = graceEndedKey(row.id);
    if (!pass.wasSent(key)) out.push({ key, row });
  }
  return out;
}

const inNudgeWindow = (daysLeft: number, pass: PlannedPass) => pass.nudgeWindow > 0 && daysLeft >= 0 && daysLeft <= pass.nudgeWindow;

/** A planned digest's items, most urgent first, and the nudges it covers (its "Due this week" group shows them). */
export function digestOf(plan: Pick<ReminderPlan, 'pass'>, d: PlannedDigest): OwnerDigestPlan {
  const { pass } = plan;
  const items = sortedItems(d.rows, pass);
  const nudgeKeys: string[] = [];
  for (const item of items) {
    if (!inNudgeWindow(item.daysLeft, pass)) continue;
    const key = nudgeKey(item.assignmentId, item.dueDate);
    if (!pass.wasSent(key)) nudgeKeys.push(key);
  }
  return { key: d.key, owner: d.owner, items, counts: countsOf(items), nudgeKeys };
}

export function nudgeOf(plan: Pick<ReminderPlan, 'pass'>, n: PlannedNudge): NudgePlan {
  return { owner: n.owner, items: keyedItems(n.rows, plan.pass) };
}

export function escalationOf(plan: Pick<ReminderPlan, 'pass'>, e: PlannedEscalation): EscalationPlan {
  return { owner: e.owner, items: sortedItems(e.rows, plan.pass) };
}

export function graceEndedOf(plan: Pick<ReminderPlan, 'pass'>, g: PlannedGraceEnded): GraceEndedPlan {
  return { conversationId: g.conversationId, items: keyedItems(graceRows(g.rows, plan.pass), plan.pass) };
}

/** Every message's items built at once (tests, and what a pass sends when every message goes out). */
export function materialisePlan(plan: ReminderPlan): MaterialisedPlan {
  return {
    today: plan.today,
    week: plan.week,
    quiet: plan.quiet,
    digests: plan.digests.map((d) => digestOf(plan, d)),
    nudges: plan.nudges.map((n) => nudgeOf(plan, n)),
    escalations: plan.escalations.map((e) => escalationOf(plan, e)),
    graceEnded: plan.graceEnded.map((g) => graceEndedOf(plan, g)),
  };
}

/**
 * One owner's digest, whatever their notification settings (the `digest` command: they asked).
 * Owners compare case-insensitively, as UPNs do.
 */
export function ownerDigest(assignments: Iterable<Assignment>, owner: string, now: Date, timezone: string): OwnerDigestPlan {
  const today = localDay(now, timezone);
  const who = owner.toLowerCase();
  const rows: Assignment[] = [];
  for (const a of assignments) if (isRemindable(a) && a.owner.toLowerCase() === who) rows.push(a);
  const items = sortedItems(
    rows,
    passOf(today, 0, () => false),
  );
  return { key: digestKey(owner, isoWeek(today)), owner, items, counts: countsOf(items), nudgeKeys: [] };
}

/**
 * Every key planReminders (and building its messages) may pass to `wasSent` for these assignments
 * at `now`, so a caller can read them from the store in one go before planning (the planner itself
 * stays synchronous).
 */
export function plannedKeys(assignments: Iterable<Assignment>, now: Date, timezone: string): string[] {
  const week = isoWeek(localTime(now, timezone).date);
  const keys = new Set<string>();
  for (const a of assignments) {
    if (!isRemindable(a)) continue;
    if (a.notifyOwner) {
      keys.add(digestKey(a.owner, week));
      keys.add(nudgeKey(a.id, a.dueDate));
    }
    if (a.gracePeriod) keys.add(graceEndedKey(a.id));
  }
  return [...keys];
}

interface OwnerBucket {
  /** The owner lower-cased: digests, nudges and escalations are ordered by it. */
  lower: string;
  /** As the owner's first assignment with notifications on writes it; undefined: no digest. */
  owner: string | undefined;
  rows: Assignment[];
  escalate: Assignment[] | undefined;
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

const byLower = (x: OwnerBucket, y: OwnerBucket) => (x.lower < y.lower ? -1 : x.lower > y.lower ? 1 : 0);

/**
 * Plans one pass in one walk over the assignments, keeping row references only: per row it reads
 * the status and flags, reads the due date only when an escalation or a grace announcement hangs
 * on it being overdue, and files the row under its owner (one map lookup) or conversation.
 * Nothing is sorted per row or per item here: owners are ordered once by their lower-cased name,
 * and each message's items are built and sorted when it is sent (digestOf, …).
 */
export function planReminders(input: PlanInput): ReminderPlan {
  const { now, timezone, settings, wasSent } = input;
  const { date: today, time } = localTime(now, timezone);
  const week = isoWeek(today);
  const pass = passOf(today, Math.max(0, Math.floor(settings.remindDaysBefore)), wasSent);
  const empty: ReminderPlan = { today, week, quiet: false, digests: [], nudges: [], escalations: [], graceEnded: [], pass };
  if (inQuietHours(time, settings.quietHours)) return { ...empty, quiet: true };

  const todayNumber = pass.todayNumber;
  // One entry per owner as written (its lower-case bucket shared): one map lookup per assignment.
  const ownerOf = new Map<string, OwnerBucket>();
  const byOwner = new Map<string, OwnerBucket>();
  const graceByConversation = new Map<string, { conversationId: string; rows: Assignment[] }>();
  const conversations = input.conversations;

  for (const a of input.assignments) {
    // Each field read once: a pass reads 100,000 rows, and rows of many shapes make every read a slow one.
    if (!isRemindable(a)) continue;
    const notifyOwner = a.notifyOwner;
    const notifyManager = a.notifyManager;
    const gracePeriod = a.gracePeriod;
    let overdue = false;
    // A digest lists every row whatever its date: only escalations and grace announcements need it.
    if (notifyManager || gracePeriod) {
      const dueDate = a.dueDate;
      const due = dayNumberOf(dueDate);
      overdue = (Number.isNaN(due) || Number.isNaN(todayNumber) ? daysBetween(today, dueDate) : due - todayNumber) < 0;
    }
    const escalates = notifyManager && overdue;
    if (notifyOwner || escalates) {
      const owner = a.owner;
      let bucket = ownerOf.get(owner);
      if (!bucket) {
        const lower = owner.toLowerCase();
        bucket = byOwner.get(lower);
        if (!bucket) byOwner.set(lower, (bucket = { lower, owner: undefined, rows: [], escalate: undefined }));
        ownerOf.set(owner, bucket);
      }
      if (notifyOwner) {
        bucket.owner ??= owner;
        bucket.rows.push(a);
      }
      if (escalates) (bucket.escalate ??= []).push(a);
    }
    if (gracePeriod && overdue) {
      const conversationId = a.conversationId;
      if (conversationId === undefined) continue;
      const g = graceByConversation.get(conversationId);
      if (g) g.rows.push(a);
      // Until a conversation has one announcement to make, its rows are asked about here (the
      // plan lists only conversations with one, in the order they were found); after that,
      // graceEndedOf builds the keys when the announcement is sent.
      else if ((!conversations || conversations.has(conversationId)) && !wasSent(graceEndedKey(a.id)))
        graceByConversation.set(conversationId, { conversationId, rows: [a] });
    }
  }

  const buckets = [...byOwner.values()].sort(byLower);
  const digests: PlannedDigest[] = [];
  const nudges: PlannedNudge[] = [];
  const escalations: PlannedEscalation[] = [];
  for (const bucket of buckets) {
    const { owner, rows, escalate } = bucket;
    // Named as the owner's first escalating assignment spells it, as it always was.
    if (escalate) escalations.push({ owner: escalate[0]!.owner, rows: escalate });
    if (owner === undefined) continue;
    const key = digestKey(owner, week);
    // The digest lists the owner's due-soon rows under "Due this week" (its nudge keys are found
    // when it is built): only an owner whose digest went out already can get a separate nudge.
    if (!wasSent(key)) digests.push({ key, owner, rows });
    else if (pass.nudgeWindow > 0) {
      const dueSoon: Array<{ key: string; row: Assignment }> = [];
      for (const row of rows) {
        if (!inNudgeWindow(daysLeftOf(row.dueDate, pass), pass)) continue;
        const key = nudgeKey(row.id, row.dueDate);
        if (!wasSent(key)) dueSoon.push({ key, row });
      }
      if (dueSoon.length > 0) nudges.push({ owner, rows: dueSoon });
    }
  }

  return { ...empty, digests, nudges, escalations, graceEnded: [...graceByConversation.values()] };
}

// ------------------------------------------------------------------ wording

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "3 days left", "due today", "2 days overdue". */
export function daysText(daysLeft: number): string {
  if (daysLeft === 0) return 'due today';
  if (daysLeft === 1) return 'due tomorrow';
  return daysLeft > 0 ? `${plural(daysLeft, 'day')} left` : `${plural(-daysLeft, 'day')} overdue`;
}

/** "3 open, 1 overdue" (with "2 due this week" when there are some). */
export function summaryLine(counts: OwnerDigestPlan['counts']): string {
  const parts = [`${counts.open} open`, `${counts.overdue} overdue`];
  if (counts.thisWeek > 0) parts.push(`${counts.thisWeek} due this week`);
  return parts.join(', ');
}
