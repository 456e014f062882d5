import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_KEYS, loadConfig, type Config } from '../../compose/config.js';
import { createApp } from '../../bot/index.js';
import { runCli } from '../../cli/index.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import { SecretBox } from '../../storage/secrets.js';

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object';
const kindOf = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v);

const GUID = '11111111-2222-3333-4444-555555555555';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SUBSCRIPTION = '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const SECRET = 'ab'.repeat(32);
const PRODUCTION = {
  BOT_MODE: 'production',
  MicrosoftAppId: GUID,
  MicrosoftAppPassword: 'not-a-real-secret',
  SECRET_KEY: SECRET,
  DEFENDER_SCOPES: SUBSCRIPTION,
};

interface Case {
  /** Type of the parsed value whenever it is defined. */
  type: Kind;
  /** Parsed value when the variable is unset (and, unless `empty` says otherwise, when empty). */
  unset: unknown;
  /** Valid settings: [raw value, parsed value, other variables the setting needs]. */
  set: Array<[string, unknown, Record<string, string>?]>;
}

/**
 * One row per variable in CONFIG_KEYS. A test below fails when CONFIG_KEYS and this table
 * disagree, so a new variable (with or without a default) cannot go unchecked.
 */
const CASES: Record<string, Case> = {
  BOT_MODE: { type: 'string', unset: 'sandbox', set: [['production', 'production', PRODUCTION]] },
  PORT: {
    type: 'number',
    unset: 3978,
    set: [
      ['8080', 8080],
      ['0', 0],
    ],
  },
  HOST: { type: 'string', unset: 'localhost', set: [['0.0.0.0', '0.0.0.0']] },
  PUBLIC_URL: { type: 'string', unset: undefined, set: [['https://bot.contoso.com', 'https://bot.contoso.com']] },
  // An app id makes the bot a production one, which needs a key and scopes.
  MicrosoftAppId: {
    type: 'string',
    unset: undefined,
    set: [[GUID, GUID, { MicrosoftAppPassword: 'not-a-real-secret', SECRET_KEY: SECRET, DEFENDER_SCOPES: SUBSCRIPTION }]],
  },
  MicrosoftAppPassword: { type: 'string', unset: undefined, set: [['not-a-real-secret', 'not-a-real-secret']] },
  MicrosoftAppType: { type: 'string', unset: 'MultiTenant', set: [['SingleTenant', 'SingleTenant', { MicrosoftAppTenantId: TENANT }]] },
  MicrosoftAppTenantId: { type: 'string', unset: undefined, set: [[TENANT, TENANT]] },
  DATA_DIR: { type: 'string', unset: './data', set: [['/var/lib/bot', '/var/lib/bot']] },
  DATABASE_URL: {
    type: 'string',
    unset: undefined,
    set: [
      ['postgres://bot:s3cret@db.contoso.com:5432/bot?sslmode=verify-full', 'postgres://bot:s3cret@db.contoso.com:5432/bot?sslmode=verify-full'],
      ['postgresql://bot@10.0.0.5/bot', 'postgresql://bot@10.0.0.5/bot'],
    ],
  },
  DATABASE_POOL_SIZE: {
    type: 'number',
    unset: 10,
    set: [
      ['20', 20],
      ['1', 1],
    ],
  },
  WORK_LEASE_SECONDS: {
    type: 'number',
    unset: 600,
    set: [
      ['5', 5],
      ['3600', 3600],
    ],
  },
  JOB_LEASE_SECONDS: {
    type: 'number',
    unset: 300,
    set: [
      ['5', 5],
      ['600', 600],
    ],
  },
  WORK_RETENTION_DAYS: {
    type: 'number',
    unset: 30,
    set: [
      ['1', 1],
      ['365', 365],
    ],
  },
  SECRET_KEY: { type: 'string', unset: undefined, set: [[SECRET, SECRET]] },
  LOG_LEVEL: { type: 'string', unset: 'info', set: [['debug', 'debug']] },
  LOG_PRETTY: {
    type: 'boolean',
    unset: undefined,
    set: [
      ['true', true],
      ['false', false],
    ],
  },
  ALLOWED_TENANT_IDS: { type: 'array', unset: [], set: [[`${TENANT}, ${GUID}`, [TENANT, GUID]]] },
  DEFENDER_SOURCE: { type: 'string', unset: 'sandbox', set: [['azure', 'azure', { DEFENDER_SCOPES: SUBSCRIPTION }]] },
  DEFENDER_SCOPES: { type: 'array', unset: [], set: [[SUBSCRIPTION, [SUBSCRIPTION]]] },
  ARM_ENDPOINT: {
    type: 'string',
    unset: 'https://management.azure.com',
    set: [['https://management.usgovcloudapi.net', 'https://management.usgovcloudapi.net']],
  },
  GRAPH_ENDPOINT: { type: 'string', unset: 'https://graph.microsoft.com', set: [['https://graph.microsoft.us', 'https://graph.microsoft.us']] },
  AZURE_AUTHORITY_HOST: { type: 'string', unset: undefined, set: [['https://login.microsoftonline.us', 'https://login.microsoftonline.us']] },
  AZURE_TENANT_ID: { type: 'string', unset: undefined, set: [[TENANT, TENANT]] },
  AZURE_CLIENT_ID: { type: 'string', unset: undefined, set: [[GUID, GUID, { DEFENDER_SCOPES: SUBSCRIPTION }]] },
  SYNC_CRON: { type: 'string', unset: '*/5 * * * *', set: [['*/10 * * * *', '*/10 * * * *']] },
  FULL_SYNC_CRON: { type: 'string', unset: '0 3 * * *', set: [['30 2 * * *', '30 2 * * *']] },
  RESOLVE_AFTER_HEALTHY_PASSES: { type: 'number', unset: 1, set: [['3', 3]] },
  REOPEN_WINDOW_DAYS: { type: 'number', unset: 14, set: [['0', 0]] },
  RULE_MAX_TICKETS_PER_SYNC: { type: 'number', unset: 50, set: [['3', 3]] },
  REMINDER_CRON: { type: 'string', unset: '0 9 * * 1', set: [['0 8 * * 1-5', '0 8 * * 1-5']] },
  REMINDER_TIMEZONE: { type: 'string', unset: 'UTC', set: [['Europe/Dublin', 'Europe/Dublin']] },
  REMIND_DAYS_BEFORE: { type: 'number', unset: 3, set: [['0', 0]] },
  QUIET_HOURS: { type: 'string', unset: undefined, set: [['20:00-07:00', '20:00-07:00']] },
  SERVICENOW_ALLOW_PRIVATE_HOSTS: {
    type: 'boolean',
    unset: false,
    set: [
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
      ['yes', true],
      ['no', false],
    ],
  },
  SEVERITY_IMPACT_URGENCY: {
    type: 'object',
    unset: { High: { impact: '1', urgency: '1' }, Medium: { impact: '2', urgency: '2' }, Low: { impact: '3', urgency: '3' } },
    set: [
      ['High=2/1,Low=3/2', { High: { impact: '2', urgency: '1' }, Medium: { impact: '2', urgency: '2' }, Low: { impact: '3', urgency: '2' } }],
      ['medium = 1/3', { High: { impact: '1', urgency: '1' }, Medium: { impact: '1', urgency: '3' }, Low: { impact: '3', urgency: '3' } }],
    ],
  },
  TEAMS_APP_ID: { type: 'string', unset: undefined, set: [[GUID, GUID]] },
  APP_ID_URI: { type: 'string', unset: undefined, set: [[`api://bot.contoso.com/${GUID}`, `api://bot.contoso.com/${GUID}`]] },
  ENTRA_JWKS_URL: {
    type: 'string',
    unset: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
    set: [['https://login.microsoftonline.us/common/discovery/v2.0/keys', 'https://login.microsoftonline.us/common/discovery/v2.0/keys']],
  },
  ENTRA_ISSUER_TEMPLATE: {
    type: 'string',
    unset: undefined,
    set: [['https://login.microsoftonline.us/{tid}/v2.0', 'https://login.microsoftonline.us/{tid}/v2.0']],
  },
  SANDBOX_DEFENDER_PORT: { type: 'number', unset: 3980, set: [['0', 0]] },
  SANDBOX_SERVICENOW_PORT: { type: 'number', unset: 3981, set: [['4000', 4000]] },
  SANDBOX_REMINDER_INBOX: { type: 'string', unset: undefined, set: [['a:1x2y3z', 'a:1x2y3z']] },
  SANDBOX_EMULATOR_UPN: { type: 'string', unset: 'alice.johnson@contoso.com', set: [['bob@contoso.com', 'bob@contoso.com']] },
  CHANNEL_DIGEST_ABOVE: {
    type: 'number',
    unset: 10,
    set: [
      ['0', 0],
      ['40', 40],
    ],
  },
  SANDBOX_IDENTITY: {
    type: 'string',
    unset: 'admin',
    set: [
      ['reader', 'reader'],
      ['roles', 'roles'],
      ['dave.kim@contoso.com', 'dave.kim@contoso.com'],
    ],
  },
};

