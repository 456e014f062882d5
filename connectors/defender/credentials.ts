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
  return new DefaultAzureCredential(options);
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

/** Client-credentials flow against the simulator's token endpoint, cached per scope. */
export function simulatorCredential(
  simUrl: string,
  tenant: string,
  clientId: string,
  secret: string,
  opts: SimulatorCredentialOptions = {},
): SimulatorCredential {
  const clock = opts.clock ?? systemClock;
  const margin = opts.refreshMarginMs ?? 120_000;
  const cache = new Map<string, AccessToken>();
  const inflight = new Map<string, Promise<AccessToken>>();
  let fetched = 0;
  const base = simUrl.replace(/\/+$/, '');

  async function fetchToken(scope: string): Promise<AccessToken> {
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
  }

  return {
    tokensFetched: () => fetched,
    async getToken(scopes: string | string[]): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
      const cached = cache.get(scope);
      if (cached && cached.expiresOnTimestamp - margin > clock.now().getTime()) return cached;
      // Parallel callers share one token request instead of stampeding the endpoint.
      let p = inflight.get(scope);
      if (!p) {
        p = fetchToken(scope).finally(() => inflight.delete(scope));
        inflight.set(scope, p);
      }
      const token = await p;
      cache.set(scope, token);
      return token;
    },
  };
}
