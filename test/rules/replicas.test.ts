import { createApp, type App } from '../../bot/index.js';
import { loadConfig } from '../../compose/config.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { localAzureClient } from '../../connectors/defender/azureClient.js';
import { openPostgresStore, type PostgresStore } from '../../storage/postgres/store.js';
import { SecretBox } from '../../storage/secrets.js';
import { SANDBOX_SCOPE } from '../../sandbox/index.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from '../../sandbox/defender/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { startFakeConnector, type FakeConnector } from '../harness/fakeConnector.js';
import { TEST_KEY } from '../harness/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../storage/postgres/testDatabase.js';
import { isLive } from '../../core/lifecycle.js';

/**
 * Two replicas (two app instances, each with its own PostgreSQL store and pool) on one database,
 * the Defender simulator behind the real Azure client and the ServiceNow simulator behind the
 * real ServiceNow client. Both run the rules step for the same sync result at the same time, as
 * two replicas would if the once-per-tick claim were lost: one ticket per finding, one live
 * assignment per finding, the rule's counts counted once.
 */
const STORAGE = 'Secure transfer to storage accounts should be enabled';

describe('governance rules on two replicas sharing one PostgreSQL database', () => {
  let db: TestDatabase;
  let defender: DefenderSimulator;
  let servicenow: ServiceNowSimulator;
  let connector: FakeConnector;
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  const stores: PostgresStore[] = [];
  const apps: App[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  beforeEach(async () => {
    defender = await startDefenderSimulator({ clock, quota: 'off' });
    servicenow = await startServiceNowSimulator({ clock });
    connector = await startFakeConnector();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all([defender.close(), servicenow.close(), connector.close()]);
    await db.truncate();
  });
  afterAll(async () => {
    await db.drop();
  });

  async function replica(): Promise<{ app: App; store: PostgresStore }> {
    const store = await openPostgresStore({ connectionString: db.url, clock, logger: silentLogger, poolSize: 4 });
    stores.push(store);
    const azure = localAzureClient({ url: defender.url, tenantId: defender.tenantId, ...DEFAULT_SIMULATOR_CLIENT }, { clock, sleep: async () => undefined });
    const config = loadConfig({ SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true', RULE_MAX_TICKETS_PER_SYNC: '1000', DATABASE_URL: db.url });
    const app = createApp({
      config,
      store,
      clock,
      logger: silentLogger,
      secrets: new SecretBox(TEST_KEY),
      version: 'test',
      azure,
      defenderScopes: [SANDBOX_SCOPE],
      locks: store.locks,
      retrySleep: async () => undefined,
    });
    apps.push(app);
    return { app, store };
  }

  it('both run the rules step on the same sync result at once: one ticket and one live assignment per finding, the stats counted once', async () => {
    const a = await replica();
    const b = await replica();
    await a.app.integrations.add(
      { name: 'Contoso ServiceNow', scope: SANDBOX_SCOPE, instanceUrl: servicenow.url, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
      'test',
    );
    await a.app.sync!.runOnce();
    await a.app.services.rules.add(
      {
        name: 'Storage',
        integration: 'Contoso ServiceNow',
        recommendations: [STORAGE],
        owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' },
        dueInDays: 14,
      },
      { kind: 'cli', name: 'cli:test' },
    );
    const storage = (await b.store.recommendations.list()).find((r) => r.displayName === STORAGE)!;
    const n = storage.resources.length;
    expect(n).toBeGreaterThan(3);

    const reports = await Promise.all([a.app.services.rules.applyRules(), b.app.services.rules.applyRules()]);
    // Either the second planned nothing (the first's rows were live) or its store refused them: n in total.
    expect(reports[0]!.created + reports[1]!.created).toBe(n);

    const tickets = servicenow.control.records('incident');
    expect(tickets).toHaveLength(n);
    expect(new Set(tickets.map((t) => t.correlation_id)).size).toBe(n);
    const rows = (await a.store.assignments.list({ recommendationKey: storage.key })).filter((x) => isLive(x));
    expect(rows).toHaveLength(n);
    expect(new Set(rows.map((x) => x.resourceId)).size).toBe(n);
    expect(rows.every((x) => x.status === 'open' && x.ticket)).toBe(true);
    const rule = await b.app.services.rules.get('Storage');
    expect(rule.stats).toMatchObject({ assigned: n, needsOwner: 0 });
    const audit = (await a.store.audit.list(1000)).filter((e) => e.actor === 'rule:Storage' && e.action === 'assignment.create');
    expect(audit).toHaveLength(n);

    // Another round on both replicas changes nothing.
    await Promise.all([a.app.services.rules.applyRules(), b.app.services.rules.applyRules()]);
    expect(servicenow.control.records('incident')).toHaveLength(n);
    expect((await b.app.services.rules.get('Storage')).stats.assigned).toBe(n);
  });

  it('a rule disabled on one replica while the other is applying it stays disabled (the run writes onto the stored rule, not its early copy)', async () => {
    const a = await replica();
    const b = await replica();
    await a.app.integrations.add(
      { name: 'Contoso ServiceNow', scope: SANDBOX_SCOPE, instanceUrl: servicenow.url, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
      'test',
    );
    await a.app.sync!.runOnce();
    await a.app.services.rules.add(
      {
        name: 'Storage',
        integration: 'Contoso ServiceNow',
        recommendations: [STORAGE],
        owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' },
        dueInDays: 14,
      },
      { kind: 'cli', name: 'cli:test' },
    );
    const n = (await b.store.recommendations.list()).find((r) => r.displayName === STORAGE)!.resources.length;
    // The interleaving: B reads the rules, then someone disables the rule on A, then B goes on.
    let parked!: () => void;
    const isParked = new Promise<void>((resolve) => (parked = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const list = b.store.rules.list.bind(b.store.rules);
    let first = true;
    b.store.rules.list = async () => {
      const rules = await list();
      if (first) {
        first = false;
        parked();
        await released;
      }
      return rules;
    };
    const runB = b.app.services.rules.applyRules();
    await isParked;
    const { message } = await a.app.services.rules.setEnabled('Storage', false, { kind: 'cli', name: 'cli:test' });
    expect(message).toMatch(/disabled/);
    release();
    const reportB = await runB;
    // What B planned before the rule was disabled still goes out (it was enabled when the run began) ...
    expect(reportB.created).toBe(n);
    expect(servicenow.control.records('incident')).toHaveLength(n);
    // ... but the rule stays disabled, with this run counted.
    const rule = await a.app.services.rules.get('Storage');
    expect(rule.enabled).toBe(false);
    expect(rule.stats.assigned).toBe(n);
  });
});
