/**
 * Azure Resource Graph queries over Defender assessments. Pages are handed to the caller as they
 * arrive (onPage), so a tenant with tens of thousands of unhealthy rows never sits in memory at once.
 */
import { z } from 'zod';
import { parseResourceId, recommendationPortalLink, splitAssessmentId, type UnhealthyResource } from '../../core/defender-model.js';
import { rowFingerprint, type KnownRowLookup } from '../../core/rowFingerprints.js';
import type { AzureHttp } from './http.js';
import type { RowFromBytes } from './jsonRows.js';

export const RESOURCE_GRAPH_API_VERSION = '2024-04-01';

export interface QueryRequestBody {
  subscriptions?: string[];
  managementGroups?: string[];
  query: string;
  options: { $top?: number; $skip?: number; $skipToken?: string; resultFormat: 'objectArray' };
}

export interface PageInfo {
  page: number;
  totalRecords: number;
  /** Rows in this page that failed validation and were skipped. */
  skipped: number;
  /** With `fingerprints`: each parsed row's fingerprint (hi, lo pairs, in the order of the rows). */
  fingerprints?: Uint32Array;
  /** With `fingerprints`: rows the lookup knew, not parsed, as (entry, hi, lo) triples. */
  known?: Uint32Array;
}

export type OnPage = (rows: UnhealthyResource[], info: PageInfo) => void | Promise<void>;

export interface QuerySummary {
  pages: number;
  rows: number;
  skipped: number;
  totalRecords: number;
  /** Latest statusChangeDate seen: the next watermark for queryChangedSince. */
  latestStatusChange?: string;
  /**
   * Whether every row Resource Graph counted arrived (see PagingCheck). An incomplete answer
   * still carries real rows, but a row missing from it says nothing: it must not be read as
   * "healthy" or "gone".
   */
  complete: boolean;
  /** Why the answer is incomplete, for logs and reports. */
  incomplete?: string;
  /** Rows skipped as known (`fingerprints`); `rows` counts the parsed ones only. */
  known?: number;
}

/** The by-id read: rows found, and the ids of batches whose answer was incomplete (their absence proves nothing). */
export interface AssessmentsByIdResult {
  rows: UnhealthyResource[];
  /** Lower-cased ids asked for in an incomplete batch and not returned. */
  unconfirmed: string[];
  incomplete?: string;
}

/** Thrown where a caller needs the complete set and Resource Graph did not deliver it. */
export class IncompleteResultError extends Error {
  constructor(readonly reason: string) {
    super(`Resource Graph's answer was incomplete: ${reason}`);
    this.name = 'IncompleteResultError';
  }
}

/** One page as Resource Graph described it. */
export interface RawPage {
  data: unknown[];
  totalRecords: number;
  count: number;
  truncated: boolean;
}

/**
 * Tells a complete Resource Graph answer from a partial one, from the response's own fields
 * (QueryResponse in the 2024-04-01 spec): `resultTruncated: "true"` (ARG could not page, e.g. the
 * query lost its `id` column), a page whose `data` holds fewer rows than its `count`, a
 * `totalRecords` that drops between pages (rows left the set under an offset-based skip token, so
 * later rows may have slid past it unseen; a growing set only repeats rows, which the accumulator
 * merges), or fewer rows in all than the last `totalRecords` (paging ended early).
 */
export class PagingCheck {
  private received = 0;
  private total: number | undefined;
  private reason: string | undefined;
  private pages = 0;

  observe(page: RawPage): void {
    this.pages++;
    this.received += page.data.length;
    const fail = (why: string) => {
      this.reason ??= why;
    };
    if (page.truncated) fail(`resultTruncated is "true" (totalRecords ${page.totalRecords}, page ${this.pages} had ${page.count} rows)`);
    if (page.data.length < page.count) fail(`page ${this.pages} declared count ${page.count} but carried ${page.data.length} rows`);
    if (this.total !== undefined && page.totalRecords < this.total) fail(`totalRecords dropped while paging (${this.total} → ${page.totalRecords})`);
    this.total = page.totalRecords;
  }

