/** Reminder cards: owner digest, due-soon nudge, manager escalation, grace-period end, more-time form. */
import { daysText, GRACE_TEXT, summaryLine, type OwnerDigestPlan, type ReminderGroup, type ReminderItem } from '../core/reminders.js';
import type { Severity } from '../core/model.js';
import digestTemplate from './digest.json';
import graceEndedTemplate from './graceEnded.json';
import managerDigestTemplate from './managerDigest.json';
import moreTimeTemplate from './moreTime.json';
import nudgeTemplate from './nudge.json';
import { formErrorParts, type FormErrorParts } from './formErrors.js';
import { CardTooLargeError, defineCard, type AdaptiveCard, type RenderContext } from './render.js';

export interface DigestItemModel {
  assignmentId: string;
  title: string;
  resource: string;
  severity: Severity;
  /** "2026-12-01 · 3 days left" */
  dueText: string;
  grace: string;
  /** "INC0010023" or "not created yet" */
  ticketText: string;
  /** Empty when there is no ticket yet (the button is left out). */
  ticketLink: string;
  defenderLink: string;
  /** "2026-12-20 (waiting for a security admin)" or empty. */
  etaText: string;
}

export interface DigestGroupModel {
  title: string;
  color: 'Attention' | 'Warning' | 'Default';
  items: DigestItemModel[];
}

export interface OwnerDigestModel {
  greeting: string;
  /** The summary line, e.g. "3 open, 1 overdue". */
  headline: string;
  intro: string;
  groups: DigestGroupModel[];
  /** Items left out to keep the card inside Teams' size limit, or empty. */
  moreText: string;
  /** Governance rules whose fallback contact this owner is: what they could not assign. */
  needsOwner: Array<{ title: string; text: string; lines: string[] }>;
  footer: string;
}

/** A rule's needs-an-owner list as a digest shows it (app/rules.ts#needsOwnerByContact). */
export interface DigestNeedsOwnerInput {
  ruleName: string;
  count: number;
  entries: ReadonlyArray<{ resourceName: string; recommendationName: string; reason: string }>;
}

/** Findings per rule listed in a digest; the rest are in `rules`. */
export const MAX_DIGEST_NEEDS_OWNER = 5;

export interface NudgeModel {
  headline: string;
  items: Array<{ assignmentId: string; title: string; detail: string; ticketLink: string; defenderLink: string }>;
}

export interface ManagerDigestModel {
  greeting: string;
  headline: string;
  intro: string;
  reports: Array<{ title: string; lines: string[] }>;
  footer: string;
}

export interface GraceEndedModel {
  headline: string;
  text: string;
  lines: string[];
}

export interface MoreTimeFormModel {
  assignmentId: string;
  title: string;
  resource: string;
  dueText: string;
  etaText: string;
  /** YYYY-MM-DD bounds of the date picker: tomorrow … a year from today. */
  minDate: string;
  maxDate: string;
  suggestedDate: string;
  /** Problems of the last submission by input id ("Reason: write at least 10 characters"). */
  errors?: Readonly<Record<string, string>>;
  /** What the owner typed, kept when the form comes back with errors. */
  values?: { eta?: string; justification?: string };
}

/** Inputs of the more-time form with an error line of their own. */
export const MORE_TIME_FIELDS = ['eta', 'justification'] as const;

export const ownerDigestCard = defineCard<OwnerDigestModel>(digestTemplate);
export const nudgeCard = defineCard<NudgeModel>(nudgeTemplate);
export const managerDigestCard = defineCard<ManagerDigestModel>(managerDigestTemplate);
export const graceEndedCard = defineCard<GraceEndedModel>(graceEndedTemplate);
const moreTimeTemplateCard = defineCard<MoreTimeFormModel & FormErrorParts<(typeof MORE_TIME_FIELDS)[number]> & { eta: string; justification: string }>(
  moreTimeTemplate,
);

export function moreTimeFormCard(model: MoreTimeFormModel, ctx: RenderContext): AdaptiveCard {
  return moreTimeTemplateCard(
    {
      ...model,
      eta: model.values?.eta || model.suggestedDate,
      justification: model.values?.justification ?? '',
      ...formErrorParts(model.errors ?? {}, MORE_TIME_FIELDS, 'Nothing was sent'),
    },
    ctx,
  );
}

const GROUPS: Array<{ group: ReminderGroup; title: string; color: DigestGroupModel['color'] }> = [
  { group: 'overdue', title: 'Overdue', color: 'Attention' },
  { group: 'thisWeek', title: 'Due this week', color: 'Warning' },
  { group: 'later', title: 'Later', color: 'Default' },
];

