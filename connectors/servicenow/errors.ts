import { z } from 'zod';

export type ServiceNowErrorKind =
  | 'auth'
  | 'forbidden'
  | 'data-policy'
  | 'not-found'
  | 'bad-request'
  | 'rate-limited'
  | 'server'
  | 'network'
  | 'timeout'
  | 'invalid-response'
  | 'user-not-found'
  | 'user-ambiguous'
  | 'invalid-input'
  | 'http';

/**
 * The one error the connector throws. `reason` is a single human sentence safe to show in Teams;
 * nothing here ever carries a token, password or client secret.
 */
export class ServiceNowError extends Error {
  readonly kind: ServiceNowErrorKind;
  readonly status: number | undefined;
  /** ServiceNow's own `error.message` / `error.detail` when the instance sent them. */
  readonly snMessage: string | undefined;
  readonly snDetail: string | null | undefined;
  readonly reason: string;
  readonly operation: string;

  constructor(init: { kind: ServiceNowErrorKind; operation: string; reason: string; status?: number; snMessage?: string; snDetail?: string | null }) {
    super(`ServiceNow ${init.operation} failed: ${oneLine(init.reason)}`);
    this.name = 'ServiceNowError';
    this.kind = init.kind;
    this.operation = init.operation;
    this.reason = oneLine(init.reason);
    this.status = init.status;
    this.snMessage = init.snMessage;
    this.snDetail = init.snDetail;
  }

  /** Transient failures worth another attempt (the caller decides whether the request is safe to repeat). */
  get transient(): boolean {
    return this.kind === 'server' || this.kind === 'network' || this.kind === 'timeout' || this.kind === 'rate-limited';
  }
}

export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const errorEnvelope = z.object({
  error: z.object({ message: z.string().optional(), detail: z.string().nullable().optional() }),
});

const oauthError = z.object({ error: z.string().optional(), error_description: z.string().optional() });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Maps a non-2xx Table API answer to a ServiceNowError. */
export function errorFromResponse(operation: string, status: number, body: string): ServiceNowError {
  const parsed = errorEnvelope.safeParse(parseJson(body));
  const snMessage = parsed.success ? parsed.data.error.message : undefined;
  const snDetail = parsed.success ? parsed.data.error.detail : undefined;
  const said = [snMessage, snDetail].filter(Boolean).join(': ');
  const suffix = said ? ` (${said})` : '';
  const base = { operation, status, snMessage, snDetail };
  if (status === 401) {
    return new ServiceNowError({ ...base, kind: 'auth', reason: `ServiceNow did not accept the integration account's token${suffix}` });
  }
  if (status === 403 && /data policy/i.test(`${snMessage ?? ''} ${snDetail ?? ''}`)) {
    return new ServiceNowError({
      ...base,
      kind: 'data-policy',
      reason: `a ServiceNow data policy rejected the change: ${snDetail ?? snMessage ?? 'mandatory fields missing'}`,
    });
  }
  if (status === 403) {
    return new ServiceNowError({ ...base, kind: 'forbidden', reason: `the integration account is not allowed to do this${suffix}` });
  }
  if (status === 404) {
    return new ServiceNowError({ ...base, kind: 'not-found', reason: `the record does not exist or an ACL hides it${suffix}` });
  }
  if (status === 429) {
    return new ServiceNowError({ ...base, kind: 'rate-limited', reason: `ServiceNow rate limit exceeded${suffix}` });
  }
  if (status >= 500) {
    return new ServiceNowError({ ...base, kind: 'server', reason: `ServiceNow answered HTTP ${status}${suffix}` });
  }
  if (status === 400) {
    return new ServiceNowError({ ...base, kind: 'bad-request', reason: `ServiceNow rejected the request${suffix}` });
  }
  return new ServiceNowError({ ...base, kind: 'http', reason: `ServiceNow answered HTTP ${status}${suffix}` });
}

/** Token endpoint failures; only `error_description` is ever surfaced. */
export function errorFromTokenResponse(operation: string, status: number, body: string): ServiceNowError {
  const parsed = oauthError.safeParse(parseJson(body));
  const description = parsed.success ? parsed.data.error_description : undefined;
  if (status >= 500 || status === 429) return errorFromResponse(operation, status, body);
  return new ServiceNowError({
    kind: 'auth',
    operation,
    status,
    snMessage: description,
    reason: `ServiceNow refused the OAuth sign-in (HTTP ${status}${description ? `, ${description}` : ''}); check the user name, password, client id and client secret of the connection`,
  });
}
