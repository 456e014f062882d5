import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from '../../core/logger.js';
import { parseRetryAfter } from '../../core/rateLimit.js';
import { isPermanentNetworkCode, RetryableFailure, withRetries, type RetrySchedule, type Sleep } from '../retry.js';
import { ServiceNowError, errorFromResponse, oneLine } from './errors.js';

export type { Sleep } from '../retry.js';

/** A dns.lookup replacement used for every connection (e.g. urlGuard's publicOnlyLookup). */
export type ConnectLookup = LookupFunction;

/** The agents every connection goes through (e.g. urlGuard's publicOnlyAgents). */
export interface ConnectAgents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}

/** Set by a connect guard that refuses a host: retrying cannot help, so it is not retried. */
export const PRIVATE_ADDRESS_CODE = 'EPRIVATEADDR';

export interface RetryPolicy extends Omit<RetrySchedule, 'random'> {
  /** A Retry-After longer than this is not waited for; the call fails as rate-limited instead. */
  maxRetryAfterMs: number;
}

/** What bounds an instance's requests in flight: acquire waits for room and returns the release. */
export interface Limiter {
  readonly size: number;
  acquire(): Promise<() => void>;
}

/** Counting semaphore; FIFO so a burst cannot starve earlier callers. */
export class Semaphore implements Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly size: number) {}

  async acquire(): Promise<() => void> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}

export interface SendRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  params?: Record<string, string>;
  data?: unknown;
  /** Form bodies are sent as-is with the form content type. */
  form?: URLSearchParams;
  headers?: () => Promise<Record<string, string>>;
  /** Instead of the client's timeout (a Batch API request runs its items one after another). */
  timeoutMs?: number;
}

