import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from '../../core/logger.js';
import { ServiceNowError, errorFromResponse, oneLine } from './errors.js';

export type Sleep = (ms: number) => Promise<void>;

/** A dns.lookup replacement used for every connection (e.g. urlGuard's publicOnlyLookup). */
export type ConnectLookup = LookupFunction;

/** The agents every connection goes through (e.g. urlGuard's publicOnlyAgents). */
export interface ConnectAgents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}

/** Set by a connect guard that refuses a host: retrying cannot help, so it is not retried. */
export const PRIVATE_ADDRESS_CODE = 'EPRIVATEADDR';

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for; the call fails as rate-limited instead. */
  maxRetryAfterMs: number;
}

/** Counting semaphore; FIFO so a burst cannot starve earlier callers. */
export class Semaphore {
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

  constructor(
    readonly origin: string,
    private readonly limiter: Semaphore,
    private readonly policy: RetryPolicy,
    timeoutMs: number,
    private readonly sleep: Sleep,
    private readonly random: () => number,
    private readonly log: Logger,
    connect?: ConnectLookup | ConnectAgents,
  ) {
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

  backoffMs(attempt: number): number {
    const exp = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** attempt);
    return Math.round(exp / 2 + (this.random() * exp) / 2);
  }

  /**
   * Sends one logical request with limiter, bounded retries and the 401 hook. Returns the final
   * response for any non-transient status; throws ServiceNowError for transport failures and for
   * transient statuses once retries are exhausted.
   */
  async send(req: SendRequest, opts: SendOptions): Promise<RawResponse> {
    let reauthed = false;
    let attempt = 0;
    for (;;) {
      const headers: Record<string, string> = { Accept: 'application/json', ...(req.headers ? await req.headers() : {}) };
      let failure: ServiceNowError;
      let retryAfterMs: number | undefined;
      const started = Date.now();
      const release = await this.limiter.acquire();
      let res: AxiosResponse<unknown> | undefined;
      try {
        res = await this.axios.request({
          method: req.method,
          url: req.path,
          params: req.params,
          data: req.form ? req.form.toString() : req.data,
          headers: {
            ...headers,
            ...(req.form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
            ...(req.data !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
        });
      } catch (err) {
        failure = transportError(opts.operation, err);
        // The address guard refused the host: every retry would be refused the same way.
        if (axios.isAxiosError(err) && err.code === PRIVATE_ADDRESS_CODE) throw failure;
      } finally {
        release();
      }

      if (res) {
        const status = res.status;
        const body = typeof res.data === 'string' ? res.data : res.data === undefined || res.data === null ? '' : JSON.stringify(res.data);
        const resHeaders = flattenHeaders(res.headers);
        this.log.debug({ op: opts.operation, method: req.method, path: req.path, status, attempt, ms: Date.now() - started }, 'servicenow request');
        if (status === 401 && opts.onUnauthorized && !reauthed) {
          reauthed = true;
          if (await opts.onUnauthorized()) continue;
        }
        const transient = status === 429 || (status >= 500 && opts.retry === 'safe');
        if (!transient) return { status, headers: resHeaders, body };
        failure = errorFromResponse(opts.operation, status, body);
        if (status === 429) retryAfterMs = parseRetryAfter(resHeaders['retry-after']);
        if (retryAfterMs !== undefined && retryAfterMs > this.policy.maxRetryAfterMs) {
          throw new ServiceNowError({
            kind: 'rate-limited',
            operation: opts.operation,
            status,
            reason: `ServiceNow rate limit exceeded; it asks to wait ${Math.ceil(retryAfterMs / 1000)} s, longer than the configured maximum`,
          });
        }
      } else if (opts.retry === 'unsafe') {
        throw failure!;
      }

      if (attempt >= this.policy.maxRetries) {
        throw new ServiceNowError({
          kind: failure!.kind,
          operation: opts.operation,
          status: failure!.status,
          snMessage: failure!.snMessage,
          snDetail: failure!.snDetail,
          reason: `${failure!.reason} (gave up after ${attempt + 1} attempts)`,
        });
      }
      const wait = retryAfterMs ?? this.backoffMs(attempt);
      this.log.warn({ op: opts.operation, attempt, waitMs: wait, kind: failure!.kind, status: failure!.status }, 'retrying ServiceNow request');
      attempt++;
      await this.sleep(wait);
    }
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

/** Seconds or an HTTP date, as RFC 9110 allows. */
export function parseRetryAfter(value: string | undefined, now: Date = new Date()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
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
  return new ServiceNowError({
    kind: 'network',
    operation,
    reason: `could not reach ServiceNow (${[code, oneLine(message)].filter(Boolean).join(': ')})`,
  });
}
