import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { IntegrationService } from '../../app/manageIntegrations.js';
import { integrationService } from '../../compose/services.js';
import { createLogger } from '../../compose/logger.js';
import { runCli } from '../../cli/index.js';
import { ManualClock } from '../../core/clock.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Store } from '../../app/ports.js';
import { SecretBox } from '../../storage/secrets.js';

const SCOPE = '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const clock = new ManualClock('2026-11-26T09:00:00Z');

describe('ServiceNow integrations', () => {
  let sim: ServiceNowSimulator;
  let dataDir: string;
  let store: Store;
  let logs: string[];
  let service: IntegrationService;

  beforeEach(async () => {
    sim = await startServiceNowSimulator({ clock });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'integrations-'));
    logs = [];
    const logger = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => (logs.push(c.toString()), cb()) }) });
    store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger });
    service = integrationService({
      store,
      secrets: new SecretBox(Buffer.alloc(32, 3)),
      clock,
      logger,
      allowPrivateHosts: true,
      sleep: async () => undefined,
    });
  });
  afterEach(async () => {
    await store.close();
    await sim.close();
  });

  const input = (over: Record<string, unknown> = {}) => ({
    name: 'Contoso ITSM',
    scope: SCOPE,
    instanceUrl: sim.url,
    ...DEFAULT_SIMULATOR_CREDENTIALS,
    ...over,
  });

  it('adds an integration after verifying the credentials, with secrets encrypted at rest and never logged', async () => {
    const view = await service.add(input(), 'tester');
    expect(view).toMatchObject({ name: 'Contoso ITSM', scope: SCOPE, fieldMode: 'default', lastSuccessAt: clock.now().toISOString() });
    expect(JSON.stringify(view)).not.toContain(DEFAULT_SIMULATOR_CREDENTIALS.password);
    // Use the client once so OAuth tokens get cached (encrypted) too.
    await service.clientFor((await store.integrations.findByName('Contoso ITSM'))!).resolveUser('admin');
    await store.flush();
    const file = readFileSync(path.join(dataDir, 'db.json'), 'utf8');
    for (const secret of [DEFAULT_SIMULATOR_CREDENTIALS.password, DEFAULT_SIMULATOR_CREDENTIALS.clientSecret]) {
      expect(file).not.toContain(secret);
      expect(logs.join('')).not.toContain(secret);
    }
    expect((await store.integrations.findByName('contoso itsm'))!.tokens).toBeDefined();
    expect(file).not.toMatch(/"accessToken"|"refreshToken"/);
    expect((await store.audit.list(1))[0]).toMatchObject({ actor: 'tester', action: 'integration.add', target: 'Contoso ITSM' });
  });

  it("refuses bad credentials with ServiceNow's reason and stores nothing", async () => {
    await expect(service.add(input({ password: 'wrong' }), 'tester')).rejects.toThrow(/ServiceNow refused the connection/);
    expect(await service.list()).toEqual([]);
  });

  it('validates every field and names each problem', async () => {
    const err = (await service.add({ ...input(), name: '', scope: '/subscriptions/nope', clientSecret: '' }, 'tester').catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/name: is required/);
    expect(err.message).toMatch(/scope: must be one of/);
    expect(err.message).toMatch(/clientSecret: is required/);
  });

  it('applies the SSRF guard unless private hosts are allowed', async () => {
    const strict = integrationService({
      store,
      secrets: new SecretBox(Buffer.alloc(32, 3)),
      clock,
      logger: createLogger({ level: 'silent' }),
      allowPrivateHosts: false,
    });
    await expect(strict.add(input(), 'tester')).rejects.toThrow(/instanceUrl: the instance URL must use https/);
    await expect(strict.add(input({ instanceUrl: 'https://127.0.0.1:8443' }), 'tester')).rejects.toThrow(/not an IP address/);
    // A host name is resolved first; loopback answers are refused before any credential is sent.
    const viaDns = integrationService({
      store,
      secrets: new SecretBox(Buffer.alloc(32, 3)),
      clock,
      logger: createLogger({ level: 'silent' }),
      allowPrivateHosts: false,
      lookup: async () => [{ address: '::ffff:7f00:1', family: 6 }],
    });
    await expect(viaDns.add(input({ instanceUrl: 'https://snow.contoso.com' }), 'tester')).rejects.toThrow(
      /resolves to ::ffff:7f00:1, which is not a public address/,
    );
    expect(sim.control.requestCount()).toBe(0);
  });

  it('refuses a duplicate name, tests, records failures, and removes', async () => {
    await service.add(input({ fieldMode: 'customized' }), 'tester');
    await expect(service.add(input(), 'tester')).rejects.toThrow(/already exists/);
    expect((await service.list())[0].customFields).toEqual({
      incident: ['assignment_group', 'impact', 'urgency'],
      problem: ['assignment_group', 'impact', 'urgency'],
      change_request: ['assignment_group', 'impact', 'urgency'],
    });

    expect(await service.test('Contoso ITSM')).toMatchObject({ ok: true });
    sim.control.failNext({ count: 20, status: 500 });
    const failed = await service.test('Contoso ITSM');
    expect(failed.ok).toBe(false);
    expect(failed.integration.lastError?.message).toBeTruthy();

    const id = (await store.integrations.findByName('Contoso ITSM'))!.id;
    await service.remove('Contoso ITSM', 'tester');
    expect(await service.list()).toEqual([]);
    // The record stays for history; its credentials go once no assignment needs them.
    const box = new SecretBox(Buffer.alloc(32, 3));
    expect(box.decrypt((await store.integrations.get(id))!.password)).toBe(DEFAULT_SIMULATOR_CREDENTIALS.password);
    expect(await service.forgetReleasedCredentials(async () => true)).toBe(0);
    expect(await service.forgetReleasedCredentials(async () => false)).toBe(1);
    const removed = (await store.integrations.get(id))!;
    expect([box.decrypt(removed.password), box.decrypt(removed.clientSecret), removed.tokens]).toEqual(['', '', undefined]);
    expect(await service.forgetReleasedCredentials(async () => false)).toBe(0);
    await expect(service.test('Contoso ITSM')).rejects.toThrow(/no integration named/);
  });
});

