/**
 * Governance rules, the bot's own (core/model.ts `Rule`): which rule takes an unassigned finding,
 * who owns it, which tickets to open, and what a rule would do now (the preview). Pure: the
 * findings, the live assignment keys, the resource tags and "now" come in; plans come out.
 *
 * Order of evaluation (Defender's, with the tie rule for what Defender leaves open):
 *  1. Management-group rules before subscription rules, whatever their priority. Defender's
 *     governance-rules doc, "Conflicts": "Conflicting rules are applied in scope order. For
 *     example, rules on a management scope for Azure management groups … take effect before rules
 *     on scopes, like Azure subscriptions"; and "Rules for management scope … are applied before
 *     the rules on a single scope". Since a rule only assigns findings nobody owns yet, the rule
 *     applied first is the one that wins.
 *  2. Within the same level, priority: 1 first, 1000 last ("Rules are run in priority order from
 *     the highest (1) to the lowest (1000)"). The REST spec calls priority a per-scope order
 *     ("Rules with the same priority on the same subscription will not be allowed").
 *  3. Same level and same priority (rules on different scopes, which Defender allows): the scope
 *     nearer to the resource first (issue 15: "ties: nearer scope first") — a rule on a resource
 *     group before one on its subscription, a child management group before its parent.
 *  4. Then the older rule, then the id, so the order never depends on how rules were listed.
 * Disabled rules take nothing. A finding with a live assignment (manual or by a rule) is never
 * touched.
 *
 * Owners from tags: tag names compare case-insensitively (Azure's rule); the value is read from
 * the resource, then its resource group, then its subscription (Defender: "When an owner isn't
 * found on a resource, associated resource group, or associated subscription based on the tag, the
 * owner is shown as unspecified"). The nearest level that carries one of the rule's tag names
 * decides (within a level, the rule's tag names in their order); a value that is not an e-mail is
 * reported, not skipped over, so the admin sees the bad tag. A tag condition reads tags the same way.
 */
import { createHash } from 'node:crypto';
import { prefillTexts, selectionCorrelationKey } from './assignments.js';
import { addDays, localDay } from './calendar.js';
import type { Assignment, Recommendation, ResourceSnapshot, Rule, Severity } from './model.js';
import { ownerEmailSchema } from './model.js';
import type { Ancestry } from './recommendations.js';
import { correlationKey } from './servicenow-rules.js';

/** RULE_MAX_TICKETS_PER_SYNC when the configuration does not say. */
export const DEFAULT_RULE_MAX_TICKETS_PER_SYNC = 50;
/** Resources a preview lists by name. */
export const PREVIEW_SAMPLE_SIZE = 20;

const SEVERITY_RANK: Record<Severity, number> = { High: 0, Medium: 1, Low: 2 };
const lc = (s: string) => s.toLowerCase();

// ------------------------------------------------------------------ inputs

/** One unhealthy (recommendation, resource) pair, where it sits, and its assignment key. */
export interface RuleFinding {
  /** correlationKey(assessmentId, resourceId): the assignment key and the per-resource ticket's correlation id. */
  key: string;
  recommendationKey: string;
  recommendationName: string;
  severity: Severity;
  assessmentId: string;
  resourceId: string;
  resourceName: string;
  resourceType: string;
  subscriptionId: string;
  resourceGroup?: string;
  /** Management groups above the subscription, nearest first (ARG's managementGroupAncestorsChain). */
  managementGroups: readonly string[];
}

const RG_OF = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i;

/** The findings of the stored unhealthy recommendations, with their management-group ancestry. */
export function findingsOf(recommendations: Iterable<Recommendation>, ancestry: Ancestry): RuleFinding[] {
  const out: RuleFinding[] = [];
  for (const rec of recommendations) {
    if (rec.status !== 'unhealthy') continue;
    for (const r of rec.resources) {
      const resourceGroup = r.resourceGroup ?? RG_OF.exec(r.resourceId)?.[1];
      out.push({
        key: correlationKey(r.assessmentId, r.resourceId),
        recommendationKey: rec.key,
        recommendationName: rec.displayName,
        severity: rec.severity,
        assessmentId: r.assessmentId,
        resourceId: r.resourceId,
        resourceName: r.name,
        resourceType: r.type,
        subscriptionId: r.subscriptionId,
        ...(resourceGroup ? { resourceGroup } : {}),
        managementGroups: ancestry.get(lc(r.subscriptionId)) ?? [],
      });
    }
  }
  return out;
}

/** Tag name (lower case) → value. */
export type TagMap = ReadonlyMap<string, string>;

