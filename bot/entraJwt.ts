import { decodeProtectedHeader, errors, importJWK, jwtVerify, type CryptoKey } from 'jose';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';

/**
 * Verifies Microsoft Entra ID access tokens (the Teams SSO token of the dashboard tab) against the
 * signing keys published at a JWKS URL. jose checks the signature and the standard claims; only
 * RS256 is accepted, so a token cannot choose a weaker algorithm or "none". What jose cannot know
 * stays here: the tenant allow-list, the per-tenant issuer, and the key cache, which runs on the
 * injected clock and keeps trusted keys while Entra is unreachable (jose's remote key set does
 * neither).
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

/** jose's verdicts in the words the dashboard logs. */
function reasonOf(err: unknown, token: string): string | undefined {
  if (err instanceof errors.JOSEAlgNotAllowed) return `algorithm ${decodeProtectedHeader(token).alg} is not accepted`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' && err.reason === 'check_failed') return 'not valid yet';
    if (err.claim === 'aud' && err.reason === 'check_failed') return 'wrong audience';
    return 'missing or malformed claims';
  }
  if (err instanceof errors.JWTInvalid) return 'missing or malformed claims';
  if (err instanceof errors.JWSInvalid) return 'not a compact JWS';
  // Anything else jose refuses (an unsupported key or header) is still the token's fault.
  if (err instanceof errors.JOSEError) return `token refused (${err.code})`;
  return undefined;
}

export class EntraTokenVerifier {
  private readonly jwksUrl: string;
  private readonly issuerTemplates: string[];
  private readonly skewSeconds: number;
  private readonly minRefetchMs: number;
  private readonly cacheTtlMs: number;
  private readonly fetchTimeoutMs: number;
  private keys = new Map<string, CryptoKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;

  constructor(private readonly options: EntraJwtOptions) {
    this.jwksUrl = options.jwksUrl ?? DEFAULT_JWKS_URL;
    this.issuerTemplates = options.issuerTemplates?.length ? options.issuerTemplates : DEFAULT_ISSUER_TEMPLATES;
    this.skewSeconds = options.skewSeconds ?? 300;
    this.minRefetchMs = options.minRefetchMs ?? 5 * 60_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 24 * 3_600_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  }

  /** Number of JWKS downloads so far (tests check the cache and the rate limit). */
  fetches = 0;

  async verify(token: string): Promise<EntraClaims> {
    // Three non-empty parts: an unsigned token ("alg": "none", empty signature) is refused as such.
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw new TokenError('not a compact JWS');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          if (!header.kid) throw new TokenError('header has no kid');
          return this.keyFor(header.kid);
        },
        {
          algorithms: ['RS256'],
          audience: this.options.audiences,
          requiredClaims: ['exp'],
          currentDate: this.options.clock.now(),
          clockTolerance: this.skewSeconds,
        },
      ));
    } catch (err) {
      if (err instanceof TokenError) throw err;
      const reason = reasonOf(err, token);
      if (reason) throw new TokenError(reason);
      throw err;
    }

    const claims = payloadSchema.safeParse(payload);
    if (!claims.success) throw new TokenError('missing or malformed claims');
    const c = claims.data;
    const auds = Array.isArray(c.aud) ? c.aud : [c.aud];
    const aud = auds.find((a) => this.options.audiences.includes(a))!;

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

  private async keyFor(kid: string): Promise<CryptoKey> {
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
    const keys = new Map<string, CryptoKey>();
    for (const jwk of parsed.data.keys) {
      if (jwk.kty !== 'RSA' || !jwk.kid || !jwk.n || !jwk.e || (jwk.use && jwk.use !== 'sig')) continue;
      try {
        keys.set(jwk.kid, (await importJWK({ kty: 'RSA', n: jwk.n, e: jwk.e }, 'RS256')) as CryptoKey);
      } catch {
        // One unusable key must not hide the others.
      }
    }
    this.keys = keys;
  }
}
