import axios from 'axios';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { AzureApiError } from '../../connectors/defender/azureClient.js';
import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { parseResetsAfter } from '../../connectors/defender/http.js';
import { parseRetryAfter } from '../../core/rateLimit.js';
import { formatResetsAfter } from '../../sandbox/defender/index.js';
import { startHarness, type Harness } from './helpers.js';

const PRD = BUILTIN_SUBSCRIPTIONS[0]!.subscriptionId;
const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);

describe('throttling, retries and tokens', () => {
  let h: Harness;
  afterEach(async () => {
    await h.sim.close();
  });

  it('waits for the quota window when x-ms-user-quota-remaining reaches 0', async () => {
    h = await startHarness({ pageSize: 50, quota: { limit: 3, windowSeconds: 5 } });
    const summary = await h.client.queryUnhealthyAssessments(ALL, { onPage: () => undefined });
    expect(summary.pages).toBeGreaterThan(6);
    // One full window (5 s from the first request of the window) after every third request.
    expect(h.sleeps.length).toBe(Math.ceil(summary.pages / 3) - 1);
    expect(h.sleeps.every((ms) => ms === 5000)).toBe(true);
    expect(h.sim.control.requestCount({ kind: 'resourceGraph', status: 429 })).toBe(0);
  });

  it('retries a 429 after the Retry-After the server sent', async () => {
    h = await startHarness({ pageSize: 1000 });
    h.sim.control.injectFaults({ count: 2, status: 429, retryAfterSeconds: 7 });
    const summary = await h.client.queryUnhealthyAssessments(ALL, { onPage: () => undefined });
    expect(summary.rows).toBe(h.sim.control.listAssessments({ code: 'Unhealthy' }).length);
    expect(h.sleeps).toEqual([7000, 7000]);
    expect(h.sim.control.requestCount({ kind: 'resourceGraph', status: 429 })).toBe(2);
  });

  it('backs off on 500s and gives up after maxRetries', async () => {
    h = await startHarness({}, { retry: { maxRetries: 3, baseDelayMs: 1000 } });
    h.sim.control.injectFaults({ count: 10, status: 500 });
    const err = await h.client.queryUnhealthyAssessments(ALL, { onPage: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AzureApiError);
    expect(err).toMatchObject({ status: 500, code: 'InternalServerError' });
    expect(h.sleeps).toEqual([1000, 2000, 4000]);
    expect(h.sim.control.requestCount({ kind: 'resourceGraph' })).toBe(4);
  });

  it('recovers when a transient 503 clears before the retry budget is spent', async () => {
    h = await startHarness({}, { retry: { maxRetries: 3, baseDelayMs: 500 } });
    h.sim.control.injectFaults({ count: 2, status: 503, target: 'arm' });
    const rg = `/subscriptions/${PRD}`;
    const roles = await h.client.userRolesOnSubscription('00000000-0000-0000-0000-000000000000', rg.split('/')[2]!);
    expect(roles).toEqual([]);
    expect(h.sleeps).toEqual([500, 1000]);
  });

  it('does not retry a 401 and surfaces the ARM error code', async () => {
    h = await startHarness();
    const bogus: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'forged', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const client = h.makeClient({ credential: bogus });
    await expect(client.queryUnhealthyAssessments(ALL, { onPage: () => undefined })).rejects.toMatchObject({ status: 401, code: 'InvalidAuthenticationToken' });
    expect(h.sim.control.requestCount({ kind: 'resourceGraph' })).toBe(1);
    expect(h.sleeps).toEqual([]);
  });

  it('fetches a new token when the cached one is about to expire', async () => {
    h = await startHarness({ tokenLifetimeSeconds: 600 });
    await h.client.getSubscriptionAncestry([PRD]);
    expect(h.sim.control.tokensIssued()).toBe(1);
    const first = await h.credential.getToken('https://management.azure.com/.default');
    h.clock.advance(300_000);
    await h.client.getSubscriptionAncestry([PRD]);
    expect(h.sim.control.tokensIssued()).toBe(1);
    h.clock.advance(200_000); // 500 s: inside the 120 s refresh margin
    await h.client.getSubscriptionAncestry([PRD]);
    expect(h.sim.control.tokensIssued()).toBe(2);
    // The simulator really rejects the old one once it has expired.
    h.clock.advance(200_000);
    const stale = await axios.post(
      `${h.sim.url}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`,
      { query: 'x' },
      {
        headers: { Authorization: `Bearer ${first.token}` },
        validateStatus: () => true,
      },
    );
    expect(stale.status).toBe(401);
    expect(stale.data).toMatchObject({ error: { code: 'ExpiredAuthenticationToken' } });
  });

  it('rejects a wrong client secret at the token endpoint', async () => {
    h = await startHarness();
    const resp = await axios.post(
      `${h.sim.url}/${h.sim.tenantId}/oauth2/v2.0/token`,
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'defender-bot',
        client_secret: 'nope',
        scope: 'https://management.azure.com/.default',
      }).toString(),
      { validateStatus: () => true },
    );
    expect(resp.status).toBe(401);
    expect(resp.data).toMatchObject({ error: 'invalid_client' });
  });
});

describe('header parsing', () => {
  it('parses quota and Retry-After headers', () => {
    expect(parseResetsAfter('00:00:03')).toBe(3000);
    expect(parseResetsAfter('01:02:03')).toBe(3_723_000);
    expect(parseResetsAfter('1.00:00:00')).toBe(86_400_000);
    expect(parseResetsAfter('soon')).toBeUndefined();
    const now = new Date('2025-06-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Sun, 01 Jun 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(formatResetsAfter(4001)).toBe('00:00:05');
    expect(formatResetsAfter(3_723_000)).toBe('01:02:03');
  });
});
