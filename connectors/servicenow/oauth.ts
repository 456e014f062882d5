import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { ServiceNowError, errorFromTokenResponse } from './errors.js';
import type { HttpCore } from './http.js';
import type { StoredTokens, TicketConnection, TokenCache } from '../../app/ports.js';

// The connection and token-cache shapes are the TicketSystems port's (app/ports.ts), declared once there.
export type ServiceNowConnection = TicketConnection;
export type { StoredTokens, TokenCache };

const storedTokensSchema = z.object({
  instanceUrl: z.string(),
  username: z.string(),
  clientId: z.string(),
  accessToken: z.string().min(1),
  accessTokenExpiresAt: z.string(),
  refreshToken: z.string().min(1).optional(),
});

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive(),
  scope: z.string().optional(),
});

/** Refresh this long before expiry so a token never dies mid-request. */
export const TOKEN_EXPIRY_MARGIN_MS = 60_000;

/**
 * OAuth password grant with refresh. Concurrent callers share one in-flight token request so a
 * burst of calls after expiry costs a single round trip.
 */
export class TokenManager {
  private tokens: StoredTokens | undefined;
  private cacheLoaded = false;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly conn: ServiceNowConnection,
    private readonly http: HttpCore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly cache?: TokenCache,
  ) {}

  async accessToken(): Promise<string> {
    if (this.pending) return this.pending;
    if (!this.cacheLoaded) await this.loadCache();
    if (this.tokens && this.isFresh(this.tokens)) return this.tokens.accessToken;
    this.pending = this.obtain().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** A 401 proved this token dead; the refresh token may still be good. */
  invalidate(accessToken: string): void {
    if (this.tokens?.accessToken === accessToken) this.tokens = { ...this.tokens, accessTokenExpiresAt: new Date(0).toISOString() };
  }

  private isFresh(t: StoredTokens): boolean {
    return Date.parse(t.accessTokenExpiresAt) - TOKEN_EXPIRY_MARGIN_MS > this.clock.now().getTime();
  }

  private async loadCache(): Promise<void> {
    this.cacheLoaded = true;
    if (!this.cache) return;
    try {
      const parsed = storedTokensSchema.safeParse(await this.cache.load());
      if (!parsed.success) return;
      const t = parsed.data;
      // A cache written for another instance or account must not leak into this connection.
      if (t.instanceUrl === this.http.origin && t.username === this.conn.username && t.clientId === this.conn.clientId) this.tokens = t;
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not load cached ServiceNow tokens');
    }
  }

  private async obtain(): Promise<string> {
    const refreshToken = this.tokens?.refreshToken;
    if (refreshToken) {
      try {
        return await this.grant('refresh_token', refreshToken);
      } catch (err) {
        if (!(err instanceof ServiceNowError) || err.kind !== 'auth') throw err;
        this.log.info({ reason: err.reason }, 'ServiceNow refresh token refused, signing in again with the password grant');
      }
    }
    return this.grant('password', undefined);
  }

  private async grant(kind: 'password' | 'refresh_token', refreshToken: string | undefined): Promise<string> {
    const form = new URLSearchParams({ grant_type: kind, client_id: this.conn.clientId, client_secret: this.conn.clientSecret });
    if (kind === 'password') {
      form.set('username', this.conn.username);
      form.set('password', this.conn.password);
    } else {
      form.set('refresh_token', refreshToken!);
    }
    const operation = kind === 'password' ? 'sign-in' : 'token refresh';
    const res = await this.http.send({ method: 'POST', path: '/oauth_token.do', form }, { operation, retry: 'safe' });
    if (res.status !== 200) throw errorFromTokenResponse(operation, res.status, res.body);
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    const parsed = tokenResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new ServiceNowError({
        kind: 'invalid-response',
        operation,
        status: res.status,
        reason: /^\s*</.test(res.body)
          ? 'the instance returned HTML instead of a token, is it hibernating?'
          : 'the token endpoint returned an unexpected response',
      });
    }
    const t = parsed.data;
    this.tokens = {
      instanceUrl: this.http.origin,
      username: this.conn.username,
      clientId: this.conn.clientId,
      accessToken: t.access_token,
      accessTokenExpiresAt: new Date(this.clock.now().getTime() + t.expires_in * 1000).toISOString(),
      // The refresh grant omits the refresh token; the current one stays valid.
      refreshToken: t.refresh_token ?? refreshToken ?? this.tokens?.refreshToken,
    };
    this.log.debug({ grant: kind, expiresIn: t.expires_in }, 'obtained ServiceNow access token');
    if (this.cache) {
      try {
        await this.cache.save(this.tokens);
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not save ServiceNow tokens');
      }
    }
    return t.access_token;
  }
}
