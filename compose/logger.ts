import pino, { type DestinationStream } from 'pino';
import type { Logger } from '../core/logger.js';

const SECRET_KEYS = [
  'password',
  'clientSecret',
  'client_secret',
  'secret',
  'secretKey',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'authorization',
  'Authorization',
  'MicrosoftAppPassword',
  'SECRET_KEY',
  'AZURE_CLIENT_SECRET',
];

const SECRET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));
const CENSOR = '[redacted]';
/** Deeper than this a value is dropped, not printed: no secret can hide below the walk. */
const MAX_DEPTH = 64;

/**
 * A copy of a log record with every secret-named key censored, at any depth and inside arrays;
 * Error objects anywhere are reduced by serializeError (their request config carries
 * credentials). pino's own `redact` only knows fixed paths, which is why this walks instead.
 */
export function redactDeep(value: unknown, depth = 0, ancestors: object[] = []): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redactDeep(serializeError(value), depth, ancestors);
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (ancestors.includes(value)) return '[circular]';
  // What JSON.stringify would print for it (a Date, a URL, a Buffer…).
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const json: unknown = toJSON.call(value);
    return json === value ? json : redactDeep(json, depth, [...ancestors, value]);
  }
  const inner = [...ancestors, value];
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, inner));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET.has(k.toLowerCase()) ? CENSOR : redactDeep(v, depth + 1, inner);
  return out;
}

/** The top-level `err` / `error` keys go through serializeError whatever they hold, as pino serializers would. */
function redactRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out = redactDeep(record) as Record<string, unknown>;
  for (const key of ['err', 'error']) {
    if (record[key] !== undefined && !(record[key] instanceof Error)) out[key] = redactDeep(serializeError(record[key]));
  }
  return out;
}

/**
 * Errors from HTTP libraries carry request config (headers, bodies with credentials), so only
 * the fields that help an operator are kept.
 */
export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: unknown; status?: unknown; reason?: unknown; response?: { status?: unknown } };
  return {
    type: e.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.status !== undefined ? { status: e.status } : e.response?.status !== undefined ? { status: e.response.status } : {}),
    ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
    stack: e.stack?.split('\n').slice(0, 6).join('\n'),
  };
}

export interface LoggerOptions {
  level: string;
  pretty?: boolean;
  /** Tests pass a stream to capture what would be logged. */
  destination?: DestinationStream;
}

/**
 * pino runs formatters.bindings on the root's bindings only (pid, hostname); a child's bindings
 * are redacted here before pino sees them.
 */
function redactingChildren(logger: pino.Logger): Logger {
  const child = logger.child.bind(logger);
  logger.child = ((bindings: pino.Bindings, options?: pino.ChildLoggerOptions) =>
    redactingChildren(child(redactRecord(bindings), options))) as typeof logger.child;
  return logger as unknown as Logger;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    formatters: { log: redactRecord },
    // redactRecord has serialized errors already; pino's default err serializer must not run again.
    serializers: { err: (v: unknown) => v },
  };
  if (options.destination) return redactingChildren(pino(base, options.destination));
  if (options.pretty) {
    try {
      return redactingChildren(pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } }));
    } catch {
      // pino-pretty is optional at runtime; fall back to JSON rather than refusing to start.
    }
  }
  return redactingChildren(pino(base));
}