describe('CLI', () => {
  let sim: ServiceNowSimulator;
  beforeEach(async () => {
    sim = await startServiceNowSimulator({ clock });
  });
  afterEach(() => sim.close());

  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  }

  it('adds, lists, tests and removes, with exit codes and no secret printed', async () => {
    const env = { DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'cli-')), SECRET_KEY: 'cd'.repeat(32), SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true' };
    const c = DEFAULT_SIMULATOR_CREDENTIALS;
    const add = io();
    const addArgs = [
      'integration',
      'add',
      '--name',
      'Sandbox',
      '--scope',
      SCOPE,
      '--instance-url',
      sim.url,
      '--username',
      c.username,
      '--password',
      c.password,
      '--client-id',
      c.clientId,
      '--client-secret',
      c.clientSecret,
      '--fields',
      'customized',
    ];
    expect(await runCli(addArgs, env, add.io, clock)).toBe(0);
    expect(add.out[0]).toMatch(/Added integration "Sandbox"/);

    const list = io();
    expect(await runCli(['integration', 'list'], env, list.io, clock)).toBe(0);
    expect(list.out).toHaveLength(1);
    expect(list.out[0]).toMatch(/^Sandbox\t\/subscriptions\/.*\tcustomized\tlast success/);

    const test = io();
    expect(await runCli(['integration', 'test', '--name', 'Sandbox'], env, test.io, clock)).toBe(0);
    expect(test.out[0]).toMatch(/^OK: "Sandbox" connected/);

    const dup = io();
    expect(await runCli(addArgs, env, dup.io, clock)).toBe(1);
    expect(dup.err).toEqual([expect.stringMatching(/^Error: name: an integration named "Sandbox" already exists$/)]);

    // Secrets from the environment instead of the command line.
    const fromEnv = io();
    const envArgs = [
      'integration',
      'add',
      '--name',
      'FromEnv',
      '--scope',
      SCOPE,
      '--instance-url',
      sim.url,
      '--username',
      c.username,
      '--client-id',
      c.clientId,
    ];
    expect(await runCli(envArgs, { ...env, SERVICENOW_PASSWORD: c.password, SERVICENOW_CLIENT_SECRET: c.clientSecret }, fromEnv.io, clock)).toBe(0);
    const noSecret = io();
    expect(
      await runCli(
        envArgs.map((x) => (x === 'FromEnv' ? 'Other' : x)),
        env,
        noSecret.io,
        clock,
      ),
    ).toBe(2);
    expect(noSecret.err[0]).toMatch(/--password \(or SERVICENOW_PASSWORD\) is required/);

    const remove = io();
    expect(await runCli(['integration', 'remove', '--name', 'Sandbox'], env, remove.io, clock)).toBe(0);
    const missing = io();
    expect(await runCli(['integration', 'test', '--name', 'Sandbox'], env, missing.io, clock)).toBe(1);
    expect(missing.err[0]).toMatch(/no integration named "Sandbox"/);

    const printed = [add, list, test, dup, remove, missing].flatMap((x) => [...x.out, ...x.err]).join('\n');
    expect(printed).not.toContain(c.password);
    expect(printed).not.toContain(c.clientSecret);
  });

  it('explains usage errors and missing options with exit code 2', async () => {
    const env = { DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'cli-')) };
    const none = io();
    expect(await runCli([], env, none.io, clock)).toBe(2);
    expect(none.err[0]).toMatch(/^Usage: npm run cli/);
    const missing = io();
    expect(await runCli(['integration', 'add', '--name', 'X'], env, missing.io, clock)).toBe(2);
    expect(missing.err[0]).toMatch(/--scope is required/);
    const unknown = io();
    expect(await runCli(['integration', 'list', '--colour', 'red'], env, unknown.io, clock)).toBe(1);
    expect(unknown.err).toHaveLength(1);
  });
});