  /** Undefined when the answer was complete. */
  finish(): string | undefined {
    if (this.reason) return this.reason;
    if (this.total !== undefined && this.received < this.total)
      return `received ${this.received} of ${this.total} rows (totalRecords) in ${this.pages} page(s)`;
    return undefined;
  }
}

export interface ManagementGroupRef {
  name: string;
  displayName: string;
}

const ROW_PROJECTION = '| project id, name, type, tenantId, subscriptionId, resourceGroup, properties\n| order by id asc';

const kqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Unhealthy assessments. Status is filtered in KQL so ARG ships only the rows we need. */
export const UNHEALTHY_ASSESSMENTS_QUERY = [
  'securityresources',
  "| where type =~ 'microsoft.security/assessments'",
  "| where tostring(properties.status.code) =~ 'Unhealthy'",
  ROW_PROJECTION,
].join('\n');

/** Re-check given assessments, whatever their status (to notice Healthy / deleted ones). */
export function assessmentsByIdsQuery(ids: readonly string[]): string {
  return [
    'securityresources',
    "| where type =~ 'microsoft.security/assessments'",
    `| where tolower(id) in~ (${ids.map((i) => kqlString(i.toLowerCase())).join(', ')})`,
    ROW_PROJECTION,
  ].join('\n');
}

export function changedSinceQuery(watermark: Date): string {
  return [
    'securityresources',
    "| where type =~ 'microsoft.security/assessments'",
    `| where todatetime(properties.status.statusChangeDate) > datetime(${watermark.toISOString()})`,
    ROW_PROJECTION,
  ].join('\n');
}

export function subscriptionAncestryQuery(subscriptionIds: readonly string[]): string {
  return [
    'resourcecontainers',
    "| where type =~ 'microsoft.resources/subscriptions'",
    `| where subscriptionId in~ (${subscriptionIds.map((s) => kqlString(s)).join(', ')})`,
    '| project id, name, type, tenantId, subscriptionId, properties',
    '| order by id asc',
  ].join('\n');
}

/**
 * Subscription display names. In `resourcecontainers` a subscription row's `name` is its display
 * name (the GUID is `subscriptionId`), so one query names a whole batch.
 */
export function subscriptionNamesQuery(subscriptionIds: readonly string[]): string {
  return [
    'resourcecontainers',
    "| where type =~ 'microsoft.resources/subscriptions'",
    `| where subscriptionId in~ (${subscriptionIds.map((s) => kqlString(s)).join(', ')})`,
    '| project id, name, subscriptionId',
    '| order by id asc',
  ].join('\n');
}

/**
 * Tags of resources (the `resources` table). `in~` compares case-insensitively, so ids go as
 * they are; `id` is projected because paging needs it.
 */
export function resourceTagsQuery(resourceIds: readonly string[]): string {
  return [
    'resources',
    `| where id in~ (${resourceIds.map(kqlString).join(', ')})`,
    '| project id, tags, resourceGroup, subscriptionId',
    '| order by id asc',
  ].join('\n');
}

/** Tags of resource groups (`resourcecontainers`), by resource group id. */
export function resourceGroupTagsQuery(resourceGroupIds: readonly string[]): string {
  return [
    'resourcecontainers',
    "| where type =~ 'microsoft.resources/subscriptions/resourcegroups'",
    `| where id in~ (${resourceGroupIds.map(kqlString).join(', ')})`,
    '| project id, name, tags, subscriptionId',
    '| order by id asc',
  ].join('\n');
}

/** Tags of subscriptions (`resourcecontainers`). */
export function subscriptionTagsQuery(subscriptionIds: readonly string[]): string {
  return [
    'resourcecontainers',
    "| where type =~ 'microsoft.resources/subscriptions'",
    `| where subscriptionId in~ (${subscriptionIds.map(kqlString).join(', ')})`,
    '| project id, subscriptionId, tags',
    '| order by id asc',
  ].join('\n');
}