/**
 * Tags as Resource Graph returned them. A resource missing from `resources` was not returned (its
 * tags are unknown: rules that need them wait for the next sync); an empty map means "no tags".
 * Resource groups and subscriptions missing from theirs have no tags to inherit.
 */
export interface TagSource {
  /** Lower-case resource id → tags. */
  resources: ReadonlyMap<string, TagMap>;
  /** `{subscriptionId}/{resourceGroup}`, lower case → tags. */
  resourceGroups: ReadonlyMap<string, TagMap>;
  /** Lower-case subscription id → tags. */
  subscriptions: ReadonlyMap<string, TagMap>;
}

export const NO_TAGS: TagSource = { resources: new Map(), resourceGroups: new Map(), subscriptions: new Map() };

type RawTags = Readonly<Record<string, string>> | null | undefined;

function tagMap(tags: RawTags): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(tags ?? {})) {
    // Azure tag names are unique case-insensitively; the first spelling is kept.
    const k = lc(name.trim());
    if (!out.has(k) && typeof value === 'string') out.set(k, value);
  }
  return out;
}

/** Builds a TagSource from the rows of connectors/defender (getResourceTags). */
export function buildTagSource(input: {
  resources?: ReadonlyArray<{ id: string; tags: RawTags }>;
  resourceGroups?: ReadonlyArray<{ subscriptionId: string; name: string; tags: RawTags }>;
  subscriptions?: ReadonlyArray<{ subscriptionId: string; tags: RawTags }>;
}): TagSource {
  return {
    resources: new Map((input.resources ?? []).map((r) => [lc(r.id), tagMap(r.tags)])),
    resourceGroups: new Map((input.resourceGroups ?? []).map((g) => [lc(`${g.subscriptionId}/${g.name}`), tagMap(g.tags)])),
    subscriptions: new Map((input.subscriptions ?? []).map((s) => [lc(s.subscriptionId), tagMap(s.tags)])),
  };
}

type TagLevel = 'resource' | 'resourceGroup' | 'subscription';
const LEVEL_TEXT: Record<TagLevel, string> = { resource: 'the resource', resourceGroup: 'its resource group', subscription: 'its subscription' };

/** The tag maps that apply to a finding, nearest first; undefined when the resource's own tags are unknown. */
function tagLevels(f: RuleFinding, src: TagSource): Array<[TagLevel, TagMap]> | undefined {
  const sub = lc(f.subscriptionId);
  const id = lc(f.resourceId);
  const rgKey = f.resourceGroup ? `${sub}/${lc(f.resourceGroup)}` : undefined;
  // Subscriptions and resource groups are findings too (subscription-level recommendations): their own tags are the container's.
  const isSubscription = id === `/subscriptions/${sub}`;
  const isGroup = rgKey !== undefined && id === `/subscriptions/${sub}/resourcegroups/${lc(f.resourceGroup!)}`;
  const own = isSubscription ? src.subscriptions.get(sub) : isGroup ? src.resourceGroups.get(rgKey) : src.resources.get(id);
  if (!own) return undefined;
  const levels: Array<[TagLevel, TagMap]> = [['resource', own]];
  if (rgKey && !isGroup && !isSubscription) {
    const rg = src.resourceGroups.get(rgKey);
    if (rg) levels.push(['resourceGroup', rg]);
  }
  if (!isSubscription) {
    const s = src.subscriptions.get(sub);
    if (s) levels.push(['subscription', s]);
  }
  return levels;
}

