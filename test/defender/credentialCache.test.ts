import type { TokenCredential } from '@azure/core-auth';
import { ManualClock } from '../../core/clock.js';
import { AzureClient } from '../../connectors/defender/azureClient.js';
import { cachingCredential, uncachedSimulatorCredential } from '../../connectors/defender/credentials.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from '../../sandbox/defender/index.js';
import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { silentLogger } from '../../core/logger.js';
import { START } from './helpers.js';

const PRD = BUILTIN_SUBSCRIPTIONS[0]!.subscriptionId;
const ARM = 'https://management.azure.com/.default';

/**
 * cachingCredential over a credential that asks the token endpoint every time (as the Azure SDK
 * credentials may), against the Defender simulator, whose tokens expire on its clock.
 */
describe('cachingCredential', () => {
  let sim: DefenderSimulator;
  let clock: ManualClock;
  afterEach(async () => {
    await sim.close();
  });

  async function start(tokenLifetimeSeconds: number) {
    clock = new ManualClock(START);
    sim = await startDefenderSimulator({ clock, quota: 'off', tokenLifetimeSeconds });
    const inner = uncachedSimulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret, { clock });
    return inner;
  }

  function clientWith(credential: TokenCredential) {
    return new AzureClient({ credential, armBaseUrl: sim.url, graphBaseUrl: sim.url, clock, logger: silentLogger, sleep: async () => undefined });
  }

  it('asks the token endpoint once per token, and again inside the refresh margin; the new token is accepted', async () => {
    const inner = await start(600);
    const client = clientWith(cachingCredential(inner, { clock }));
    for (let i = 0; i < 5; i++) await client.getSubscriptionAncestry([PRD]);
    expect(sim.control.tokensIssued()).toBe(1);
    clock.advance(470_000);
    await client.getSubscriptionAncestry([PRD]);
    expect(sim.control.tokensIssued()).toBe(1);
    clock.advance(20_000); // 490 s: inside the 120 s margin
    await client.getSubscriptionAncestry([PRD]);
    expect(sim.control.tokensIssued()).toBe(2);
    // Past the first token's expiry: the request still succeeds, with the refreshed token.
    clock.advance(200_000);
    await expect(client.getSubscriptionAncestry([PRD])).resolves.toBeDefined();
    expect(sim.control.tokensIssued()).toBe(2);
  });

  it('refreshes a token shorter-lived than the margin at half its life, not on every request', async () => {
    const inner = await start(60);
    const credential = cachingCredential(inner, { clock, refreshMarginMs: 120_000 });
    const first = await credential.getToken(ARM);
    expect((await credential.getToken(ARM))?.token).toBe(first!.token);
    clock.advance(29_000);
    expect((await credential.getToken(ARM))?.token).toBe(first!.token);
    clock.advance(2_000);
    expect((await credential.getToken(ARM))?.token).not.toBe(first!.token);
    expect(inner.tokensFetched()).toBe(2);
  });

  it('shares one token request among parallel callers, per scope', async () => {
    const inner = await start(600);
    const credential = cachingCredential(inner, { clock });
    const tokens = await Promise.all([
      ...Array.from({ length: 5 }, () => credential.getToken(ARM)),
      credential.getToken('https://graph.microsoft.com/.default'),
    ]);
    expect(new Set(tokens.slice(0, 5).map((t) => t!.token)).size).toBe(1);
    expect(tokens[5]!.token).not.toBe(tokens[0]!.token);
    expect(sim.control.tokensIssued()).toBe(2);
  });

  it('keeps a still-valid token when its refresh fails, and fails once it has expired', async () => {
    await start(600);
    const good = uncachedSimulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret, { clock });
    const wrongSecret = uncachedSimulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, 'rotated-away', { clock });
    let current: TokenCredential = good;
    const credential = cachingCredential({ getToken: (scopes, options) => current.getToken(scopes, options) }, { clock });
    const client = clientWith(credential);
    await client.getSubscriptionAncestry([PRD]);
    current = wrongSecret;
    clock.advance(500_000); // inside the margin: the refresh is refused by the endpoint
    await expect(client.getSubscriptionAncestry([PRD])).resolves.toBeDefined();
    clock.advance(101_000); // the token has expired
    await expect(credential.getToken(ARM)).rejects.toThrow(/invalid_client/);
    current = good;
    await expect(client.getSubscriptionAncestry([PRD])).resolves.toBeDefined();
    expect(sim.control.tokensIssued()).toBe(2);
  });
});
