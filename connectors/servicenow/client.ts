import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { CORRELATION_ID_MAX, INCIDENT_STATE, isResolvedState, isSysId, recordLink, type TicketTable } from '../../core/servicenow-rules.js';
import { ServiceNowError, errorFromResponse, oneLine } from './errors.js';
import { RetryableFailure, withRetries } from '../retry.js';
import { HttpCore, Semaphore, type Limiter, type ConnectAgents, type ConnectLookup, type RawResponse, type Sleep } from './http.js';
import { TokenManager, type ServiceNowConnection, type TokenCache } from './oauth.js';
import type { ChangedTickets, ReopenResult, RequestSlots, ResolveResult, TicketSystem, TicketWithAssignee } from '../../app/ports.js';

export type { ReopenResult, ResolveResult };

export type { ServiceNowConnection, StoredTokens, TokenCache } from './oauth.js';
export { ServiceNowError, type ServiceNowErrorKind } from './errors.js';
export type { Sleep } from './http.js';
export type { TicketTable } from '../../core/servicenow-rules.js';

export interface ServiceNowClientOptions {
  /** Max requests in flight per instance URL, shared by all clients of that instance (default 4). */
  concurrency?: number;
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest Retry-After honoured before giving up (default 120 000 ms). */
  maxRetryAfterMs?: number;
  timeoutMs?: number;
  /** Incident resolution code; must be a valid sys_choice value on the instance. */
  closeCode?: string;
  /** sys_ids per `sys_idIN` read (default 50, keeps URLs short). */
  batchSize?: number;
  /**
   * Updates per Batch API request (default 25): the instance runs a batch's items one after the
   * other and kills the batch after 30 s, so a batch stays far below that.
   */
  updateBatchSize?: number;
  /**
   * dns.lookup replacement for every connection, e.g. urlGuard's publicOnlyLookup(), so a name
   * checked at add time cannot later rebind to a private address. Default: the system resolver.
   */
  lookup?: ConnectLookup;
  /**
   * Agents for every connection, e.g. urlGuard's publicOnlyAgents(), which also refuse plain http
   * and IP literals (Node connects to those without a lookup). Takes precedence over `lookup`.
   */
  agents?: ConnectAgents;
}

/**
 * What every client of one ServiceNow instance shares: the request budget (ServiceNow's API_INT
 * semaphore pool is per instance, so all clients of an instance draw on one) and the creates in
 * flight (two clients must not race a create for the same correlation id). Not a module global:
 * the composition root makes one (IntegrationService does) and hands it to every client it builds.
 * With `shared` (the PostgreSQL store's RequestSlots), the budget is the instance's across every
 * replica: a request waits first for this process's room, then for one of the instance's slots.
 */
export class ServiceNowInstances {
  private readonly limiters = new Map<string, Limiter>();
  readonly createsInFlight = new Map<string, Promise<CreateTicketResult>>();

  constructor(private readonly shared?: RequestSlots) {}

  /** The first client of an instance sets the budget's size. */
  limiterFor(origin: string, size: number): Limiter {
    let limiter = this.limiters.get(origin);
    if (!limiter) {
      const local = new Semaphore(Math.max(1, size));
      limiter = this.shared ? sharedLimiter(local, this.shared, origin) : local;
      this.limiters.set(origin, limiter);
    }
    return limiter;
  }
}

/** The local semaphore first, so a process never waits on more of the shared slots than it could use. */
function sharedLimiter(local: Semaphore, slots: RequestSlots, origin: string): Limiter {
  return {
    size: local.size,
    acquire: async () => {
      const releaseLocal = await local.acquire();
      let releaseShared: () => void;
      try {
        releaseShared = await slots.acquire(origin, local.size);
      } catch (err) {
        releaseLocal();
        throw err;
      }
      return () => {
        releaseShared();
        releaseLocal();
      };
    },
  };
}

export interface ServiceNowClientParams {
  connection: ServiceNowConnection;
  /** Shared with the other clients of the same instances; default: this client's own. */
  instances?: ServiceNowInstances;
  logger?: Logger;
  clock?: Clock;
  tokenCache?: TokenCache;
  options?: ServiceNowClientOptions;
  sleep?: Sleep;
  /** Jitter source in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

export interface ServiceNowUser {
  sysId: string;
  userName: string;
  email: string;
  name: string;
}

export interface TicketRecord {
  table: TicketTable;
  sysId: string;
  number: string;
  state: string;
  active: boolean;
  link: string;
  /** Raw values as strings (references as sys_ids). */
  fields: Record<string, string>;
}

export interface CreateTicketResult {
  sysId: string;
  number: string;
  table: TicketTable;
  link: string;
  /** false when a ticket with this correlation id already existed. */
  created: boolean;
}

export interface UpdateResult {
  record: TicketRecord;
  /** Requested fields whose read-back value differs: ServiceNow ignored them silently. */
  notApplied: string[];
}

export type FieldInput = Record<string, string | number | boolean>;