function findTag(levels: ReadonlyArray<[TagLevel, TagMap]>, names: readonly string[]): { level: TagLevel; name: string; value: string } | undefined {
  for (const [level, tags] of levels) {
    for (const name of names) {
      const value = tags.get(name);
      if (value !== undefined) return { level, name, value };
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ compiled rules and the order

interface Compiled {
  rule: Rule;
  /** 0: management group (applied first), 1: subscription. */
  tier: 0 | 1;
  mg?: string;
  subscription?: string;
  resourceGroup?: string;
  excludedGroups: Set<string>;
  excludedSubscriptions: Set<string>;
  excludedResourceGroups: Set<string>;
  severities?: Set<Severity>;
  recommendations?: Set<string>;
  tag?: { name: string; value: string };
  ownerTags: string[];
  needsTags: boolean;
}

const MG_SCOPE = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i;
const SUB_SCOPE = /^\/subscriptions\/([^/]+)$/i;
const RG_SCOPE = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)$/i;

function compile(rule: Rule): Compiled {
  const mg = MG_SCOPE.exec(rule.scope)?.[1];
  const sub = SUB_SCOPE.exec(rule.scope)?.[1];
  const c: Compiled = {
    rule,
    tier: mg ? 0 : 1,
    ...(mg ? { mg: lc(mg) } : {}),
    ...(sub ? { subscription: lc(sub) } : {}),
    ...(rule.resourceGroup ? { resourceGroup: lc(rule.resourceGroup) } : {}),
    excludedGroups: new Set(),
    excludedSubscriptions: new Set(),
    excludedResourceGroups: new Set(),
    ...(rule.conditions.severities.length ? { severities: new Set(rule.conditions.severities) } : {}),
    ...(rule.conditions.recommendations.length ? { recommendations: new Set(rule.conditions.recommendations.map((r) => lc(r.trim()))) } : {}),
    ...(rule.conditions.tag ? { tag: { name: lc(rule.conditions.tag.name.trim()), value: rule.conditions.tag.value } } : {}),
    ownerTags: rule.owner.kind === 'tag' ? rule.owner.tags.map((t) => lc(t.trim())) : [],
    needsTags: rule.owner.kind === 'tag' || rule.conditions.tag !== undefined,
  };
  for (const scope of rule.excludedScopes) {
    let m = MG_SCOPE.exec(scope);
    if (m) c.excludedGroups.add(lc(m[1]!));
    else if ((m = RG_SCOPE.exec(scope))) c.excludedResourceGroups.add(lc(`${m[1]}/${m[2]}`));
    else if ((m = SUB_SCOPE.exec(scope))) c.excludedSubscriptions.add(lc(m[1]!));
  }
  return c;
}

/** Rules in the order they are evaluated (level, priority, age, id); ties of scope distance are per finding. */
export function evaluationOrder<R extends Rule>(rules: readonly R[]): R[] {
  return rules
    .map((r) => ({ r, c: compile(r) }))
    .sort((a, b) => compareCompiled(a.c, b.c))
    .map((x) => x.r);
}

function compareCompiled(a: Compiled, b: Compiled): number {
  return (
    a.tier - b.tier ||
    a.rule.priority - b.rule.priority ||
    (a.rule.createdAt < b.rule.createdAt ? -1 : a.rule.createdAt > b.rule.createdAt ? 1 : 0) ||
    (a.rule.id < b.rule.id ? -1 : a.rule.id > b.rule.id ? 1 : 0)
  );
}

/** Lower-cased fields of a finding, computed once per finding rather than once per rule. */
interface View {
  f: RuleFinding;
  sub: string;
  rg: string | undefined;
  groups: string[];
  key: string;
  name: string;
}

function view(f: RuleFinding): View {
  return {
    f,
    sub: lc(f.subscriptionId),
    rg: f.resourceGroup ? lc(f.resourceGroup) : undefined,
    groups: f.managementGroups.map(lc),
    key: lc(f.recommendationKey),
    name: lc(f.recommendationName.trim()),
  };
}

/** How near the rule's scope is to the finding (0 resource group, 1 subscription, 2+ management groups); undefined: not covered. */
function distance(c: Compiled, v: View): number | undefined {
  if (c.mg !== undefined) {
    const i = v.groups.indexOf(c.mg);
    return i < 0 ? undefined : 2 + i;
  }
  if (c.subscription !== v.sub) return undefined;
  if (c.resourceGroup === undefined) return 1;
  return c.resourceGroup === v.rg ? 0 : undefined;
}

/** Everything but the tag condition: scope, exclusions, severity, recommendation. */
function staticMatch(c: Compiled, v: View): number | undefined {
  const d = distance(c, v);
  if (d === undefined) return undefined;
  if (c.excludedSubscriptions.has(v.sub)) return undefined;
  if (c.excludedGroups.size && v.groups.some((g) => c.excludedGroups.has(g))) return undefined;
  if (c.excludedResourceGroups.size && v.rg !== undefined && c.excludedResourceGroups.has(`${v.sub}/${v.rg}`)) return undefined;
  if (c.severities && !c.severities.has(v.f.severity)) return undefined;
  if (c.recommendations && !c.recommendations.has(v.key) && !c.recommendations.has(v.name)) return undefined;
  return d;
}

function tagMatch(c: Compiled, levels: ReadonlyArray<[TagLevel, TagMap]>): boolean {
  if (!c.tag) return true;
  return findTag(levels, [c.tag.name])?.value === c.tag.value;
}

/** Rules grouped by (level, priority): within a group the nearer scope wins. */
function buckets(rules: readonly Rule[]): Compiled[][] {
  const sorted = rules
    .filter((r) => r.enabled)
    .map(compile)
    .sort(compareCompiled);
  const out: Compiled[][] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && last[0]!.tier === c.tier && last[0]!.rule.priority === c.rule.priority) last.push(c);
    else out.push([c]);
  }
  return out;
}