export interface SendOptions {
  operation: string;
  /**
   * `safe`: repeating is harmless, retry 5xx and network errors. `unsafe` (creates): only 429 is
   * retried, because a 5xx or a lost response may hide a committed insert.
   */
  retry: 'safe' | 'unsafe';
  /** Called once on a 401; returns true when fresh credentials were obtained and a retry makes sense. */
  onUnauthorized?: () => Promise<boolean>;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class HttpCore {
  private readonly axios: AxiosInstance;
  /** Also used by the client's create-then-check loop, so every ServiceNow retry waits alike. */
  readonly schedule: RetrySchedule;

  constructor(
    readonly origin: string,
    private readonly limiter: Limiter,
    private readonly policy: RetryPolicy,
    timeoutMs: number,
    private readonly sleep: Sleep,
    random: () => number,
    private readonly log: Logger,
    connect?: ConnectLookup | ConnectAgents,
  ) {
    this.schedule = { ...policy, random };
    // Own agents only when a guard is given: it must apply to every connection, keep-alive reuse included.
    const agents: ConnectAgents | undefined =
      typeof connect === 'function'
        ? { httpAgent: new http.Agent({ keepAlive: true, lookup: connect }), httpsAgent: new https.Agent({ keepAlive: true, lookup: connect }) }
        : connect;
    this.axios = axios.create({
      baseURL: origin,
      ...(agents ? { httpAgent: agents.httpAgent, httpsAgent: agents.httpsAgent } : {}),
      timeout: timeoutMs,
      maxRedirects: 0,
      // Status handling and JSON parsing are ours: a hibernating instance answers 200 with HTML.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
    });
  }

  /**
   * Sends one logical request with limiter, bounded retries and the 401 hook. Returns the final
   * response for any non-transient status; throws ServiceNowError for transport failures and for
   * transient statuses once retries are exhausted.
   */
  async send(req: SendRequest, opts: SendOptions): Promise<RawResponse> {
    let reauthed = false;
    try {
      return await withRetries(
        this.schedule,
        {
          sleep: this.sleep,
          onRetry: ({ attempt, waitMs, failure }) => {
            const f = failure as ServiceNowError;
            this.log.warn({ op: opts.operation, attempt, waitMs, kind: f.kind, status: f.status }, 'retrying ServiceNow request');
          },
        },
        async (attempt) => {
          for (;;) {
            const res = await this.once(req, opts, attempt);
            // One fresh sign-in per logical request; it does not use up a retry.
            if (res.status === 401 && opts.onUnauthorized && !reauthed) {
              reauthed = true;
              if (await opts.onUnauthorized()) continue;
            }
            return this.judge(res, opts);
          }
        },
      );
    } catch (err) {
      if (!(err instanceof RetryableFailure)) throw err;
      const failure = err.failure as ServiceNowError;
      throw new ServiceNowError({
        kind: failure.kind,
        operation: opts.operation,
        status: failure.status,
        snMessage: failure.snMessage,
        snDetail: failure.snDetail,
        reason: `${failure.reason} (gave up after ${this.schedule.maxRetries + 1} attempts)`,
      });
    }
  }

  /** One HTTP exchange inside the instance's budget; transport failures come back classified. */
  private async once(req: SendRequest, opts: SendOptions, attempt: number): Promise<RawResponse> {
    const headers: Record<string, string> = { Accept: 'application/json', ...(req.headers ? await req.headers() : {}) };
    const started = Date.now();
    const release = await this.limiter.acquire();
    let res: AxiosResponse<unknown>;
    try {
      res = await this.axios.request({
        method: req.method,
        url: req.path,
        params: req.params,
        data: req.form ? req.form.toString() : req.data,
        ...(req.timeoutMs !== undefined ? { timeout: req.timeoutMs } : {}),
        headers: {
          ...headers,
          ...(req.form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
          ...(req.data !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      });
    } catch (err) {
      const failure = transportError(opts.operation, err);
      const code = axios.isAxiosError(err) ? err.code : undefined;
      // Refused by the address guard or a name that does not exist: every retry would end the same
      // way. A create whose request may have reached the instance is never repeated blindly.
      if (code === PRIVATE_ADDRESS_CODE || isPermanentNetworkCode(code) || opts.retry === 'unsafe') throw failure;
      throw new RetryableFailure(failure);
    } finally {
      release();
    }
    const status = res.status;
    const body = typeof res.data === 'string' ? res.data : res.data === undefined || res.data === null ? '' : JSON.stringify(res.data);
    this.log.debug({ op: opts.operation, method: req.method, path: req.path, status, attempt, ms: Date.now() - started }, 'servicenow request');
    return { status, headers: flattenHeaders(res.headers), body };
  }

  /** A final answer is returned; a transient one (429, or 5xx when repeating is safe) is retried. */
  private judge(res: RawResponse, opts: SendOptions): RawResponse {
    const { status } = res;
    const transient = status === 429 || (status >= 500 && opts.retry === 'safe');
    if (!transient) return res;
    const failure = errorFromResponse(opts.operation, status, res.body);
    const retryAfterMs = status === 429 ? parseRetryAfter(res.headers['retry-after'], new Date()) : undefined;
    if (retryAfterMs !== undefined && retryAfterMs > this.policy.maxRetryAfterMs) {
      throw new ServiceNowError({
        kind: 'rate-limited',
        operation: opts.operation,
        status,
        reason: `ServiceNow rate limit exceeded; it asks to wait ${Math.ceil(retryAfterMs / 1000)} s, longer than the configured maximum`,
      });
    }
    throw new RetryableFailure(failure, retryAfterMs);
  }
}

function flattenHeaders(headers: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined || v === null) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function transportError(operation: string, err: unknown): ServiceNowError {
  // Only the code and axios' own message are kept: the error object also holds the request
  // config, headers included, and must never reach a log or a user.
  const code = axios.isAxiosError(err) ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === PRIVATE_ADDRESS_CODE) {
    return new ServiceNowError({
      kind: 'network',
      operation,
      reason: `refused to connect to ServiceNow: ${oneLine(message)}; set SERVICENOW_ALLOW_PRIVATE_HOSTS=true to allow on-premises instances`,
    });
  }
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    return new ServiceNowError({ kind: 'timeout', operation, reason: `ServiceNow did not answer in time (${oneLine(message)})` });
  }
  if (isPermanentNetworkCode(code)) {
    return new ServiceNowError({
      kind: 'network',
      operation,
      reason: `the ServiceNow host name does not resolve (${[code, oneLine(message)].filter(Boolean).join(': ')})`,
    });
  }
  return new ServiceNowError({
    kind: 'network',
    operation,
    reason: `could not reach ServiceNow (${[code, oneLine(message)].filter(Boolean).join(': ')})`,
  });
}
