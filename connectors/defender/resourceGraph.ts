/**
 * Azure Resource Graph queries over Defender assessments. Pages are handed to the caller as they
 * arrive (onPage), so a tenant with tens of thousands of unhealthy rows never sits in memory at once.
 */
import { z } from 'zod';
import { parseResourceId, recommendationPortalLink, splitAssessmentId, type UnhealthyResource } from '../../core/defender-model.js';
import type { AzureHttp } from './http.js';

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
}

export type OnPage = (rows: UnhealthyResource[], info: PageInfo) => void | Promise<void>;

export interface QuerySummary {
  pages: number;
  rows: number;
  skipped: number;
  totalRecords: number;
  /** Latest statusChangeDate seen: the next watermark for queryChangedSince. */
  latestStatusChange?: string;
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

const SubscriptionNameRow = z.object({
  subscriptionId: z.string().min(1),
  name: z.string().min(1),
});

function portalLink(raw: string | null | undefined, key: string): string {
  if (!raw) return recommendationPortalLink(key);
  // ARG's links.azurePortal comes without a scheme.
  return /^https?:\/\//i.test(raw) ? raw : `https://${raw}`;
}

/** Row → domain. Returns a reason string when the row is unusable. */
export function mapAssessmentRow(raw: unknown): UnhealthyResource | string {
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
  return {
    assessmentId: row.id,
    assessmentKey: row.name,
    resourceId,
    resourceName: res.name,
    resourceType: res.type,
    subscriptionId: row.subscriptionId,
    ...(resourceGroup ? { resourceGroup } : {}),
    ...(row.tenantId ? { tenantId: row.tenantId } : {}),
    severity: p.metadata.severity,
    status: p.status.code,
    ...(p.status.cause ? { statusCause: p.status.cause } : {}),
    ...(p.status.description ? { statusDescription: p.status.description } : {}),
    statusChangeDate: new Date(p.status.statusChangeDate).toISOString(),
    ...(p.status.firstEvaluationDate ? { firstEvaluationDate: p.status.firstEvaluationDate } : {}),
    displayName,
    description: p.metadata.description ?? '',
    remediationSteps: p.metadata.remediationDescription ?? '',
    portalLink: portalLink(p.links?.azurePortal ?? p.links?.azurePortalUri, row.name),
  };
}

export interface ResourceGraphOptions {
  /** `$top` per request; ARG's maximum is 1000. */
  pageSize?: number;
  /** Ids per by-id query; keeps the KQL text well under ARG's query length limit. */
  idBatchSize?: number;
}

export class ResourceGraphClient {
  private readonly pageSize: number;
  private readonly idBatchSize: number;

  constructor(
    private readonly http: AzureHttp,
    opts: ResourceGraphOptions = {},
  ) {
    this.pageSize = Math.min(1000, Math.max(1, opts.pageSize ?? 1000));
    this.idBatchSize = Math.max(1, opts.idBatchSize ?? 200);
  }

  /** Raw paging loop: same query and scopes each time, continuation via options.$skipToken. */
  async *pages(base: Omit<QueryRequestBody, 'options'>): AsyncGenerator<{ data: unknown[]; totalRecords: number }> {
    let skipToken: string | undefined;
    do {
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
      });
      if (resp.resultTruncated === 'true' || resp.resultTruncated === true) {
        this.http.logger.warn({ totalRecords: resp.totalRecords, count: resp.count }, 'Resource Graph result truncated');
      }
      skipToken = resp.$skipToken ?? undefined;
      yield { data: resp.data, totalRecords: resp.totalRecords };
    } while (skipToken);
  }

  private async streamAssessments(base: Omit<QueryRequestBody, 'options'>, onPage: OnPage | undefined): Promise<QuerySummary> {
    const summary: QuerySummary = { pages: 0, rows: 0, skipped: 0, totalRecords: 0 };
    for await (const page of this.pages(base)) {
      summary.pages++;
      summary.totalRecords = page.totalRecords;
      const rows: UnhealthyResource[] = [];
      let skipped = 0;
      for (const raw of page.data) {
        const mapped = mapAssessmentRow(raw);
        if (typeof mapped === 'string') {
          skipped++;
          const id = typeof raw === 'object' && raw !== null && 'id' in raw ? String((raw as { id: unknown }).id) : undefined;
          this.http.logger.warn({ id, reason: mapped }, 'skipping malformed Resource Graph assessment row');
          continue;
        }
        rows.push(mapped);
        if (!summary.latestStatusChange || mapped.statusChangeDate > summary.latestStatusChange) {
          summary.latestStatusChange = mapped.statusChangeDate;
        }
      }
      summary.rows += rows.length;
      summary.skipped += skipped;
      // Awaited before the next request: the caller's pace is the backpressure.
      if (onPage) await onPage(rows, { page: summary.pages, totalRecords: page.totalRecords, skipped });
    }
    return summary;
  }

  queryUnhealthyAssessments(scopes: readonly string[], opts: { onPage: OnPage }): Promise<QuerySummary> {
    return this.streamAssessments({ ...scopesToRequest(scopes), query: UNHEALTHY_ASSESSMENTS_QUERY }, opts.onPage);
  }

  /** Assessments whose status changed after the watermark, any status (Healthy ones close tickets). */
  queryChangedSince(scopes: readonly string[], watermark: Date, opts: { onPage: OnPage }): Promise<QuerySummary> {
    return this.streamAssessments({ ...scopesToRequest(scopes), query: changedSinceQuery(watermark) }, opts.onPage);
  }

  /** Current state of the given assessments; ids missing from the result no longer exist. */
  async queryAssessmentsByIds(ids: readonly string[], scopes: readonly string[] = []): Promise<UnhealthyResource[]> {
    const unique = [...new Set(ids.map((i) => i.toLowerCase()))];
    const out: UnhealthyResource[] = [];
    for (let i = 0; i < unique.length; i += this.idBatchSize) {
      const batch = unique.slice(i, i + this.idBatchSize);
      await this.streamAssessments({ ...scopesToRequest(scopes), query: assessmentsByIdsQuery(batch) }, (rows) => {
        out.push(...rows);
      });
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
    for await (const page of this.pages({ query: subscriptionAncestryQuery(subscriptionIds) })) {
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
      for await (const page of this.pages({ query: subscriptionNamesQuery(batch) })) {
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
}