type Decision = { kind: 'none' } | { kind: 'rule'; rule: Compiled; levels?: ReadonlyArray<[TagLevel, TagMap]> } | { kind: 'deferred'; rule: Compiled };

/**
 * The rule that takes a finding. Tags are read only when the rule being tried needs them; when
 * they are unknown the finding waits (a rule further down must not take what this one might).
 */
function decide(order: readonly Compiled[][], v: View, tags: TagSource): Decision {
  let levels: ReadonlyArray<[TagLevel, TagMap]> | undefined | null = null;
  for (const bucket of order) {
    let best: { c: Compiled; d: number } | undefined;
    for (const c of bucket) {
      const d = staticMatch(c, v);
      if (d === undefined) continue;
      if (c.tag) {
        if (levels === null) levels = tagLevels(v.f, tags);
        if (levels === undefined) return { kind: 'deferred', rule: c };
        if (!tagMatch(c, levels)) continue;
      }
      if (!best || d < best.d) best = { c, d };
    }
    if (best) {
      if (best.c.needsTags) {
        if (levels === null) levels = tagLevels(v.f, tags);
        if (levels === undefined) return { kind: 'deferred', rule: best.c };
        return { kind: 'rule', rule: best.c, levels };
      }
      return { kind: 'rule', rule: best.c };
    }
  }
  return { kind: 'none' };
}

// ------------------------------------------------------------------ which tags to fetch

/**
 * The resources whose tags the next plan needs: unassigned findings whose deciding rule (the first
 * that matches them on everything but tags) has a tag condition or takes its owner from a tag.
 * Tags of every other resource are never fetched (issue 15: "only for the resources that matched").
 * Resource groups and subscriptions of these resources are needed too (inherited owner tags).
 */
export function resourcesNeedingTags(rules: readonly Rule[], findings: readonly RuleFinding[], liveKeys: ReadonlySet<string>): string[] {
  const order = buckets(rules);
  const out = new Map<string, string>();
  for (const f of findings) {
    if (liveKeys.has(f.key)) continue;
    const v = view(f);
    for (const bucket of order) {
      const matching = bucket.filter((c) => staticMatch(c, v) !== undefined);
      if (matching.length === 0) continue;
      if (matching.some((c) => c.needsTags)) out.set(lc(f.resourceId), f.resourceId);
      // A bucket with a tag condition may not take the finding after all: later rules could, so keep looking.
      if (matching.some((c) => !c.tag)) break;
    }
  }
  return [...out.values()];
}

// ------------------------------------------------------------------ owners

export type NeedsOwnerReason = 'no-tag' | 'tag-not-email' | 'owner-unknown';

export type OwnerResult =
  | { ok: true; owner: string; source: 'tag' | 'fixed' | 'fallback'; tag?: { name: string; level: TagLevel } }
  | { ok: false; reason: NeedsOwnerReason; detail: string };

/** Owners ServiceNow does not know (or finds more than once), lower case, per integration id. */
export type UnknownOwners = ReadonlyMap<string, ReadonlySet<string>>;

const isEmail = (s: string) => ownerEmailSchema.safeParse(s).success;

function resolveOwner(c: Compiled, levels: ReadonlyArray<[TagLevel, TagMap]> | undefined, unknown: ReadonlySet<string> | undefined): OwnerResult {
  const rule = c.rule;
  const fallback = (reason: NeedsOwnerReason, detail: string): OwnerResult => {
    if (rule.fallbackOwner && !unknown?.has(rule.fallbackOwner)) return { ok: true, owner: rule.fallbackOwner, source: 'fallback' };
    if (rule.fallbackOwner)
      return { ok: false, reason: 'owner-unknown', detail: `${detail}; the fallback owner ${rule.fallbackOwner} is not a ServiceNow user` };
    return { ok: false, reason, detail: `${detail}, and the rule has no fallback owner` };
  };
  if (rule.owner.kind === 'fixed') {
    const owner = rule.owner.email;
    if (unknown?.has(owner)) return fallback('owner-unknown', `${owner} is not a ServiceNow user`);
    return { ok: true, owner, source: 'fixed' };
  }
  const found = findTag(levels ?? [], c.ownerTags);
  if (!found) return fallback('no-tag', `no ${rule.owner.tags.join(' / ')} tag on the resource, its resource group or its subscription`);
  const value = found.value.trim();
  if (!isEmail(value))
    return fallback('tag-not-email', `the ${found.name} tag on ${LEVEL_TEXT[found.level]} is "${value.slice(0, 80)}", not an e-mail address`);
  const owner = lc(value);
  if (unknown?.has(owner)) return fallback('owner-unknown', `${owner} (${found.name} tag on ${LEVEL_TEXT[found.level]}) is not a ServiceNow user`);
  return { ok: true, owner, source: 'tag', tag: { name: found.name, level: found.level } };
}