const value = (config: Config, key: string) => (config as Record<string, unknown>)[key];

/** Asserts value and JS type; the key is part of the compared value so a failure names it. */
function expectParsed(key: string, actual: unknown, expected: unknown, type: Kind) {
  expect([key, actual]).toEqual([key, expected]);
  expect([key, kindOf(actual)]).toEqual([key, expected === undefined ? 'undefined' : type]);
}

describe('configuration defaults (every variable in CONFIG_KEYS)', () => {
  it('the table covers exactly CONFIG_KEYS', () => {
    expect(Object.keys(CASES).sort()).toEqual([...CONFIG_KEYS].sort());
  });

  describe.each(CONFIG_KEYS)('%s', (key) => {
    const row = CASES[key]!;

    it('unset: the default, with its type', () => {
      expectParsed(key, value(loadConfig({}), key), row.unset, row.type);
    });

    it('empty or blank: the same as unset', () => {
      expectParsed(key, value(loadConfig({ [key]: '' }), key), row.unset, row.type);
      expectParsed(key, value(loadConfig({ [key]: '   ' }), key), row.unset, row.type);
    });

    it('set: the parsed value, with its type', () => {
      for (const [raw, parsed, needs] of row.set) expectParsed(`${key}=${raw}`, value(loadConfig({ ...needs, [key]: raw }), key), parsed, row.type);
    });
  });

  it("env.sample's values are the defaults: parsing it gives the same config as an empty environment", () => {
    const sample: Record<string, string> = {};
    for (const line of readFileSync(path.join(__dirname, '../../env.sample'), 'utf8').split('\n')) {
      const m = /^([A-Za-z_]+)=(.*)$/.exec(line);
      if (m) sample[m[1]!] = m[2]!;
    }
    expect(loadConfig(sample)).toEqual(loadConfig({}));
  });
});

