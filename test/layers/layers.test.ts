import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/**
 * A small tree laid out like the product, with one deliberately wrong import per rule (and the
 * edges the rules allow, which must not be reported), checked with the project's own
 * .dependency-cruiser.cjs. `npm run lint:layers` checks the real tree.
 */
const FILES: Record<string, string> = {
  'core/clock.ts': 'export const clock = 1;\n',
  'core/bad.ts': "import { thing } from '../bot/thing.js';\nimport { readFileSync } from 'node:fs';\nexport const bad = [thing, readFileSync];\n",
  'bot/thing.ts': 'export const thing = 2;\n',
  'bot/staticSandbox.ts': "import { sim } from '../sandbox/index.js';\nexport const s = sim;\n",
  'bot/typeSandbox.ts': "import type { Sim } from '../sandbox/types.js';\nexport const t = (x: Sim) => x;\n",
  'bot/dynamicSandbox.ts': "export const load = () => import('../sandbox/index.js');\n",
  // The one allowed edge into sandbox/: the process entry, dynamically.
  'bot/main.ts': "export const load = () => import('../sandbox/index.js');\n",
  // The generic clock is the sandbox's to use; the client is not.
  'sandbox/index.ts':
    "import { client } from '../connectors/servicenow/client.js';\nimport { clock } from '../core/clock.js';\nexport const sim = [client, clock];\n",
  'sandbox/types.ts': 'export type Sim = string;\n',
  'connectors/servicenow/client.ts': "import { thing } from '../../bot/thing.js';\nexport const client = thing;\n",
  'jobs/sync.ts': "import { thing } from '../bot/thing.js';\nexport const job = thing;\n",
  'cli/newCommand.ts': "import { thing } from '../bot/thing.js';\nexport const command = thing;\n",
  'storage/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
  'storage/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
  // The ports are the one thing of app/ that implementations may see.
  'app/ports.ts': 'export type Port = string;\n',
  'app/useCase.ts':
    "import type { Port } from './ports.js';\nimport { client } from '../connectors/servicenow/client.js';\nimport { thing } from '../bot/thing.js';\nexport const run = (p: Port) => [p, client, thing];\n",
  'storage/store.ts': "import type { Port } from '../app/ports.js';\nimport { run } from '../app/useCase.js';\nexport const store = (p: Port) => run(p);\n",
  'connectors/defender/client.ts': "import type { Port } from '../../app/ports.js';\nexport const defender = (p: Port) => p;\n",
  // A schedule runs a use case; a command borrows no store and no composition root.
  'jobs/schedules.ts': "import { run } from '../app/useCase.js';\nexport const schedules = run;\n",
  'bot/commands/list.ts':
    "import { run } from '../../app/useCase.js';\nimport { services } from '../../compose/services.js';\nimport { store } from '../../storage/store.js';\nexport const list = [run, services, store];\n",
  'bot/index.ts': "import { services } from '../compose/services.js';\nexport const app = services;\n",
  'compose/services.ts':
    "import { store } from '../storage/store.js';\nimport { defender } from '../connectors/defender/client.js';\nexport const services = [store, defender];\n",
  // Through compose/ a command may reach the Teams connection, never the server.
  'compose/app.ts': "import { app } from '../bot/index.js';\nexport const built = app;\n",
  'cli/remind.ts': "import { built } from '../compose/app.js';\nexport const remind = built;\n",
  'cli/index.ts': "import { services } from '../compose/services.js';\nimport { run } from '../app/useCase.js';\nexport const cli = [services, run];\n",
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  for (const [file, text] of Object.entries(FILES)) {
    mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
    writeFileSync(path.join(tmp, file), text);
  }
  writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true } }));
  copyFileSync(path.join(ROOT, '.dependency-cruiser.cjs'), path.join(tmp, '.dependency-cruiser.cjs'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('layer check (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  it('fails on each wrong import, naming the rule, and lets the allowed edges through', () => {
    const run = spawnSync(
      process.execPath,
      [DEPCRUISE, '--config', '.dependency-cruiser.cjs', 'app', 'bot', 'cli', 'compose', 'connectors', 'core', 'jobs', 'sandbox', 'storage'],
      {
        cwd: tmp,
        encoding: 'utf8',
      },
    );
    expect(run.status).not.toBe(0);
    const reported = run.stdout
      .split('\n')
      .map((line) => /^\s*error ([\w-]+): (\S+) → (\S*)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(([, rule, from, to]) => `${rule}: ${from} → ${to}`)
      .sort();
    expect(reported).toEqual(
      [
        'app-only-core-cards: app/useCase.ts → bot/thing.ts',
        'app-only-core-cards: app/useCase.ts → connectors/servicenow/client.ts',
        'bot-compose-only-from-the-entry: bot/commands/list.ts → compose/services.ts',
        'bot-not-to-lower-adapters: bot/commands/list.ts → storage/store.ts',
        'cli-never-builds-the-server: cli/remind.ts → bot/index.ts',
        'cli-not-to-bot: cli/newCommand.ts → bot/thing.ts',
        'connectors-not-up: connectors/servicenow/client.ts → bot/thing.ts',
        'core-is-pure: core/bad.ts → bot/thing.ts',
        'core-no-io-packages: core/bad.ts → fs',
        'jobs-not-to-bot: jobs/sync.ts → bot/thing.ts',
        'no-circular: storage/a.ts → ',
        'no-production-to-sandbox: bot/staticSandbox.ts → sandbox/index.ts',
        'no-production-to-sandbox: bot/typeSandbox.ts → sandbox/types.ts',
        'sandbox-independent-of-the-product: sandbox/index.ts → connectors/servicenow/client.ts',
        'sandbox-loaded-only-by-the-sandbox-entry: bot/dynamicSandbox.ts → sandbox/index.ts',
        'storage-not-up: storage/store.ts → app/useCase.ts',
      ].sort(),
    );
    expect(run.stdout).toMatch(/x 16 dependency violations \(16 errors/);
  });
});
