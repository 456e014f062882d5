/**
 * Recommendation snapshots: folding Defender assessment rows into one record per recommendation,
 * hashing what a card shows, diffing passes, per-conversation filtering and card-safe text.
 * Pure: no I/O, time comes in as an argument.
 */
import { createHash } from 'node:crypto';
import type { UnhealthyResource } from './defender-model.js';
import { recommendationPortalLink } from './defender-model.js';
import { scopeDistance, type ResourceLocation } from './scope.js';
import type { Recommendation, ResourceSnapshot, Severity, SubscriptionFilters } from './model.js';

const SEVERITY_RANK: Record<Severity, number> = { High: 0, Medium: 1, Low: 2 };

/** Card text caps: long Defender texts would otherwise eat the card's size budget. */
export const DESCRIPTION_MAX_CHARS = 1_200;
export const REMEDIATION_MAX_CHARS = 2_000;
/**
 * Resources listed per card page. A choice is about 350 bytes of JSON (title + ARM id), so 25
 * of them plus texts and actions stay around 12 KB, far below the 28 KB limit.
 */
export const RESOURCES_PER_PAGE = 25;

/** Storage key of a recommendation. Assessment keys are GUIDs whose casing varies by source. */
export function recommendationKeyOf(assessmentKey: string): string {
  return assessmentKey.toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// HTML → card text

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  rsquo: '’',
  lsquo: '‘',
  rdquo: '”',
  ldquo: '“',
  bull: '•',
  copy: '©',
  reg: '®',
  trade: '™',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      // Out-of-range or control code points would corrupt the card JSON's meaning; drop them.
      if (!Number.isFinite(code) || code > 0x10ffff || (code < 0x20 && code !== 0x0a && code !== 0x09)) return '';
      return String.fromCodePoint(code);
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/** Cuts at a word boundary when one is near, so the text does not end mid-word. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.search(/\s\S*$/);
  return `${(space > max * 0.8 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * Defender ships remediation steps as HTML. Cards show plain text: tags go, list items become
 * "• " lines, entities are decoded (after stripping, so an encoded `&lt;tag&gt;` stays visible
 * text), whitespace collapses and the result is capped.
 */
export function htmlToCardText(html: string, maxChars = REMEDIATION_MAX_CHARS): string {
  if (!html) return '';
  const text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n• ')
    .replace(/<\/(p|div|li|ul|ol|h[1-6]|tr|table|pre|blockquote)\s*>/gi, '\n')
    .replace(/<(p|div|ul|ol|h[1-6]|tr|table|pre|blockquote)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    // A stray "<" without a closing ">" would otherwise survive; it is harmless text.
    .replace(/\r\n?/g, '\n');
  const lines = decodeEntities(text)
    .split('\n')
    .map((l) => l.replace(/[\t\f\v \u00a0]+/g, ' ').trim())
    .filter((l) => l.length > 0 && l !== '•');
  return truncateText(lines.join('\n'), maxChars);
}

// ---------------------------------------------------------------------------------------------
// Grouping

interface Accumulated {
  key: string;
  displayName: string;
  severity: Severity;
  description: string;
  remediation: string;
  portalLink: string;
  /**
   * Keyed by the resource id as received; ids differing only in case are merged in snapshots().
   * A lower-cased key per row would add about 8 MB per 50,000 rows to what a pass holds.
   */
  resources: Map<string, ResourceSnapshot>;
  /** The stored snapshot's resources by id (see RecommendationAccumulator's `previous`), dropped by snapshots(). */
  stored?: Map<string, ResourceSnapshot> | undefined;
  /** Where `stored` comes from, built when a parsed row first needs it. */
  storedFrom?: Recommendation | undefined;
  /**
   * Set while every row so far was a known one of this stored snapshot (addKnown): its resources
   * are then marked in `seen` (by position) instead of entered in `resources`, and an unchanged
   * recommendation is kept without a map entry, sort or hash per resource.
   */
  knownOf?: Recommendation | undefined;
  seen?: Uint8Array | undefined;
  seenCount?: number;
}

function sameResource(a: ResourceSnapshot, b: ResourceSnapshot): boolean {
  return (
    a.resourceId === b.resourceId &&
    a.assessmentId === b.assessmentId &&
    a.name === b.name &&
    a.type === b.type &&
    a.subscriptionId === b.subscriptionId &&
    a.resourceGroup === b.resourceGroup &&
    a.statusChangeDate === b.statusChangeDate
  );
}

/**
 * Folds pages of assessment rows into per-recommendation accumulators as they arrive, so a pass
 * never holds the raw rows of every page at once. Rows that are not Unhealthy are ignored.
 */
export class RecommendationAccumulator {
  private readonly byKey = new Map<string, Accumulated>();
  private readonly subscriptions = new Map<string, string>();
  /** Subscription ids, types and resource groups repeat on every row; one copy of each is kept. */
  private readonly strings = new Map<string, string>();
  rows = 0;

  /**
   * `previous` gives the stored snapshot of a recommendation: a row equal to a stored resource
   * keeps the stored object, so the row's own strings die with its page and a pass over an
   * unchanged tenant holds one copy of the resources, not the stored one and a new one.
   */
  constructor(private readonly previous?: (key: string) => Recommendation | undefined) {}

  private intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  add(rows: readonly UnhealthyResource[]): void {
    for (const r of rows) {
      if (r.status !== 'Unhealthy') continue;
      this.rows++;
      const key = recommendationKeyOf(r.assessmentKey);
      let acc = this.byKey.get(key);
      if (!acc) {
        acc = {
          key,
          displayName: r.displayName,
          severity: r.severity,
          // Converted once per recommendation, not per row: rows repeat the same metadata.
          description: htmlToCardText(r.description, DESCRIPTION_MAX_CHARS),
          remediation: htmlToCardText(r.remediationSteps, REMEDIATION_MAX_CHARS),
          portalLink: r.portalLink || recommendationPortalLink(r.assessmentKey),
          resources: new Map(),
        };
        const prev = this.previous?.(key);
        if (prev && prev.resources.length > 0) acc.storedFrom = prev;
        this.byKey.set(key, acc);
      } else {
        if (SEVERITY_RANK[r.severity] < SEVERITY_RANK[acc.severity]) acc.severity = r.severity;
        if (acc.knownOf) this.materialise(acc);
      }
      if (acc.storedFrom && !acc.stored) acc.stored = new Map(acc.storedFrom.resources.map((s) => [s.resourceId, s]));
      const sub = r.subscriptionId.toLowerCase();
      if (!this.subscriptions.has(sub)) this.subscriptions.set(sub, r.subscriptionId);
      const snapshot: ResourceSnapshot = {
        resourceId: r.resourceId,
        assessmentId: r.assessmentId,
        name: r.resourceName,
        type: this.intern(r.resourceType),
        subscriptionId: this.intern(r.subscriptionId),
        ...(r.resourceGroup ? { resourceGroup: this.intern(r.resourceGroup) } : {}),
        statusChangeDate: r.statusChangeDate,
      };
      const stored = acc.stored?.get(r.resourceId);
      const kept = stored && sameResource(stored, snapshot) ? stored : snapshot;
      acc.resources.set(kept.resourceId, kept);
    }
  }

  /**
   * A row the previous pass saw byte for byte (core/rowFingerprints.ts): it adds the stored
   * resource it became, with its severity, and nothing is parsed. `prev` is the stored snapshot
   * the row belongs to, whose texts stand for the row's when it is the recommendation's first.
   */
  addKnown(prev: Recommendation, position: number, severity: Severity): void {
    const resource = prev.resources[position];
    if (!resource) throw new RangeError(`no resource ${position} in the stored snapshot of ${prev.key}`);
    this.rows++;
    let acc = this.byKey.get(prev.key);
    if (!acc) {
      acc = {
        key: prev.key,
        displayName: prev.displayName,
        severity,
        description: prev.description,
        remediation: prev.remediation,
        portalLink: prev.portalLink ?? recommendationPortalLink(prev.key),
        resources: new Map(),
        storedFrom: prev,
        knownOf: prev,
        seen: new Uint8Array(prev.resources.length),
        seenCount: 0,
      };
      this.byKey.set(prev.key, acc);
    } else if (SEVERITY_RANK[severity] < SEVERITY_RANK[acc.severity]) acc.severity = severity;
    if (acc.knownOf === prev) {
      if (acc.seen![position] === 0) {
        acc.seen![position] = 1;
        acc.seenCount!++;
      }
      return;
    }
    if (acc.knownOf) this.materialise(acc);
    this.addSubscription(resource.subscriptionId);
    acc.resources.set(resource.resourceId, resource);
  }

  /** The known resources of `acc` entered in `resources`, as parsed rows are: rows of mixed kinds follow. */
  private materialise(acc: Accumulated): void {
    const prev = acc.knownOf!;
    const seen = acc.seen!;
    for (let i = 0; i < seen.length; i++) {
      if (seen[i] === 0) continue;
      const r = prev.resources[i]!;
      this.addSubscription(r.subscriptionId);
      acc.resources.set(r.resourceId, r);
    }
    acc.knownOf = undefined;
    acc.seen = undefined;
  }

  private addSubscription(id: string): void {
    const sub = id.toLowerCase();
    if (!this.subscriptions.has(sub)) this.subscriptions.set(sub, id);
  }

  subscriptionIds(): string[] {
    const out = new Map(this.subscriptions);
    // Known resources are only marked (see Accumulated.seen); one lower-casing per distinct string.
    const lower = new Map<string, string>();
    for (const acc of this.byKey.values()) {
      if (!acc.knownOf) continue;
      const resources = acc.knownOf.resources;
      for (let i = 0; i < acc.seen!.length; i++) {
        if (acc.seen![i] === 0) continue;
        const id = resources[i]!.subscriptionId;
        let sub = lower.get(id);
        if (sub === undefined) {
          sub = id.toLowerCase();
          lower.set(id, sub);
          if (!out.has(sub)) out.set(sub, id);
        }
      }
    }
    return [...out.values()];
  }

  get size(): number {
    return this.byKey.size;
  }

  /**
   * The snapshots of this pass. A recommendation whose card content did not change keeps its
   * stored snapshot object, so callers can tell "unchanged" by identity and skip writing it.
   */
  snapshots(previous: (key: string) => Recommendation | undefined, now: Date): Map<string, Recommendation> {
    const at = now.toISOString();
    const out = new Map<string, Recommendation>();
    for (const acc of this.byKey.values()) {
      acc.stored = undefined;
      acc.storedFrom = undefined;
      const known = acc.knownOf;
      // Every row known, one per stored resource, same severity: the draft would be the stored one.
      if (known && known === previous(acc.key) && acc.seenCount === known.resources.length && acc.severity === known.severity) {
        out.set(acc.key, known);
        continue;
      }
      if (known) this.materialise(acc);
      const resources = sortedUnique(acc.resources);
      const draft: Omit<Recommendation, 'contentHash'> = {
        key: acc.key,
        displayName: acc.displayName,
        severity: acc.severity,
        description: acc.description,
        remediation: acc.remediation,
        portalLink: acc.portalLink,
        resources,
        status: 'unhealthy',
        firstSeenAt: at,
        updatedAt: at,
      };
      const contentHash = contentHashOf(draft);
      const prev = previous(acc.key);
      if (prev && prev.contentHash === contentHash) out.set(acc.key, prev);
      else out.set(acc.key, { ...draft, contentHash, firstSeenAt: prev?.firstSeenAt ?? at });
    }
    return out;
  }
}

/**
 * Resources ordered by lower-cased id, one per id whatever its casing. Rows with the same exact
 * id already replaced each other (the later wins); of several casings of one id, the casing that
 * first appeared last is kept (the sort is stable, so casings keep their arrival order).
 */
function sortedUnique(resources: ReadonlyMap<string, ResourceSnapshot>): ResourceSnapshot[] {
  const keyed = [...resources.values()].map((r) => ({ key: r.resourceId.toLowerCase(), r }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: ResourceSnapshot[] = [];
  for (let i = 0; i < keyed.length; i++) {
    if (i + 1 < keyed.length && keyed[i + 1]!.key === keyed[i]!.key) continue;
    out.push(keyed[i]!.r);
  }
  return out;
}

/** One-shot grouping of rows that are all in memory (tests, small callers). */
export function groupRecommendations(
  rows: readonly UnhealthyResource[],
  now: Date,
  previous: (key: string) => Recommendation | undefined = () => undefined,
): Map<string, Recommendation> {
  const acc = new RecommendationAccumulator();
  acc.add(rows);
  return acc.snapshots(previous, now);
}

// ---------------------------------------------------------------------------------------------
// Hash and diff

type HashInput = Pick<Recommendation, 'key' | 'displayName' | 'severity' | 'description' | 'remediation' | 'resources' | 'status'> & {
  portalLink?: string | undefined;
};

/**
 * Hash of exactly what a card shows. Timestamps (statusChangeDate, updatedAt) are left out:
 * Defender re-evaluating a resource that stays unhealthy must not repost or update a card.
 */
export function contentHashOf(rec: HashInput): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([rec.key, rec.displayName, rec.severity, rec.description, rec.remediation, rec.portalLink ?? '', rec.status]));
  for (const r of rec.resources)
    h.update(`\n${r.resourceId.toLowerCase()}\u0001${r.name}\u0001${r.type}\u0001${r.subscriptionId}\u0001${r.resourceGroup ?? ''}`);
  return h.digest('base64url').slice(0, 22);
}

/** The snapshot of a recommendation whose every resource is healthy again. */
export function resolvedSnapshot(rec: Recommendation, now: Date): Recommendation {
  const draft = { ...rec, resources: [], status: 'resolved' as const, updatedAt: now.toISOString() };
  return { ...draft, contentHash: contentHashOf(draft) };
}

export interface RecommendationDiff {
  /** Never stored before. */
  added: Recommendation[];
  /** Stored, but what the card shows differs (including a resolved one that came back). */
  changed: Recommendation[];
  /** Stored as unhealthy and absent from this pass: resolved snapshots, ready to persist. */
  resolved: Recommendation[];
  unchanged: Recommendation[];
}

/**
 * Compares this pass with the stored snapshots. `resolveMissing: false` keeps absent ones as
 * they are: when rows were dropped as malformed, "absent" may not mean "healthy".
 */
export function diffRecommendations(
  previous: Iterable<Recommendation>,
  next: ReadonlyMap<string, Recommendation>,
  now: Date,
  opts: { resolveMissing?: boolean } = {},
): RecommendationDiff {
  const prevByKey = new Map<string, Recommendation>();
  for (const p of previous) prevByKey.set(p.key, p);
  const diff: RecommendationDiff = { added: [], changed: [], resolved: [], unchanged: [] };
  for (const [key, rec] of next) {
    const prev = prevByKey.get(key);
    if (!prev) diff.added.push(rec);
    else if (prev === rec || (prev.contentHash === rec.contentHash && prev.status === rec.status)) diff.unchanged.push(rec);
    else diff.changed.push(rec);
  }
  if (opts.resolveMissing !== false) {
    for (const [key, prev] of prevByKey) {
      if (prev.status === 'unhealthy' && !next.has(key)) diff.resolved.push(resolvedSnapshot(prev, now));
    }
  }
  return diff;
}

// ---------------------------------------------------------------------------------------------
// Partial passes and mass resolutions

/**
 * A pass that did not see the complete set (Resource Graph truncated or short, malformed rows
 * dropped, or a mass resolution not confirmed) adds what arrived and takes nothing away:
 * recommendations missing from it keep their stored snapshot, and resources missing from a
 * recommendation stay on its card. Absent is not healthy when the answer was partial.
 */
export function keepMissing(previous: Iterable<Recommendation>, next: ReadonlyMap<string, Recommendation>): Map<string, Recommendation> {
  const out = new Map(next);
  for (const prev of previous) {
    if (prev.status !== 'unhealthy') continue;
    const rec = next.get(prev.key);
    if (!rec) {
      out.set(prev.key, prev);
      continue;
    }
    if (rec === prev) continue;
    const byId = new Map<string, ResourceSnapshot>();
    for (const r of prev.resources) byId.set(r.resourceId.toLowerCase(), r);
    for (const r of rec.resources) byId.set(r.resourceId.toLowerCase(), r);
    if (byId.size === rec.resources.length) continue;
    const resources = [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
    const contentHash = contentHashOf({ ...rec, resources });
    out.set(prev.key, contentHash === prev.contentHash ? prev : { ...rec, resources, contentHash });
  }
  return out;
}

/**
 * A complete answer can still be wrong: Resource Graph has answered with an empty or thinned-out
 * set while nothing was fixed. A pass that would resolve at least MASS_RESOLUTION_FLOOR
 * recommendations AND more than half of those unhealthy before it is a mass resolution, and is
 * only applied once Defender's assessments API (a different service than Resource Graph) confirms
 * a sample of them (see massResolutionSample and SyncJob). Below the floor, a small tenant fixing
 * its last few findings is not second-guessed.
 */
export const MASS_RESOLUTION_FLOOR = 5;
/** Vanished recommendations whose resource is re-read from the assessments API to confirm a mass resolution. */
export const MASS_RESOLUTION_SAMPLE = 5;

export function isMassResolution(resolving: number, unhealthyBefore: number): boolean {
  return resolving >= MASS_RESOLUTION_FLOOR && resolving * 2 > unhealthyBefore;
}

/** Up to `size` of the vanishing recommendations, spread over the list (sorted by key), with one resource each to re-read. */
export function massResolutionSample(
  vanishing: readonly Recommendation[],
  size = MASS_RESOLUTION_SAMPLE,
): Array<{ recommendation: Recommendation; resource: ResourceSnapshot }> {
  const withResources = [...vanishing].filter((r) => r.resources.length > 0).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const n = Math.min(size, withResources.length);
  const out: Array<{ recommendation: Recommendation; resource: ResourceSnapshot }> = [];
  for (let i = 0; i < n; i++) {
    const rec = withResources[Math.floor((i * withResources.length) / n)]!;
    out.push({ recommendation: rec, resource: rec.resources[i % rec.resources.length]! });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Filters

/** subscriptionId (any casing) → management group names, nearest first. */
export type Ancestry = ReadonlyMap<string, readonly string[]>;

export function normaliseAncestry(raw: ReadonlyMap<string, ReadonlyArray<{ name: string }>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [sub, groups] of raw)
    out.set(
      sub.toLowerCase(),
      groups.map((g) => g.name),
    );
  return out;
}

export function locationOf(resource: Pick<ResourceSnapshot, 'resourceId' | 'subscriptionId'>, ancestry: Ancestry): ResourceLocation {
  return {
    resourceId: resource.resourceId,
    subscriptionId: resource.subscriptionId,
    managementGroups: [...(ancestry.get(resource.subscriptionId.toLowerCase()) ?? [])],
  };
}

export function severityMatches(severity: Severity, filters: SubscriptionFilters): boolean {
  return filters.severities.length === 0 || filters.severities.includes(severity);
}

export function resourceInScopes(resource: Pick<ResourceSnapshot, 'resourceId' | 'subscriptionId'>, scopes: readonly string[], ancestry: Ancestry): boolean {
  if (scopes.length === 0) return true;
  const loc = locationOf(resource, ancestry);
  return scopes.some((s) => scopeDistance(s, loc) !== undefined);
}

/** Whether a conversation with these filters gets a card for this recommendation at all. */
export function matchesFilters(rec: Recommendation, filters: SubscriptionFilters, ancestry: Ancestry): boolean {
  if (!severityMatches(rec.severity, filters)) return false;
  if (filters.scopes.length === 0) return true;
  return rec.resources.some((r) => resourceInScopes(r, filters.scopes, ancestry));
}

/**
 * The recommendation as one conversation sees it: only the resources inside its scopes, with a
 * hash of that view. A conversation scoped to one subscription must neither see nor be updated
 * for another subscription's resources. Undefined when the severity does not match; an empty
 * resource list means nothing in scope is unhealthy (the card shows resolved).
 */
export function viewForFilters(rec: Recommendation, filters: SubscriptionFilters, ancestry: Ancestry): Recommendation | undefined {
  if (!severityMatches(rec.severity, filters)) return undefined;
  if (filters.scopes.length === 0 || rec.status === 'resolved') return rec;
  const resources = rec.resources.filter((r) => resourceInScopes(r, filters.scopes, ancestry));
  if (resources.length === rec.resources.length) return rec;
  if (resources.length === 0) return { ...rec, resources, status: 'resolved', contentHash: contentHashOf({ ...rec, resources, status: 'resolved' }) };
  return { ...rec, resources, contentHash: contentHashOf({ ...rec, resources }) };
}

// ---------------------------------------------------------------------------------------------
// Paging and summary

export interface Page<T> {
  items: T[];
  /** 1-based, clamped into range. */
  page: number;
  pages: number;
  total: number;
}

export function pageOf<T>(items: readonly T[], page: number, pageSize = RESOURCES_PER_PAGE): Page<T> {
  const size = Math.max(1, Math.floor(pageSize));
  const pages = Math.max(1, Math.ceil(items.length / size));
  const p = Number.isFinite(page) ? Math.min(Math.max(1, Math.floor(page)), pages) : 1;
  return { items: items.slice((p - 1) * size, p * size), page: p, pages, total: items.length };
}

export interface RecommendationSummary {
  recommendations: number;
  /** Unhealthy findings: (recommendation, resource) pairs; one resource failing 3 recommendations counts 3. */
  resources: number;
  /** Resources with at least one unhealthy recommendation, each counted once. */
  distinctResources: number;
  bySeverity: Array<{ severity: Severity; recommendations: number; resources: number; distinctResources: number }>;
  bySubscription: Array<{ subscriptionId: string; recommendations: number; resources: number; distinctResources: number }>;
  /** Most severe first, then by unhealthy resources. */
  top: Array<{ key: string; displayName: string; severity: Severity; resources: number }>;
}

/** Counts for the `recommendations` command, over the unhealthy recommendations a filter lets through. */
export function summarizeRecommendations(
  recs: Iterable<Recommendation>,
  filters: SubscriptionFilters = { severities: [], scopes: [] },
  ancestry: Ancestry = new Map(),
  topN = 10,
): RecommendationSummary {
  const sev = new Map<Severity, { recommendations: number; resources: number; ids: Set<string> }>();
  const subs = new Map<string, { subscriptionId: string; recommendations: number; resources: number; ids: Set<string> }>();
  const top: RecommendationSummary['top'] = [];
  const all = new Set<string>();
  let recommendations = 0;
  let resources = 0;
  for (const rec of recs) {
    if (rec.status !== 'unhealthy') continue;
    const view = viewForFilters(rec, filters, ancestry);
    if (!view || view.resources.length === 0) continue;
    recommendations++;
    resources += view.resources.length;
    const s = sev.get(view.severity) ?? { recommendations: 0, resources: 0, ids: new Set<string>() };
    s.recommendations++;
    s.resources += view.resources.length;
    for (const r of view.resources) {
      s.ids.add(r.resourceId.toLowerCase());
      all.add(r.resourceId.toLowerCase());
    }
    sev.set(view.severity, s);
    const perSub = new Map<string, number>();
    for (const r of view.resources) perSub.set(r.subscriptionId.toLowerCase(), (perSub.get(r.subscriptionId.toLowerCase()) ?? 0) + 1);
    for (const [subKey, n] of perSub) {
      const entry = subs.get(subKey) ?? {
        subscriptionId: view.resources.find((r) => r.subscriptionId.toLowerCase() === subKey)!.subscriptionId,
        recommendations: 0,
        resources: 0,
        ids: new Set<string>(),
      };
      entry.recommendations++;
      entry.resources += n;
      for (const r of view.resources) if (r.subscriptionId.toLowerCase() === subKey) entry.ids.add(r.resourceId.toLowerCase());
      subs.set(subKey, entry);
    }
    top.push({ key: view.key, displayName: view.displayName, severity: view.severity, resources: view.resources.length });
  }
  // A security engineer starts with the most severe: High first, then the widest spread.
  top.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.resources - a.resources || a.displayName.localeCompare(b.displayName));
  return {
    recommendations,
    resources,
    distinctResources: all.size,
    bySeverity: (['High', 'Medium', 'Low'] as const)
      .filter((s) => sev.has(s))
      .map((s) => {
        const e = sev.get(s)!;
        return { severity: s, recommendations: e.recommendations, resources: e.resources, distinctResources: e.ids.size };
      }),
    bySubscription: [...subs.values()]
      .map((e) => ({ subscriptionId: e.subscriptionId, recommendations: e.recommendations, resources: e.resources, distinctResources: e.ids.size }))
      .sort((a, b) => b.resources - a.resources || a.subscriptionId.localeCompare(b.subscriptionId)),
    top: top.slice(0, topN),
  };
}