// ------------------------------------------------------------------ plan

export interface PlannedTicket {
  ruleId: string;
  ruleName: string;
  integrationId: string;
  ticketType: Rule['ticketType'];
  grouping: Rule['ticketGrouping'];
  recommendationKey: string;
  recommendationName: string;
  severity: Severity;
  owner: string;
  ownerSource: 'tag' | 'fixed' | 'fallback';
  dueDate: string;
  gracePeriod: boolean;
  notifyOwner: boolean;
  notifyManager: boolean;
  /** The assignments of this ticket share it; deterministic, so a replayed plan names the same batch. */
  batchId: string;
  /** ServiceNow correlation_id: the finding's key (per resource) or selectionCorrelationKey (one ticket). */
  correlationId: string;
  /** Ordered by resource id (lower case). */
  findings: RuleFinding[];
}

export interface NeedsOwnerItem {
  ruleId: string;
  ruleName: string;
  finding: RuleFinding;
  reason: NeedsOwnerReason;
  /** One line for people: which tag said what, and what is missing. */
  detail: string;
}

export interface DeferredItem {
  ruleId: string;
  finding: RuleFinding;
  /** Resource Graph did not return the resource's tags this time. */
  reason: 'tags-unavailable';
}

export interface RuleRunSummary {
  ruleId: string;
  ruleName: string;
  /** Unassigned findings the rule took (with or without an owner). */
  matched: number;
  /** Tickets (and their findings) to open now. */
  tickets: number;
  assignments: number;
  /** Beyond the cap: waiting for an admin's confirmation. */
  pausedTickets: number;
  pausedAssignments: number;
  needsOwner: number;
  deferred: number;
}

export interface RulePlan {
  /** To open now, in order (highest severity first). */
  tickets: PlannedTicket[];
  /** Beyond a rule's cap this run: nothing is created for them until an admin confirms. */
  paused: PlannedTicket[];
  needsOwner: NeedsOwnerItem[];
  deferred: DeferredItem[];
  /** One per enabled rule, in evaluation order. */
  summaries: RuleRunSummary[];
  /** Findings with a live assignment: left alone. */
  alreadyAssigned: number;
  /** Findings no enabled rule matches. */
  unmatched: number;
}

export interface PlanInput {
  rules: readonly Rule[];
  findings: readonly RuleFinding[];
  /** Keys with a live assignment (manual or by a rule); see LIVE_ASSIGNMENT_STATUSES. */
  liveKeys: ReadonlySet<string>;
  tags: TagSource;
  now: Date;
  /** REMINDER_TIMEZONE: due dates are days there. */
  timeZone: string;
  /** RULE_MAX_TICKETS_PER_SYNC (default 50): tickets one rule opens in one run. */
  maxTicketsPerRule?: number;
  /** Tickets a rule may open this run instead (an admin confirmed: Infinity for all of them). */
  allowances?: ReadonlyMap<string, number>;
  /** Owners ServiceNow does not know, per integration: their findings go to the fallback or to "needs an owner". */
  unknownOwners?: UnknownOwners;
}

interface Taken {
  rule: Compiled;
  findings: Array<{ v: View; levels?: ReadonlyArray<[TagLevel, TagMap]> }>;
  deferred: RuleFinding[];
}

function takeFindings(rules: readonly Rule[], input: Pick<PlanInput, 'findings' | 'liveKeys' | 'tags'>) {
  const order = buckets(rules);
  const taken = new Map<string, Taken>();
  for (const bucket of order) for (const c of bucket) taken.set(c.rule.id, { rule: c, findings: [], deferred: [] });
  let alreadyAssigned = 0;
  let unmatched = 0;
  for (const f of input.findings) {
    if (input.liveKeys.has(f.key)) {
      alreadyAssigned++;
      continue;
    }
    const v = view(f);
    const d = decide(order, v, input.tags);
    if (d.kind === 'none') unmatched++;
    else if (d.kind === 'deferred') taken.get(d.rule.rule.id)!.deferred.push(f);
    else taken.get(d.rule.rule.id)!.findings.push({ v, ...(d.levels ? { levels: d.levels } : {}) });
  }
  return { taken, alreadyAssigned, unmatched };
}

