/**
 * Token credentials. Production uses @azure/identity's DefaultAzureCredential; tests and the
 * sandbox use simulatorCredential because MSAL refuses non-https authorities.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, type DefaultAzureCredentialOptions } from '@azure/identity';
import axios from 'axios';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';

export type CredentialEnv = Record<string, string | undefined>;

/**
 * DefaultAzureCredential picks up AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (service
 * principal) or workload/managed identity by itself; we only add the sovereign/custom authority.
 */
export function createAzureCredential(env: CredentialEnv = process.env): TokenCredential {
  const options: DefaultAzureCredentialOptions = {};
  if (env['AZURE_TENANT_ID']) options.tenantId = env['AZURE_TENANT_ID'];
  const authorityHost = env['AZURE_AUTHORITY_HOST'];
  if (authorityHost) {
    options.authorityHost = authorityHost;
    // Instance discovery calls login.microsoftonline.com, which a custom authority may not trust.
    options.disableInstanceDiscovery = true;
  }
  return cachingCredential(new DefaultAzureCredential(options));
}

export interface CachingCredentialOptions {
  clock?: Clock;
  /** Refresh this long before expiry, so a token never expires between getToken and the request. */
  refreshMarginMs?: number;
}

/**
 * Keeps each scope's token until shortly before it expires, as Azure SDK clients' bearer policy
 * does. Our HTTP layer asks for a token on every request, and even a credential that caches
 * (DefaultAzureCredential's MSAL cache) costs most of a millisecond of CPU per ask, which shows in
 * a replica's CPU per ticket. A refresh that fails while the old token is still valid keeps it.
 */
export function cachingCredential(inner: TokenCredential, opts: CachingCredentialOptions = {}): TokenCredential {
  const clock = opts.clock ?? systemClock;
  const margin = opts.refreshMarginMs ?? 120_000;
  const cache = new Map<string, { token: AccessToken; refreshAt: number }>();
  const inflight = new Map<string, Promise<AccessToken | null>>();

  async function refresh(scope: string, scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const obtained = clock.now().getTime();
    const token = await inner.getToken(scopes, options);
    if (token) {
      // A token living less than twice the margin is refreshed at half its life instead of on every ask.
      const life = token.expiresOnTimestamp - obtained;
      const refreshAt = token.refreshAfterTimestamp ?? obtained + Math.max(life - margin, life / 2);
      cache.set(scope, { token, refreshAt });
    }
    return token;
  }

  const getToken = async (scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> => {
    const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
    const now = clock.now().getTime();
    const cached = cache.get(scope);
    // Per-call claims or tenant: the inner credential decides, uncached.
    if (options?.claims || options?.tenantId) return inner.getToken(scopes, options);
    if (cached && now < cached.refreshAt) return cached.token;
    // Parallel callers share one token request instead of stampeding the endpoint.
    let p = inflight.get(scope);
    if (!p) {
      p = refresh(scope, scopes, options).finally(() => inflight.delete(scope));
      inflight.set(scope, p);
    }
    try {
      return await p;
    } catch (err) {
      if (cached && clock.now().getTime() < cached.token.expiresOnTimestamp) return cached.token;
      throw err;
    }
  };
  return { getToken };
}

const TokenResponse = z.object({
  token_type: z.string(),
  expires_in: z.coerce.number().positive(),
  access_token: z.string().min(1),
});

export interface SimulatorCredentialOptions {
  clock?: Clock;
  /** Refresh this long before expiry, so a token never expires between getToken and the request. */
  refreshMarginMs?: number;
}

export interface SimulatorCredential extends TokenCredential {
  /** Never null, unlike the general interface: failures throw. */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken>;
  tokensFetched(): number;
}

/** Client-credentials flow against the simulator's token endpoint, cached per scope (cachingCredential). */
export function simulatorCredential(
  simUrl: string,
  tenant: string,
  clientId: string,
  secret: string,
  opts: SimulatorCredentialOptions = {},
): SimulatorCredential {
  const uncached = uncachedSimulatorCredential(simUrl, tenant, clientId, secret, opts);
  const cached = cachingCredential(uncached, opts);
  return {
    tokensFetched: uncached.tokensFetched,
    getToken: async (scopes, options) => (await cached.getToken(scopes, options))!,
  };
}

/** The simulator's client-credentials flow, one token request per call (cachingCredential's tests count them). */
export function uncachedSimulatorCredential(
  simUrl: string,
  tenant: string,
  clientId: string,
  secret: string,
  opts: Pick<SimulatorCredentialOptions, 'clock'> = {},
): SimulatorCredential {
  const clock = opts.clock ?? systemClock;
  let fetched = 0;
  const base = simUrl.replace(/\/+$/, '');
  return {
    tokensFetched: () => fetched,
    async getToken(scopes: string | string[]): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope });
      const resp = await axios.post<unknown>(`${base}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`, form.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        validateStatus: () => true,
      });
      if (resp.status !== 200) {
        const desc = z.object({ error: z.string(), error_description: z.string().optional() }).safeParse(resp.data);
        throw new Error(`token request failed (${resp.status}): ${desc.success ? `${desc.data.error} ${desc.data.error_description ?? ''}` : 'unknown error'}`);
      }
      const body = TokenResponse.parse(resp.data);
      fetched++;
      return { token: body.access_token, expiresOnTimestamp: clock.now().getTime() + body.expires_in * 1000, tokenType: 'Bearer' };
    },
  };
}
