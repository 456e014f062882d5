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

/** Redaction paths for secrets at the top level and up to three levels down. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

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

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
  };
  if (options.destination) return pino(base, options.destination) as unknown as Logger;
  if (options.pretty) {
    try {
      return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } }) as unknown as Logger;
    } catch {
      // pino-pretty is optional at runtime; fall back to JSON rather than refusing to start.
    }
  }
  return pino(base) as unknown as Logger;
}