function hash(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

const byResource = (a: RuleFinding, b: RuleFinding) => {
  const x = lc(a.resourceId);
  const y = lc(b.resourceId);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Owners and tickets of what one rule took. */
function ticketsFor(t: Taken, dueDate: string, unknown: ReadonlySet<string> | undefined): { tickets: PlannedTicket[]; needsOwner: NeedsOwnerItem[] } {
  const rule = t.rule.rule;
  const needsOwner: NeedsOwnerItem[] = [];
  const groups = new Map<string, { owner: string; source: PlannedTicket['ownerSource']; findings: RuleFinding[] }>();
  for (const { v, levels } of t.findings) {
    const o = resolveOwner(t.rule, levels, unknown);
    if (!o.ok) {
      needsOwner.push({ ruleId: rule.id, ruleName: rule.name, finding: v.f, reason: o.reason, detail: o.detail });
      continue;
    }
    const k = rule.ticketGrouping === 'single' ? `${v.key}\u0000${o.owner}` : v.f.key;
    const g = groups.get(k);
    if (g) g.findings.push(v.f);
    else groups.set(k, { owner: o.owner, source: o.source, findings: [v.f] });
  }
  const tickets: PlannedTicket[] = [];
  for (const g of groups.values()) {
    const findings = g.findings.sort(byResource);
    const first = findings[0]!;
    const correlationId =
      rule.ticketGrouping === 'single'
        ? selectionCorrelationKey(
            first.recommendationKey,
            findings.map((f) => f.resourceId),
          )
        : first.key;
    tickets.push({
      ruleId: rule.id,
      ruleName: rule.name,
      integrationId: rule.integrationId,
      ticketType: rule.ticketType,
      grouping: rule.ticketGrouping,
      recommendationKey: first.recommendationKey,
      recommendationName: first.recommendationName,
      severity: first.severity,
      owner: g.owner,
      ownerSource: g.source,
      dueDate,
      gracePeriod: rule.gracePeriod,
      notifyOwner: rule.notifyOwner,
      notifyManager: rule.notifyManager,
      batchId: `rule-${hash([rule.id, correlationId, ...findings.map((f) => f.key)])}`,
      correlationId,
      findings,
    });
  }
  tickets.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.recommendationName.localeCompare(b.recommendationName) ||
      (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0) ||
      byResource(a.findings[0]!, b.findings[0]!),
  );
  return { tickets, needsOwner };
}

/** A rule's own cap only lowers the operator's RULE_MAX_TICKETS_PER_SYNC. */
function capOf(rule: Rule, cap: number): number {
  return Math.min(cap, rule.maxTicketsPerSync ?? cap);
}

/**
 * What the rules do with this sync's findings: the tickets to open now (at most the cap per rule;
 * the rest paused until an admin confirms), the findings that need an owner, and those that wait
 * for their tags. Nothing here has side effects; the same input gives the same plan, and once the
 * planned assignments exist (their keys live) the same findings plan nothing new.
 */
export function planRules(input: PlanInput): RulePlan {
  const cap = input.maxTicketsPerRule ?? DEFAULT_RULE_MAX_TICKETS_PER_SYNC;
  const dueBase = localDay(input.now, input.timeZone);
  const { taken, alreadyAssigned, unmatched } = takeFindings(input.rules, input);
  const plan: RulePlan = { tickets: [], paused: [], needsOwner: [], deferred: [], summaries: [], alreadyAssigned, unmatched };
  for (const t of taken.values()) {
    const rule = t.rule.rule;
    const { tickets, needsOwner } = ticketsFor(t, addDays(dueBase, rule.dueInDays), input.unknownOwners?.get(rule.integrationId));
    const allowance = input.allowances?.get(rule.id) ?? (rule.paused ? 0 : capOf(rule, cap));
    const now = tickets.slice(0, Math.max(0, allowance));
    const later = tickets.slice(now.length);
    plan.tickets.push(...now);
    plan.paused.push(...later);
    plan.needsOwner.push(...needsOwner);
    for (const f of t.deferred) plan.deferred.push({ ruleId: rule.id, finding: f, reason: 'tags-unavailable' });
    plan.summaries.push({
      ruleId: rule.id,
      ruleName: rule.name,
      matched: t.findings.length,
      tickets: now.length,
      assignments: now.reduce((n, x) => n + x.findings.length, 0),
      pausedTickets: later.length,
      pausedAssignments: later.reduce((n, x) => n + x.findings.length, 0),
      needsOwner: needsOwner.length,
      deferred: t.deferred.length,
    });
  }
  plan.tickets.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  return plan;
}

// ------------------------------------------------------------------ preview

export interface RulePreview {
  ruleId: string;
  ruleName: string;
  /** Unassigned findings it would take now. */
  matched: number;
  tickets: number;
  assignments: number;
  /** Of those tickets, how many the cap would hold back for a confirmation. */
  beyondCap: number;
  /** Findings it matches that already have a live assignment (manual or earlier): left alone. */
  alreadyAssigned: number;
  /** Findings it matches that an earlier rule takes, by that rule. */
  takenByEarlierRules: Array<{ ruleId: string; ruleName: string; count: number }>;
  byRecommendation: Array<{ recommendationKey: string; recommendationName: string; severity: Severity; assignments: number; tickets: number }>;
  byOwner: Array<{ owner: string; assignments: number; tickets: number }>;
  /** The first PREVIEW_SAMPLE_SIZE assignments, highest severity first. */
  sample: Array<{
    recommendationName: string;
    severity: Severity;
    resourceId: string;
    resourceName: string;
    owner: string;
    ownerSource: PlannedTicket['ownerSource'];
  }>;
  needsOwner: NeedsOwnerItem[];
  /** Findings whose tags Resource Graph did not return: decided next sync. */
  deferred: number;
}

/**
 * What one rule would assign now, enabled or not, among the other enabled rules and without its
 * cap or pause (those only delay): counts by recommendation and owner, the first resources, the
 * findings that need an owner. Creates nothing.
 */
export function previewRule(ruleId: string, input: Omit<PlanInput, 'allowances'>): RulePreview {
  const target = input.rules.find((r) => r.id === ruleId);
  if (!target) throw new Error(`no rule ${ruleId}`);
  const forced: Rule = { ...target, enabled: true, paused: undefined };
  const rules = input.rules.map((r) => (r.id === ruleId ? forced : r));
  const { taken } = takeFindings(rules, input);
  const mine = taken.get(ruleId)!;
  const { tickets, needsOwner } = ticketsFor(
    mine,
    addDays(localDay(input.now, input.timeZone), forced.dueInDays),
    input.unknownOwners?.get(forced.integrationId),
  );

  // Who took what this rule matches, and how much of it is assigned already.
  const self = compile(forced);
  const others = new Map<string, { ruleName: string; count: number }>();
  let alreadyAssigned = 0;
  const winnerOf = new Map<string, string>();
  for (const t of taken.values()) if (t.rule.rule.id !== ruleId) for (const { v } of t.findings) winnerOf.set(v.f.key, t.rule.rule.id);
  for (const f of input.findings) {
    const v = view(f);
    if (staticMatch(self, v) === undefined) continue;
    if (self.tag) {
      const levels = tagLevels(f, input.tags);
      if (!levels || !tagMatch(self, levels)) continue;
    }
    if (input.liveKeys.has(f.key)) {
      alreadyAssigned++;
      continue;
    }
    const winner = winnerOf.get(f.key);
    if (winner) {
      const entry = others.get(winner) ?? { ruleName: taken.get(winner)!.rule.rule.name, count: 0 };
      entry.count++;
      others.set(winner, entry);
    }
  }

  const byRec = new Map<string, RulePreview['byRecommendation'][number]>();
  const byOwner = new Map<string, RulePreview['byOwner'][number]>();
  for (const t of tickets) {
    const r = byRec.get(t.recommendationKey) ?? {
      recommendationKey: t.recommendationKey,
      recommendationName: t.recommendationName,
      severity: t.severity,
      assignments: 0,
      tickets: 0,
    };
    r.assignments += t.findings.length;
    r.tickets++;
    byRec.set(t.recommendationKey, r);
    const o = byOwner.get(t.owner) ?? { owner: t.owner, assignments: 0, tickets: 0 };
    o.assignments += t.findings.length;
    o.tickets++;
    byOwner.set(t.owner, o);
  }
  const sample: RulePreview['sample'] = [];
  for (const t of tickets) {
    for (const f of t.findings) {
      if (sample.length >= PREVIEW_SAMPLE_SIZE) break;
      sample.push({
        recommendationName: t.recommendationName,
        severity: t.severity,
        resourceId: f.resourceId,
        resourceName: f.resourceName,
        owner: t.owner,
        ownerSource: t.ownerSource,
      });
    }
  }
  const cap = capOf(forced, input.maxTicketsPerRule ?? DEFAULT_RULE_MAX_TICKETS_PER_SYNC);
  return {
    ruleId,
    ruleName: forced.name,
    matched: mine.findings.length,
    tickets: tickets.length,
    assignments: tickets.reduce((n, t) => n + t.findings.length, 0),
    beyondCap: Math.max(0, tickets.length - cap),
    alreadyAssigned,
    takenByEarlierRules: [...others].map(([id, o]) => ({ ruleId: id, ...o })).sort((a, b) => b.count - a.count || a.ruleName.localeCompare(b.ruleName)),
    byRecommendation: [...byRec.values()].sort((a, b) => b.assignments - a.assignments || a.recommendationName.localeCompare(b.recommendationName)),
    byOwner: [...byOwner.values()].sort((a, b) => b.assignments - a.assignments || (a.owner < b.owner ? -1 : 1)),
    sample,
    needsOwner,
    deferred: mine.deferred.length,
  };
}

// ------------------------------------------------------------------ assignments of a planned ticket

export interface RuleAssignmentContext {
  /** A new assignment id (a UUID in production). */
  newId: () => string;
  /** ServiceNow caller: the rule's `caller`, else its author's UPN. */
  caller: string;
  conversationId?: string;
  now: Date;
}

export const OWNER_SOURCE_TEXT: Record<PlannedTicket['ownerSource'], string> = {
  tag: 'from the resource tag',
  fixed: 'set by the rule',
  fallback: "the rule's fallback owner",
};

/**
 * The assignment rows of one planned ticket, ready for AssignmentRepository.upsertMany and the
 * same creation path as a manual submission (app/: persist, then create the ticket, then write
 * governance). The ticket texts are the recommendation's pre-filled ones with "by rule NAME".
 */
export function ruleAssignments(ticket: PlannedTicket, rec: Recommendation, ctx: RuleAssignmentContext): Assignment[] {
  const stamp = ctx.now.toISOString();
  const snapshots: ResourceSnapshot[] = ticket.findings.map((f) => ({
    resourceId: f.resourceId,
    assessmentId: f.assessmentId,
    name: f.resourceName,
    type: f.resourceType,
    subscriptionId: f.subscriptionId,
    ...(f.resourceGroup ? { resourceGroup: f.resourceGroup } : {}),
  }));
  const texts = prefillTexts(rec, snapshots);
  const byRule = `Assigned by governance rule "${ticket.ruleName}" (owner ${OWNER_SOURCE_TEXT[ticket.ownerSource]}).`;
  const description = `${byRule}\n\n${texts.description}`.slice(0, 4000);
  return ticket.findings.map((f) => {
    const id = ctx.newId();
    return {
      id,
      key: f.key,
      batchId: ticket.batchId,
      recommendationKey: ticket.recommendationKey,
      recommendationName: ticket.recommendationName,
      severity: ticket.severity,
      assessmentId: f.assessmentId,
      resourceId: f.resourceId,
      resourceName: f.resourceName,
      subscriptionId: f.subscriptionId,
      integrationId: ticket.integrationId,
      ticketType: ticket.ticketType,
      owner: ticket.owner,
      caller: ctx.caller.toLowerCase(),
      dueDate: ticket.dueDate,
      gracePeriod: ticket.gracePeriod,
      notifyOwner: ticket.notifyOwner,
      notifyManager: ticket.notifyManager,
      customFields: {},
      ticketGrouping: ticket.grouping,
      shortDescription: texts.shortDescription,
      description,
      status: 'pending',
      governance: { key: id, status: 'pending' },
      ...(ctx.conversationId ? { conversationId: ctx.conversationId } : {}),
      createdBy: { id: `rule:${ticket.ruleId}`, name: `rule ${ticket.ruleName}` },
      createdAt: stamp,
      updatedAt: stamp,
      healthyPasses: 0,
      attempts: 0,
      byRule: { id: ticket.ruleId, name: ticket.ruleName },
    };
  });
}

/** One line per reason, for the rule's "needs an owner" list. */
export const NEEDS_OWNER_TEXT: Record<NeedsOwnerReason, string> = {
  'no-tag': 'no owner tag and no fallback owner',
  'tag-not-email': 'the owner tag is not an e-mail address',
  'owner-unknown': 'the owner is not a ServiceNow user',
};
