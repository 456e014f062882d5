/**
 * Shared HTTP layer for ARM, Resource Graph and Microsoft Graph: bearer tokens, bounded retries
 * honouring Retry-After, and Resource Graph quota pacing from the x-ms-user-quota-* headers.
 */
import type { TokenCredential } from '@azure/core-auth';
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { parseRetryAfter } from '../../core/rateLimit.js';
import { isPermanentNetworkCode, RetryableFailure, withRetries } from '../retry.js';
import { JsonRowSplitter, type RowFromBytes } from './jsonRows.js';

export interface RetryOptions {
  /** Retries after the first attempt (so maxRetries + 1 requests at most). */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Upper bound for a server-supplied Retry-After / quota wait, so a bad header cannot park the job. */
  maxServerDelayMs?: number;
}

export interface AzureHttpOptions {
  credential: TokenCredential;
  armBaseUrl?: string;
  graphBaseUrl?: string;
  armScope?: string;
  graphScope?: string;
  logger?: Logger;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  retry?: RetryOptions;
  timeoutMs?: number;
}

export type Service = 'arm' | 'graph';

export class AzureApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly service: Service,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'AzureApiError';
  }
}

const ErrorBody = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional() }).loose(),
});

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/** Parses ARG's `hh:mm:ss` (optionally `d.hh:mm:ss`) quota reset header into ms. */
export function parseResetsAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value.trim());
  if (!m) return undefined;
  const [, d, h, min, s, frac] = m;
  const ms = ((Number(d ?? 0) * 24 + Number(h)) * 3600 + Number(min) * 60 + Number(s)) * 1000;
  return ms + (frac ? Math.round(Number(`0.${frac}`) * 1000) : 0);
}

function header(resp: AxiosResponse, name: string): string | undefined {
  const v: unknown = resp.headers[name.toLowerCase()];
  return typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : typeof v === 'number' ? String(v) : undefined;
}

export interface SendOptions<T> {
  service: Service;
  method: Method;
  path: string;
  params?: Record<string, string>;
  data?: unknown;
  schema: z.ZodType<T>;
  /** Statuses answered with `undefined` instead of an error (e.g. 404 for "no manager"). */
  emptyOn?: number[];
  /** Resource Graph calls: pace by the user quota headers. */
  quotaAware?: boolean;
  /**
   * The top-level array of a large answer (Resource Graph's `data`): the body is read as a stream
   * and split into its elements as it arrives (connectors/defender/jsonRows.ts), never held as one
   * string. The schema sees the same value as with a whole-body parse.
   */
  rowsOf?: string;
  /** With rowsOf: what is kept of each row, applied as each arrives (the schema sees the mapped rows). */
  mapRow?: (row: unknown) => unknown;
  /** With rowsOf, instead of mapRow: each row's bytes first, and a parse to call only when they are needed (see JsonRowSplitter). */
  rowFromBytes?: RowFromBytes;
}

export class AzureHttp {
  readonly logger: Logger;
  readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly axios: AxiosInstance;
  private readonly retry: Required<RetryOptions>;
  private readonly bases: Record<Service, string>;
  private readonly scopes: Record<Service, string>;
  private quotaResumeAt: number | undefined;