const TABLE_API = '/api/now/v2/table';
/** The Batch API has a versioned URL only (reference §4). */
const BATCH_API = '/api/now/v1/batch';
/** The instance kills a batch transaction after 30 s (its quota rule) and answers; 60 s leaves room for that answer. */
const BATCH_TIMEOUT_MS = 60_000;
/** What every Table API request of this client asks for: raw values, no reference links. */
const TABLE_PARAMS = { sysparm_exclude_reference_link: 'true', sysparm_display_value: 'false' } as const;
/** How an instance refuses the batch endpoint itself (an ACL on it, a release without it): single requests then. */
const BATCH_REFUSED = new Set([400, 403, 404, 405]);
const BOT_NOTE_PREFIX = '[Defender for Cloud bot]';

// Raw values are strings; anything else is normalised so one odd field cannot fail a whole read.
const fieldValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.looseObject({ value: z.unknown() })]).transform((v): string => {
  if (v === null) return '';
  if (typeof v === 'object') return typeof v.value === 'string' ? v.value : '';
  return String(v);
});
const rowSchema = z.record(z.string(), fieldValue);
const oneEnvelope = z.object({ result: rowSchema });
const listEnvelope = z.object({ result: z.array(rowSchema) });
const batchAnswer = z.object({
  serviced_requests: z.array(z.looseObject({ id: z.string(), status_code: z.number().int(), body: z.string().optional() })),
  unserviced_requests: z.array(z.string()).optional(),
});
const ticketRow = z.looseObject({ sys_id: z.string().refine(isSysId, 'sys_id must be 32 hex characters'), number: z.string() });

/**
 * `assigned_to` is a sys_id; the Table API dot-walks references in `sysparm_fields`
 * (`assigned_to.email`), so tickets and their assignees come back in one read per batch instead of
 * one sys_user lookup per ticket.
 */
export const ASSIGNEE_FIELDS = ['assigned_to', 'assigned_to.email', 'assigned_to.user_name', 'sys_updated_on'] as const;

/** Who a ticket is assigned to, as an identity the bot and Defender understand (email, else user name). */
export function assigneeOf(ticket: TicketRecord): TicketWithAssignee {
  const sysId = ticket.fields['assigned_to'] ?? '';
  const email = (ticket.fields['assigned_to.email'] ?? '').trim();
  const userName = (ticket.fields['assigned_to.user_name'] ?? '').trim();
  const assignee = sysId ? email || userName || undefined : undefined;
  const updatedAt = isoOfGlide(ticket.fields['sys_updated_on'] ?? '');
  return { ticket, ...(assignee ? { assignee } : {}), ...(updatedAt ? { updatedAt } : {}) };
}

/** The Table API's raw date-time format: `YYYY-MM-DD HH:MM:SS`, always UTC (reference §2.3). */
const GLIDE_DATE_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

