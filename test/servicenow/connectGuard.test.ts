import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { integrationService } from '../../compose/services.js';
import { ServiceNowClient, ServiceNowError } from '../../connectors/servicenow/client.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { publicOnlyAgents, publicOnlyLookup } from '../../connectors/servicenow/urlGuard.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Store } from '../../app/ports.js';
import { SecretBox } from '../../storage/secrets.js';

const SCOPE = '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';

/** `localhost` instead of 127.0.0.1: an IP literal never goes through a lookup, a name does. */
const byName = (sim: ServiceNowSimulator) => `http://localhost:${new URL(sim.url).port}`;

describe('ServiceNow connect-time address guard', () => {
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  let sim: ServiceNowSimulator;
  let sleeps: number[];

  beforeEach(async () => {
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
      const open = integrationService({ store, secrets, clock, logger: silentLogger, allowPrivateHosts: true, sleep: async (ms) => void sleeps.push(ms) });
      await open.add({ name: 'Contoso ITSM', scope: SCOPE, instanceUrl: byName(sim), ...DEFAULT_SIMULATOR_CREDENTIALS }, 'tester');
      const integration = (await store.integrations.findByName('Contoso ITSM'))!;
      await expect(open.clientFor(integration).resolveUser('admin')).resolves.toMatchObject({ userName: 'admin' });

      const guarded = integrationService({
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

describe('connect-time guard: IP literals and plain http (Node skips the lookup for literals)', () => {
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  let sleeps: number[];
  beforeEach(() => {
    sleeps = [];
  });

  const guardedClient = (instanceUrl: string, agents = publicOnlyAgents()) =>
    new ServiceNowClient({
      connection: { instanceUrl, ...DEFAULT_SIMULATOR_CREDENTIALS },
      clock,
      logger: silentLogger,
      sleep: async (ms) => void sleeps.push(ms),
      options: { maxRetries: 3, baseDelayMs: 100, timeoutMs: 2000, agents },
    });

  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => e as ServiceNowError,
    );

  it('an integration saved with an IP literal while private hosts were allowed stops connecting once they are not', async () => {
    const sim = await startServiceNowSimulator({ clock });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'connect-literal-'));
    const store: Store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger: silentLogger });
    try {
      expect(new URL(sim.url).hostname).toBe('127.0.0.1');
      const secrets = new SecretBox(Buffer.alloc(32, 7));
      const deps = { store, secrets, clock, logger: silentLogger, sleep: async (ms: number) => void sleeps.push(ms) };
      const open = integrationService({ ...deps, allowPrivateHosts: true });
      await open.add({ name: 'Lab', scope: SCOPE, instanceUrl: sim.url, ...DEFAULT_SIMULATOR_CREDENTIALS }, 'tester');
      const integration = (await store.integrations.findByName('Lab'))!;
      expect(integration.instanceUrl).toBe(sim.url);

      const before = sim.control.requestCount();
      const guarded = integrationService({ ...deps, allowPrivateHosts: false });
      const err = await failure(guarded.clientFor(integration).resolveUser('admin'));
      expect(err).toMatchObject({ name: 'ServiceNowError', kind: 'network' });
      expect(err!.reason).toMatch(
        /^refused to connect to ServiceNow: refusing to connect to non-public address 127\.0\.0\.1; set SERVICENOW_ALLOW_PRIVATE_HOSTS=true/,
      );
      expect(sleeps).toEqual([]);
      expect(sim.control.requestCount()).toBe(before);
    } finally {
      await store.close();
      await sim.close();
    }
  });

  describe('against a bare TCP listener (counts connections, whatever the protocol)', () => {
    let listener: net.Server;
    let port: number;
    let connections: number;
    beforeEach(async () => {
      connections = 0;
      listener = net.createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as net.AddressInfo).port;
    });
    afterEach(() => new Promise<void>((resolve) => listener.close(() => resolve())));

    it.each([
      ['https://127.0.0.1', /non-public address 127\.0\.0\.1/],
      ['http://127.0.0.1', /non-public address 127\.0\.0\.1/],
      ['https://[::ffff:127.0.0.1]', /non-public address ::ffff:(127\.0\.0\.1|7f00:1)/],
      ['http://[::ffff:7f00:1]', /non-public address ::ffff:(127\.0\.0\.1|7f00:1)/],
    ])('%s:PORT is refused before any connection is made', async (base, reason) => {
      const err = await failure(guardedClient(`${base}:${port}`).resolveUser('admin'));
      expect(err).toMatchObject({ name: 'ServiceNowError', kind: 'network' });
      expect(err!.reason).toMatch(reason);
      expect(sleeps).toEqual([]);
      expect(connections).toBe(0);
    });
  });

  it('plain http to a name with a public address is refused at connect time (credentials never go out in clear text)', async () => {
    const resolved: string[] = [];
    const agents = publicOnlyAgents({
      resolve: (hostname, _options, callback) => {
        resolved.push(hostname);
        callback(null, [{ address: '149.96.5.10', family: 4 }]);
      },
    });
    const err = await failure(guardedClient('http://contoso.service-now.com', agents).resolveUser('admin'));
    expect(err!.reason).toMatch(/^refused to connect to ServiceNow: refusing plain http to contoso\.service-now\.com; ServiceNow is reached over https/);
    expect(resolved).toEqual(['contoso.service-now.com']);
    expect(sleeps).toEqual([]);
  });

  it('a public IP literal is refused too (instances are reached by host name, as when they are added)', async () => {
    const err = await failure(guardedClient('https://149.96.5.10').resolveUser('admin'));
    expect(err!.reason).toMatch(/refusing to connect to the IP address 149\.96\.5\.10; ServiceNow instances are reached by host name/);
    expect(sleeps).toEqual([]);
  });
});