describe('DATABASE_URL and DATABASE_POOL_SIZE refuse what cannot work, without echoing the URL', () => {
  it.each([
    ['DATABASE_URL', 'mysql://bot:s3cret@db.contoso.com/bot', /DATABASE_URL: must be a postgres:\/\/user:password@host:port\/database URL/],
    ['DATABASE_URL', 'db.contoso.com:5432', /DATABASE_URL: must be a postgres:\/\//],
    ['DATABASE_POOL_SIZE', '0', /DATABASE_POOL_SIZE: /],
    ['DATABASE_POOL_SIZE', 'ten', /DATABASE_POOL_SIZE: /],
  ])('%s=%s', (key, raw, message) => {
    let error: unknown;
    try {
      loadConfig({ [key]: raw });
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('s3cret');
  });
});

describe('SEVERITY_IMPACT_URGENCY refuses what it cannot read, naming the variable', () => {
  it.each(['High=1', 'High=0/1', 'Urgent=1/1', 'High=1/1,High=2/2'])('%s', (raw) => {
    expect(() => loadConfig({ SEVERITY_IMPACT_URGENCY: raw })).toThrow(/SEVERITY_IMPACT_URGENCY: /);
  });
});

describe('BOT_MODE default: production with an app id, sandbox without', () => {
  const APP = { MicrosoftAppId: GUID, MicrosoftAppPassword: 'not-a-real-secret', SECRET_KEY: SECRET, DEFENDER_SCOPES: SUBSCRIPTION };
  it.each<[string, Record<string, string>, 'sandbox' | 'production']>([
    ['BOT_MODE unset, no app id', {}, 'sandbox'],
    ['BOT_MODE empty, no app id', { BOT_MODE: '' }, 'sandbox'],
    ['BOT_MODE blank, app id empty', { BOT_MODE: '  ', MicrosoftAppId: '' }, 'sandbox'],
    ['BOT_MODE=production, app id', { ...APP, BOT_MODE: 'production' }, 'production'],
    ['BOT_MODE unset, app id', APP, 'production'],
    ['BOT_MODE empty, app id', { ...APP, BOT_MODE: '' }, 'production'],
    ['BOT_MODE blank, app id', { ...APP, BOT_MODE: '   ' }, 'production'],
    ['BOT_MODE=sandbox, app id (asked for explicitly)', { ...APP, BOT_MODE: 'sandbox' }, 'sandbox'],
  ])('%s: %s', (_name, env, mode) => {
    const config = loadConfig(env);
    expect(config.BOT_MODE).toBe(mode);
    // What follows from the mode: where it listens and what it reads.
    expect(config.HOST).toBe(mode === 'sandbox' ? 'localhost' : '0.0.0.0');
    if (mode === 'production') expect(config.DEFENDER_SOURCE).toBe('azure');
  });

  it('an app id alone asks for what production needs, and says why it is production', () => {
    const attempt = () => loadConfig({ MicrosoftAppId: GUID, MicrosoftAppPassword: 'not-a-real-secret' });
    expect(attempt).toThrow(/SECRET_KEY: is required in production mode \(.*BOT_MODE defaults to production when MicrosoftAppId is set\)/);
    expect(attempt).toThrow(/DEFENDER_SCOPES: is required when reading Azure \(DEFENDER_SOURCE=azure, the default in production mode/);
  });
});

describe('SSRF guard with SERVICENOW_ALLOW_PRIVATE_HOSTS unset', () => {
  let listener: net.Server;
  let port: number;
  let connections: number;
  let received: string;
  let dataDir: string;

  beforeEach(async () => {
    connections = 0;
    received = '';
    listener = net.createServer((socket) => {
      connections++;
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('error', () => undefined);
      // Hang up after the first bytes, so a request that gets through fails fast instead of timing out.
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as net.AddressInfo).port;
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'ssrf-default-'));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const credentials = ['--username', 'svc', '--password', 'p4ssw0rd-value', '--client-id', 'cid', '--client-secret', 'cl13nt-secret-value'];

  it.each([
    ['http', /must use https \(got http\)/],
    ['https', /not an IP address \(127\.0\.0\.1\)/],
  ])('`integration add --instance-url %s://127.0.0.1:PORT` (CLI) is refused and the listener receives nothing', async (scheme, reason) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['integration', 'add', '--name', 'Evil', '--scope', SUBSCRIPTION, '--instance-url', `${scheme}://127.0.0.1:${port}`, ...credentials],
      { DATA_DIR: dataDir, SECRET_KEY: SECRET },
      { out: (l) => out.push(l), err: (l) => err.push(l) },
    );
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(reason);
    expect(connections).toBe(0);
    expect(received).toBe('');
  });

  it('the production app (Teams path) refuses the same URL and nothing is sent', async () => {
    const clock = new ManualClock('2026-11-26T09:00:00Z');
    const config = loadConfig({ ...PRODUCTION, DATA_DIR: dataDir });
    expect(config.SERVICENOW_ALLOW_PRIVATE_HOSTS).toBe(false);
    const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger: silentLogger });
    const app = createApp({ config, store, clock, logger: silentLogger, secrets: new SecretBox(Buffer.alloc(32, 7)), version: 'test' });
    try {
      await expect(
        app.integrations.add(
          {
            name: 'Evil',
            scope: SUBSCRIPTION,
            instanceUrl: `http://127.0.0.1:${port}`,
            username: 'svc',
            password: 'p4ssw0rd-value',
            clientId: 'cid',
            clientSecret: 'cl13nt-secret-value',
          },
          'tester',
        ),
      ).rejects.toMatchObject({ name: 'IntegrationError', message: expect.stringMatching(/must use https/) });
      expect(await store.integrations.list()).toEqual([]);
      expect(connections).toBe(0);
    } finally {
      await app.stop();
      await store.close();
    }
  });

  it('a registered bot with BOT_MODE unset keeps the guard too (it is a production bot)', async () => {
    const clock = new ManualClock('2026-11-26T09:00:00Z');
    const { BOT_MODE: _unset, ...appIdOnly } = PRODUCTION;
    const config = loadConfig({ ...appIdOnly, DATA_DIR: dataDir });
    expect([config.BOT_MODE, config.SERVICENOW_ALLOW_PRIVATE_HOSTS]).toEqual(['production', false]);
    const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger: silentLogger });
    const app = createApp({ config, store, clock, logger: silentLogger, secrets: new SecretBox(Buffer.alloc(32, 7)), version: 'test' });
    try {
      const input = {
        name: 'Evil',
        scope: SUBSCRIPTION,
        instanceUrl: `http://127.0.0.1:${port}`,
        username: 'svc',
        password: 'p',
        clientId: 'c',
        clientSecret: 's',
      };
      await expect(app.integrations.add(input, 'tester')).rejects.toMatchObject({ name: 'IntegrationError', message: expect.stringMatching(/must use https/) });
      expect(connections).toBe(0);
    } finally {
      await app.stop();
      await store.close();
    }
  });
});