/** A raw glide_date_time (UTC) as ISO 8601; undefined when it is not one. */
export function isoOfGlide(value: string): string | undefined {
  const m = GLIDE_DATE_TIME.exec(value);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

/** A moment in the raw format an encoded query compares against, rounded down to the second. */
export function glideOf(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** Changed-since reads: larger pages than the sys_idIN batches, far below the platform's 10,000 cap. */
export const CHANGED_PAGE_SIZE = 1000;

export class ServiceNowClient implements TicketSystem {
  readonly instanceUrl: string;
  /** The instance's shared request limit (the first client of an instance sets it). */
  readonly concurrency: number;
  private readonly http: HttpCore;
  private readonly tokens: TokenManager;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly maxRetries: number;
  private readonly timeoutMs: number;
  private readonly closeCode: string;
  private readonly batchSize: number;
  private readonly instances: ServiceNowInstances;
  /** Single-ticket reads asked for in one turn of the event loop, per table: joined into one sys_idIN read (see readJoined). */
  private readonly joinedReads = new Map<TicketTable, Map<string, Array<{ resolve: (t: TicketRecord) => void; reject: (err: unknown) => void }>>>();
  private readonly updateBatchSize: number;
  /** Updates asked for in one turn of the event loop: sent as Batch API requests (see updateJoined). */
  private joinedUpdates: PendingUpdate[] | undefined;
  /** The instance refused the batch endpoint once: this client sends single requests from then on. */
  private batchRefused = false;
  private batchIds = 0;

  constructor(private readonly params: ServiceNowClientParams) {
    const { connection } = params;
    let origin: string;
    try {
      origin = new URL(connection.instanceUrl).origin;
    } catch {
      throw new ServiceNowError({ kind: 'invalid-input', operation: 'setup', reason: 'the ServiceNow instance URL is not a valid URL' });
    }
    const o = params.options ?? {};
    this.instanceUrl = origin;
    this.clock = params.clock ?? systemClock;
    this.log = (params.logger ?? silentLogger).child({ component: 'servicenow', instance: origin });
    this.sleep = params.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.maxRetries = o.maxRetries ?? 3;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.closeCode = o.closeCode ?? 'Solution provided';
    this.batchSize = Math.max(1, o.batchSize ?? 50);
    this.updateBatchSize = Math.max(1, o.updateBatchSize ?? 25);
    this.instances = params.instances ?? new ServiceNowInstances();
    const limiter = this.instances.limiterFor(origin, o.concurrency ?? 4);
    this.concurrency = limiter.size;
    this.http = new HttpCore(
      origin,
      limiter,
      {
        maxRetries: this.maxRetries,
        baseDelayMs: o.baseDelayMs ?? 500,
        maxDelayMs: o.maxDelayMs ?? 30_000,
        maxRetryAfterMs: o.maxRetryAfterMs ?? 120_000,
      },
      this.timeoutMs,
      this.sleep,
      params.random ?? Math.random,
      this.log,
      o.agents ?? o.lookup,
    );
    this.tokens = new TokenManager(connection, this.http, this.clock, this.log, params.tokenCache);
  }

  recordLink(table: string, sysId: string): string {
    return recordLink(this.instanceUrl, table, sysId);
  }

  // ------------------------------------------------------------------ plumbing

  private async call(
    operation: string,
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    opts: { params?: Record<string, string>; data?: unknown; retry?: 'safe' | 'unsafe'; tableParams?: false; timeoutMs?: number } = {},
  ): Promise<RawResponse & { json: unknown }> {
    let used: string | undefined;
    const res = await this.http.send(
      {
        method,
        path,
        params: { ...(opts.tableParams === false ? {} : TABLE_PARAMS), ...opts.params },
        data: opts.data,
        timeoutMs: opts.timeoutMs,
        headers: async () => {
          used = await this.tokens.accessToken();
          return { Authorization: `Bearer ${used}` };
        },
      },
      {
        operation,
        retry: opts.retry ?? 'safe',
        onUnauthorized: async () => {
          if (used) this.tokens.invalidate(used);
          this.log.info({ op: operation }, 'ServiceNow answered 401, signing in again once');
          return true;
        },
      },
    );
    if (res.status < 200 || res.status >= 300) throw errorFromResponse(operation, res.status, res.body);
    return { ...res, json: jsonOf(operation, res.status, res.headers['content-type'] ?? '', res.body) };
  }

  /**
   * One update's answer as the PATCH over its own request or as a batch item: every update of a
   * turn goes through here, so a batch item is judged exactly like a single PATCH's answer.
   */
  private updateJoined(table: TicketTable, sysId: string, fields: FieldInput): Promise<unknown> {
    if (this.batchRefused) return this.patch(table, sysId, fields);
    let pending = this.joinedUpdates;
    if (!pending) {
      const batch: PendingUpdate[] = [];
      pending = batch;
      this.joinedUpdates = batch;
      setImmediate(() => {
        this.joinedUpdates = undefined;
        void this.flushUpdates(batch);
      });
    }
    return new Promise((resolve, reject) => pending.push({ table, sysId, fields, resolve, reject }));
  }

  private async patch(table: TicketTable, sysId: string, fields: FieldInput): Promise<unknown> {
    return (await this.call('ticket update', 'PATCH', `${TABLE_API}/${table}/${sysId}`, { data: fields })).json;
  }

  private async flushUpdates(updates: readonly PendingUpdate[]): Promise<void> {
    const alone = (u: PendingUpdate) => this.patch(u.table, u.sysId, u.fields).then(u.resolve, u.reject);
    if (updates.length === 1) return alone(updates[0]!);
    const chunks: PendingUpdate[][] = [];
    for (let i = 0; i < updates.length; i += this.updateBatchSize) chunks.push(updates.slice(i, i + this.updateBatchSize));
    await Promise.all(chunks.map((chunk) => (chunk.length === 1 ? alone(chunk[0]!) : this.sendBatch(chunk, alone))));
  }

  /**
   * One Batch API request for a chunk of updates. Each item is settled on its own answer: a 2xx
   * is the updated record, a 4xx fails that update only (parsed as a PATCH's error would be); a
   * 429 or 5xx item and the items the instance did not get to (unserviced, the 30 s limit) are
   * sent again as single requests, with the single request's retries. The PATCHes are idempotent
   * field sets, so resending one the instance may have run repeats nothing but its work note,
   * as a single PATCH's retry would.
   */
  private async sendBatch(chunk: readonly PendingUpdate[], alone: (u: PendingUpdate) => Promise<void>): Promise<void> {
    const operation = 'ticket update';
    const query = new URLSearchParams(TABLE_PARAMS).toString();
    const batchId = `${++this.batchIds}`;
    let answer: z.infer<typeof batchAnswer>;
    try {
      // Not resent whole: its items run one after another on the instance, so a lost answer or a
      // 5xx may follow updates that ran, and a resend would run each again (another work note).
      // The instance ends a batch at 30 s and answers with what it did not get to (unserviced),
      // so its answer is awaited past that; a batch that still fails fails its updates, which the
      // next pass sends again.
      const res = await this.call(operation, 'POST', BATCH_API, {
        retry: 'unsafe',
        timeoutMs: Math.max(this.timeoutMs, BATCH_TIMEOUT_MS),
        tableParams: false,
        data: {
          batch_request_id: batchId,
          rest_requests: chunk.map((u, i) => ({
            id: String(i),
            method: 'PATCH',
            url: `${TABLE_API}/${u.table}/${u.sysId}?${query}`,
            headers: [
              { name: 'Content-Type', value: 'application/json' },
              { name: 'Accept', value: 'application/json' },
            ],
            body: Buffer.from(JSON.stringify(u.fields), 'utf8').toString('base64'),
            exclude_response_headers: true,
          })),
        },
      });
      answer = this.parse(operation, batchAnswer, res.json);
    } catch (err) {
      if (err instanceof ServiceNowError && err.status !== undefined && BATCH_REFUSED.has(err.status)) {
        this.batchRefused = true;
        this.log.info({ status: err.status }, 'the instance does not offer the Batch API to this account; sending updates one by one');
        await Promise.all(chunk.map(alone));
        return;
      }
      for (const u of chunk) u.reject(err);
      return;
    }
    const byId = new Map(answer.serviced_requests.map((r) => [r.id, r]));
    const again: PendingUpdate[] = [];
    chunk.forEach((u, i) => {
      const item = byId.get(String(i));
      // Not answered at all counts as unserviced: nothing says it ran.
      if (!item) return again.push(u);
      const body = Buffer.from(item.body ?? '', 'base64').toString('utf8');
      const status = item.status_code;
      if (status === 429 || status >= 500) return again.push(u);
      if (status < 200 || status >= 300) return u.reject(errorFromResponse(operation, status, body));
      try {
        u.resolve(jsonOf(operation, status, 'application/json', body));
      } catch (err) {
        u.reject(err);
      }
    });
    if (again.length) this.log.info({ count: again.length, batch: chunk.length }, 'sending updates the batch did not run again one by one');
    await Promise.all(again.map(alone));
  }

  private parse<T>(operation: string, schema: z.ZodType<T>, json: unknown): T {
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ServiceNowError({
        kind: 'invalid-response',
        operation,
        reason: `ServiceNow returned an unexpected response shape (${oneLine(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), 160)})`,
      });
    }
    return parsed.data;
  }

  private toTicket(table: TicketTable, operation: string, row: Record<string, string>): TicketRecord {
    const t = this.parse(operation, ticketRow, row);
    return {
      table,
      sysId: t.sys_id,
      number: t.number,
      state: row.state ?? '',
      active: row.active === 'true',
      link: this.recordLink(table, t.sys_id),
      fields: row,
    };
  }

  private async list(operation: string, table: string, params: Record<string, string>): Promise<Array<Record<string, string>>> {
    const res = await this.call(operation, 'GET', `${TABLE_API}/${table}`, { params });
    return this.parse(operation, listEnvelope, res.json).result;
  }

  // ------------------------------------------------------------------ API

  /** Proves the connection works end to end: a token and one sys_user read. */
  async testConnection(): Promise<{ instanceUrl: string; user: ServiceNowUser | undefined }> {
    assertQueryValue('connection test', 'user name', this.params.connection.username);
    const rows = await this.list('connection test', 'sys_user', {
      sysparm_query: `user_name=${this.params.connection.username}`,
      sysparm_fields: 'sys_id,user_name,email,name',
      sysparm_limit: '1',
    });
    const row = rows.find((r) => r.user_name === this.params.connection.username);
    return { instanceUrl: this.instanceUrl, user: row ? toUser(row) : undefined };
  }

  /**
   * Finds the one active sys_user for a Teams identity: by email first, then by user_name (for
   * instances that provision UPNs as user names). More than one match is an error, never a guess.
   */
  async resolveUser(identity: string): Promise<ServiceNowUser> {
    const operation = 'user lookup';
    const id = identity.trim();
    assertQueryValue(operation, 'identity', id);
    for (const field of ['email', 'user_name'] as const) {
      const variants = [...new Set([id, id.toLowerCase()])];
      const rows = await this.list(operation, 'sys_user', {
        sysparm_query: `active=true^${variants.map((v, i) => `${i ? 'OR' : ''}${field}=${v}`).join('^')}`,
        sysparm_fields: 'sys_id,user_name,email,name,active',
        sysparm_limit: '10',
      });
      // Re-check rows: an ignored query part would otherwise return unrelated users.
      const matches = rows.filter((r) => r.active === 'true' && (r[field] ?? '').toLowerCase() === id.toLowerCase());
      if (matches.length === 1) return toUser(matches[0]!);
      if (matches.length > 1) {
        throw new ServiceNowError({
          kind: 'user-ambiguous',
          operation,
          reason: `${matches.length} active ServiceNow users match '${id}' by ${field === 'email' ? 'email' : 'user name'}; ask a ServiceNow admin to deactivate the duplicate account`,
        });
      }
    }
    throw new ServiceNowError({ kind: 'user-not-found', operation, reason: `No ServiceNow user matches '${id}'` });
  }

  /** An assignment group by name (or sys_id); a missing group is an error naming it, never dropped silently. */
  async resolveGroup(nameOrId: string): Promise<{ sysId: string; name: string }> {
    const operation = 'group lookup';
    const id = nameOrId.trim();
    assertQueryValue(operation, 'group', id);
    const field = isSysId(id) ? 'sys_id' : 'name';
    const rows = await this.list(operation, 'sys_user_group', { sysparm_query: `${field}=${id}`, sysparm_fields: 'sys_id,name', sysparm_limit: '2' });
    const matches = rows.filter((r) => (r[field] ?? '').toLowerCase() === id.toLowerCase());
    if (matches.length === 1) return { sysId: matches[0]!.sys_id!, name: matches[0]!.name ?? id };
    throw new ServiceNowError({
      kind: matches.length ? 'user-ambiguous' : 'user-not-found',
      operation,
      reason: matches.length ? `${matches.length} ServiceNow groups are named '${id}'` : `No ServiceNow assignment group is named '${id}'`,
    });
  }

  async findByCorrelationId(table: TicketTable, correlationId: string): Promise<TicketRecord | undefined> {
    const operation = 'ticket lookup';
    assertQueryValue(operation, 'correlation id', correlationId);
    const rows = await this.list(operation, table, {
      sysparm_query: `correlation_id=${correlationId}^ORDERBYDESCsys_created_on`,
      sysparm_fields: 'sys_id,number,state,active,correlation_id,sys_created_on',
      sysparm_limit: '5',
    });
    const matches = rows.filter((r) => r.correlation_id === correlationId);
    if (matches.length > 1) this.log.warn({ table, count: matches.length }, 'several ServiceNow tickets share one correlation id, using the newest');
    return matches[0] ? this.toTicket(table, operation, matches[0]) : undefined;
  }

  /**
   * Idempotent create keyed by correlation_id. ServiceNow has no idempotency key, so a create
   * whose outcome is unknown (lost response, timeout, 5xx) is followed by a lookup before any retry.
   */
  async createTicket(table: TicketTable, fields: FieldInput, correlation: { correlationId: string; correlationDisplay: string }): Promise<CreateTicketResult> {
    const { correlationId } = correlation;
    if (!correlationId || correlationId.length > CORRELATION_ID_MAX) {
      throw new ServiceNowError({
        kind: 'invalid-input',
        operation: 'ticket create',
        reason: `the correlation id must be 1 to ${CORRELATION_ID_MAX} characters`,
      });
    }
    const key = `${this.instanceUrl}|${table}|${correlationId}`;
    const inFlight = this.instances.createsInFlight;
    const running = inFlight.get(key);
    if (running) return running.then((r) => ({ ...r, created: false }));
    const promise = this.createOnce(table, fields, correlation).finally(() => inFlight.delete(key));
    inFlight.set(key, promise);
    return promise;
  }

  private async createOnce(
    table: TicketTable,
    fields: FieldInput,
    { correlationId, correlationDisplay }: { correlationId: string; correlationDisplay: string },
  ): Promise<CreateTicketResult> {
    const operation = 'ticket create';
    const existing = await this.findByCorrelationId(table, correlationId);
    if (existing) return { sysId: existing.sysId, number: existing.number, table, link: existing.link, created: false };
    const body: Record<string, unknown> = {
      ...fields,
      correlation_id: correlationId,
      correlation_display: correlationDisplay.slice(0, CORRELATION_ID_MAX),
    };
    if (body.work_notes === undefined) body.work_notes = `${BOT_NOTE_PREFIX} Ticket created automatically from a Microsoft Defender for Cloud finding.`;
    // A create whose outcome is unknown is retried only after a lookup found nothing: nothing
    // existed before the first attempt, so a match then is the record an earlier attempt committed.
    try {
      return await withRetries(
        this.http.schedule,
        {
          sleep: this.sleep,
          onRetry: ({ attempt, failure }) =>
            this.log.warn({ table, kind: (failure as ServiceNowError).kind, attempt }, 'ticket create outcome unknown, checking before retrying'),
        },
        async (attempt) => {
          if (attempt > 0) {
            const found = await this.findByCorrelationId(table, correlationId);
            if (found) return { sysId: found.sysId, number: found.number, table, link: found.link, created: true };
          }
          try {
            const res = await this.call(operation, 'POST', `${TABLE_API}/${table}`, { data: body, retry: 'unsafe' });
            const t = this.toTicket(table, operation, this.parse(operation, oneEnvelope, res.json).result);
            this.log.info({ table, number: t.number }, 'created ServiceNow ticket');
            return { sysId: t.sysId, number: t.number, table, link: t.link, created: true };
          } catch (err) {
            if (err instanceof ServiceNowError && err.transient) throw new RetryableFailure(err);
            throw err;
          }
        },
      );
    } catch (err) {
      throw err instanceof RetryableFailure ? err.failure : err;
    }
  }

  async getTicket(table: TicketTable, sysId: string): Promise<TicketRecord> {
    const operation = 'ticket read';
    assertSysId(operation, sysId);
    const res = await this.call(operation, 'GET', `${TABLE_API}/${table}/${sysId}`);
    return this.toTicket(table, operation, this.parse(operation, oneEnvelope, res.json).result);
  }

  /**
   * getTicket for steps that run side by side (the resolution job resolves its changed tickets
   * in parallel): the reads asked for in one turn of the event loop go out as one `sys_idIN` read
   * per table, so N resolutions cost one read, not N, of the instance's few request slots. A row
   * the answer lacks fails its own read as a 404 of getTicket would (deleted, or an ACL hides it).
   */
  private readJoined(table: TicketTable, sysId: string): Promise<TicketRecord> {
    assertSysId('ticket read', sysId);
    let pending = this.joinedReads.get(table);
    if (!pending) {
      const batch = new Map<string, Array<{ resolve: (t: TicketRecord) => void; reject: (err: unknown) => void }>>();
      pending = batch;
      this.joinedReads.set(table, batch);
      setImmediate(() => {
        this.joinedReads.delete(table);
        void this.flushJoined(table, batch);
      });
    }
    const waiting = pending.get(sysId) ?? [];
    pending.set(sysId, waiting);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  private async flushJoined(
    table: TicketTable,
    batch: Map<string, Array<{ resolve: (t: TicketRecord) => void; reject: (err: unknown) => void }>>,
  ): Promise<void> {
    const settle = (sysId: string, result: { ticket: TicketRecord } | { err: unknown }) => {
      for (const w of batch.get(sysId) ?? []) {
        if ('ticket' in result) w.resolve(result.ticket);
        else w.reject(result.err);
      }
    };
    if (batch.size === 1) {
      const [sysId] = batch.keys();
      await this.getTicket(table, sysId!).then(
        (ticket) => settle(sysId!, { ticket }),
        (err: unknown) => settle(sysId!, { err }),
      );
      return;
    }
    let rows: TicketRecord[];
    try {
      rows = await this.getTickets(table, [...batch.keys()]);
    } catch (err) {
      for (const sysId of batch.keys()) settle(sysId, { err });
      return;
    }
    const bySysId = new Map(rows.map((r) => [r.sysId, r]));
    for (const sysId of batch.keys()) {
      const ticket = bySysId.get(sysId);
      settle(
        sysId,
        ticket
          ? { ticket }
          : { err: new ServiceNowError({ kind: 'not-found', operation: 'ticket read', status: 404, reason: 'the record does not exist or an ACL hides it' }) },
      );
    }
  }

  /** Reads many tickets in `sys_idIN` batches; ids that do not exist are simply absent. */
  async getTickets(table: TicketTable, sysIds: readonly string[], fields?: readonly string[]): Promise<TicketRecord[]> {
    const operation = 'ticket read';
    const ids = [...new Set(sysIds)];
    ids.forEach((id) => assertSysId(operation, id));
    const out: TicketRecord[] = [];
    for (let i = 0; i < ids.length; i += this.batchSize) {
      const chunk = ids.slice(i, i + this.batchSize);
      const wanted = new Set(chunk);
      const params: Record<string, string> = { sysparm_query: `sys_idIN${chunk.join(',')}`, sysparm_limit: String(chunk.length) };
      if (fields) params.sysparm_fields = [...new Set(['sys_id', 'number', 'state', 'active', ...fields])].join(',');
      const rows = await this.list(operation, table, params);
      for (const row of rows) if (wanted.has(row.sys_id ?? '')) out.push(this.toTicket(table, operation, row));
    }
    return out;
  }

  /** Tickets with their assignees, in `sys_idIN` batches; missing tickets are absent. */
  async getTicketsWithAssignees(table: TicketTable, sysIds: readonly string[]): Promise<TicketWithAssignee[]> {
    return (await this.getTickets(table, sysIds, ASSIGNEE_FIELDS)).map(assigneeOf);
  }

  /**
   * Keyset paging on (sys_updated_on, sys_id), so neither rows sharing one second nor changes
   * landing mid-read make a page skip a row (offset paging would shift under them):
   * `sys_updated_on>=since^ORDERBYsys_updated_on^ORDERBYsys_id`; after a full page, the rest of its
   * last second by `sys_updated_on=T^sys_id>S^ORDERBYsys_id`, then on with `sys_updated_on>T`.
   * A row the answer should not contain (the platform ignores a query part it cannot parse and
   * answers unfiltered rows) or out of order fails the read instead of being trusted.
   */
  async getTicketsChangedSince(table: TicketTable, since: Date, opts: { pageSize?: number } = {}): Promise<ChangedTickets> {
    const operation = 'changed tickets read';
    const limit = Math.max(1, Math.min(10_000, opts.pageSize ?? CHANGED_PAGE_SIZE));
    const fields = [...new Set(['sys_id', 'number', 'state', 'active', ...ASSIGNEE_FIELDS])].join(',');
    // A ticket changed again mid-read comes back a second time, later in the order: that one wins.
    const tickets = new Map<string, TicketWithAssignee>();
    let horizon: string | undefined;
    let pages = 0;
    const page = async (query: string, accept: (ts: string, sysId: string) => boolean): Promise<Array<{ ts: string; sysId: string }>> => {
      const res = await this.call(operation, 'GET', `${TABLE_API}/${table}`, {
        params: { sysparm_query: query, sysparm_fields: fields, sysparm_limit: String(limit), sysparm_no_count: 'true' },
      });
      pages++;
      if (horizon === undefined) {
        const date = Date.parse(res.headers['date'] ?? '');
        if (Number.isFinite(date)) horizon = new Date(date).toISOString();
      }
      const keys: Array<{ ts: string; sysId: string }> = [];
      for (const row of this.parse(operation, listEnvelope, res.json).result) {
        const ticket = assigneeOf(this.toTicket(table, operation, row));
        const ts = row.sys_updated_on ?? '';
        const prev = keys.at(-1);
        if (!ticket.updatedAt || !accept(ts, ticket.ticket.sysId) || (prev && (ts < prev.ts || (ts === prev.ts && ticket.ticket.sysId <= prev.sysId))))
          throw new ServiceNowError({
            kind: 'invalid-response',
            operation,
            reason: `ServiceNow answered ${table} ${ticket.ticket.number} (sys_updated_on "${ts}") outside the query or out of order; the read is not trusted`,
          });
        keys.push({ ts, sysId: ticket.ticket.sysId });
        tickets.set(ticket.ticket.sysId, ticket);
      }
      return keys;
    };
    const from = glideOf(since);
    let rows = await page(`sys_updated_on>=${from}^ORDERBYsys_updated_on^ORDERBYsys_id`, (ts) => ts >= from);
    while (rows.length === limit) {
      const last = rows.at(-1)!;
      // The rest of the last page's second, in sys_id order.
      let tail = rows;
      while (tail.length === limit) {
        const after = tail.at(-1)!.sysId;
        assertSysId(operation, after);
        tail = await page(`sys_updated_on=${last.ts}^sys_id>${after}^ORDERBYsys_id`, (ts, id) => ts === last.ts && id > after);
      }
      rows = await page(`sys_updated_on>${last.ts}^ORDERBYsys_updated_on^ORDERBYsys_id`, (ts) => ts > last.ts);
    }
    return { tickets: [...tickets.values()], ...(horizon ? { horizon } : {}), pages };
  }

  async updateTicket(table: TicketTable, sysId: string, fields: FieldInput): Promise<UpdateResult> {
    const operation = 'ticket update';
    assertSysId(operation, sysId);
    // Updates of one turn (the resolutions running together) travel as one Batch API request.
    const json = await this.updateJoined(table, sysId, fields);
    const record = this.toTicket(table, operation, this.parse(operation, oneEnvelope, json).result);
    const notApplied = Object.entries(fields)
      .filter(([k]) => k !== 'work_notes' && k !== 'comments')
      .filter(([k, v]) => record.fields[k] !== String(v))
      .map(([k]) => k);
    if (notApplied.length) this.log.warn({ table, number: record.number, notApplied }, 'ServiceNow ignored some fields of an update');
    return { record, notApplied };
  }

  async addWorkNote(table: TicketTable, sysId: string, note: string): Promise<void> {
    await this.updateTicket(table, sysId, { work_notes: note });
  }

  async reassignTicket(table: TicketTable, sysId: string, assigneeSysId: string, note: string): Promise<void> {
    assertSysId('ticket reassign', assigneeSysId);
    const { notApplied } = await this.updateTicket(table, sysId, { assigned_to: assigneeSysId, work_notes: note });
    // A business rule or ACL that keeps the old assignee must not pass for a reassignment.
    if (notApplied.includes('assigned_to'))
      throw new ServiceNowError({
        kind: 'data-policy',
        operation: 'ticket reassign',
        reason: "ServiceNow did not change the ticket's assignee (a business rule or ACL kept it)",
      });
  }

  /**
   * Resolves per table and reports only what ServiceNow's answer shows: the platform silently
   * ignores state moves it does not allow (problems since Rome, unapproved normal changes), with a
   * 200 whose record keeps the old state. The Table API's PATCH answers with the updated record
   * (unless asked not to, X-no-response-body), so that record is the read-back: no second read.
   */
  async resolveTicket(table: TicketTable, sysId: string, evidenceText: string): Promise<ResolveResult> {
    const before = await this.readJoined(table, sysId);
    const base = { number: before.number, link: before.link };
    if (isResolvedState(table, before.state)) {
      return { outcome: 'resolved', reason: 'already resolved in ServiceNow', state: before.state, ...base };
    }
    const evidence = evidenceText.trim() || 'Microsoft Defender for Cloud reports the resource as healthy.';
    let rejection: string | undefined;
    // A refused update (data policy, ACL) wrote nothing: the ticket is as read before.
    let after = before;
    try {
      // The work note rides on the resolving PATCH (a journal field is written through with the
      // update, one request instead of two). It only says what was attempted: a state move the
      // platform ignores still writes the note, and the note below then says it did not take effect.
      const fields = { ...this.resolutionFields(table, before, evidence), work_notes: `${BOT_NOTE_PREFIX} Resolving automatically. Evidence: ${evidence}` };
      after = (await this.updateTicket(table, sysId, fields)).record;
    } catch (err) {
      if (!(err instanceof ServiceNowError) || !['data-policy', 'forbidden'].includes(err.kind)) throw err;
      rejection = err.reason;
    }
    if (isResolvedState(table, after.state)) return { outcome: 'resolved', state: after.state, ...base };
    const reason =
      rejection ??
      (table === 'problem'
        ? `ServiceNow kept the problem in state ${after.state}: the Table API does not move problem states on this instance`
        : table === 'change_request'
          ? `ServiceNow kept the change in state ${after.state}: its change model does not allow closing it yet (approval pending?)`
          : `ServiceNow kept the incident in state ${after.state}`);
    await this.noteQuietly(
      table,
      sysId,
      `${BOT_NOTE_PREFIX} Defender for Cloud reports this as fixed, but the automatic resolution did not take effect (${reason}). Please resolve it manually. Evidence: ${evidence}`,
    );
    return { outcome: 'needs-manual', reason, state: after.state, ...base };
  }

  private resolutionFields(table: TicketTable, current: TicketRecord, evidence: string): FieldInput {
    switch (table) {
      case 'incident':
        return { state: INCIDENT_STATE.resolved, close_code: this.closeCode, close_notes: evidence };
      case 'problem':
        return {
          state: '106',
          resolution_code: 'fix_applied',
          // A human's root-cause analysis is worth more than our generic sentence.
          ...(current.fields.cause_notes ? {} : { cause_notes: 'Security recommendation reported by Microsoft Defender for Cloud.' }),
          fix_notes: evidence,
        };
      case 'change_request':
        return { state: '3', close_code: 'successful', close_notes: evidence };
    }
  }

  /** Incidents only: back to In Progress, with a work note saying why. */
  async reopenTicket(table: TicketTable, sysId: string, note: string): Promise<ReopenResult> {
    if (table !== 'incident') return { outcome: 'not-reopenable', link: this.recordLink(table, sysId) };
    const before = await this.readJoined(table, sysId);
    const base = { number: before.number, link: before.link };
    if (!isResolvedState(table, before.state) && before.state !== INCIDENT_STATE.canceled) {
      return { outcome: 'already-open', state: before.state, ...base };
    }
    let rejection: string | undefined;
    // The PATCH answer is the updated record (see resolveTicket); a refused update wrote nothing.
    let after = before;
    try {
      after = (await this.updateTicket(table, sysId, { state: INCIDENT_STATE.inProgress })).record;
    } catch (err) {
      if (!(err instanceof ServiceNowError) || !['data-policy', 'forbidden'].includes(err.kind)) throw err;
      rejection = err.reason;
    }
    if (after.state === INCIDENT_STATE.inProgress) {
      await this.noteQuietly(table, sysId, `${BOT_NOTE_PREFIX} Reopened automatically: ${note}`);
      return { outcome: 'reopened', state: after.state, ...base };
    }
    const reason = rejection ?? `ServiceNow kept the incident in state ${after.state} (closed incidents cannot be reopened)`;
    await this.noteQuietly(table, sysId, `${BOT_NOTE_PREFIX} Could not reopen automatically (${reason}): ${note}`);
    return { outcome: 'needs-manual', reason, state: after.state, ...base };
  }

  /** Valid choice values, e.g. to check the configured close code against the instance. */
  async getChoices(table: string, element: string): Promise<Array<{ value: string; label: string }>> {
    const operation = 'choice list';
    assertQueryValue(operation, 'table', table);
    assertQueryValue(operation, 'element', element);
    const rows = await this.list(operation, 'sys_choice', {
      sysparm_query: `name=${table}^element=${element}^language=en^inactive=false^ORDERBYsequence`,
      sysparm_fields: 'value,label,name,element',
    });
    return rows.filter((r) => r.name === table && r.element === element).map((r) => ({ value: r.value ?? '', label: r.label ?? '' }));
  }

  private async noteQuietly(table: TicketTable, sysId: string, note: string): Promise<void> {
    try {
      await this.addWorkNote(table, sysId, note);
    } catch (err) {
      // The state change already happened (or not); a failed note must not flip the reported outcome.
      this.log.warn({ table, reason: err instanceof ServiceNowError ? err.reason : String(err) }, 'could not add ServiceNow work note');
    }
  }
}

interface PendingUpdate {
  table: TicketTable;
  sysId: string;
  fields: FieldInput;
  resolve: (json: unknown) => void;
  reject: (err: unknown) => void;
}

/** A 2xx answer's JSON; a hibernating instance answers 200 with an HTML page, which must not pass. */
function jsonOf(operation: string, status: number, contentType: string, body: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  if (json === undefined || (contentType && !contentType.includes('json'))) {
    const html = /html/i.test(contentType) || /^\s*</.test(body);
    throw new ServiceNowError({
      kind: 'invalid-response',
      operation,
      status,
      reason: html
        ? 'the instance returned HTML instead of JSON, is it hibernating? Wake it up in the ServiceNow developer portal'
        : 'the instance returned a response that is not JSON',
    });
  }
  return json;
}

function toUser(row: Record<string, string>): ServiceNowUser {
  return { sysId: row.sys_id ?? '', userName: row.user_name ?? '', email: row.email ?? '', name: row.name ?? '' };
}

function assertSysId(operation: string, sysId: string): void {
  if (!isSysId(sysId)) throw new ServiceNowError({ kind: 'invalid-input', operation, reason: `'${oneLine(sysId, 40)}' is not a ServiceNow sys_id` });
}

/** `^` and newlines would let a value inject extra encoded-query terms. */
function assertQueryValue(operation: string, what: string, value: string): void {
  if (!value || /[\^\r\n,]/.test(value) || value.length > 200) {
    throw new ServiceNowError({ kind: 'invalid-input', operation, reason: `the ${what} '${oneLine(value, 60)}' cannot be used in a ServiceNow query` });
  }
}
