/**
 * Defender/Azure simulator: a plain Node http server that speaks the ARM, Resource Graph, Entra
 * token and Microsoft Graph shapes our client uses, following the official OpenAPI files. It is
 * not a KQL engine: it recognises the handful of query shapes the client sends (see classifyQuery).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { persistingControl, readStateFile, writeStateFile } from '../stateFile.js';
import {
  assessmentIdFor,
  armIdParts,
  GOVERNANCE_API_VERSION,
  RESOURCE_GROUP_CONTAINER_TYPE,
  SUBSCRIPTION_CONTAINER_TYPE,
  type AssessmentStatusCode,
} from './protocol.js';
import {
  BUILTIN_ROLE_IDS,
  builtInDataset,
  type BuiltInRoleName,
  type DatasetAssessment,
  type DatasetGovernanceRule,
  type DatasetRecommendation,
  type DefenderDataset,
} from './dataset.js';
import {
  SimulatorState,
  type AssessmentTarget,
  type AssessmentView,
  type GovernanceAssignmentPropertiesBody,
  type NewAssessment,
  type StoredGovernanceAssignment,
} from './state.js';

export const ARG_API_VERSIONS = ['2024-04-01', '2022-10-01', '2021-03-01'];
export const ASSESSMENTS_API_VERSION = '2021-06-01';
export { GOVERNANCE_API_VERSION };
export const ROLE_ASSIGNMENTS_API_VERSIONS = ['2022-04-01'];

export type QuotaOption = 'off' | { limit: number; windowSeconds: number };

export interface FaultSpec {
  count: number;
  status: number;
  /** Sent as Retry-After (seconds) when set. */
  retryAfterSeconds?: number;
  /** Which requests the fault hits; default `resourceGraph`. */
  target?: 'resourceGraph' | 'arm' | 'graph' | 'any';
}

/**
 * Resource Graph answers that are well-formed (they validate against QueryResponse in the
 * official 2024-04-01 spec) but do not carry the complete set, as the real service sometimes
 * answers. Each altered answer (one page) counts once.
 */
export interface ResultFaultSpec {
  count: number;
  /**
   * - `truncated`: ARG could not page: about half the rows, `resultTruncated: "true"`, no `$skipToken`.
   * - `short`: about half the rows of this page and no `$skipToken`, while `totalRecords` keeps the full count (paging ends early).
   * - `skipPage`: the `$skipToken` jumps over the next page, so its rows never arrive (rows missing mid-paging).
   * - `empty`: an empty answer, `totalRecords: 0`, indistinguishable from "nothing unhealthy".
   */
  kind: 'truncated' | 'short' | 'skipPage' | 'empty';
  /** Which queries it hits: the assessment queries (unhealthy = sync, by id, changed since), the tag reads of governance rules; default any of them. */
  query?: 'unhealthy' | 'ids' | 'since' | 'tags' | 'any';
}

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  at: string;
  kind: 'token' | 'resourceGraph' | 'arm' | 'graph' | 'control' | 'other';
  /** Parsed JSON body of Resource Graph POSTs and ARM PUTs, for contract tests. */
  body?: unknown;
}

export interface SimulatorClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface DefenderSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  clock?: Clock;
  logger?: Logger;
  /** Maximum rows per Resource Graph page (ARG's own cap is 1000). */
  pageSize?: number;
  /** Per-window Resource Graph quota; default 15 per 5 s as in Microsoft's throttling guide. */
  quota?: QuotaOption;
  dataset?: DefenderDataset;
  tokenLifetimeSeconds?: number;
  /** App registrations allowed to get tokens; default one `defender-bot` / `simulator-secret`. */
  clients?: SimulatorClientCredentials[];
  /** Serve `/__control` over HTTP (sandbox); default true. */
  httpControl?: boolean;
  /** Governance rules per page of a listing (then `nextLink`); default 50. */
  governanceRulesPageSize?: number;
  /**
   * Keep the state (assessment statuses, resources, governance assignments, role grants) in this
   * file: loaded at start instead of `dataset`, rewritten before any response that follows a change.
   */
  stateFile?: string;
}

const SavedRowSchema = z.record(z.string(), z.unknown());
/** What `stateFile` holds. Rows are checked for the keys the state indexes them by. */
const SavedStateSchema = z.object({
  format: z.literal('defender-simulator/1'),
  dataset: z.object({
    tenantId: z.string(),
    managementGroups: z.array(SavedRowSchema),
    subscriptions: z.array(SavedRowSchema),
    recommendations: z.array(z.looseObject({ key: z.string() })),
    resources: z.array(z.looseObject({ id: z.string() })),
    assessments: z.array(z.looseObject({ resourceId: z.string(), key: z.string(), code: z.enum(['Healthy', 'Unhealthy', 'NotApplicable']) })),
    users: z.array(SavedRowSchema),
    roleAssignments: z.array(SavedRowSchema),
    resourceGroups: z.array(z.looseObject({ subscriptionId: z.string(), name: z.string() })).optional(),
    governanceRules: z.array(z.looseObject({ scope: z.string(), name: z.string() })).optional(),
  }),
  governance: z.array(z.looseObject({ id: z.string() })),
});

export const DEFAULT_SIMULATOR_CLIENT: SimulatorClientCredentials = { clientId: 'defender-bot', clientSecret: 'simulator-secret' };

export interface DefenderSimulatorControl {
  readonly tenantId: string;
  setAssessmentStatus(target: AssessmentTarget, code: AssessmentStatusCode, extra?: { cause?: string; description?: string }): number;
  markHealthy(target: AssessmentTarget): number;
  markUnhealthy(target: AssessmentTarget): number;
  deleteResource(resourceIdOrName: string): number;
  /**
   * Leaves an assessment out of every Resource Graph result while the REST API still serves it,
   * as when Resource Graph lags behind or drops a row. Returns whether the assessment exists.
   */
  hideFromResourceGraph(assessmentId: string): boolean;
  /** Undoes hideFromResourceGraph. */
  showInResourceGraph(assessmentId: string): void;
  addUnhealthyAssessments(items: NewAssessment[]): string[];
  addRecommendation(rec: DatasetRecommendation): void;
  listAssessments(filter?: { code?: AssessmentStatusCode; subscriptionId?: string; assessmentKey?: string }): AssessmentView[];
  setQuota(quota: QuotaOption): void;
  setPageSize(pageSize: number): void;
  setTokenLifetime(seconds: number): void;
  injectFaults(fault: FaultSpec): void;
  /** Partial or empty Resource Graph answers (see ResultFaultSpec). */
  injectResultFault(fault: ResultFaultSpec): void;
  /** Clears both kinds of fault. */
  clearFaults(): void;
  listGovernanceAssignments(): StoredGovernanceAssignment[];
  /** Defender's governance rules (all scopes). */
  listGovernanceRules(): DatasetGovernanceRule[];
  /** Adds (or replaces, by scope and name) a governance rule. */
  addGovernanceRule(rule: DatasetGovernanceRule): void;
  setGovernanceRulesPageSize(pageSize: number): void;
  /** Replaces the tags of a resource, resource group or subscription id; false when it does not exist. */
  setTags(id: string, tags: Record<string, string>): boolean;
  requestCount(filter?: { kind?: RequestLogEntry['kind']; method?: string; pathIncludes?: string; status?: number }): number;
  requests(): readonly RequestLogEntry[];
  resetRequestLog(): void;
  tokensIssued(): number;
  /** Adds a role assignment (a user's Entra object id, a built-in role, an ARM scope); returns its name. */
  grantRole(principalId: string, role: BuiltInRoleName, scope: string): string;
  /** Removes every role assignment of a user. */
  revokeRoles(principalId: string): number;
}