/**
 * Splits values into batches of at most `maxCount` whose KQL list (quoted, comma-separated) stays
 * under `maxChars`: Resource Graph refuses queries that are too long, and a tenant's resource ids
 * run to 200+ characters each.
 */
export function kqlBatches(values: readonly string[], maxCount: number, maxChars: number): string[][] {
  const out: string[][] = [];
  let batch: string[] = [];
  let chars = 0;
  for (const v of values) {
    const cost = kqlString(v).length + 2;
    if (batch.length > 0 && (batch.length >= maxCount || chars + cost > maxChars)) {
      out.push(batch);
      batch = [];
      chars = 0;
    }
    batch.push(v);
    chars += cost;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** What getResourceTags found. Tag values that are not strings are dropped (ARM tag values are strings). */
export interface ResourceTags {
  resources: Array<{ id: string; tags: Record<string, string> }>;
  resourceGroups: Array<{ id: string; subscriptionId: string; name: string; tags: Record<string, string> }>;
  subscriptions: Array<{ subscriptionId: string; tags: Record<string, string> }>;
  /** Lower-cased ids asked for in a batch whose answer was incomplete and not returned: their tags are unknown. */
  unconfirmed: string[];
  incomplete?: string;
}

const MG_SCOPE = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)\/?$/i;
const SUB_SCOPE = /^\/subscriptions\/([^/]+)\/?$/i;

/** Maps ARM scope strings to the request's `subscriptions` / `managementGroups` (names, not ids). */
export function scopesToRequest(scopes: readonly string[]): Pick<QueryRequestBody, 'subscriptions' | 'managementGroups'> {
  const subscriptions: string[] = [];
  const managementGroups: string[] = [];
  for (const s of scopes) {
    const sub = SUB_SCOPE.exec(s);
    const mg = MG_SCOPE.exec(s);
    if (sub) subscriptions.push(sub[1]!);
    else if (mg) managementGroups.push(mg[1]!);
    else throw new Error(`unsupported Resource Graph scope: ${s}`);
  }
  return {
    ...(subscriptions.length ? { subscriptions } : {}),
    ...(managementGroups.length ? { managementGroups } : {}),
  };
}

const QueryResponse = z.object({
  totalRecords: z.number().int().nonnegative(),
  count: z.number().int().nonnegative(),
  resultTruncated: z.union([z.enum(['true', 'false']), z.boolean()]),
  $skipToken: z.string().optional().nullable(),
  data: z.array(z.unknown()),
  facets: z.array(z.unknown()).optional(),
});

const optStr = z.string().nullish();

const AssessmentRow = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  tenantId: optStr,
  subscriptionId: z.string().min(1),
  resourceGroup: optStr,
  properties: z.object({
    displayName: optStr,
    resourceDetails: z.record(z.string(), z.unknown()).nullish(),
    status: z.object({
      code: z.enum(['Healthy', 'Unhealthy', 'NotApplicable']),
      cause: optStr,
      description: optStr,
      firstEvaluationDate: optStr,
      statusChangeDate: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a date'),
    }),
    metadata: z.object({
      displayName: optStr,
      severity: z.enum(['High', 'Medium', 'Low']),
      description: optStr,
      remediationDescription: optStr,
    }),
    links: z.object({ azurePortal: optStr, azurePortalUri: optStr }).nullish(),
  }),
});

const SubscriptionRow = z.object({
  subscriptionId: z.string().min(1),
  properties: z.object({
    managementGroupAncestorsChain: z.array(z.object({ name: z.string(), displayName: z.string() })).default([]),
  }),
});

