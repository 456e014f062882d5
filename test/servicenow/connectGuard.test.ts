import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IntegrationService } from '../../bot/integrations.js';
import { ServiceNowClient, ServiceNowError } from '../../connectors/servicenow/client.js';
import { resetSharedLimiters } from '../../connectors/servicenow/http.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../connectors/servicenow/simulator/index.js';
import { publicOnlyLookup } from '../../connectors/servicenow/urlGuard.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Store } from '../../storage/repositories.js';
import { SecretBox } from '../../storage/secrets.js';

const SCOPE = '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';

/** `localhost` instead of 127.0.0.1: an IP literal never goes through a lookup, a name does. */
const byName = (sim: ServiceNowSimulator) => `http://localhost:${new URL(sim.url).port}`;

describe('ServiceNow connect-time address guard', () => {
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  let sim: ServiceNowSimulator;
  let sleeps: number[];

  beforeEach(async () => {
    resetSharedLimiters();
    sim = await startServiceNowSimulator({ clock });
    sleeps = [];
  });
  afterEach(async () => {
    await sim.close();
  });

  const client = (lookup?: ReturnType<typeof publicOnlyLookup>) =>
    new ServiceNowClient({
      connection: { instanceUrl: byName(sim), ...DEFAULT_SIMULATOR_CREDENTIALS },
      clock,
      logger: silentLogger,
      sleep: async (ms) => void sleeps.push(ms),
      options: { maxRetries: 3, baseDelayMs: 100, timeoutMs: 5000, ...(lookup ? { lookup } : {}) },
    });

  it('with the guard on, a request to a name resolving to a private address fails at once with a clear network error', async () => {
    const err = await client(publicOnlyLookup())
      .resolveUser('admin')
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ServiceNowError);
    expect((err as ServiceNowError).kind).toBe('network');
    expect((err as ServiceNowError).reason).toMatch(
      /^refused to connect to ServiceNow: refusing to connect to non-public address 127\.0\.0\.1 for localhost; set SERVICENOW_ALLOW_PRIVATE_HOSTS=true/,
    );
    expect(sleeps).toEqual([]);
    expect(sim.control.requestCount()).toBe(0);
  });

  it('without a lookup (private hosts allowed) the same name works', async () => {
    await expect(client().resolveUser('admin')).resolves.toMatchObject({ userName: 'admin' });
    expect(sim.control.requestCount()).toBeGreaterThan(0);
  });

  it('IntegrationService guards its clients unless allowPrivateHosts is true (an instance that later rebinds to a private address)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'connect-guard-'));
    const store: Store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger: silentLogger });
    try {
      const secrets = new SecretBox(Buffer.alloc(32, 7));
      const open = new IntegrationService({ store, secrets, clock, logger: silentLogger, allowPrivateHosts: true, sleep: async (ms) => void sleeps.push(ms) });
      await open.add({ name: 'Contoso ITSM', scope: SCOPE, instanceUrl: byName(sim), ...DEFAULT_SIMULATOR_CREDENTIALS }, 'tester');
      const integration = store.integrations.findByName('Contoso ITSM')!;
      await expect(open.clientFor(integration).resolveUser('admin')).resolves.toMatchObject({ userName: 'admin' });

      const guarded = new IntegrationService({
        store,
        secrets,
        clock,
        logger: silentLogger,
        allowPrivateHosts: false,
        sleep: async (ms) => void sleeps.push(ms),
      });
      const before = sim.control.requestCount();
      sleeps.length = 0;
      await expect(guarded.clientFor(integration).resolveUser('admin')).rejects.toMatchObject({
        name: 'ServiceNowError',
        kind: 'network',
        reason: expect.stringMatching(/non-public address/),
      });
      expect(sleeps).toEqual([]);
      expect(sim.control.requestCount()).toBe(before);
    } finally {
      await store.close();
    }
  });
});