export interface DefenderSimulator {
  url: string;
  port: number;
  tenantId: string;
  control: DefenderSimulatorControl;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

function armError(status: number, code: string, message: string, extra?: Record<string, unknown>, headers?: Record<string, string>): HttpError {
  return new HttpError(status, { error: { code, message, ...extra } }, headers);
}

function graphError(status: number, code: string, message: string, clock: Clock): HttpError {
  const requestId = randomBytes(16)
    .toString('hex')
    .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5');
  return new HttpError(status, {
    error: {
      code,
      message,
      innerError: {
        date: clock
          .now()
          .toISOString()
          .replace(/\.\d{3}Z$/, ''),
        'request-id': requestId,
        'client-request-id': requestId,
      },
    },
  });
}

/** `hh:mm:ss`, rounded up: telling a client "00:00:00" while the window is still closed would make it spin. */
export function formatResetsAfter(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
}

const QueryRequestSchema = z.object({
  subscriptions: z.array(z.string()).optional(),
  managementGroups: z.array(z.string()).optional(),
  query: z.string().min(1),
  options: z
    .object({
      $top: z.number().int().min(1).max(1000).optional(),
      $skip: z.number().int().min(0).optional(),
      $skipToken: z.string().optional(),
      resultFormat: z.enum(['table', 'objectArray']).optional(),
      allowPartialScopes: z.boolean().optional(),
      authorizationScopeFilter: z.enum(['AtScopeAndBelow', 'AtScopeAndAbove', 'AtScopeExact', 'AtScopeAboveAndBelow']).optional(),
    })
    .optional(),
  facets: z.array(z.object({ expression: z.string() }).loose()).optional(),
});
type QueryRequest = z.infer<typeof QueryRequestSchema>;

const DATE_TIME = z.string().refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), 'expected an ISO 8601 date-time');

const GovernanceAssignmentBodySchema = z.object({
  properties: z.strictObject({
    owner: z.string().optional(),
    remediationDueDate: DATE_TIME,
    remediationEta: z.strictObject({ eta: DATE_TIME, justification: z.string() }).optional(),
    isGracePeriod: z.boolean().optional(),
    governanceEmailNotification: z
      .strictObject({ disableManagerEmailNotification: z.boolean().optional(), disableOwnerEmailNotification: z.boolean().optional() })
      .optional(),
    additionalData: z
      .strictObject({
        ticketNumber: z.number().int().min(0).max(2_147_483_647).optional(),
        ticketLink: z.string().optional(),
        ticketStatus: z.string().optional(),
      })
      .optional(),
  }),
});

type Classified =
  | { kind: 'assessments'; filter: 'unhealthy' }
  | { kind: 'assessments'; filter: 'ids'; ids: Set<string> }
  | { kind: 'assessments'; filter: 'since'; since: number }
  | { kind: 'subscriptions'; ids?: Set<string> }
  | { kind: 'resourceTags'; ids: Set<string> }
  | { kind: 'resourceGroupTags'; ids: Set<string> }
  | { kind: 'subscriptionTags'; ids: Set<string> };

function quotedList(q: string, after: RegExp): string[] | undefined {
  const m = after.exec(q);
  if (!m) return undefined;
  const start = m.index + m[0].length;
  const end = q.indexOf(')', start);
  if (end < 0) return undefined;
  return [...q.slice(start, end).matchAll(/'([^']*)'/g)].map((x) => x[1]!.toLowerCase());
}

/** Recognises the query shapes our client sends by their markers (documented in the client). */
export function classifyQuery(query: string): Classified | undefined {
  const q = query.toLowerCase();
  // Tag reads for governance rules: `| project id, … tags …` over resources or resourcecontainers.
  const projectsTags = /\|\s*project\s+id\b[^|]*\btags\b/.test(q);
  if (projectsTags) {
    const byId = quotedList(q, /\bid\s+in~?\s*\(/);
    if (/^\s*resources\b/.test(q) && byId) return { kind: 'resourceTags', ids: new Set(byId) };
    if (q.includes('resourcecontainers') && q.includes(`'${RESOURCE_GROUP_CONTAINER_TYPE}'`) && byId) return { kind: 'resourceGroupTags', ids: new Set(byId) };
    const subs = quotedList(q, /subscriptionid\s+in~?\s*\(/);
    if (q.includes('resourcecontainers') && q.includes(`'${SUBSCRIPTION_CONTAINER_TYPE}'`) && subs) return { kind: 'subscriptionTags', ids: new Set(subs) };
    return undefined;
  }
  if (q.includes('resourcecontainers') && q.includes("'microsoft.resources/subscriptions'")) {
    const ids = quotedList(q, /subscriptionid\s+in~?\s*\(/);
    return ids ? { kind: 'subscriptions', ids: new Set(ids) } : { kind: 'subscriptions' };
  }
  if (q.includes('securityresources') && q.includes("'microsoft.security/assessments'")) {
    if (!/\|\s*project\s+id\b/.test(q)) return undefined; // paging needs id (ARG docs)
    const ids = quotedList(q, /tolower\(id\)\s+in~?\s*\(/);
    if (ids) return { kind: 'assessments', filter: 'ids', ids: new Set(ids) };
    const since = /statuschangedate\)\s*>\s*datetime\(([^)]+)\)/.exec(q);
    if (since) {
      const t = Date.parse(since[1]!.trim().toUpperCase());
      return Number.isNaN(t) ? undefined : { kind: 'assessments', filter: 'since', since: t };
    }
    if (/properties\.status\.code\)\s*(=~|==)\s*'unhealthy'/.test(q)) return { kind: 'assessments', filter: 'unhealthy' };
  }
  return undefined;
}

interface SkipToken {
  o: number;
  h: string;
}

function scopeHash(req: QueryRequest): string {
  return createHash('sha1')
    .update(JSON.stringify([req.query, req.subscriptions ?? [], req.managementGroups ?? []]))
    .digest('hex')
    .slice(0, 16);
}

const bodies = new WeakMap<http.IncomingMessage, string>();

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.set(req, text);
      resolve(text);
    });
    req.on('error', reject);
  });
}

