import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { glideDateTime } from './protocol.js';
import { parseEncodedQuery, renderRow, runQuery, type DisplayMode, type RowSource } from './query.js';
import { applyWrite, type RuleSettings } from './rules.js';
import { TABLES, isSimTable, type SimTable, SIM_TABLES } from './schema.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, defaultSeed, type SimRow, type SimulatorCredentials, type SimulatorSeed } from './seed.js';
import { persistingControl, readStateFile, writeStateFile } from '../stateFile.js';

const TokenSchema = z.tuple([z.string(), z.object({ username: z.string(), expiresAt: z.number() })]);
/** The instance's data as saved to `stateFile`: every table, the number counters, the issued tokens. */
const SavedStateSchema = z.object({
  format: z.literal('servicenow-simulator/1'),
  tables: z.record(z.string(), z.array(z.record(z.string(), z.string()))),
  counters: z.record(z.string(), z.number().int()),
  accessTokens: z.array(TokenSchema),
  refreshTokens: z.array(TokenSchema),
});

const BATCH_PATH = '/api/now/v1/batch';
const BatchItemSchema = z.object({
  id: z.string().min(1),
  method: z.string().min(1),
  url: z.string().startsWith('/'),
  headers: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  body: z.string().optional(),
  exclude_response_headers: z.boolean().optional(),
});
const BatchRequestSchema = z.object({ batch_request_id: z.string().optional(), rest_requests: z.array(BatchItemSchema) });

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  clock?: Clock;
  accessTokenLifetimeSec?: number;
  refreshTokenLifetimeSec?: number;
  seed?: SimulatorSeed;
  credentials?: SimulatorCredentials;
  logger?: Logger;
  /** Serve the control API under /__control as well (default true). */
  httpControl?: boolean;
  /**
   * Keep the instance's data in this file: loaded at start (instead of the seed) and rewritten
   * before any response that follows a change, so a restart continues where it stopped.
   */
  stateFile?: string;
}

export interface FaultSpec {
  status: number;
  /** How many matching requests get the fault (default 1). */
  count?: number;
  /** Sent as `Retry-After` (seconds); defaults to 1 for 429. */
  retryAfterSec?: number;
  method?: string;
  /** Path prefix; defaults to `/api/` so token requests are not affected. */
  pathPrefix?: string;
}

export interface JournalEntry {
  sys_id: string;
  element_id: string;
  element: string;
  name: string;
  value: string;
  sys_created_on: string;
  sys_created_by: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  /** sysparm_query, when the request had one. */
  query?: string;
  /** Rows in the answer of a list read. */
  rows?: number;
  /** An item of a Batch API request (its batch_request_id): it ran inside that request, not over HTTP of its own. */
  inBatch?: string;
}

/** How the Batch API (POST /api/now/v1/batch) behaves; see SimulatorControl.setBatch. */
export interface BatchSettings {
  /** Answer the batch endpoint with this status instead (an ACL denies it, an older instance lacks it). */
  disabledWith?: 400 | 403 | 404 | 405;
  /**
   * Stands in for the 30 s "REST Batch API request timeout" quota: items after the first this many
   * of a batch are not run and come back in unserviced_requests.
   */
  serviceAtMost?: number;
}

export interface SimulatorControl {
  failNext(spec: FaultSpec): void;
  /** Drops every pending fault (an outage ends). */
  clearFaults(): void;
  /** The next committed create is stored, then its socket is destroyed without a response. */
  dropNextCreateResponse(): void;
  /** Answer the next `count` requests with 200 and a hibernation HTML page. */
  respondHtmlNext(count?: number): void;
  setLatency(ms: number): void;
  records(table: SimTable): SimRow[];
  record(table: SimTable, sysId: string): SimRow | undefined;
  journal(elementId?: string): JournalEntry[];
  /**
   * Runs `fn` once, right after the next list read of `table` is computed and before it is sent:
   * something that happens in the instance while a client is in the middle of paging.
   */
  afterNextList(table: SimTable, fn: () => void): void;
  /** Writes fields as a human in the UI would: no Table API rules, journal fields appended. */
  setFields(table: SimTable, sysId: string, fields: Record<string, string>): SimRow;
  insert(table: SimTable, fields: Record<string, string>): SimRow;
  expireTokens(opts?: { refresh?: boolean }): void;
  approveChange(sysId: string): void;
  setRules(settings: Partial<RuleSettings>): void;
  setBatch(settings: BatchSettings): void;
  /** HTTP requests (Batch API items are not: see batchItemCount). */
  requestCount(method?: string, pathPrefix?: string): number;
  /** Items run inside Batch API requests (each also in requests(), with inBatch). */
  batchItemCount(method?: string): number;
  /** grant_type of every token request, accepted or not, in order. */
  tokenGrants(): string[];
  requests(): RequestRecord[];
  maxInFlight(): number;
  resetStats(): void;
}