const Tags = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((t) => Object.fromEntries(Object.entries(t ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')));

const ResourceTagRow = z.object({ id: z.string().min(1), tags: Tags });
const ResourceGroupTagRow = z.object({ id: z.string().min(1), name: z.string().min(1), subscriptionId: z.string().min(1), tags: Tags });
const SubscriptionTagRow = z.object({ subscriptionId: z.string().min(1), tags: Tags });

const SUBSCRIPTION_ID = /^\/subscriptions\/([^/]+)$/i;
const GROUP_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)$/i;
const GROUP_OF = /^(\/subscriptions\/([^/]+)\/resourceGroups\/[^/]+)\//i;
const SUBSCRIPTION_OF = /^\/subscriptions\/([^/]+)/i;

const SubscriptionNameRow = z.object({
  subscriptionId: z.string().min(1),
  name: z.string().min(1),
});

function portalLink(raw: string | null | undefined, key: string): string {
  if (!raw) return recommendationPortalLink(key);
  // ARG's links.azurePortal comes without a scheme.
  return /^https?:\/\//i.test(raw) ? raw : `https://${raw}`;
}

/**
 * One copy of each text that many rows repeat (a recommendation's name, description and steps, a
 * subscription, a type), for the rows of a page. A mapped row lives until its page is folded, long
 * enough to be promoted to the old generation; with its own copy of a recommendation's texts (about
 * a kilobyte a row) every page left that much garbage there, which a 200k pass paid for in peak
 * memory. With the pooled copy, the parsed one dies young.
 */
export class RepeatedStrings {
  private readonly seen = new Map<string, string>();
  of(s: string): string;
  of(s: string | undefined): string | undefined;
  of(s: string | undefined): string | undefined {
    if (s === undefined) return s;
    const known = this.seen.get(s);
    if (known !== undefined) return known;
    this.seen.set(s, s);
    return s;
  }
  /** Between pages: the texts of the folded ones stay with whatever kept them. */
  clear(): void {
    this.seen.clear();
  }
}

/** Row → domain. Returns a reason string when the row is unusable. `strings`: see RepeatedStrings. */
export function mapAssessmentRow(raw: unknown, strings?: RepeatedStrings): UnhealthyResource | string {
  const parsed = AssessmentRow.safeParse(raw);
  if (!parsed.success)
    return parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.')}: ${i.message}`)
      .join('; ');
  const row = parsed.data;
  const details = row.properties.resourceDetails ?? {};
  const detailId = details['Id'] ?? details['id'];
  const resourceId = typeof detailId === 'string' && detailId ? detailId : splitAssessmentId(row.id)?.resourceId;
  if (!resourceId) return 'no resource id';
  const res = parseResourceId(resourceId);
  if (!res) return `unparseable resource id ${resourceId}`;
  const p = row.properties;
  const displayName = p.displayName ?? p.metadata.displayName;
  if (!displayName) return 'no display name';
  const resourceGroup = res.resourceGroup ?? (row.resourceGroup || undefined);
  const one = (s: string | undefined) => (strings && s !== undefined ? strings.of(s) : s);
  return {
    assessmentId: row.id,
    assessmentKey: one(row.name)!,
    resourceId,
    resourceName: res.name,
    resourceType: one(res.type)!,
    subscriptionId: one(row.subscriptionId)!,
    ...(resourceGroup ? { resourceGroup: one(resourceGroup) } : {}),
    ...(row.tenantId ? { tenantId: one(row.tenantId) } : {}),
    severity: p.metadata.severity,
    status: p.status.code,
    ...(p.status.cause ? { statusCause: one(p.status.cause) } : {}),
    ...(p.status.description ? { statusDescription: one(p.status.description) } : {}),
    statusChangeDate: new Date(p.status.statusChangeDate).toISOString(),
    ...(p.status.firstEvaluationDate ? { firstEvaluationDate: p.status.firstEvaluationDate } : {}),
    displayName: one(displayName)!,
    description: one(p.metadata.description ?? '')!,
    remediationSteps: one(p.metadata.remediationDescription ?? '')!,
    portalLink: one(portalLink(p.links?.azurePortal ?? p.links?.azurePortalUri, row.name))!,
  };
}

/** A streamed row mapAssessmentRow refused: why, and its id when it had one. */
class SkippedRow {
  constructor(
    readonly reason: string,
    readonly id: string | undefined,
  ) {}
}

/** A row whose fingerprint the caller knew: not parsed, handed over as the lookup's entry. */
class KnownRow {
  constructor(
    readonly entry: number,
    readonly hi: number,
    readonly lo: number,
  ) {}
}

/** A parsed row with the fingerprint of its bytes. */
class FingerprintedRow {
  constructor(
    readonly row: UnhealthyResource | SkippedRow,
    readonly hi: number,
    readonly lo: number,
  ) {}
}

function fingerprintingRows(known: KnownRowLookup, strings: RepeatedStrings): RowFromBytes {
  return (bytes, parse) => {
    const { hi, lo } = rowFingerprint(bytes);
    const entry = known.lookup(hi, lo);
    return entry >= 0 ? new KnownRow(entry, hi, lo) : new FingerprintedRow(mapStreamedRow(parse(), strings), hi, lo);
  };
}

function mapStreamedRow(raw: unknown, strings?: RepeatedStrings): UnhealthyResource | SkippedRow {
  const mapped = mapAssessmentRow(raw, strings);
  if (typeof mapped !== 'string') return mapped;
  return new SkippedRow(mapped, typeof raw === 'object' && raw !== null && 'id' in raw ? String((raw as { id: unknown }).id) : undefined);
}

export interface ResourceGraphOptions {
  /** `$top` per request; ARG's maximum is 1000. */
  pageSize?: number;
  /** Ids per by-id query; keeps the KQL text well under ARG's query length limit. */
  idBatchSize?: number;
  /**
   * Characters of quoted ids per tag query. Resource Graph's limit on query text is not in its
   * docs or spec; 12,000 keeps a batch of 200 ids of typical length (~100–150 characters) in one
   * query and splits batches of long ids.
   */
  maxListChars?: number;
}

export class ResourceGraphClient {
  private readonly pageSize: number;
  private readonly idBatchSize: number;
  private readonly maxListChars: number;

  constructor(
    private readonly http: AzureHttp,
    opts: ResourceGraphOptions = {},
  ) {
    this.pageSize = Math.min(1000, Math.max(1, opts.pageSize ?? 1000));
    this.idBatchSize = Math.max(1, opts.idBatchSize ?? 200);
    this.maxListChars = Math.max(1, opts.maxListChars ?? 12_000);
  }

  /**
   * Raw paging loop: same query and scopes each time, continuation via options.$skipToken. The
   * next page is requested as soon as this one's token is known, before the caller processes
   * this one: Resource Graph builds page n+1 while the caller maps page n, so a pass lasts about
   * as long as the slower of the two instead of their sum. At most two pages are held at once.
   */
  async *pages(base: Omit<QueryRequestBody, 'options'>, mapRow?: (row: unknown) => unknown, rowFromBytes?: RowFromBytes): AsyncGenerator<RawPage> {
    const fetchPage = async (skipToken: string | undefined): Promise<{ page: RawPage; skipToken: string | undefined }> => {
      const body: QueryRequestBody = {
        ...base,
        options: { $top: this.pageSize, resultFormat: 'objectArray', ...(skipToken ? { $skipToken: skipToken } : {}) },
      };
      const resp = await this.http.send({
        service: 'arm',
        method: 'POST',
        path: '/providers/Microsoft.ResourceGraph/resources',
        params: { 'api-version': RESOURCE_GRAPH_API_VERSION },
        data: body,
        schema: QueryResponse,
        quotaAware: true,
        rowsOf: 'data',
        ...(mapRow ? { mapRow } : {}),
        ...(rowFromBytes ? { rowFromBytes } : {}),
      });
      const page: RawPage = {
        data: resp.data,
        totalRecords: resp.totalRecords,
        count: resp.count,
        truncated: resp.resultTruncated === 'true' || resp.resultTruncated === true,
      };
      return { page, skipToken: resp.$skipToken ?? undefined };
    };
    let pending: Promise<{ page: RawPage; skipToken: string | undefined }> | undefined = fetchPage(undefined);
    try {
      while (pending) {
        const current: { page: RawPage; skipToken: string | undefined } = await pending;
        pending = current.skipToken ? fetchPage(current.skipToken) : undefined;
        // A caller that stops early (or throws) leaves the prefetched page unread: not an unhandled rejection.
        pending?.catch(() => undefined);
        yield current.page;
      }
    } finally {
      pending = undefined;
    }
  }

  /** pages() for callers that only read rows: an incomplete answer is logged (they keep what arrived). */
  private async *checkedPages(base: Omit<QueryRequestBody, 'options'>, what: string): AsyncGenerator<RawPage> {
    const check = new PagingCheck();
    for await (const page of this.pages(base)) {
      check.observe(page);
      yield page;
    }
    const incomplete = check.finish();
    if (incomplete) this.http.logger.warn({ reason: incomplete }, `Resource Graph's answer for ${what} was incomplete`);
  }

  private async streamAssessments(base: Omit<QueryRequestBody, 'options'>, onPage: OnPage | undefined, fingerprints?: KnownRowLookup): Promise<QuerySummary> {
    const summary: QuerySummary = { pages: 0, rows: 0, skipped: 0, totalRecords: 0, complete: true, ...(fingerprints ? { known: 0 } : {}) };
    const check = new PagingCheck();
    // Rows are mapped as they arrive: a page holds its mapped rows, not the parsed JSON of them too.
    const strings = new RepeatedStrings();
    const mapRow = (raw: unknown) => mapStreamedRow(raw, strings);
    for await (const page of this.pages(base, mapRow, fingerprints ? fingerprintingRows(fingerprints, strings) : undefined)) {
      // The next page is already arriving (pages() prefetches): its rows only lose the sharing with this one's.
      strings.clear();
      check.observe(page);
      summary.pages++;
      summary.totalRecords = page.totalRecords;
      const rows: UnhealthyResource[] = [];
      let skipped = 0;
      const prints: number[] = [];
      const known: number[] = [];
      for (const item of page.data as Array<UnhealthyResource | SkippedRow | KnownRow | FingerprintedRow>) {
        if (item instanceof KnownRow) {
          known.push(item.entry, item.hi, item.lo);
          continue;
        }
        const mapped = item instanceof FingerprintedRow ? item.row : item;
        if (mapped instanceof SkippedRow) {
          skipped++;
          this.http.logger.warn({ id: mapped.id, reason: mapped.reason }, 'skipping malformed Resource Graph assessment row');
          continue;
        }
        rows.push(mapped);
        if (item instanceof FingerprintedRow) prints.push(item.hi, item.lo);
        if (!summary.latestStatusChange || mapped.statusChangeDate > summary.latestStatusChange) {
          summary.latestStatusChange = mapped.statusChangeDate;
        }
      }
      summary.rows += rows.length;
      summary.skipped += skipped;
      const info: PageInfo = { page: summary.pages, totalRecords: page.totalRecords, skipped };
      if (fingerprints) {
        summary.known! += known.length / 3;
        info.fingerprints = Uint32Array.from(prints);
        info.known = Uint32Array.from(known);
      }
      // Awaited before the next request: the caller's pace is the backpressure.
      if (onPage) await onPage(rows, info);
    }
    const incomplete = check.finish();
    if (incomplete) {
      summary.complete = false;
      summary.incomplete = incomplete;
    }
    return summary;
  }

  /** With `fingerprints`, rows the lookup knows are not parsed (see AssessmentQueryOptions in app/ports.ts). */
  queryUnhealthyAssessments(scopes: readonly string[], opts: { onPage: OnPage; fingerprints?: KnownRowLookup }): Promise<QuerySummary> {
    return this.streamAssessments({ ...scopesToRequest(scopes), query: UNHEALTHY_ASSESSMENTS_QUERY }, opts.onPage, opts.fingerprints);
  }

  /** Assessments whose status changed after the watermark, any status (Healthy ones close tickets). */
  queryChangedSince(scopes: readonly string[], watermark: Date, opts: { onPage: OnPage }): Promise<QuerySummary> {
    return this.streamAssessments({ ...scopesToRequest(scopes), query: changedSinceQuery(watermark) }, opts.onPage);
  }

  /**
   * Current state of the given assessments; ids missing from the result no longer exist (or
   * Resource Graph has not ingested them). Throws IncompleteResultError when an answer was
   * incomplete, since absence would then prove nothing; readAssessmentsByIds keeps what arrived.
   */
  async queryAssessmentsByIds(ids: readonly string[], scopes: readonly string[] = []): Promise<UnhealthyResource[]> {
    const result = await this.readAssessmentsByIds(ids, scopes);
    if (result.incomplete) throw new IncompleteResultError(result.incomplete);
    return result.rows;
  }

  /** Like queryAssessmentsByIds, but an incomplete batch is reported (its missing ids in `unconfirmed`) instead of thrown. */
  async readAssessmentsByIds(ids: readonly string[], scopes: readonly string[] = []): Promise<AssessmentsByIdResult> {
    const unique = [...new Set(ids.map((i) => i.toLowerCase()))];
    const out: AssessmentsByIdResult = { rows: [], unconfirmed: [] };
    for (let i = 0; i < unique.length; i += this.idBatchSize) {
      const batch = unique.slice(i, i + this.idBatchSize);
      const rows: UnhealthyResource[] = [];
      const summary = await this.streamAssessments({ ...scopesToRequest(scopes), query: assessmentsByIdsQuery(batch) }, (page) => {
        rows.push(...page);
      });
      out.rows.push(...rows);
      if (!summary.complete) {
        out.incomplete ??= summary.incomplete;
        const found = new Set(rows.map((r) => r.assessmentId.toLowerCase()));
        out.unconfirmed.push(...batch.filter((id) => !found.has(id)));
      }
    }
    return out;
  }

  /**
   * subscriptionId (as passed in) → management groups, nearest first (ends with the tenant root
   * group). Subscriptions ARG does not return are absent from the map.
   */
  async getSubscriptionAncestry(subscriptionIds: readonly string[]): Promise<Map<string, ManagementGroupRef[]>> {
    const out = new Map<string, ManagementGroupRef[]>();
    if (subscriptionIds.length === 0) return out;
    const asGiven = new Map(subscriptionIds.map((s) => [s.toLowerCase(), s]));
    for await (const page of this.checkedPages({ query: subscriptionAncestryQuery(subscriptionIds) }, 'management-group ancestry')) {
      for (const raw of page.data) {
        const row = SubscriptionRow.safeParse(raw);
        if (!row.success) {
          this.http.logger.warn({ issues: row.error.issues.slice(0, 3) }, 'skipping malformed subscription row');
          continue;
        }
        out.set(asGiven.get(row.data.subscriptionId.toLowerCase()) ?? row.data.subscriptionId, row.data.properties.managementGroupAncestorsChain);
      }
    }
    return out;
  }

  /**
   * subscriptionId (as passed in) → display name. Subscriptions ARG does not return (no access,
   * deleted) are absent from the map.
   */
  async getSubscriptionNames(subscriptionIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const unique = [...new Map(subscriptionIds.map((s) => [s.toLowerCase(), s])).values()];
    const asGiven = new Map(unique.map((s) => [s.toLowerCase(), s]));
    for (let i = 0; i < unique.length; i += this.idBatchSize) {
      const batch = unique.slice(i, i + this.idBatchSize);
      for await (const page of this.checkedPages({ query: subscriptionNamesQuery(batch) }, 'subscription names')) {
        for (const raw of page.data) {
          const row = SubscriptionNameRow.safeParse(raw);
          if (!row.success) {
            this.http.logger.warn({ issues: row.error.issues.slice(0, 3) }, 'skipping malformed subscription row');
            continue;
          }
          out.set(asGiven.get(row.data.subscriptionId.toLowerCase()) ?? row.data.subscriptionId, row.data.name);
        }
      }
    }
    return out;
  }

  /**
   * Tags of the given resources, and (with `inherited`, the default) of their resource groups and
   * subscriptions, for owner tags read the way Defender reads them. Ids may name resources,
   * resource groups or subscriptions (subscription-level findings). Asked in batches that respect
   * the query size; a resource missing from a complete answer no longer exists.
   */
  async getResourceTags(ids: readonly string[], opts: { inherited?: boolean } = {}): Promise<ResourceTags> {
    const inherited = opts.inherited ?? true;
    const out: ResourceTags = { resources: [], resourceGroups: [], subscriptions: [], unconfirmed: [] };
    const resources = new Map<string, string>();
    const groups = new Map<string, string>();
    const subscriptions = new Map<string, string>();
    for (const id of ids) {
      const trimmed = id.trim().replace(/\/+$/, '');
      const sub = SUBSCRIPTION_ID.exec(trimmed);
      const group = GROUP_ID.exec(trimmed);
      if (sub) subscriptions.set(sub[1]!.toLowerCase(), sub[1]!);
      else if (group) groups.set(trimmed.toLowerCase(), trimmed);
      else resources.set(trimmed.toLowerCase(), trimmed);
      if (!inherited || sub) continue;
      const owningGroup = GROUP_OF.exec(trimmed);
      if (owningGroup) groups.set(owningGroup[1]!.toLowerCase(), owningGroup[1]!);
      const owningSub = SUBSCRIPTION_OF.exec(trimmed);
      if (owningSub) subscriptions.set(owningSub[1]!.toLowerCase(), owningSub[1]!);
    }
    const read = async <R>(
      values: Map<string, string>,
      query: (batch: string[]) => string,
      row: z.ZodType<R>,
      keyOf: (r: R) => string,
      what: string,
      keep: (r: R) => void,
    ) => {
      for (const batch of kqlBatches([...values.values()], this.idBatchSize, this.maxListChars)) {
        const check = new PagingCheck();
        const found = new Set<string>();
        for await (const page of this.pages({ query: query(batch) })) {
          check.observe(page);
          for (const raw of page.data) {
            const parsed = row.safeParse(raw);
            if (!parsed.success) {
              this.http.logger.warn({ issues: parsed.error.issues.slice(0, 3) }, `skipping a malformed ${what} row`);
              continue;
            }
            found.add(keyOf(parsed.data).toLowerCase());
            keep(parsed.data);
          }
        }
        const incomplete = check.finish();
        if (incomplete) {
          this.http.logger.warn({ reason: incomplete }, `Resource Graph's answer for ${what} was incomplete`);
          out.incomplete ??= incomplete;
          out.unconfirmed.push(...batch.map((v) => v.toLowerCase()).filter((v) => !found.has(v)));
        }
      }
    };
    await read(
      resources,
      resourceTagsQuery,
      ResourceTagRow,
      (r) => r.id,
      'resource tags',
      (r) => out.resources.push({ id: r.id, tags: r.tags }),
    );
    await read(
      groups,
      resourceGroupTagsQuery,
      ResourceGroupTagRow,
      (r) => r.id,
      'resource group tags',
      (r) => out.resourceGroups.push({ id: r.id, subscriptionId: r.subscriptionId, name: r.name, tags: r.tags }),
    );
    await read(
      subscriptions,
      subscriptionTagsQuery,
      SubscriptionTagRow,
      (r) => r.subscriptionId,
      'subscription tags',
      (r) => out.subscriptions.push({ subscriptionId: r.subscriptionId, tags: r.tags }),
    );
    return out;
  }
}
