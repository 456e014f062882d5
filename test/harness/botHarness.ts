import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App, type AppOptions } from '../../bot/index.js';
import { loadConfig, type Config } from '../../compose/config.js';
import { createLogger } from '../../compose/logger.js';
import { ManualClock } from '../../core/clock.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Store } from '../../app/ports.js';
import { SecretBox } from '../../storage/secrets.js';
import { startFakeConnector, type FakeConnector } from './fakeConnector.js';

export const TEST_KEY = Buffer.alloc(32, 7);

export interface BotHarnessOptions {
  env?: Record<string, string>;
  /** Extra createApp options (Azure client, scopes, sandbox user…). */
  app?: Partial<Pick<AppOptions, 'azure' | 'defenderScopes' | 'simulator' | 'sandboxUser' | 'messengerTiming' | 'retrySleep' | 'botFrameworkAuth' | 'locks'>>;
  dataDir?: string;
  clock?: ManualClock;
  connector?: FakeConnector;
}

export interface BotHarness {
  url: string;
  app: App;
  store: Store;
  config: Config;
  clock: ManualClock;
  connector: FakeConnector;
  dataDir: string;
  logs: string[];
  /** POSTs an activity to /api/messages and returns the HTTP status and body. */
  send(activity: object, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Stops the bot (not the connector) and starts a new one on the same data directory. */
  restart(): Promise<BotHarness>;
  stop(): Promise<void>;
}

/** Starts the real server (restify + CloudAdapter) with a lowdb store in a temporary folder. */
export async function startBot(options: BotHarnessOptions = {}): Promise<BotHarness> {
  return start(options, { connector: !options.connector, dataDir: !options.dataDir });
}

/** `owns` says what this harness created and must clean up, also after restarts. */
async function start(options: BotHarnessOptions, owns: { connector: boolean; dataDir: boolean }): Promise<BotHarness> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'bot-test-'));
  const connector = options.connector ?? (await startFakeConnector());
  const clock = options.clock ?? new ManualClock('2026-11-26T09:00:00Z');
  // Suites test role checks with the simulated directory's users, so each user's own roles count
  // (SANDBOX_IDENTITY=roles); test/bot/sandboxIdentity.test.ts covers the default (admin).
  // Likewise suites count one card per recommendation in channels: the digest default
  // (CHANNEL_DIGEST_ABOVE=10) has its own suite, test/sync/digestMode.test.ts.
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'debug', SANDBOX_IDENTITY: 'roles', CHANNEL_DIGEST_ABOVE: '100000', ...options.env });
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  });
  const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger });
  const app = createApp({ config, store, clock, logger, secrets: new SecretBox(TEST_KEY), version: 'test', ...options.app });
  const url = await app.listen(0, '127.0.0.1');

  const harness: BotHarness = {
    url,
    app,
    store,
    config,
    clock,
    connector,
    dataDir,
    logs,
    send: async (activity, headers = {}) => {
      const res = await fetch(`${url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(activity),
      });
      const text = await res.text();
      let body: any = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: keep the text.
      }
      return { status: res.status, body };
    },
    restart: async () => {
      await app.stop();
      await store.close();
      return start({ ...options, dataDir, clock, connector }, owns);
    },
    stop: async () => {
      await app.stop();
      await store.close();
      if (owns.connector) await connector.close();
      if (owns.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}
