import { existsSync } from 'node:fs';
import path from 'node:path';
import { BOT_ROLE } from '../cli/botProcess.js';
import { systemClock } from '../core/clock.js';
import { ConfigError, loadConfig } from './config.js';
import { createApp } from './index.js';
import { createLogger } from './logger.js';
import { DataDirLockedError, lockDataDir } from '../storage/dataDirLock.js';
import { openLowdbStore, StoreValidationError } from '../storage/lowdbStore.js';
import { openSecretBox } from '../storage/secrets.js';
import { packageVersion } from './version.js';
import { AzureClient, createAzureCredential, localAzureClient } from '../connectors/defender/azureClient.js';

/** Process entry: read the environment, open the store, start the server, stop cleanly. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  // The data folder is ours alone from before the store is read until exit: the store lives in
  // memory, so a second bot or CLI writing beside this one would lose one side's changes.
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY ?? process.stdout.isTTY === true });
  const dataDir = path.resolve(config.DATA_DIR);
  let lock;
  try {
    lock = await lockDataDir(dataDir, {
      role: BOT_ROLE,
      onCompromised: (err) => {
        logger.error({ err, dataDir }, 'another process took the data folder over; stopping so that two processes never write it');
        process.exit(1);
      },
    });
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      console.error(`The bot cannot start: ${err.message}.`);
      process.exit(1);
    }
    throw err;
  }
  if (!config.MicrosoftAppId) {
    logger.warn(
      'MicrosoftAppId is empty: authentication is OFF (Bot Framework Emulator mode). Set MicrosoftAppId and MicrosoftAppPassword to serve Microsoft Teams.',
    );
  }

  let store;
  try {
    store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: logger.child({ module: 'store' }) });
  } catch (err) {
    if (err instanceof StoreValidationError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const secrets = await openSecretBox(config.SECRET_KEY, dataDir);

  // The simulators are loaded only here and only in sandbox mode: a production process never
  // loads sandbox/ (test/bot/productionGraph.test.ts).
  const sandboxModule = config.BOT_MODE === 'sandbox' || config.DEFENDER_SOURCE === 'sandbox' ? await import('../sandbox/index.js') : undefined;
  const sandbox = await sandboxModule?.startSandbox({
    defenderPort: config.SANDBOX_DEFENDER_PORT,
    servicenowPort: config.SANDBOX_SERVICENOW_PORT,
    clock: systemClock,
    logger,
    // In the locked data folder, next to db.json: a restart keeps both sides in step.
    stateDir: dataDir,
  });
  const azure =
    config.DEFENDER_SOURCE === 'azure'
      ? new AzureClient({
          credential: createAzureCredential(process.env),
          armBaseUrl: config.ARM_ENDPOINT,
          graphBaseUrl: config.GRAPH_ENDPOINT,
          logger: logger.child({ module: 'azure' }),
        })
      : sandbox && localAzureClient(sandbox.azure, { logger: logger.child({ module: 'azure' }), clock: systemClock });
  const app = createApp({
    // Only a sandbox bot talks to the local ServiceNow simulator; production keeps the SSRF guard.
    config: config.BOT_MODE === 'sandbox' ? { ...config, SERVICENOW_ALLOW_PRIVATE_HOSTS: true } : config,
    store,
    clock: systemClock,
    logger,
    secrets,
    version: packageVersion(),
    azure,
    defenderScopes: config.DEFENDER_SOURCE === 'sandbox' ? sandbox?.scopes : config.DEFENDER_SCOPES,
    simulator: config.BOT_MODE === 'sandbox' ? sandbox?.defender.control : undefined,
    schedule: true,
    sandboxUser: config.BOT_MODE === 'sandbox' ? config.SANDBOX_EMULATOR_UPN : undefined,
  });
  if (sandboxModule && sandbox && config.BOT_MODE === 'sandbox') await sandboxModule.ensureSandboxIntegration(app.integrations, sandbox.servicenow.url);
  const url = await app.listen(config.PORT, config.HOST);
  logger.info({ url: `${url}/api/messages`, mode: config.BOT_MODE }, `bot listening on ${url}/api/messages`);
  // A first pass at start, so a fresh sandbox has cards without waiting for the schedule.
  if (app.sync) void app.sync.runOnce().catch((err: unknown) => logger.error({ err }, 'initial sync failed'));
  // Work a crash left half done (stored assignments without a ticket) is finished now.
  void app.assignments.resumePending().catch((err: unknown) => logger.error({ err }, 'resuming assignments failed'));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app.stop();
      await sandbox?.close();
      await store.close();
      await lock.release();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
}

main().catch((err: unknown) => {
  console.error('The bot could not start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
