import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_KEYS, ConfigError, loadConfig } from '../../compose/config.js';

describe('configuration', () => {
  it('applies defaults and treats empty values as unset', () => {
    const c = loadConfig({ PORT: '', MicrosoftAppId: '', LOG_LEVEL: '  ', ALLOWED_TENANT_IDS: '' });
    expect(c).toMatchObject({ PORT: 3978, BOT_MODE: 'sandbox', DATA_DIR: './data', LOG_LEVEL: 'info', ALLOWED_TENANT_IDS: [] });
    expect(c.MicrosoftAppId).toBeUndefined();
  });

  it('parses a tenant allow-list', () => {
    const c = loadConfig({ ALLOWED_TENANT_IDS: ' 72f988bf-86f1-41af-91ab-2d7cd011db47 , aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' });
    expect(c.ALLOWED_TENANT_IDS).toEqual(['72f988bf-86f1-41af-91ab-2d7cd011db47', 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee']);
  });

  it('collects every problem at once and never echoes a value', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', MicrosoftAppId: 'not-a-guid', SECRET_KEY: 'tooshort-secret-value', LOG_LEVEL: 'loud', BOT_MODE: 'production' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: /),
        expect.stringMatching(/^MicrosoftAppId: must be a GUID/),
        expect.stringMatching(/^LOG_LEVEL: /),
      ]),
    );
    expect((error as Error).message).not.toContain('tooshort-secret-value');
  });

  it('requires a secret key in production and the password with an app id', () => {
    const attempt = () => loadConfig({ BOT_MODE: 'production', MicrosoftAppId: '11111111-2222-3333-4444-555555555555' });
    expect(attempt).toThrow(/SECRET_KEY: is required in production/);
    expect(attempt).toThrow(/MicrosoftAppPassword: is required when MicrosoftAppId is set/);
    const app = { MicrosoftAppId: '11111111-2222-3333-4444-555555555555', MicrosoftAppPassword: 'not-a-real-secret' };
    const prod = loadConfig({
      BOT_MODE: 'production',
      SECRET_KEY: 'ab'.repeat(32),
      DEFENDER_SCOPES: '/providers/Microsoft.Management/managementGroups/contoso',
      ...app,
    });
    expect(prod).toMatchObject({
      BOT_MODE: 'production',
      DEFENDER_SOURCE: 'azure',
      DEFENDER_SCOPES: ['/providers/Microsoft.Management/managementGroups/contoso'],
      HOST: '0.0.0.0',
    });
    expect(loadConfig({}).HOST).toBe('localhost');
    // Production never runs with Bot Framework authentication off.
    expect(() =>
      loadConfig({ BOT_MODE: 'production', SECRET_KEY: 'ab'.repeat(32), DEFENDER_SCOPES: '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2' }),
    ).toThrow(/MicrosoftAppId: is required in production/);
    expect(() => loadConfig({ BOT_MODE: 'production', SECRET_KEY: 'ab'.repeat(32), ...app })).toThrow(/DEFENDER_SCOPES: is required/);
    expect(() => loadConfig({ SYNC_CRON: 'every five minutes' })).toThrow(/SYNC_CRON: must be a cron expression/);
    expect(loadConfig({ SECRET_KEY: Buffer.alloc(32, 1).toString('base64') }).SECRET_KEY).toBeDefined();
  });

  it('the real process prints all problems in one list and exits 1', () => {
    const main = path.join(__dirname, '../../dist/bot/main.js');
    const result = spawnSync(process.execPath, ['--disable-warning=DEP0111', main], {
      env: {
        PATH: process.env.PATH,
        PORT: '-5',
        MicrosoftAppType: 'SingleTenant',
        LOG_LEVEL: 'shouting',
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'cfg-')),
      },
      cwd: mkdtempSync(path.join(os.tmpdir(), 'cwd-')),
      encoding: 'utf8',
      timeout: 15000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/PORT: /),
        expect.stringMatching(/LOG_LEVEL: /),
        expect.stringMatching(/MicrosoftAppTenantId: is required when MicrosoftAppType is SingleTenant/),
      ]),
    );
    expect(result.stderr).toMatch(/^Invalid configuration:/);
  });
});

describe('env.sample', () => {
  it('documents every configuration variable, each with a comment above it', () => {
    const lines = readFileSync(path.join(__dirname, '../../env.sample'), 'utf8').split('\n');
    for (const key of CONFIG_KEYS) {
      const i = lines.findIndex((l) => l.startsWith(`${key}=`));
      expect([key, i >= 0]).toEqual([key, true]);
      // The variable is preceded by a comment (possibly shared with the variables just above it).
      let j = i - 1;
      while (j >= 0 && /^[A-Za-z_]+=/.test(lines[j])) j--;
      expect([key, lines[j]?.startsWith('#')]).toEqual([key, true]);
    }
  });
});
