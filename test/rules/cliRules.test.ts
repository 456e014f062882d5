import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../cli/index.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { SANDBOX_SCOPE } from '../../sandbox/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';

/** `npm run cli -- rule …` against a data folder synced from the sandbox Defender simulator and a ServiceNow simulator. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('npm run cli -- rule', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let sn: ServiceNowSimulator;

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) }, systemClock);
    return { code, out, err };
  }

  beforeAll(async () => {
    sn = await startServiceNowSimulator({});
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-rules-'));
    env = { DATA_DIR: dataDir, SANDBOX_DEFENDER_PORT: String(await freePort()), SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true', USER: 'tester' };
    expect((await cli('sync')).code).toBe(0);
    const c = DEFAULT_SIMULATOR_CREDENTIALS;
    const added = await cli(
      'integration',
      'add',
      '--name',
      'Contoso ServiceNow',
      '--scope',
      SANDBOX_SCOPE,
      '--instance-url',
      sn.url,
      '--username',
      c.username,
      '--password',
      c.password,
      '--client-id',
      c.clientId,
      '--client-secret',
      c.clientSecret,
    );
    expect(added).toMatchObject({ code: 0, err: [] });
  });
  afterAll(async () => {
    await sn.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('usage errors are one line and exit 2; an unknown integration, scope or recommendation is named', async () => {
    expect(await cli('rule', 'add', '--name', 'X', '--integration', 'Contoso ServiceNow', '--owner', 'a@contoso.com', '--due-days', 'soon')).toEqual({
      code: 2,
      out: [],
      err: ['--due-days must be a whole number'],
    });
    expect(await cli('rule', 'add', '--name', 'X', '--integration', 'Contoso ServiceNow', '--due-days', '7')).toMatchObject({
      code: 2,
      err: ['give exactly one of --owner EMAIL or --owner-tag TAG'],
    });
    expect((await cli('rule', 'add', '--bogus')).code).toBe(2);
    expect(await cli('rule', 'add', '--name', 'X', '--integration', 'Nope', '--owner', 'a@contoso.com', '--due-days', '7')).toEqual({
      code: 1,
      out: [],
      err: ['Error: unknown integration "Nope"'],
    });
    const scope = '/subscriptions/00000000-0000-0000-0000-000000000000';
    const badScope = await cli(
      'rule',
      'add',
      '--name',
      'X',
      '--integration',
      'Contoso ServiceNow',
      '--scope',
      scope,
      '--owner',
      'a@contoso.com',
      '--due-days',
      '7',
    );
    expect(badScope.code).toBe(1);
    expect(badScope.err[0]).toContain(`unknown scope "${scope}"`);
    const badRec = await cli(
      'rule',
      'add',
      '--name',
      'X',
      '--integration',
      'Contoso ServiceNow',
      '--recommendation',
      'Nope nope',
      '--owner',
      'a@contoso.com',
      '--due-days',
      '7',
    );
    expect(badRec.err[0]).toContain('unknown recommendation "Nope nope"');
    expect((await cli('rule', 'list')).out).toEqual(['No rules. Add one with: npm run cli -- rule add --help']);
  });

  it('add, list, preview (nothing created), disable, import and remove', async () => {
    const add = await cli(
      'rule',
      'add',
      '--name',
      'Storage',
      '--integration',
      'Contoso ServiceNow',
      '--severity',
      'High',
      '--recommendation',
      'Secure transfer to storage accounts should be enabled',
      '--owner-tag',
      'owner',
      '--fallback-owner',
      'bob.martinez@contoso.com',
      '--due-days',
      '14',
      '--grace',
      '--notify-owner',
      '--priority',
      '5',
    );
    expect(add).toMatchObject({ code: 0, err: [] });
    expect(add.out[0]).toMatch(/^Added rule "Storage" \(priority 5, \/providers\/Microsoft.Management\/managementGroups\/mg-contoso\), enabled/);
    expect(
      (await cli('rule', 'add', '--name', 'storage', '--integration', 'Contoso ServiceNow', '--owner', 'a@contoso.com', '--due-days', '7')).err[0],
    ).toMatch(/exists already/);

    const list = await cli('rule', 'list');
    expect(list.out[0]).toContain('Storage\tpriority 5\tenabled');
    expect(list.out[0]).toContain('owner tag owner, else bob.martinez@contoso.com');

    const preview = await cli('rule', 'preview', '--name', 'Storage');
    expect(preview.code).toBe(0);
    expect(preview.out[0]).toMatch(/^Rule "Storage" would assign \d+ finding\(s\) in \d+ ticket\(s\) now/);
    expect(preview.out.some((l) => l.includes('→ bob.martinez@contoso.com (fallback)'))).toBe(true);
    expect(preview.out[preview.out.length - 1]).toBe('Nothing was created.');
    const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger, readOnly: true });
    expect(await store.assignments.count()).toBe(0);
    await store.close();
    expect(sn.control.records('incident')).toHaveLength(0);

    expect((await cli('rule', 'disable', '--name', 'Storage')).out[0]).toMatch(/disabled: it assigns nothing more\. The assignments and tickets it made stay/);

    const defender = await cli('rule', 'import');
    expect(defender.out).toHaveLength(3);
    const first = defender.out[0]!.split('\t')[0]!;
    const imported = await cli('rule', 'import', '--defender-rule', first, '--integration', 'Contoso ServiceNow');
    expect(imported.code).toBe(0);
    expect(imported.out[0]).toContain(`Imported Defender's rule as "${first}"`);
    expect((await cli('rule', 'import', '--defender-rule', first, '--integration', 'Contoso ServiceNow')).err[0]).toMatch(/imported already/);

    expect((await cli('rule', 'remove', '--name', 'Storage')).out[0]).toMatch(/^Removed rule "Storage"\. The assignments and tickets it made stay/);
    expect((await cli('rule', 'list')).out.map((l) => l.split('\t')[0])).toEqual([first]);
  });
});