/** Items per digest card: 12 fit well inside the 28 KB card budget with long names. */
export const MAX_DIGEST_ITEMS = 12;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "alice.owner@contoso.com" → "Alice"; display names win when known. */
export function firstName(owner: string, displayName?: string): string {
  if (displayName?.trim()) return displayName.trim().split(/\s+/)[0]!;
  const local = owner.split('@')[0] ?? owner;
  const first = local.split(/[._-]/)[0] ?? local;
  return first ? first[0]!.toUpperCase() + first.slice(1) : owner;
}

export function dueText(item: Pick<ReminderItem, 'dueDate' | 'daysLeft'>): string {
  return `${item.dueDate} · ${daysText(item.daysLeft)}`;
}

export function digestItemModel(item: ReminderItem): DigestItemModel {
  return {
    assignmentId: item.assignmentId,
    title: item.recommendationName,
    resource: item.resourceName,
    severity: item.severity,
    dueText: dueText(item),
    grace: GRACE_TEXT[item.grace],
    ticketText: item.ticketNumber ?? 'not created yet',
    ticketLink: item.ticketLink ?? '',
    defenderLink: item.defenderLink,
    etaText: item.eta ? `${item.eta} (waiting for a security admin)` : '',
  };
}

export function ownerDigestModel(
  plan: Pick<OwnerDigestPlan, 'owner' | 'items' | 'counts'>,
  opts: { displayName?: string; maxItems?: number; onDemand?: boolean; needsOwner?: readonly DigestNeedsOwnerInput[] } = {},
): OwnerDigestModel {
  const max = opts.maxItems ?? MAX_DIGEST_ITEMS;
  // Items arrive most urgent first, so a cut drops the latest ones.
  const shown = plan.items.slice(0, max);
  const groups = GROUPS.map(({ group, title, color }) => {
    const items = shown.filter((i) => i.group === group);
    return { title: `${title} (${plan.counts[group]})`, color, items: items.map(digestItemModel) };
  }).filter((g) => g.items.length > 0);
  const hidden = plan.items.length - shown.length;
  const { counts } = plan;
  const intro =
    counts.overdue > 0
      ? `${counts.overdue === 1 ? '1 item is past its due date and now counts' : `${counts.overdue} items are past their due date and now count`} against the secure score. Please fix ${counts.overdue === 1 ? 'it' : 'them'} first, or ask for more time.`
      : counts.thisWeek > 0
        ? `${plural(counts.thisWeek, 'item is', 'items are')} due this week.`
        : 'Nothing is overdue. Thank you for keeping on top of these.';
  const needsOwner = (opts.needsOwner ?? []).map((n) => ({
    title: `Findings that need an owner (rule ${n.ruleName}): ${n.count}`,
    text: 'You are the fallback contact of this rule, and no owner could be found for these: give the resource an owner tag, or assign them from the recommendation card.',
    lines: [
      ...n.entries.slice(0, MAX_DIGEST_NEEDS_OWNER).map((e) => `- ${e.resourceName} (${e.recommendationName}): ${e.reason}`),
      ...(n.count > MAX_DIGEST_NEEDS_OWNER ? [`- …and ${n.count - MAX_DIGEST_NEEDS_OWNER} more: type **rules** to see them.`] : []),
    ],
  }));
  const unownedTotal = (opts.needsOwner ?? []).reduce((sum, n) => sum + n.count, 0);
  return {
    greeting: `Hi ${firstName(plan.owner, opts.displayName)},`,
    headline:
      counts.open === 0 && unownedTotal > 0
        ? `Your weekly security digest: ${plural(unownedTotal, 'finding needs', 'findings need')} an owner`
        : `${opts.onDemand ? 'Your security assignments' : 'Your weekly security assignments'}: ${summaryLine(counts)}`,
    intro: counts.open === 0 && unownedTotal > 0 ? 'Nothing is assigned to you.' : intro,
    groups,
    needsOwner,
    moreText: hidden > 0 ? `…and ${plural(hidden, 'more item')} due later, not shown here. Type **digest** to see your list at any time.` : '',
    footer: opts.onDemand
      ? 'Assigned to you from Microsoft Defender for Cloud recommendations.'
      : 'You get this every week while you own open Defender for Cloud recommendations. Type **digest** to see it at any time.',
  };
}

