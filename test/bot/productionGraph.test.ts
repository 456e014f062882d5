import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnBot } from '../harness/botProcess.js';
import { PRODUCTION_ENV } from '../harness/modes.js';

const DIST = path.resolve(__dirname, '../../dist');
const SANDBOX_DIR = `${path.join(DIST, 'sandbox')}${path.sep}`;

/**
 * Preloaded with `--require` (test only, nothing in the product): when the process exits, it
 * writes every module file it loaded. Modules loaded with import() go through the CommonJS loader
 * too, so they are in require.cache (the sandbox case below proves it).
 */
const RECORDER = `
const { writeFileSync } = require('node:fs');
process.on('exit', () => writeFileSync(process.env.LOADED_MODULES_FILE, JSON.stringify(Object.keys(require.cache))));
`;

/** An Azure identity that points nowhere: the process starts, its first sync fails, that is all. */
const AZURE_NOWHERE = {
  AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  AZURE_CLIENT_ID: '22222222-3333-4444-5555-666666666666',
  AZURE_CLIENT_SECRET: 'not-a-real-secret',
  AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1',
  ARM_ENDPOINT: 'http://127.0.0.1:1',
  GRAPH_ENDPOINT: 'http://127.0.0.1:1',
  ENTRA_JWKS_URL: 'http://127.0.0.1:1/keys',
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'prod-graph-'));
  writeFileSync(path.join(tmp, 'recorder.js'), RECORDER);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts dist/bot/main.js (what `npm start` runs), reads /healthz, stops it; returns its mode and the module files it loaded. */
async function run(name: string, env: Record<string, string>): Promise<{ mode: string; modules: string[]; output: string }> {
  const dataDir = mkdtempSync(path.join(tmp, `${name}-`));
  const modulesFile = path.join(tmp, `${name}.json`);
  const bot = spawnBot(dataDir, { ...env, NODE_OPTIONS: `--require=${path.join(tmp, 'recorder.js')}`, LOADED_MODULES_FILE: modulesFile });
  try {
    const url = await bot.listening();
    const health = (await (await fetch(`${url}/healthz`)).json()) as { mode: string };
    expect(await bot.kill('SIGTERM')).toBe(0);
    const modules = (JSON.parse(readFileSync(modulesFile, 'utf8')) as string[]).filter((f) => f.startsWith(DIST));
    return { mode: health.mode, modules, output: bot.stdout() + bot.stderr() };
  } finally {
    await bot.kill('SIGKILL');
  }
}

describe('npm start: the sandbox is loaded only in sandbox mode', () => {
  it('production mode loads no sandbox module (no simulator, no seed data)', async () => {
    const { mode, modules, output } = await run('production', { ...PRODUCTION_ENV, ...AZURE_NOWHERE });
    expect(mode).toBe('production');
    expect(output).not.toContain('sandbox simulators started');
    // The product itself was recorded, so an empty list cannot pass for a clean one.
    expect(modules).toEqual(expect.arrayContaining([path.join(DIST, 'bot/main.js'), path.join(DIST, 'connectors/servicenow/client.js')]));
    expect(modules.filter((f) => f.startsWith(SANDBOX_DIR))).toEqual([]);
  });

  it('an app id without BOT_MODE starts in production mode, without the sandbox', async () => {
    const { BOT_MODE: _unset, ...env } = PRODUCTION_ENV;
    const { mode, modules } = await run('app-id-only', { ...env, ...AZURE_NOWHERE });
    expect(mode).toBe('production');
    expect(modules.filter((f) => f.startsWith(SANDBOX_DIR))).toEqual([]);
  });

  it('sandbox mode loads the simulators (the recorder sees modules loaded by import())', async () => {
    const { mode, modules } = await run('sandbox', {});
    expect(mode).toBe('sandbox');
    expect(modules).toEqual(
      expect.arrayContaining([
        path.join(DIST, 'sandbox/index.js'),
        path.join(DIST, 'sandbox/defender/server.js'),
        path.join(DIST, 'sandbox/servicenow/server.js'),
        path.join(DIST, 'sandbox/defender/dataset.js'),
      ]),
    );
  });
});