function requireApiVersion(url: URL, allowed: string[]): void {
  const v = url.searchParams.get('api-version');
  if (!v) throw armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
  if (!allowed.includes(v)) {
    throw armError(400, 'InvalidApiVersionParameter', `The api-version '${v}' is invalid. The supported versions are '${allowed.join("','")}'.`);
  }
}

// ---------------------------------------------------------------------------------------------

export async function startDefenderSimulator(opts: DefenderSimulatorOptions = {}): Promise<DefenderSimulator> {
  const clock = opts.clock ?? systemClock;
  const log = (opts.logger ?? silentLogger).child({ component: 'defender-simulator' });
  const saved = opts.stateFile ? readStateFile(opts.stateFile, SavedStateSchema) : undefined;
  const state = new SimulatorState((saved?.dataset as unknown as DefenderDataset | undefined) ?? opts.dataset ?? builtInDataset(), clock);
  for (const g of (saved?.governance ?? []) as unknown as StoredGovernanceAssignment[]) state.governance.set(g.id.toLowerCase(), g);
  if (saved) log.info({ file: opts.stateFile }, 'Defender simulator state loaded');
  // state.version moves on every change (governance and role grants bump it too).
  let savedVersion = saved ? state.version : -1;
  const persist = () => {
    if (!opts.stateFile || state.version === savedVersion) return;
    writeStateFile(opts.stateFile, { format: 'defender-simulator/1', dataset: state.toDataset(), governance: [...state.governance.values()] });
    savedVersion = state.version;
  };
  persist();
  const clients = opts.clients ?? [DEFAULT_SIMULATOR_CLIENT];
  let pageSize = opts.pageSize ?? 1000;
  let governanceRulesPageSize = opts.governanceRulesPageSize ?? 50;
  let quota: QuotaOption = opts.quota ?? { limit: 15, windowSeconds: 5 };
  let tokenLifetime = opts.tokenLifetimeSeconds ?? 3599;
  let window = { start: 0, used: 0 };
  const faults: Array<FaultSpec & { remaining: number }> = [];
  const resultFaults: Array<ResultFaultSpec & { remaining: number }> = [];
  const tokens = new Map<string, number>();
  let issued = 0;
  const requestLog: RequestLogEntry[] = [];

  // --- auth -----------------------------------------------------------------------------------
  function checkBearer(req: http.IncomingMessage, graph: boolean): void {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const expiresAt = m ? tokens.get(m[1]!) : undefined;
    const fail = (code: string, message: string) => {
      if (graph) throw graphError(401, 'InvalidAuthenticationToken', message, clock);
      throw armError(401, code, message, undefined, {
        'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"',
      });
    };
    if (!m) fail('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
    if (expiresAt === undefined) fail('InvalidAuthenticationToken', 'The access token is invalid.');
    if (clock.now().getTime() >= expiresAt!) {
      fail('ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.');
    }
  }

  async function handleToken(req: http.IncomingMessage, tenant: string): Promise<unknown> {
    const form = new URLSearchParams(await readBody(req));
    const oauthError = (status: number, error: string, description: string) =>
      new HttpError(status, { error, error_description: description, error_codes: [], timestamp: clock.now().toISOString() });
    if (tenant.toLowerCase() !== state.tenantId.toLowerCase()) {
      throw oauthError(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    }
    if (form.get('grant_type') !== 'client_credentials')
      throw oauthError(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.');
    const scope = form.get('scope') ?? '';
    if (!scope.endsWith('/.default'))
      throw oauthError(
        400,
        'invalid_scope',
        'AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
      );
    const client = clients.find((c) => c.clientId === form.get('client_id'));
    if (!client)
      throw oauthError(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${form.get('client_id')}' was not found in the directory.`);
    if (client.clientSecret !== form.get('client_secret')) throw oauthError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    const token = `sim.${(++issued).toString(36)}.${randomBytes(18).toString('base64url')}`;
    tokens.set(token, clock.now().getTime() + tokenLifetime * 1000);
    return { token_type: 'Bearer', expires_in: tokenLifetime, ext_expires_in: tokenLifetime, access_token: token };
  }

  // --- faults / quota -------------------------------------------------------------------------
  function applyFault(kind: RequestLogEntry['kind']): void {
    const f = faults.find((x) => x.remaining > 0 && (x.target === 'any' || (x.target ?? 'resourceGraph') === kind));
    if (!f) return;
    f.remaining--;
    const headers: Record<string, string> = {};
    if (f.retryAfterSeconds !== undefined) headers['Retry-After'] = String(f.retryAfterSeconds);
    if (f.status === 429) {
      throw armError(
        429,
        'RateLimiting',
        'Please provide below info when asking for support: timestamp = ' + clock.now().toISOString(),
        {
          details: [
            {
              code: 'RateLimiting',
              message:
                'Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.',
            },
          ],
        },
        headers,
      );
    }
    throw armError(
      f.status,
      f.status >= 500 ? 'InternalServerError' : 'InjectedFault',
      'Encountered internal server error. Diagnostic information: simulated fault.',
      undefined,
      headers,
    );
  }

  function chargeQuota(): Record<string, string> {
    if (quota === 'off') return {};
    const now = clock.now().getTime();
    const windowMs = quota.windowSeconds * 1000;
    if (window.start === 0 || now >= window.start + windowMs) window = { start: now, used: 0 };
    const resetsAfter = formatResetsAfter(window.start + windowMs - now);
    if (window.used >= quota.limit) {
      const retry = String(Math.max(1, Math.ceil((window.start + windowMs - now) / 1000)));
      throw armError(
        429,
        'RateLimiting',
        'Please provide below info when asking for support: timestamp = ' + clock.now().toISOString(),
        {
          details: [
            {
              code: 'RateLimiting',
              message:
                'Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.',
            },
          ],
        },
        { 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': resetsAfter, 'Retry-After': retry },
      );
    }
    window.used++;
    return { 'x-ms-user-quota-remaining': String(quota.limit - window.used), 'x-ms-user-quota-resets-after': resetsAfter };
  }

  // --- row shapes -----------------------------------------------------------------------------
  function metadataProperties(rec: DatasetRecommendation): Record<string, unknown> {
    return {
      displayName: rec.displayName,
      ...(rec.policyDefinitionId ? { policyDefinitionId: rec.policyDefinitionId } : {}),
      description: rec.description,
      remediationDescription: rec.remediationDescription,
      categories: rec.categories,
      severity: rec.severity,
      userImpact: rec.userImpact,
      implementationEffort: rec.implementationEffort,
      threats: rec.threats,
      preview: false,
      assessmentType: 'BuiltIn',
    };
  }

  function statusOf(a: DatasetAssessment): Record<string, unknown> {
    return {
      code: a.code,
      ...(a.cause ? { cause: a.cause } : {}),
      ...(a.statusDescription ? { description: a.statusDescription } : {}),
      firstEvaluationDate: a.firstEvaluationDate,
      statusChangeDate: a.statusChangeDate,
    };
  }

  /** ARG row: PascalCase resourceDetails and `links.azurePortal`, unlike the REST shape. */
  function argRow(a: DatasetAssessment & { id: string }): Record<string, unknown> {
    const parsed = armIdParts(a.resourceId);
    const rec = state.recommendation(a.key);
    return {
      id: a.id,
      name: a.key,
      type: 'microsoft.security/assessments',
      tenantId: state.tenantId,
      subscriptionId: parsed?.subscriptionId ?? '',
      resourceGroup: (parsed?.resourceGroup ?? '').toLowerCase(),
      properties: {
        resourceDetails: { Source: 'Azure', Id: a.resourceId, ResourceName: parsed?.name, ResourceType: parsed?.type },
        ...(rec ? { displayName: rec.displayName } : {}),
        status: statusOf(a),
        ...(rec ? { metadata: metadataProperties(rec) } : {}),
        links: { azurePortal: `portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/${a.key}` },
        additionalData: {},
      },
    };
  }

  function subscriptionRow(subscriptionId: string): Record<string, unknown> {
    const sub = state.subscriptions.find((s) => s.subscriptionId.toLowerCase() === subscriptionId.toLowerCase())!;
    return {
      id: `/subscriptions/${sub.subscriptionId}`,
      name: sub.displayName,
      type: 'microsoft.resources/subscriptions',
      tenantId: state.tenantId,
      subscriptionId: sub.subscriptionId,
      resourceGroup: '',
      properties: { state: 'Enabled', managementGroupAncestorsChain: state.ancestorsOf(sub.subscriptionId) },
    };
  }

  // --- Resource Graph -------------------------------------------------------------------------
  const resultCache = new Map<string, { version: number; rows: Array<() => Record<string, unknown>> }>();
  const hiddenFromGraph = new Set<string>();

  /** Tags as Resource Graph shows them: an object, or null when there are none. */
  const tagsColumn = (tags: Record<string, string> | undefined) => (tags && Object.keys(tags).length > 0 ? { ...tags } : null);

  function computeRows(shape: Classified, inScope: (sub: string) => boolean): Array<() => Record<string, unknown>> {
    if (shape.kind === 'resourceTags') {
      return state
        .tableResources()
        .filter((r) => inScope(r.subscriptionId) && shape.ids.has(r.id.toLowerCase()))
        .map((r) => () => ({ id: r.id, tags: tagsColumn(r.tags), resourceGroup: (r.resourceGroup ?? '').toLowerCase(), subscriptionId: r.subscriptionId }));
    }
    if (shape.kind === 'resourceGroupTags') {
      return state
        .resourceGroups()
        .map((g) => ({ ...g, id: `/subscriptions/${g.subscriptionId}/resourceGroups/${g.name}` }))
        .filter((g) => inScope(g.subscriptionId) && shape.ids.has(g.id.toLowerCase()))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((g) => () => ({ id: g.id, name: g.name, tags: tagsColumn(g.tags), subscriptionId: g.subscriptionId }));
    }
    if (shape.kind === 'subscriptionTags') {
      return state.subscriptions
        .filter((s) => inScope(s.subscriptionId) && shape.ids.has(s.subscriptionId.toLowerCase()))
        .map((s) => ({ s, id: `/subscriptions/${s.subscriptionId}` }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map(({ s, id }) => () => ({ id, subscriptionId: s.subscriptionId, tags: tagsColumn(s.tags) }));
    }
    if (shape.kind === 'subscriptions') {
      return state.subscriptions
        .filter((s) => inScope(s.subscriptionId) && (!shape.ids || shape.ids.has(s.subscriptionId.toLowerCase())))
        .map((s) => `/subscriptions/${s.subscriptionId}`)
        .sort()
        .map((id) => () => subscriptionRow(id.split('/')[2]!));
    }
    const subOf = (id: string) => id.slice(15, id.indexOf('/', 15) < 0 ? undefined : id.indexOf('/', 15));
    const rows: Array<() => Record<string, unknown>> = [];
    for (const a of state.sortedAssessments()) {
      if (!inScope(subOf(a.resourceId))) continue;
      if (hiddenFromGraph.has(a.id.toLowerCase())) continue;
      if (shape.filter === 'unhealthy' && a.code !== 'Unhealthy') continue;
      if (shape.filter === 'ids' && !shape.ids.has(a.id.toLowerCase())) continue;
      if (shape.filter === 'since' && !(Date.parse(a.statusChangeDate) > shape.since)) continue;
      rows.push(() => argRow(a));
    }
    return rows;
  }

  async function handleResourceGraph(req: http.IncomingMessage, url: URL): Promise<{ body: unknown; headers: Record<string, string> }> {
    requireApiVersion(url, ARG_API_VERSIONS);
    let raw: unknown;
    try {
      raw = JSON.parse(await readBody(req));
    } catch {
      throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    }
    const parsed = QueryRequestSchema.safeParse(raw);
    if (!parsed.success)
      throw armError(
        400,
        'InvalidRequestContent',
        `The request content was invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const body = parsed.data;
    if (body.options?.resultFormat === 'table') throw armError(400, 'BadRequest', 'The simulator serves resultFormat objectArray only.');
    const headers = chargeQuota();
    const shape = classifyQuery(body.query);
    if (!shape) {
      throw armError(400, 'BadRequest', 'Please provide below info when asking for support: timestamp = ' + clock.now().toISOString(), {
        details: [
          {
            code: 'InvalidQuery',
            message: 'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.',
          },
        ],
      });
    }
    let allowedSubs: Set<string> | undefined;
    if (body.subscriptions?.length || body.managementGroups?.length) {
      allowedSubs = new Set((body.subscriptions ?? []).map((s) => s.toLowerCase()));
      for (const mg of body.managementGroups ?? []) {
        if (!state.managementGroups.some((g) => g.name.toLowerCase() === mg.toLowerCase())) {
          throw armError(400, 'BadRequest', `Management group '${mg}' not found or not accessible.`);
        }
        for (const s of state.subscriptionsUnder(mg)) allowedSubs.add(s.toLowerCase());
      }
    }
    const inScope = (sub: string) => !allowedSubs || allowedSubs.has(sub.toLowerCase());

    const hash = scopeHash(body);
    // Paging re-runs the same query; rebuilding the row list per page made 50k-row benchmarks slow.
    let rows = resultCache.get(hash)?.version === state.version ? resultCache.get(hash)!.rows : undefined;
    if (!rows) {
      rows = computeRows(shape, inScope);
      resultCache.set(hash, { version: state.version, rows });
      if (resultCache.size > 64) resultCache.delete(resultCache.keys().next().value!);
    }
    let offset = body.options?.$skip ?? 0;
    if (body.options?.$skipToken) {
      let token: SkipToken | undefined;
      try {
        token = JSON.parse(Buffer.from(body.options.$skipToken, 'base64url').toString('utf8')) as SkipToken;
      } catch {
        token = undefined;
      }
      if (!token || typeof token.o !== 'number' || token.h !== hash) {
        throw armError(400, 'BadRequest', 'The skip token is invalid or does not belong to this query and scope.', {
          details: [{ code: 'InvalidSkipToken', message: 'Resend the same query and scopes with the $skipToken of the previous page.' }],
        });
      }
      offset = token.o;
    }
    const size = Math.min(body.options?.$top ?? 1000, pageSize);
    const token = (o: number) => Buffer.from(JSON.stringify({ o, h: hash } satisfies SkipToken)).toString('base64url');
    const fault =
      shape.kind === 'assessments'
        ? takeResultFault(shape.filter)
        : shape.kind === 'resourceTags' || shape.kind === 'resourceGroupTags' || shape.kind === 'subscriptionTags'
          ? takeResultFault('tags')
          : undefined;
    if (fault === 'empty') return { body: { totalRecords: 0, count: 0, resultTruncated: 'false', facets: [], data: [] }, headers };
    if (fault === 'truncated' || fault === 'short') {
      const remaining = rows.length - offset;
      const kept = rows.slice(offset, offset + Math.min(size, Math.ceil(remaining / 2))).map((f) => f());
      return {
        body: { totalRecords: rows.length, count: kept.length, resultTruncated: fault === 'truncated' ? 'true' : 'false', facets: [], data: kept },
        headers,
      };
    }
    const page = rows.slice(offset, offset + size).map((f) => f());
    // skipPage: the token points past the next page, whose rows are then never served.
    const next = offset + page.length + (fault === 'skipPage' ? size : 0);
    const response: Record<string, unknown> = {
      totalRecords: rows.length,
      count: page.length,
      resultTruncated: 'false',
      ...(next < rows.length ? { $skipToken: token(next) } : {}),
      facets: [],
      data: page,
    };
    return { body: response, headers };
  }

  function takeResultFault(filter: 'unhealthy' | 'ids' | 'since' | 'tags'): ResultFaultSpec['kind'] | undefined {
    const f = resultFaults.find((x) => x.remaining > 0 && (x.query === undefined || x.query === 'any' || x.query === filter));
    if (!f) return undefined;
    f.remaining--;
    return f.kind;
  }

  // --- Security REST --------------------------------------------------------------------------
  function assessmentResponse(a: DatasetAssessment & { id: string }, expand: string | null): Record<string, unknown> {
    const rec = state.recommendation(a.key);
    const exp = (expand ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim());
    return {
      id: a.id,
      name: a.key,
      type: 'Microsoft.Security/assessments',
      properties: {
        resourceDetails: { source: 'Azure', id: a.resourceId },
        ...(rec ? { displayName: rec.displayName } : {}),
        status: statusOf(a),
        additionalData: {},
        ...(exp.includes('links')
          ? { links: { azurePortalUri: `https://portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/${a.key}` } }
          : {}),
        ...(exp.includes('metadata') && rec ? { metadata: metadataProperties(rec) } : {}),
      },
    };
  }

  function metadataResponse(rec: DatasetRecommendation, subscriptionId?: string): Record<string, unknown> {
    return {
      id: `${subscriptionId ? `/subscriptions/${subscriptionId}` : ''}/providers/Microsoft.Security/assessmentMetadata/${rec.key}`,
      name: rec.key,
      type: 'Microsoft.Security/assessmentMetadata',
      properties: { ...metadataProperties(rec), publishDates: { GA: '06/01/2021', public: '06/01/2021' } },
    };
  }

  function governanceResponse(g: StoredGovernanceAssignment): Record<string, unknown> {
    return { id: g.id, name: g.name, type: 'Microsoft.Security/assessments/governanceAssignments', properties: g.properties };
  }

  async function handleGovernance(
    req: http.IncomingMessage,
    url: URL,
    scope: string,
    assessmentName: string,
    key: string | undefined,
  ): Promise<{ status: number; body?: unknown }> {
    requireApiVersion(url, [GOVERNANCE_API_VERSION]);
    if (!/^[-\w._()]+$/.test(assessmentName)) throw armError(400, 'InvalidAssessmentName', `The assessment name '${assessmentName}' is invalid.`);
    const assessmentId = assessmentIdFor(scope, assessmentName);
    const assessment = state.assessment(assessmentId);
    if (key === undefined) {
      if (req.method !== 'GET') throw armError(405, 'MethodNotAllowed', 'The requested method is not allowed.');
      const value = [...state.governance.values()].filter((g) => g.assessmentId.toLowerCase() === assessmentId.toLowerCase()).map(governanceResponse);
      return { status: 200, body: { value } };
    }
    const govId = `${assessment?.id ?? assessmentId}/governanceAssignments/${key}`;
    const existing = state.governance.get(govId.toLowerCase());
    switch (req.method) {
      case 'GET':
        if (!existing) throw armError(404, 'NotFound', `Governance assignment '${key}' was not found for assessment '${assessmentName}'.`);
        return { status: 200, body: governanceResponse(existing) };
      case 'DELETE':
        if (!existing) return { status: 204 };
        state.governance.delete(govId.toLowerCase());
        state.version++;
        return { status: 200 };
      case 'PUT': {
        if (!assessment) throw armError(404, 'NotFound', `Assessment '${assessmentName}' was not found on resource '${scope}'.`);
        let raw: unknown;
        try {
          raw = JSON.parse(await readBody(req));
        } catch {
          throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
        }
        const parsed = GovernanceAssignmentBodySchema.safeParse(raw);
        if (!parsed.success) {
          throw armError(
            400,
            'InvalidRequestContent',
            `Invalid governance assignment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
        }
        const now = clock.now().toISOString();
        const stored: StoredGovernanceAssignment = {
          id: govId,
          name: key,
          assessmentId: assessment.id,
          resourceId: assessment.resourceId,
          assessmentKey: assessment.key,
          properties: parsed.data.properties as GovernanceAssignmentPropertiesBody,
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        };
        state.governance.set(govId.toLowerCase(), stored);
        state.version++;
        return { status: existing ? 200 : 201, body: governanceResponse(stored) };
      }
      default:
        throw armError(405, 'MethodNotAllowed', 'The requested method is not allowed.');
    }
  }

  function governanceRuleResponse(g: DatasetGovernanceRule): Record<string, unknown> {
    const author = state.users[0]?.id ?? '00000000-0000-0000-0000-000000000000';
    return {
      id: `${g.scope}/providers/Microsoft.Security/governanceRules/${g.name}`,
      name: g.name,
      type: 'Microsoft.Security/governanceRules',
      properties: {
        tenantId: state.tenantId,
        ...structuredClone(g.properties),
        metadata: { createdBy: author, createdOn: g.createdOn, updatedBy: author, updatedOn: g.createdOn },
      },
    };
  }

  /**
   * GovernanceRule_List / ManagementGroupGovernanceRule_List (and the single GETs): the rules
   * defined at exactly that scope, paged with `nextLink` (x-ms-pageable). Read-only: the bot never
   * writes Defender's rules.
   */
  function handleGovernanceRules(req: http.IncomingMessage, url: URL, scope: string, ruleId: string | undefined): { status: number; body: unknown } {
    requireApiVersion(url, [GOVERNANCE_API_VERSION]);
    if (req.method !== 'GET') throw armError(405, 'MethodNotAllowed', 'The simulator serves governance rules read-only.');
    if (!state.scopeChain(scope)) {
      const sub = /^\/subscriptions\/([^/]+)$/i.exec(scope);
      if (sub) throw armError(404, 'SubscriptionNotFound', `The subscription '${sub[1]}' could not be found.`);
      throw armError(404, 'ManagementGroupNotFound', `The management group '${scope.split('/').pop()}' could not be found.`);
    }
    const rules = state.governanceRulesAt(scope);
    if (ruleId !== undefined) {
      const rule = rules.find((g) => g.name.toLowerCase() === ruleId.toLowerCase());
      if (!rule) throw armError(404, 'NotFound', `Governance rule '${ruleId}' was not found.`);
      return { status: 200, body: governanceRuleResponse(rule) };
    }
    let offset = 0;
    const skip = url.searchParams.get('$skipToken');
    if (skip !== null) {
      let token: { o?: unknown; s?: unknown } | undefined;
      try {
        token = JSON.parse(Buffer.from(skip, 'base64url').toString('utf8')) as { o?: unknown; s?: unknown };
      } catch {
        token = undefined;
      }
      if (!token || typeof token.o !== 'number' || token.s !== scope.toLowerCase())
        throw armError(400, 'InvalidSkipToken', 'The skip token is invalid for this scope.');
      offset = token.o;
    }
    const page = rules.slice(offset, offset + governanceRulesPageSize);
    const next = offset + page.length;
    const body: Record<string, unknown> = { value: page.map(governanceRuleResponse) };
    if (next < rules.length) {
      const link = new URL(`http://${req.headers.host ?? '127.0.0.1'}${url.pathname}`);
      link.searchParams.set('api-version', GOVERNANCE_API_VERSION);
      link.searchParams.set('$skipToken', Buffer.from(JSON.stringify({ o: next, s: scope.toLowerCase() })).toString('base64url'));
      body.nextLink = link.toString();
    }
    return { status: 200, body };
  }

  /**
   * Role assignments listed at a scope (a subscription, resource group, management group or the
   * root): with `atScope()` those at the scope and above it, otherwise also those below it, as
   * ARM does. Group membership is not modelled: every principal is a user.
   */
  function handleRoleAssignments(url: URL, scope: string): unknown {
    requireApiVersion(url, ROLE_ASSIGNMENTS_API_VERSIONS);
    const chain = state.scopeChain(scope);
    if (!chain) {
      const sub = /^\/subscriptions\/([^/]+)/i.exec(scope);
      if (sub) throw armError(404, 'SubscriptionNotFound', `The subscription '${sub[1]}' could not be found.`);
      throw armError(404, 'ManagementGroupNotFound', `The scope '${scope}' could not be found.`);
    }
    const filter = url.searchParams.get('$filter') ?? '';
    const assigned = /assignedTo\('([^']+)'\)/i.exec(filter) ?? /principalId\s+eq\s+'([^']+)'/i.exec(filter);
    const atScopeOnly = /atScope\(\)/i.test(filter);
    if (filter && !assigned && !atScopeOnly) throw armError(400, 'InvalidFilter', `The filter '${filter}' is not supported.`);
    const target = chain[0]!;
    const subId = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
    const sub = subId ? state.subscriptions.find((s) => s.subscriptionId.toLowerCase() === subId.toLowerCase()) : undefined;
    // ARM names role definitions under the subscription for subscription scopes, at the root otherwise.
    const definitionPrefix = sub ? `/subscriptions/${sub.subscriptionId}` : '';
    const value = state.roleAssignments
      .filter((r) => !assigned || r.principalId.toLowerCase() === assigned[1]!.toLowerCase())
      .filter((r) => {
        const s = r.scope.toLowerCase();
        if (chain.includes(s)) return true;
        return !atScopeOnly && (state.scopeChain(r.scope)?.includes(target) ?? false);
      })
      .map((r) => ({
        id: `${r.scope === '/' ? '' : r.scope}/providers/Microsoft.Authorization/roleAssignments/${r.name}`,
        name: r.name,
        type: 'Microsoft.Authorization/roleAssignments',
        properties: {
          roleDefinitionId: `${definitionPrefix}/providers/Microsoft.Authorization/roleDefinitions/${r.roleDefinitionGuid}`,
          principalId: r.principalId,
          principalType: 'User',
          scope: r.scope,
          condition: null,
          conditionVersion: null,
          createdOn: '2024-03-18T09:12:44.0000000Z',
          updatedOn: '2024-03-18T09:12:44.0000000Z',
          createdBy: state.users[0]?.id ?? null,
          updatedBy: state.users[0]?.id ?? null,
          delegatedManagedIdentityResourceId: null,
          description: null,
        },
      }));
    return { value };
  }

  function graphUser(idOrUpn: string, withType: boolean): Record<string, unknown> | undefined {
    const key = idOrUpn.toLowerCase();
    const u = state.users.find((x) => x.id.toLowerCase() === key || x.userPrincipalName.toLowerCase() === key);
    if (!u) return undefined;
    return {
      ...(withType ? { '@odata.type': '#microsoft.graph.user' } : { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity' }),
      businessPhones: [],
      displayName: u.displayName,
      givenName: u.givenName,
      jobTitle: u.jobTitle,
      mail: u.mail,
      mobilePhone: null,
      officeLocation: u.officeLocation,
      preferredLanguage: 'en-US',
      surname: u.surname,
      userPrincipalName: u.userPrincipalName,
      id: u.id,
    };
  }

  function handleGraph(path: string): unknown {
    const m = /^\/v1\.0\/users\/([^/]+)(\/manager)?$/i.exec(path);
    if (!m) throw graphError(400, 'BadRequest', `Resource not found for the segment '${path.split('/').pop()}'.`, clock);
    const who = decodeURIComponent(m[1]!);
    const user = graphUser(who, false);
    if (!user)
      throw graphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${who}' does not exist or one of its queried reference-property objects are not present.`,
        clock,
      );
    if (!m[2]) return user;
    const managerId = state.users.find((u) => u.id === user['id'])?.managerId;
    const manager = managerId ? graphUser(managerId, true) : undefined;
    if (!manager)
      throw graphError(
        404,
        'Request_ResourceNotFound',
        `Resource 'manager' does not exist or one of its queried reference-property objects are not present.`,
        clock,
      );
    return manager;
  }

  // --- control --------------------------------------------------------------------------------
  const control: DefenderSimulatorControl = {
    tenantId: state.tenantId,
    setAssessmentStatus: (t, code, extra) => state.setStatus(t, code, extra),
    markHealthy: (t) => state.setStatus(t, 'Healthy'),
    markUnhealthy: (t) => state.setStatus(t, 'Unhealthy'),
    deleteResource: (x) => state.deleteResource(x),
    hideFromResourceGraph: (id) => {
      hiddenFromGraph.add(id.toLowerCase());
      resultCache.clear();
      return state.assessment(id) !== undefined;
    },
    showInResourceGraph: (id) => {
      hiddenFromGraph.delete(id.toLowerCase());
      resultCache.clear();
    },
    addUnhealthyAssessments: (items) => state.addUnhealthy(items),
    addRecommendation: (rec) => state.addRecommendation(rec),
    listAssessments: (f) => state.listAssessments(f),
    setQuota: (q) => {
      quota = q;
      window = { start: 0, used: 0 };
    },
    setPageSize: (n) => {
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('page size must be 1..1000');
      pageSize = n;
    },
    setTokenLifetime: (s) => {
      tokenLifetime = s;
    },
    injectFaults: (f) => {
      faults.push({ ...f, remaining: f.count });
    },
    injectResultFault: (f) => {
      resultFaults.push({ ...f, remaining: f.count });
    },
    clearFaults: () => {
      faults.length = 0;
      resultFaults.length = 0;
    },
    listGovernanceAssignments: () => [...state.governance.values()].map((g) => structuredClone(g)),
    listGovernanceRules: () => state.governanceRules.map((g) => structuredClone(g)),
    addGovernanceRule: (rule) => state.addGovernanceRule(rule),
    setGovernanceRulesPageSize: (n) => {
      if (!Number.isInteger(n) || n < 1) throw new Error('page size must be a positive integer');
      governanceRulesPageSize = n;
    },
    setTags: (id, tags) => {
      const ok = state.setTags(id, tags);
      resultCache.clear();
      return ok;
    },
    requestCount: (f) =>
      requestLog.filter(
        (r) =>
          (!f?.kind || r.kind === f.kind) &&
          (!f?.method || r.method === f.method.toUpperCase()) &&
          (!f?.pathIncludes || r.path.toLowerCase().includes(f.pathIncludes.toLowerCase())) &&
          (f?.status === undefined || r.status === f.status),
      ).length,
    requests: () => requestLog.slice(),
    resetRequestLog: () => {
      requestLog.length = 0;
    },
    tokensIssued: () => issued,
    grantRole: (principalId, role, scope) => {
      const name = createHash('sha1').update(`grant|${principalId}|${role}|${scope}|${state.roleAssignments.length}`).digest('hex');
      const guid = `${name.slice(0, 8)}-${name.slice(8, 12)}-${name.slice(12, 16)}-${name.slice(16, 20)}-${name.slice(20, 32)}`;
      state.roleAssignments.push({ name: guid, principalId, roleDefinitionGuid: BUILTIN_ROLE_IDS[role], scope });
      state.version++;
      return guid;
    },
    revokeRoles: (principalId) => {
      const before = state.roleAssignments.length;
      state.roleAssignments.splice(0, before, ...state.roleAssignments.filter((r) => r.principalId.toLowerCase() !== principalId.toLowerCase()));
      state.version++;
      return before - state.roleAssignments.length;
    },
  };

  const ControlBodies = {
    setAssessmentStatus: z.object({
      resourceId: z.string().optional(),
      resourceName: z.string().optional(),
      assessmentKey: z.string(),
      code: z.enum(['Healthy', 'Unhealthy', 'NotApplicable']),
    }),
    deleteResource: z.object({ resource: z.string() }),
    hideFromResourceGraph: z.object({ assessmentId: z.string(), hidden: z.boolean().default(true) }),
    addUnhealthyAssessments: z.object({ items: z.array(z.object({ resourceId: z.string(), assessmentKey: z.string(), location: z.string().optional() })) }),
    setQuota: z.object({ quota: z.union([z.literal('off'), z.object({ limit: z.number().int().min(0), windowSeconds: z.number().positive() })]) }),
    setPageSize: z.object({ pageSize: z.number().int() }),
    setTags: z.object({ id: z.string().min(1), tags: z.record(z.string(), z.string()) }),
    injectFaults: z.object({
      count: z.number().int().min(1),
      status: z.number().int(),
      retryAfterSeconds: z.number().optional(),
      target: z.enum(['resourceGraph', 'arm', 'graph', 'any']).optional(),
    }),
    injectResultFault: z.object({
      count: z.number().int().min(1),
      kind: z.enum(['truncated', 'short', 'skipPage', 'empty']),
      query: z.enum(['unhealthy', 'ids', 'since', 'tags', 'any']).optional(),
    }),
  };

  async function handleControl(req: http.IncomingMessage, path: string): Promise<unknown> {
    const op = path.slice('/__control/'.length);
    if (req.method === 'GET') {
      if (op === 'governanceAssignments') return { value: control.listGovernanceAssignments() };
      if (op === 'governanceRules') return { value: control.listGovernanceRules() };
      if (op === 'requests') return { count: requestLog.length, value: requestLog };
      if (op === 'assessments') return { value: control.listAssessments() };
      throw armError(404, 'NotFound', `unknown control resource ${op}`);
    }
    const text = await readBody(req);
    const raw: unknown = text ? JSON.parse(text) : {};
    const bad = (e: z.ZodError) => armError(400, 'BadRequest', e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    switch (op) {
      case 'setAssessmentStatus': {
        const b = ControlBodies.setAssessmentStatus.safeParse(raw);
        if (!b.success) throw bad(b.error);
        const { code, ...target } = b.data;
        return { updated: control.setAssessmentStatus(target, code) };
      }
      case 'deleteResource': {
        const b = ControlBodies.deleteResource.safeParse(raw);
        if (!b.success) throw bad(b.error);
        return { removedAssessments: control.deleteResource(b.data.resource) };
      }
      case 'hideFromResourceGraph': {
        const b = ControlBodies.hideFromResourceGraph.safeParse(raw);
        if (!b.success) throw bad(b.error);
        if (!b.data.hidden) {
          control.showInResourceGraph(b.data.assessmentId);
          return { hidden: false };
        }
        return { hidden: true, exists: control.hideFromResourceGraph(b.data.assessmentId) };
      }
      case 'addUnhealthyAssessments': {
        const b = ControlBodies.addUnhealthyAssessments.safeParse(raw);
        if (!b.success) throw bad(b.error);
        return { ids: control.addUnhealthyAssessments(b.data.items) };
      }
      case 'setQuota': {
        const b = ControlBodies.setQuota.safeParse(raw);
        if (!b.success) throw bad(b.error);
        control.setQuota(b.data.quota);
        return { ok: true };
      }
      case 'setPageSize': {
        const b = ControlBodies.setPageSize.safeParse(raw);
        if (!b.success) throw bad(b.error);
        control.setPageSize(b.data.pageSize);
        return { ok: true };
      }
      case 'injectFaults': {
        const b = ControlBodies.injectFaults.safeParse(raw);
        if (!b.success) throw bad(b.error);
        control.injectFaults(b.data);
        return { ok: true };
      }
      case 'injectResultFault': {
        const b = ControlBodies.injectResultFault.safeParse(raw);
        if (!b.success) throw bad(b.error);
        control.injectResultFault(b.data);
        return { ok: true };
      }
      case 'setTags': {
        const b = ControlBodies.setTags.safeParse(raw);
        if (!b.success) throw bad(b.error);
        return { updated: control.setTags(b.data.id, b.data.tags) };
      }
      case 'clearFaults':
        control.clearFaults();
        return { ok: true };
      case 'resetRequestLog':
        control.resetRequestLog();
        return { ok: true };
      default:
        throw armError(404, 'NotFound', `unknown control operation ${op}`);
    }
  }

  // --- routing --------------------------------------------------------------------------------
  const GOV_RE = /^(\/.+)\/providers\/Microsoft\.Security\/assessments\/([^/]+)\/governanceAssignments(?:\/([^/]+))?$/i;
  const ASSESSMENT_RE = /^(\/.+)\/providers\/Microsoft\.Security\/assessments\/([^/]+)$/i;
  const METADATA_RE = /^(?:\/subscriptions\/([^/]+))?\/providers\/Microsoft\.Security\/assessmentMetadata(?:\/([^/]+))?$/i;
  const ROLES_RE =
    /^((?:\/subscriptions\/[^/]+(?:\/resourceGroups\/[^/]+)?)|(?:\/providers\/Microsoft\.Management\/managementGroups\/[^/]+))?\/providers\/Microsoft\.Authorization\/roleAssignments$/i;
  const TOKEN_RE = /^\/([^/]+)\/oauth2\/v2\.0\/token$/i;
  const GOV_RULES_RE =
    /^(\/subscriptions\/[^/]+|\/providers\/Microsoft\.Management\/managementGroups\/[^/]+)\/providers\/Microsoft\.Security\/governanceRules(?:\/([^/]+))?$/i;

  function kindOf(path: string): RequestLogEntry['kind'] {
    if (path.startsWith('/__control')) return 'control';
    if (TOKEN_RE.test(path)) return 'token';
    if (/^\/providers\/Microsoft\.ResourceGraph\/resources$/i.test(path)) return 'resourceGraph';
    if (/^\/v1\.0\//i.test(path)) return 'graph';
    if (/\/providers\//i.test(path)) return 'arm';
    return 'other';
  }

  async function route(
    req: http.IncomingMessage,
    url: URL,
    kind: RequestLogEntry['kind'],
  ): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (kind === 'control') {
      if (opts.httpControl === false) throw armError(404, 'NotFound', 'control API disabled');
      return { status: 200, body: await handleControl(req, path) };
    }
    if (kind === 'token') {
      if (method !== 'POST') throw armError(405, 'MethodNotAllowed', 'Use POST.');
      return { status: 200, body: await handleToken(req, TOKEN_RE.exec(path)![1]!) };
    }
    if (kind === 'other') throw armError(404, 'NotFound', `No route for ${method} ${path}`);
    applyFault(kind);
    checkBearer(req, kind === 'graph');
    if (kind === 'graph') {
      if (method !== 'GET') throw graphError(405, 'Request_BadRequest', 'Method not allowed.', clock);
      return { status: 200, body: handleGraph(path) };
    }
    if (kind === 'resourceGraph') {
      if (method !== 'POST') throw armError(405, 'MethodNotAllowed', 'Use POST.');
      const r = await handleResourceGraph(req, url);
      return { status: 200, body: r.body, headers: r.headers };
    }
    let m = GOV_RULES_RE.exec(path);
    if (m) return handleGovernanceRules(req, url, m[1]!, m[2] === undefined ? undefined : decodeURIComponent(m[2]));
    m = GOV_RE.exec(path);
    if (m) return handleGovernance(req, url, m[1]!, m[2]!, m[3]);
    m = ASSESSMENT_RE.exec(path);
    if (m && method === 'GET') {
      requireApiVersion(url, [ASSESSMENTS_API_VERSION]);
      const a = state.assessment(assessmentIdFor(m[1]!, m[2]!));
      if (!a) throw armError(404, 'NotFound', `Assessment '${m[2]}' was not found on resource '${m[1]}'.`);
      return { status: 200, body: assessmentResponse(a, url.searchParams.get('$expand')) };
    }
    m = METADATA_RE.exec(path);
    if (m && method === 'GET') {
      requireApiVersion(url, [ASSESSMENTS_API_VERSION]);
      const sub = m[1];
      if (!m[2]) return { status: 200, body: { value: state.allRecommendations().map((r) => metadataResponse(r, sub)) } };
      const rec = state.recommendation(m[2]);
      if (!rec) throw armError(404, 'NotFound', `Assessment metadata '${m[2]}' was not found.`);
      return { status: 200, body: metadataResponse(rec, sub) };
    }
    m = ROLES_RE.exec(path);
    if (m && method === 'GET') return { status: 200, body: handleRoleAssignments(url, m[1] ?? '/') };
    throw armError(404, 'NotFound', `No route for ${method} ${path}`);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const kind = kindOf(url.pathname);
    const finish = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (kind !== 'control') {
        const entry: RequestLogEntry = { method: req.method ?? 'GET', path: url.pathname, status, at: clock.now().toISOString(), kind };
        const text = bodies.get(req);
        if (text && kind !== 'token') {
          try {
            entry.body = JSON.parse(text);
          } catch {
            entry.body = text;
          }
        }
        requestLog.push(entry);
        // Long-running sandboxes must not grow without bound; tests never get near this.
        if (requestLog.length > 20_000) requestLog.splice(0, 10_000);
      }
      const payload = body === undefined ? '' : JSON.stringify(body);
      // Saved before the status line goes out: a change the client saw acknowledged is on disk.
      persist();
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
        'x-ms-request-id': randomBytes(8).toString('hex'),
        ...headers,
      });
      res.end(payload);
    };
    route(req, url, kind).then(
      (r) => finish(r.status, r.body, r.headers),
      (err: unknown) => {
        if (err instanceof HttpError) return finish(err.status, err.body, err.headers);
        log.error({ err }, 'simulator request failed');
        finish(500, { error: { code: 'InternalServerError', message: 'Simulator bug: ' + String(err) } });
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  log.info({ url }, 'defender simulator listening');
  return {
    url,
    port,
    tenantId: state.tenantId,
    control: opts.stateFile ? persistingControl(control, persist) : control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
