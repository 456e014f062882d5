import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';

/**
 * Verifies Microsoft Entra ID access tokens (the Teams SSO token of the dashboard tab) with
 * node:crypto against the signing keys published at a JWKS URL. Only RS256 is accepted, so a
 * token cannot choose a weaker algorithm or "none".
 */

export const DEFAULT_JWKS_URL = 'https://login.microsoftonline.com/common/discovery/v2.0/keys';
/** v2.0 tokens and v1.0 tokens (an app id URI audience yields v1 tokens unless the app asks for v2). */
export const DEFAULT_ISSUER_TEMPLATES = ['https://login.microsoftonline.com/{tid}/v2.0', 'https://sts.windows.net/{tid}/'];

export class TokenError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TokenError';
  }
}

export interface EntraClaims {
  tid: string;
  oid?: string;
  /** UPN or preferred_username, whichever the token carries (for logs and display only). */
  user?: string;
  /** The `upn` claim alone (v1 tokens): unlike preferred_username it is the directory's own value. */
  upn?: string;
  name?: string;
  aud: string;
}

export interface EntraJwtOptions {
  clock: Clock;
  /** Accepted `aud` values: the app id URI (api://host/appId) and the app id. */
  audiences: string[];
  /** Tenants whose tokens are accepted; empty = none, unless `anyTenant`. */
  allowedTenantIds: string[];
  /** Accept every tenant (sandbox only: its data is simulated). */
  anyTenant?: boolean;
  jwksUrl?: string;
  /** Issuer formats with a `{tid}` placeholder (sovereign clouds use other hosts). */
  issuerTemplates?: string[];
  /** Tolerated clock difference for exp/nbf. */
  skewSeconds?: number;
  /** Keys are refetched at most this often when a token names an unknown kid. */
  minRefetchMs?: number;
  /** Known keys are refreshed after this long, since Entra rotates them. */
  cacheTtlMs?: number;
  fetchTimeoutMs?: number;
}

const jwkSchema = z.object({ kty: z.string(), kid: z.string().optional(), use: z.string().optional(), n: z.string().optional(), e: z.string().optional() });
const jwksSchema = z.object({ keys: z.array(jwkSchema) });
const headerSchema = z.object({ alg: z.string(), kid: z.string().optional(), typ: z.string().optional() });
const audSchema = z.union([z.string(), z.array(z.string())]);
const payloadSchema = z.object({
  iss: z.string(),
  aud: audSchema,
  tid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i),
  exp: z.number(),
  nbf: z.number().optional(),
  oid: z.string().optional(),
  upn: z.string().optional(),
  preferred_username: z.string().optional(),
  name: z.string().optional(),
});

const B64URL = /^[A-Za-z0-9_-]+$/;

function decodeJson(part: string, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError(`${what} is not base64url JSON`);
  }
}

export class EntraTokenVerifier {
  private readonly jwksUrl: string;
  private readonly issuerTemplates: string[];
  private readonly skewMs: number;
  private readonly minRefetchMs: number;
  private readonly cacheTtlMs: number;
  private readonly fetchTimeoutMs: number;
  private keys = new Map<string, KeyObject>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;

  constructor(private readonly options: EntraJwtOptions) {
    this.jwksUrl = options.jwksUrl ?? DEFAULT_JWKS_URL;
    this.issuerTemplates = options.issuerTemplates?.length ? options.issuerTemplates : DEFAULT_ISSUER_TEMPLATES;
    this.skewMs = (options.skewSeconds ?? 300) * 1000;
    this.minRefetchMs = options.minRefetchMs ?? 5 * 60_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 24 * 3_600_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  }

  /** Number of JWKS downloads so far (tests check the cache and the rate limit). */
  fetches = 0;

  async verify(token: string): Promise<EntraClaims> {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw new TokenError('not a compact JWS');
    const [h, p, s] = parts as [string, string, string];
    const header = headerSchema.safeParse(decodeJson(h, 'header'));
    if (!header.success) throw new TokenError('malformed header');
    if (header.data.alg !== 'RS256') throw new TokenError(`algorithm ${header.data.alg} is not accepted`);
    if (!header.data.kid) throw new TokenError('header has no kid');

    const key = await this.keyFor(header.data.kid);
    const signed = Buffer.from(`${h}.${p}`, 'ascii');
    if (!verifySignature('RSA-SHA256', signed, key, Buffer.from(s, 'base64url'))) throw new TokenError('bad signature');

    const claims = payloadSchema.safeParse(decodeJson(p, 'payload'));
    if (!claims.success) throw new TokenError('missing or malformed claims');
    const c = claims.data;
    const now = this.options.clock.now().getTime();
    if (now > c.exp * 1000 + this.skewMs) throw new TokenError('expired');
    if (c.nbf !== undefined && now < c.nbf * 1000 - this.skewMs) throw new TokenError('not valid yet');

    const auds = Array.isArray(c.aud) ? c.aud : [c.aud];
    const aud = auds.find((a) => this.options.audiences.includes(a));
    if (!aud) throw new TokenError('wrong audience');

    const tid = c.tid.toLowerCase();
    if (!this.options.anyTenant && !this.options.allowedTenantIds.some((t) => t.toLowerCase() === tid)) {
      throw new TokenError('tenant not allowed');
    }
    // The common JWKS serves every tenant, so the issuer must name the token's own tenant.
    if (!this.issuerTemplates.some((t) => t.replace('{tid}', c.tid) === c.iss)) throw new TokenError('issuer does not match the tenant');

    return {
      tid,
      aud,
      ...(c.oid ? { oid: c.oid } : {}),
      ...((c.upn ?? c.preferred_username) ? { user: c.upn ?? c.preferred_username } : {}),
      ...(c.upn ? { upn: c.upn } : {}),
      ...(c.name ? { name: c.name } : {}),
    };
  }

  private async keyFor(kid: string): Promise<KeyObject> {
    const now = this.options.clock.now().getTime();
    const known = this.keys.get(kid);
    if (known && now - this.fetchedAt < this.cacheTtlMs) return known;
    // A random kid must not turn every request into a download from Entra.
    if (now - this.fetchedAt >= this.minRefetchMs) {
      try {
        await this.refresh();
      } catch (err) {
        // Entra unreachable: a key we already trusted stays usable until it can be refreshed.
        if (!known) throw err;
        return known;
      }
    }
    const key = this.keys.get(kid);
    if (!key) throw new TokenError('unknown signing key');
    return key;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.download().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async download(): Promise<void> {
    this.fetches++;
    // Counted even when it fails, so an unreachable endpoint is not hammered either.
    this.fetchedAt = this.options.clock.now().getTime();
    let body: unknown;
    try {
      const res = await fetch(this.jwksUrl, { signal: AbortSignal.timeout(this.fetchTimeoutMs), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = await res.json();
    } catch (err) {
      throw new TokenError(`signing keys unavailable (${(err as Error).message})`);
    }
    const parsed = jwksSchema.safeParse(body);
    if (!parsed.success) throw new TokenError('signing keys response is not a JWKS');
    const keys = new Map<string, KeyObject>();
    for (const jwk of parsed.data.keys) {
      if (jwk.kty !== 'RSA' || !jwk.kid || !jwk.n || !jwk.e || (jwk.use && jwk.use !== 'sig')) continue;
      try {
        keys.set(jwk.kid, createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }));
      } catch {
        // One unusable key must not hide the others.
      }
    }
    this.keys = keys;
  }
}