export interface ServiceNowSimulator {
  url: string;
  port: number;
  control: SimulatorControl;
  close(): Promise<void>;
}

interface TokenInfo {
  username: string;
  expiresAt: number;
}

class SimError {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly detail: string | null,
    readonly headers: Record<string, string> = {},
  ) {}
}

const NOT_AUTHENTICATED = new SimError(401, 'User Not Authenticated', 'Required to provide Auth information');
const NOT_FOUND = new SimError(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");

const HIBERNATION_PAGE =
  '<!DOCTYPE html><html><head><title>Instance Hibernating page</title></head>' +
  '<body><h1>Your instance is hibernating</h1><p>Sign in to the developer portal to wake it up.</p></body></html>';

const newSysId = (): string => randomBytes(16).toString('hex');
const newToken = (): string => randomBytes(32).toString('base64url');

export async function startServiceNowSimulator(opts: SimulatorOptions = {}): Promise<ServiceNowSimulator> {
  const clock = opts.clock ?? systemClock;
  const log = (opts.logger ?? silentLogger).child({ component: 'servicenow-simulator' });
  const creds = opts.credentials ?? DEFAULT_SIMULATOR_CREDENTIALS;
  const accessLifetimeMs = (opts.accessTokenLifetimeSec ?? 1800) * 1000;
  const refreshLifetimeMs = (opts.refreshTokenLifetimeSec ?? 8_640_000) * 1000;
  const settings: RuleSettings = { problemStateTransitions: false };

  const tables = new Map<SimTable, Map<string, SimRow>>(SIM_TABLES.map((t) => [t, new Map()]));
  const counters: Record<string, number> = {};
  const accessTokens = new Map<string, TokenInfo>();
  const refreshTokens = new Map<string, TokenInfo>();
  const faults: Array<Required<Omit<FaultSpec, 'method' | 'retryAfterSec'>> & Pick<FaultSpec, 'method' | 'retryAfterSec'>> = [];
  let dropNextCreate = false;
  let htmlRemaining = 0;
  let latencyMs = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let requestLog: RequestRecord[] = [];
  const afterList: Array<{ table: SimTable; fn: () => void }> = [];
  let batch: BatchSettings = {};
  let grants: string[] = [];
  let baseUrl = '';

  const src: RowSource = {
    get: (table, sysId) => tables.get(table)!.get(sysId),
    all: (table) => [...tables.get(table)!.values()],
  };

  const stamp = () => glideDateTime(clock.now());

  function nextNumber(table: SimTable): string | undefined {
    const prefix = TABLES[table].numberPrefix;
    if (!prefix) return undefined;
    counters[prefix] = (counters[prefix] ?? 10000) + 1;
    return `${prefix}${String(counters[prefix]).padStart(7, '0')}`;
  }

  function userByName(userName: string): SimRow | undefined {
    return src.all('sys_user').find((u) => u.user_name === userName);
  }

  function appendJournal(table: SimTable, elementId: string, element: string, value: string, author: string): void {
    const entry: SimRow = {
      sys_id: newSysId(),
      element_id: elementId,
      element,
      name: table,
      value,
      sys_created_on: stamp(),
      sys_created_by: author,
      sys_updated_on: stamp(),
      sys_updated_by: author,
      sys_mod_count: '0',
      sys_class_name: 'sys_journal_field',
    };
    tables.get('sys_journal_field')!.set(entry.sys_id!, entry);
  }

  function insertRow(table: SimTable, fields: SimRow, author: string): SimRow {
    const sysId = fields.sys_id && /^[0-9a-f]{32}$/.test(fields.sys_id) ? fields.sys_id : newSysId();
    const row: SimRow = {};
    for (const f of TABLES[table].fields) row[f] = '';
    Object.assign(row, fields, {
      sys_id: sysId,
      sys_created_on: fields.sys_created_on ?? stamp(),
      sys_created_by: fields.sys_created_by ?? author,
      sys_updated_on: fields.sys_updated_on ?? stamp(),
      sys_updated_by: fields.sys_updated_by ?? author,
      sys_mod_count: fields.sys_mod_count ?? '0',
      sys_class_name: table,
    });
    const number = !fields.number ? nextNumber(table) : undefined;
    if (number) row.number = number;
    for (const j of ['work_notes', 'comments']) {
      if (row[j]) appendJournal(table, sysId, j, row[j]!, author);
      if (j in row) row[j] = '';
    }
    tables.get(table)!.set(sysId, row);
    return row;
  }

  const saved = opts.stateFile ? readStateFile(opts.stateFile, SavedStateSchema) : undefined;
  if (saved) {
    for (const [table, rows] of Object.entries(saved.tables)) {
      if (!isSimTable(table)) throw new Error(`${opts.stateFile} names an unknown table: ${table}`);
      for (const row of rows) tables.get(table)!.set(row.sys_id!, row);
    }
    Object.assign(counters, saved.counters);
    for (const [t, info] of saved.accessTokens) accessTokens.set(t, info);
    for (const [t, info] of saved.refreshTokens) refreshTokens.set(t, info);
    log.info({ file: opts.stateFile }, 'ServiceNow simulator state loaded');
  } else {
    for (const [table, rows] of Object.entries(opts.seed ?? defaultSeed())) {
      if (!isSimTable(table)) throw new Error(`Seed names an unknown table: ${table}`);
      for (const row of rows ?? []) insertRow(table, row, 'system');
    }
  }
  // The integration user must exist and be active for the password grant, as on a real instance.
  if (!userByName(creds.username)) {
    insertRow('sys_user', { user_name: creds.username, name: creds.username, active: 'true' }, 'system');
  }

  /** Set by anything that may change the data (writes, token grants, control calls); cleared by persist. */
  let dirty = !saved;
  function persist(): void {
    if (!opts.stateFile || !dirty) return;
    writeStateFile(opts.stateFile, {
      format: 'servicenow-simulator/1',
      tables: Object.fromEntries([...tables].map(([t, rows]) => [t, [...rows.values()]])),
      counters,
      accessTokens: [...accessTokens],
      refreshTokens: [...refreshTokens],
    } satisfies z.infer<typeof SavedStateSchema>);
    dirty = false;
  }
  persist();

  // ---------------------------------------------------------------- OAuth

  function issueTokens(username: string, now: number): { access: string; refresh: string; expiresIn: number } {
    // Within its lifetime the platform hands out the current token again instead of minting one.
    let access = [...accessTokens.entries()].find(([, t]) => t.username === username && t.expiresAt > now)?.[0];
    if (!access) {
      access = newToken();
      accessTokens.set(access, { username, expiresAt: now + accessLifetimeMs });
    }
    let refresh = [...refreshTokens.entries()].find(([, t]) => t.username === username && t.expiresAt > now)?.[0];
    if (!refresh) {
      refresh = newToken();
      refreshTokens.set(refresh, { username, expiresAt: now + refreshLifetimeMs });
    }
    return { access, refresh, expiresIn: Math.round((accessTokens.get(access)!.expiresAt - now) / 1000) };
  }

  function oauthError(res: ServerResponse, status: number, description: string): void {
    sendJson(res, status, { error_description: description, error: 'server_error' });
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return oauthError(res, 405, 'method not allowed');
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    const body = await readBody(req);
    if (!contentType.startsWith('application/x-www-form-urlencoded')) {
      return oauthError(res, 400, 'Unsupported content type, expected application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(body);
    grants.push(form.get('grant_type') ?? '');
    const now = clock.now().getTime();
    if (form.get('client_id') !== creds.clientId || form.get('client_secret') !== creds.clientSecret) {
      return oauthError(res, 401, 'access_denied');
    }
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const user = userByName(form.get('username') ?? '');
      const ok = form.get('username') === creds.username && form.get('password') === creds.password && user?.active === 'true' && user.locked_out !== 'true';
      if (!ok) return oauthError(res, 401, 'access_denied');
      const t = issueTokens(creds.username, now);
      return sendJson(res, 200, {
        access_token: t.access,
        refresh_token: t.refresh,
        scope: 'useraccount',
        token_type: 'Bearer',
        expires_in: t.expiresIn,
      });
    }
    if (grant === 'refresh_token') {
      const info = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!info || info.expiresAt <= now) return oauthError(res, 401, 'access_denied');
      let access = [...accessTokens.entries()].find(([, t]) => t.username === info.username && t.expiresAt > now)?.[0];
      if (!access) {
        access = newToken();
        accessTokens.set(access, { username: info.username, expiresAt: now + accessLifetimeMs });
      }
      // The refresh grant returns only an access token (reference §1.1).
      return sendJson(res, 200, {
        access_token: access,
        scope: 'useraccount',
        token_type: 'Bearer',
        expires_in: Math.round((accessTokens.get(access)!.expiresAt - now) / 1000),
      });
    }
    return oauthError(res, 400, 'unsupported grant_type');
  }

  function authenticate(authorization: string | undefined): SimRow {
    const header = authorization ?? '';
    const now = clock.now().getTime();
    let username: string | undefined;
    if (header.startsWith('Bearer ')) {
      const info = accessTokens.get(header.slice(7).trim());
      if (info && info.expiresAt > now) username = info.username;
    } else if (header.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      if (u === creds.username && p.join(':') === creds.password) username = u;
    }
    const user = username ? userByName(username) : undefined;
    if (!user || user.active !== 'true') throw NOT_AUTHENTICATED;
    return user;
  }

  // ---------------------------------------------------------------- Table API

  const TABLE_PATH = /^\/api\/now\/(?:(v1|v2)\/)?table\/([^/]+)(?:\/([^/]+))?\/?$/;

  /** One Table API request, over HTTP or as an item of a batch: the same handler answers both. */
  interface TableCall {
    method: string;
    url: URL;
    headers: { authorization?: string; contentType?: string; methodOverride?: string };
    body: () => Promise<string>;
    record: RequestRecord;
  }
  interface TableReply {
    status: number;
    json?: unknown;
    headers: Record<string, string>;
    /** A committed create whose response is lost (dropNextCreateResponse). */
    drop?: true;
  }

  async function handleTable(call: TableCall): Promise<TableReply> {
    const { url } = call;
    const m = TABLE_PATH.exec(url.pathname);
    if (!m) throw new SimError(400, 'Requested URI does not represent any resource', null);
    const [, version, tableName, sysId] = m as unknown as [string, string | undefined, string, string | undefined];
    const user = authenticate(call.headers.authorization);
    if (!isSimTable(tableName)) throw new SimError(400, `Invalid table ${tableName}`, `Table ${tableName} does not exist`);
    const table: SimTable = tableName;
    const display = (url.searchParams.get('sysparm_display_value') ?? 'false').toLowerCase();
    const renderOpts = {
      baseUrl,
      display: (['true', 'all'].includes(display) ? display : 'false') as DisplayMode,
      excludeReferenceLink: url.searchParams.get('sysparm_exclude_reference_link') === 'true',
      fields: url.searchParams
        .get('sysparm_fields')
        ?.split(',')
        .map((f) => f.trim())
        .filter(Boolean),
    };
    const method = call.headers.methodOverride?.toUpperCase() ?? call.method;
    const headers: Record<string, string> = {};

    if (method === 'GET' || method === 'HEAD') {
      if (sysId) {
        const row = src.get(table, sysId);
        if (!row) throw NOT_FOUND;
        return { status: 200, json: { result: renderRow(src, table, row, renderOpts) }, headers };
      }
      return handleList(call, table, version, renderOpts);
    }

    if (method === 'DELETE') {
      if (!sysId || !tables.get(table)!.delete(sysId)) throw NOT_FOUND;
      return { status: 204, headers };
    }

    if (method !== 'POST' && method !== 'PATCH' && method !== 'PUT') {
      throw new SimError(405, 'Method not Supported', `${method} is not supported for this resource`);
    }
    if (!(call.headers.contentType ?? '').toLowerCase().includes('application/json')) {
      throw new SimError(415, 'Unsupported Media Type', 'Content-Type must be application/json');
    }
    const input = parseJsonObject(await call.body());
    if (method === 'POST') {
      if (sysId) throw new SimError(405, 'Method not Supported', 'POST is not supported on a record');
      const outcome = applyWrite({ table, existing: undefined, input, actorSysId: user.sys_id!, now: clock.now(), settings });
      if (!outcome.ok) throw new SimError(outcome.status, outcome.message, outcome.detail);
      const row = insertRow(table, outcome.changes, user.user_name!);
      for (const j of outcome.journal) appendJournal(table, row.sys_id!, j.element, j.value, user.user_name!);
      if (dropNextCreate) {
        dropNextCreate = false;
        log.info({ table, sysId: row.sys_id }, 'dropping the response of a committed create');
        return { status: 201, headers, drop: true };
      }
      headers.Location = `${baseUrl}/api/now/table/${table}/${row.sys_id}`;
      return { status: 201, json: { result: renderRow(src, table, row, renderOpts) }, headers };
    }
    if (!sysId) throw new SimError(405, 'Method not Supported', `${method} requires a sys_id`);
    const existing = src.get(table, sysId);
    if (!existing) throw NOT_FOUND;
    const outcome = applyWrite({ table, existing, input, actorSysId: user.sys_id!, now: clock.now(), settings });
    if (!outcome.ok) throw new SimError(outcome.status, outcome.message, outcome.detail);
    Object.assign(existing, outcome.changes, {
      sys_updated_on: stamp(),
      sys_updated_by: user.user_name!,
      sys_mod_count: String(Number(existing.sys_mod_count ?? '0') + 1),
    });
    for (const j of outcome.journal) appendJournal(table, sysId, j.element, j.value, user.user_name!);
    return { status: 200, json: { result: renderRow(src, table, existing, renderOpts) }, headers };
  }

  function handleList(call: TableCall, table: SimTable, version: string | undefined, renderOpts: Parameters<typeof renderRow>[3]): TableReply {
    const { url } = call;
    const headers: Record<string, string> = {};
    let query = url.searchParams.get('sysparm_query') ?? '';
    // name=value pairs are the documented alternative to sysparm_query.
    if (!query) {
      query = [...url.searchParams.entries()]
        .filter(([k]) => !k.startsWith('sysparm_'))
        .map(([k, v]) => `${k}=${v}`)
        .join('^');
    }
    const rows = runQuery(src, table, parseEncodedQuery(table, query));
    const limit = parseNonNegative(url.searchParams.get('sysparm_limit'), 10000, 'sysparm_limit');
    const offset = parseNonNegative(url.searchParams.get('sysparm_offset'), 0, 'sysparm_offset');
    const page = rows.slice(offset, offset + limit);
    if (url.searchParams.get('sysparm_no_count') !== 'true') headers['X-Total-Count'] = String(rows.length);
    if (url.searchParams.get('sysparm_suppress_pagination_header') !== 'true' && url.searchParams.has('sysparm_limit')) {
      headers.Link = linkHeader(url, rows.length, offset, limit);
    }
    call.record.rows = page.length;
    // The answer is a snapshot: rendered before whatever happens next in the instance.
    const result = page.map((row) => renderRow(src, table, row, renderOpts));
    const hook = afterList.findIndex((h) => h.table === table);
    if (hook >= 0) afterList.splice(hook, 1)[0]!.fn();
    if (page.length === 0 && version === 'v1') throw NOT_FOUND;
    return { status: 200, json: { result }, headers };
  }

  // ---------------------------------------------------------------- Batch API

  /**
   * POST /api/now/v1/batch (reference §4): the items run one after the other, each through the
   * same handler (auth, rules, faults) as a direct request; the answer is 200 whatever the items
   * answered, each item's own status and Base64 body in serviced_requests, and the items the
   * quota stopped in unserviced_requests.
   */
  async function handleBatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req);
    if (batch.disabledWith) throw batchRefusal(batch.disabledWith);
    if (req.method !== 'POST') throw new SimError(405, 'Method not Supported', `${req.method ?? ''} is not supported for this resource`);
    authenticate(req.headers.authorization);
    if (!(req.headers['content-type'] ?? '').toLowerCase().includes('application/json')) {
      throw new SimError(400, 'Exception while reading request', 'Content-Type must be application/json');
    }
    const parsed = BatchRequestSchema.safeParse(parseJsonObject(text));
    if (!parsed.success) throw new SimError(400, 'Exception while reading request', 'rest_requests with id, method and url is required');
    const batchId = parsed.data.batch_request_id ?? '';
    const serviced: unknown[] = [];
    const unserviced: string[] = [];
    for (const [i, item] of parsed.data.rest_requests.entries()) {
      if (batch.serviceAtMost !== undefined && i >= batch.serviceAtMost) {
        unserviced.push(item.id);
        continue;
      }
      const started = Date.now();
      const reply = await runBatchItem(item, req.headers.authorization, batchId);
      if (reply.drop) {
        persist();
        req.socket.destroy();
        return;
      }
      const body = reply.json === undefined ? '' : Buffer.from(JSON.stringify(reply.json), 'utf8').toString('base64');
      serviced.push({
        id: item.id,
        status_code: reply.status,
        status_text: http.STATUS_CODES[reply.status] ?? '',
        body,
        headers: item.exclude_response_headers
          ? []
          : Object.entries({ 'Content-Type': 'application/json;charset=UTF-8', ...reply.headers }).map(([name, value]) => ({ name, value })),
        execution_time: Date.now() - started,
      });
    }
    sendJson(res, 200, { batch_request_id: batchId, serviced_requests: serviced, unserviced_requests: unserviced });
  }

  async function runBatchItem(item: z.infer<typeof BatchItemSchema>, batchAuthorization: string | undefined, batchId: string): Promise<TableReply> {
    const url = new URL(item.url, baseUrl);
    const query = url.searchParams.get('sysparm_query');
    const method = item.method.toUpperCase();
    const record: RequestRecord = { method, path: url.pathname, status: 0, ...(query !== null ? { query } : {}), inBatch: batchId };
    requestLog.push(record);
    const header = (name: string) => item.headers?.find((h) => h.name.toLowerCase() === name)?.value;
    let reply: TableReply;
    try {
      const fault = takeFault(url.pathname, method);
      if (fault) throw fault;
      reply = await handleTable({
        method,
        url,
        // Items run in the batch's session unless they bring their own credentials.
        headers: {
          authorization: header('authorization') ?? batchAuthorization,
          contentType: header('content-type'),
          methodOverride: header('x-http-method-override'),
        },
        body: async () => (item.body ? Buffer.from(item.body, 'base64').toString('utf8') : ''),
        record,
      });
    } catch (err) {
      if (!(err instanceof SimError)) log.error({ err }, 'simulator batch item failed');
      const e = err instanceof SimError ? err : new SimError(500, 'Internal Server Error', err instanceof Error ? err.message : String(err));
      reply = { status: e.status, json: errorBody(e), headers: e.headers };
    }
    record.status = reply.status;
    return reply;
  }

  /** The first pending fault matching a request, used up by it. */
  function takeFault(path: string, method: string): SimError | undefined {
    const faultIdx = faults.findIndex((f) => path.startsWith(f.pathPrefix) && (!f.method || f.method === method));
    if (faultIdx < 0) return undefined;
    const fault = faults[faultIdx]!;
    if (--fault.count <= 0) faults.splice(faultIdx, 1);
    const headers: Record<string, string> = fault.retryAfterSec !== undefined ? { 'Retry-After': String(fault.retryAfterSec) } : {};
    return fault.status === 429
      ? new SimError(429, 'Rate limit exceeded', 'Rate limit of 100 requests per hour for Table API exceeded', headers)
      : fault.status === 401
        ? new SimError(401, NOT_AUTHENTICATED.message, NOT_AUTHENTICATED.detail, headers)
        : new SimError(fault.status, 'Internal Server Error', 'Simulated fault', headers);
  }

  function linkHeader(url: URL, total: number, offset: number, limit: number): string {
    const at = (o: number) => {
      const u = new URL(url.pathname + url.search, baseUrl);
      u.searchParams.set('sysparm_offset', String(o));
      u.searchParams.set('sysparm_limit', String(limit));
      return `<${u.toString()}>`;
    };
    const parts = [`${at(0)};rel="first"`];
    if (offset > 0) parts.push(`${at(Math.max(0, offset - limit))};rel="prev"`);
    if (limit > 0 && offset + limit < total) parts.push(`${at(offset + limit)};rel="next"`);
    const lastOffset = limit > 0 && total > 0 ? Math.floor((total - 1) / limit) * limit : 0;
    parts.push(`${at(lastOffset)};rel="last"`);
    return parts.join(',');
  }

  // ---------------------------------------------------------------- control

  const control: SimulatorControl = {
    clearFaults() {
      faults.length = 0;
    },
    failNext(spec) {
      faults.push({
        status: spec.status,
        count: spec.count ?? 1,
        retryAfterSec: spec.retryAfterSec ?? (spec.status === 429 ? 1 : undefined),
        method: spec.method?.toUpperCase(),
        pathPrefix: spec.pathPrefix ?? '/api/',
      });
    },
    dropNextCreateResponse() {
      dropNextCreate = true;
    },
    respondHtmlNext(count = 1) {
      htmlRemaining += count;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    records: (table) => src.all(table).map((r) => ({ ...r })),
    record: (table, sysId) => {
      const row = src.get(table, sysId);
      return row ? { ...row } : undefined;
    },
    journal: (elementId) =>
      src
        .all('sys_journal_field')
        .filter((j) => elementId === undefined || j.element_id === elementId)
        .map((j) => ({
          sys_id: j.sys_id!,
          element_id: j.element_id!,
          element: j.element!,
          name: j.name!,
          value: j.value!,
          sys_created_on: j.sys_created_on!,
          sys_created_by: j.sys_created_by!,
        })),
    afterNextList(table, fn) {
      afterList.push({ table, fn });
    },
    setFields(table, sysId, fields) {
      const row = src.get(table, sysId);
      if (!row) throw new Error(`No ${table} record ${sysId}`);
      for (const [k, v] of Object.entries(fields)) {
        if (k === 'work_notes' || k === 'comments') appendJournal(table, sysId, k, v, 'admin');
        else row[k] = v;
      }
      // An explicit sys_updated_on stands for a write with autoSysFields(false) (a script or an
      // import that leaves the stamp alone): the change is there, the stamp does not show it.
      row.sys_updated_on = fields.sys_updated_on ?? stamp();
      row.sys_updated_by = 'admin';
      row.sys_mod_count = String(Number(row.sys_mod_count ?? '0') + 1);
      return { ...row };
    },
    insert: (table, fields) => ({ ...insertRow(table, fields, 'admin') }),
    expireTokens(o) {
      const past = clock.now().getTime() - 1;
      for (const t of accessTokens.values()) t.expiresAt = past;
      if (o?.refresh) for (const t of refreshTokens.values()) t.expiresAt = past;
    },
    approveChange(sysId) {
      const row = src.get('change_request', sysId);
      if (!row) throw new Error(`No change_request ${sysId}`);
      row.approval = 'approved';
    },
    setRules(s) {
      Object.assign(settings, s);
    },
    setBatch(next) {
      batch = { ...next };
    },
    requestCount(method, pathPrefix) {
      return requestLog.filter((r) => !r.inBatch && (!method || r.method === method.toUpperCase()) && (!pathPrefix || r.path.startsWith(pathPrefix))).length;
    },
    batchItemCount(method) {
      return requestLog.filter((r) => r.inBatch !== undefined && (!method || r.method === method.toUpperCase())).length;
    },
    tokenGrants: () => [...grants],
    requests: () => requestLog.map((r) => ({ ...r })),
    maxInFlight: () => maxInFlight,
    resetStats() {
      requestLog = [];
      grants = [];
      maxInFlight = inFlight;
    },
  };

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
    const body = req.method === 'POST' ? parseJsonObject((await readBody(req)) || '{}') : {};
    const [action, a, b] = parts;
    const tableArg = (): SimTable => {
      if (!a || !isSimTable(a)) throw new SimError(400, 'Unknown table', a ?? null);
      return a;
    };
    switch (`${req.method} ${action}`) {
      case 'GET records':
        return sendJson(res, 200, { result: control.records(tableArg()) });
      case 'POST records':
        if (b) return sendJson(res, 200, { result: control.setFields(tableArg(), b, stringRecord(body)) });
        return sendJson(res, 201, { result: control.insert(tableArg(), stringRecord(body)) });
      case 'GET journal':
        return sendJson(res, 200, { result: control.journal(a) });
      case 'POST fault':
        control.failNext(body as unknown as FaultSpec);
        break;
      case 'POST drop-next-create':
        control.dropNextCreateResponse();
        break;
      case 'POST html-next':
        control.respondHtmlNext(typeof body.count === 'number' ? body.count : 1);
        break;
      case 'POST latency':
        control.setLatency(typeof body.ms === 'number' ? body.ms : 0);
        break;
      case 'POST expire-tokens':
        control.expireTokens({ refresh: body.refresh === true });
        break;
      case 'POST approve-change':
        control.approveChange(a ?? '');
        break;
      case 'POST batch':
        control.setBatch({
          ...([400, 403, 404, 405].includes(body.disabledWith as number) ? { disabledWith: body.disabledWith as 400 | 403 | 404 | 405 } : {}),
          ...(typeof body.serviceAtMost === 'number' ? { serviceAtMost: body.serviceAtMost } : {}),
        });
        break;
      case 'POST rules':
        control.setRules({ problemStateTransitions: body.problemStateTransitions === true });
        break;
      case 'GET stats':
        return sendJson(res, 200, { result: { maxInFlight: control.maxInFlight(), requests: control.requests() } });
      default:
        throw new SimError(404, 'Unknown control action', url.pathname);
    }
    sendJson(res, 200, { result: 'ok' });
  }

  // ---------------------------------------------------------------- dispatch

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    if (url.pathname.startsWith('/__control/')) {
      if (opts.httpControl === false) throw new SimError(404, 'Not found', null);
      return handleControl(req, res, url);
    }
    const query = url.searchParams.get('sysparm_query');
    const record: RequestRecord = { method: req.method ?? 'GET', path: url.pathname, status: 0, ...(query !== null ? { query } : {}) };
    requestLog.push(record);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const done = () => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    res.on('finish', () => {
      record.status = res.statusCode;
      done();
    });
    res.on('close', done);

    if (latencyMs > 0) await delay(latencyMs);
    if (htmlRemaining > 0) {
      htmlRemaining--;
      // Consume the request first, as every other path does, so the connection stays in step.
      await readBody(req);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(HIBERNATION_PAGE)) });
      res.end(HIBERNATION_PAGE);
      return;
    }
    const fault = takeFault(url.pathname, record.method);
    if (fault) {
      await readBody(req);
      return sendError(res, fault);
    }
    if (url.pathname === '/oauth_token.do') return handleToken(req, res);
    if (url.pathname === BATCH_PATH) return handleBatch(req, res);
    const reply = await handleTable({
      method: req.method ?? 'GET',
      url,
      headers: {
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        methodOverride: req.headers['x-http-method-override'] as string | undefined,
      },
      body: () => readBody(req),
      record,
    });
    if (reply.drop) {
      persist();
      req.socket.destroy();
      return;
    }
    if (reply.json === undefined) res.writeHead(reply.status, reply.headers).end();
    else sendJson(res, reply.status, reply.json, reply.headers);
  }

  const server = http.createServer((req, res) => {
    // The instance's own clock, as on the platform: clients take "now" from here, not from theirs.
    res.setHeader('Date', clock.now().toUTCString());
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      dirty = true;
      // Saved before the status line goes out: a change the client saw acknowledged is on disk.
      const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse;
      res.writeHead = ((...a: unknown[]) => {
        persist();
        return writeHead(...a);
      }) as typeof res.writeHead;
    }
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof SimError) return sendError(res, err);
      log.error({ err }, 'simulator handler failed');
      sendError(res, new SimError(500, 'Internal Server Error', err instanceof Error ? err.message : String(err)));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  log.info({ url: baseUrl }, 'ServiceNow simulator listening');

  return {
    url: baseUrl,
    port,
    control: opts.stateFile ? persistingControl(control, () => ((dirty = true), persist())) : control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------- helpers

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(err: SimError): unknown {
  return { error: { message: err.message, detail: err.detail }, status: 'failure' };
}

function sendError(res: ServerResponse, err: SimError): void {
  sendJson(res, err.status, errorBody(err), err.headers);
}

/** How an instance answers a batch endpoint it does not offer to this account. */
function batchRefusal(status: 400 | 403 | 404 | 405): SimError {
  switch (status) {
    case 400:
      return new SimError(400, 'Requested URI does not represent any resource', null);
    case 403:
      return new SimError(403, 'User Not Authorized', 'Not permitted to use the Batch API');
    case 404:
      return new SimError(404, 'Not found', 'The requested resource was not found');
    case 405:
      return new SimError(405, 'Method not Supported', 'POST is not supported for this resource');
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  if (req.readableEnded) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SimError(400, 'Exception while reading request', 'The payload is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SimError(400, 'Exception while reading request', 'The payload must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

function stringRecord(body: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function parseNonNegative(raw: string | null, fallback: number, name: string): number {
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new SimError(400, `Invalid ${name}`, `${name} must be a non-negative integer`);
  return n;
}