/** Renders the digest, showing fewer items when long names would break Teams' size limit. */
export function renderOwnerDigest(
  plan: Pick<OwnerDigestPlan, 'owner' | 'items' | 'counts'>,
  ctx: RenderContext,
  opts: { displayName?: string; onDemand?: boolean; needsOwner?: readonly DigestNeedsOwnerInput[] } = {},
): AdaptiveCard {
  for (let max = MAX_DIGEST_ITEMS; ; max = Math.floor(max / 2)) {
    try {
      return ownerDigestCard(ownerDigestModel(plan, { ...opts, maxItems: max }), ctx);
    } catch (err) {
      if (!(err instanceof CardTooLargeError) || max <= 1) throw err;
    }
  }
}

export function nudgeModel(items: readonly ReminderItem[]): NudgeModel {
  const headline =
    items.length === 1
      ? `Reminder: "${items[0]!.recommendationName}" on ${items[0]!.resourceName} is ${daysText(items[0]!.daysLeft)}.`
      : `Reminder: ${items.length} of your assignments are due soon.`;
  return {
    headline,
    items: items.slice(0, MAX_DIGEST_ITEMS).map((i) => ({
      assignmentId: i.assignmentId,
      title: `${i.recommendationName}`,
      // The date first: in the middle of a wrapped line a narrow column breaks it as "2026-/12-20".
      detail: `Due ${dueText(i)} · ${i.resourceName} · ${i.severity} · ${i.ticketNumber ?? 'ticket not created yet'} · ${GRACE_TEXT[i.grace]}`,
      ticketLink: i.ticketLink ?? '',
      defenderLink: i.defenderLink,
    })),
  };
}

export function renderNudge(items: readonly ReminderItem[], ctx: RenderContext): AdaptiveCard {
  return nudgeCard(nudgeModel(items), ctx);
}

/** One line per item, the due date first (it starts the line, so it never wraps apart), with the ticket and Defender as links. */
export function itemLine(i: ReminderItem): string {
  const ticket = i.ticketNumber && i.ticketLink ? `[${i.ticketNumber}](${i.ticketLink})` : (i.ticketNumber ?? 'no ticket yet');
  return `- Due ${i.dueDate} (${daysText(i.daysLeft)}) · **${i.recommendationName}** · ${i.resourceName} · ${i.severity} · ${ticket} · [Defender](${i.defenderLink})`;
}

export interface ManagerReport {
  owner: string;
  displayName?: string;
  items: ReminderItem[];
}

const MAX_MANAGER_LINES = 40;

export function managerDigestModel(manager: { upn: string; displayName?: string }, reports: readonly ManagerReport[]): ManagerDigestModel {
  const total = reports.reduce((n, r) => n + r.items.length, 0);
  let budget = MAX_MANAGER_LINES;
  return {
    greeting: `Hi ${firstName(manager.upn, manager.displayName)},`,
    headline: `${plural(total, 'overdue security item')} across ${plural(reports.length, 'report')}`,
    intro:
      'These Defender for Cloud recommendations are past their due date and now count against the secure score. You get this because the assignments were created with manager notification on.',
    reports: reports.map((r) => {
      const lines = r.items.slice(0, Math.max(1, budget)).map(itemLine);
      budget -= lines.length;
      const hidden = r.items.length - lines.length;
      if (hidden > 0) lines.push(`…and ${plural(hidden, 'more')}`);
      return { title: `${r.displayName ? `${r.displayName} (${r.owner})` : r.owner}: ${r.items.length} overdue`, lines };
    }),
    footer: 'Sent weekly while any of your reports has overdue items.',
  };
}

export function renderManagerDigest(manager: { upn: string; displayName?: string }, reports: readonly ManagerReport[], ctx: RenderContext): AdaptiveCard {
  return managerDigestCard(managerDigestModel(manager, reports), ctx);
}

const MAX_GRACE_LINES = 30;

export function graceEndedModel(items: readonly ReminderItem[]): GraceEndedModel {
  const lines = items.slice(0, MAX_GRACE_LINES).map((i) => `${itemLine(i)} · owner ${i.owner}`);
  if (items.length > lines.length) lines.push(`…and ${plural(items.length - lines.length, 'more')}`);
  return {
    headline:
      items.length === 1
        ? 'Grace period ended: now affecting the secure score'
        : `Grace period ended for ${items.length} assignments: now affecting the secure score`,
    text: `The due date passed without a fix, so ${items.length === 1 ? 'this resource now counts' : 'these resources now count'} against the Microsoft Secure Score.`,
    lines,
  };
}

export function renderGraceEnded(items: readonly ReminderItem[], ctx: RenderContext): AdaptiveCard {
  return graceEndedCard(graceEndedModel(items), ctx);
}