  constructor(private readonly opts: AzureHttpOptions) {
    this.logger = (opts.logger ?? silentLogger).child({ component: 'azure-client' });
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.retry = {
      maxRetries: opts.retry?.maxRetries ?? 4,
      baseDelayMs: opts.retry?.baseDelayMs ?? 1000,
      maxDelayMs: opts.retry?.maxDelayMs ?? 30_000,
      maxServerDelayMs: opts.retry?.maxServerDelayMs ?? 120_000,
    };
    this.bases = {
      arm: (opts.armBaseUrl ?? 'https://management.azure.com').replace(/\/+$/, ''),
      graph: (opts.graphBaseUrl ?? 'https://graph.microsoft.com').replace(/\/+$/, ''),
    };
    this.scopes = {
      arm: opts.armScope ?? 'https://management.azure.com/.default',
      graph: opts.graphScope ?? 'https://graph.microsoft.com/.default',
    };
    // Kept-alive connections: a creation writes back two calls per ticket, each new connection costs a handshake on both sides.
    this.axios = axios.create({
      timeout: opts.timeoutMs ?? 60_000,
      validateStatus: () => true,
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true }),
    });
  }

  private async waitForQuota(): Promise<void> {
    if (this.quotaResumeAt === undefined) return;
    const wait = Math.min(this.quotaResumeAt - this.clock.now().getTime(), this.retry.maxServerDelayMs);
    this.quotaResumeAt = undefined;
    if (wait > 0) {
      this.logger.info({ waitMs: wait }, 'Resource Graph quota spent; waiting for the window to reset');
      await this.sleep(wait);
    }
  }

  private noteQuota(resp: AxiosResponse): void {
    const remaining = header(resp, 'x-ms-user-quota-remaining');
    if (remaining === undefined || Number(remaining) > 0) return;
    const resetMs = parseResetsAfter(header(resp, 'x-ms-user-quota-resets-after'));
    if (resetMs !== undefined) this.quotaResumeAt = this.clock.now().getTime() + resetMs;
  }

  async send<T>(o: SendOptions<T> & { emptyOn: number[] }): Promise<T | undefined>;
  async send<T>(o: SendOptions<T>): Promise<T>;
  async send<T>(o: SendOptions<T>): Promise<T | undefined> {
    let resp: AxiosResponse<unknown>;
    try {
      resp = await withRetries(
        this.retry,
        {
          sleep: this.sleep,
          onRetry: ({ attempt, waitMs, failure }) => {
            if (failure instanceof AxiosResponseFailure) {
              this.logger.warn({ status: failure.status, attempt, delay: waitMs, url: o.path }, 'Azure request throttled or failed; retrying');
            } else this.logger.warn({ err: String(failure), attempt, delay: waitMs, url: o.path }, 'Azure request failed; retrying');
          },
        },
        () => this.once(o),
      );
    } catch (err) {
      if (!(err instanceof RetryableFailure)) throw err;
      // Out of retries: a status is reported like any other answer, a transport failure as such.
      if (!(err.failure instanceof AxiosResponseFailure)) {
        throw new AzureApiError(`request to ${o.path} failed: ${String(err.failure)}`, 0, 'NetworkError', o.service);
      }
      resp = err.failure.response;
    }
    if (o.emptyOn?.includes(resp.status)) return undefined;
    if (resp.status >= 200 && resp.status < 300) {
      if (resp.status === 204 || resp.data === '' || resp.data === undefined) {
        const empty = o.schema.safeParse(undefined);
        if (empty.success) return empty.data;
      }
      const parsed = o.schema.safeParse(resp.data);
      if (!parsed.success) {
        throw new AzureApiError(
          `unexpected response shape from ${o.path}: ${parsed.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ')}`,
          resp.status,
          'InvalidResponse',
          o.service,
          resp.data,
        );
      }
      return parsed.data;
    }
    const err = ErrorBody.safeParse(resp.data);
    const code = err.success ? (err.data.error.code ?? `HTTP${resp.status}`) : `HTTP${resp.status}`;
    const message = err.success ? (err.data.error.message ?? '') : '';
    throw new AzureApiError(
      `${o.method.toUpperCase()} ${o.path} → ${resp.status} ${code}${message ? `: ${message}` : ''}`,
      resp.status,
      code,
      o.service,
      resp.data,
    );
  }

  /** One request; a transient failure (network, or a status in RETRYABLE) asks for another attempt. */
  private async once<T>(o: SendOptions<T>): Promise<AxiosResponse<unknown>> {
    if (o.quotaAware) await this.waitForQuota();
    const token = await this.opts.credential.getToken(this.scopes[o.service]);
    if (!token) throw new AzureApiError('credential returned no token', 401, 'NoToken', o.service);
    let resp: AxiosResponse<unknown>;
    try {
      resp = await this.axios.request<unknown>({
        url: this.bases[o.service] + o.path,
        method: o.method,
        ...(o.params ? { params: o.params } : {}),
        ...(o.data !== undefined ? { data: o.data } : {}),
        ...(o.rowsOf ? { responseType: 'stream' as const } : {}),
        headers: { Authorization: `Bearer ${token.token}`, Accept: 'application/json' },
      });
      if (o.rowsOf) resp = await readBody(resp, o.rowsOf, o.mapRow, o.rowFromBytes);
    } catch (err) {
      // A name that does not resolve stays unresolved; other network failures (reset, timeout) are transient, like a 5xx.
      if (axios.isAxiosError(err) && isPermanentNetworkCode(err.code)) {
        throw new AzureApiError(`request to ${o.path} failed: ${String(err)}`, 0, 'NetworkError', o.service);
      }
      throw new RetryableFailure(err);
    }
    if (o.quotaAware) this.noteQuota(resp);
    if (o.emptyOn?.includes(resp.status) || !RETRYABLE.has(resp.status)) return resp;
    const server =
      parseRetryAfter(header(resp, 'retry-after'), this.clock.now()) ??
      (resp.status === 429 ? parseResetsAfter(header(resp, 'x-ms-user-quota-resets-after')) : undefined);
    this.quotaResumeAt = undefined; // the retry wait already covers the quota window
    throw new RetryableFailure(new AxiosResponseFailure(resp), server !== undefined ? Math.min(server, this.retry.maxServerDelayMs) : undefined);
  }
}

/**
 * A streamed answer's body as `data`, as a whole-body parse would give it: a 2xx body split into
 * rows (an unparseable one becomes undefined, which the schema refuses), any other body parsed if
 * it is JSON (error envelopes) and kept as text otherwise. A connection lost mid-body throws, so
 * the request is retried like any transient failure.
 */
async function readBody(
  resp: AxiosResponse<unknown>,
  rowsOf: string,
  mapRow?: (row: unknown) => unknown,
  rowFromBytes?: RowFromBytes,
): Promise<AxiosResponse<unknown>> {
  const stream = resp.data as AsyncIterable<Buffer>;
  if (resp.status >= 200 && resp.status < 300) {
    const splitter = new JsonRowSplitter(rowsOf, mapRow, rowFromBytes);
    let broken = false;
    // Malformed JSON is an answer, not a lost connection: the rest is read off the socket and the schema refuses it.
    for await (const chunk of stream) {
      if (broken) continue;
      try {
        splitter.write(chunk);
      } catch {
        broken = true;
      }
    }
    let data: unknown;
    if (!broken) {
      try {
        const envelope = splitter.end();
        const rows = splitter.parsedRows();
        data = rows && envelope && typeof envelope === 'object' && !Array.isArray(envelope) ? { ...envelope, [rowsOf]: rows } : envelope;
      } catch {
        data = undefined;
      }
    }
    return { ...resp, data };
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON (a gateway's HTML page): kept as text, like axios keeps it.
  }
  return { ...resp, data };
}

/** A transient answer, kept so that the last one is reported when the retries run out. */
class AxiosResponseFailure extends Error {
  readonly status: number;
  constructor(readonly response: AxiosResponse<unknown>) {
    super(`HTTP ${response.status}`);
    this.status = response.status;
  }
}
