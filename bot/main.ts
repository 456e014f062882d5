import { existsSync } from 'node:fs';
import { systemClock } from '../core/clock.js';
import { createLogger } from '../compose/logger.js';
import { BOT_ROLE, ConfigError, DataDirLockedError, defenderClient, openRuntime, StoreValidationError, type Runtime } from '../compose/open.js';
import { exclusiveSync } from '../compose/services.js';
import { packageVersion } from '../compose/version.js';
import { createApp } from './index.js';

/** Process entry: read the environment, open the store, start the server, stop cleanly. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let runtime: Runtime;
  try {
    runtime = await openRuntime({
      env: process.env,
      clock: systemClock,
      logger: (config) => createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY ?? process.stdout.isTTY === true }),
      // lowdb: the data folder is ours alone from before the store is read until exit. PostgreSQL
      // (DATABASE_URL): no folder lock, replicas and the CLI share the database.
      lockRole: BOT_ROLE,
      applicationName: 'bot',
      onCompromised: (err) => {
        runtime?.logger.error({ err, dataDir: runtime.dataDir }, 'another process took the data folder over; stopping so that two processes never write it');
        process.exit(1);
      },
    });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StoreValidationError) {
      console.error(err.message);
      process.exit(1);
    }
    if (err instanceof DataDirLockedError) {
      console.error(`The bot cannot start: ${err.message}.`);
      process.exit(1);
    }
    throw err;
  }
  const { config, logger, store, dataDir, locks, jobRuns, sendPacing, requestSlots } = runtime;
  if (!config.MicrosoftAppId) {
    logger.warn(
      'MicrosoftAppId is empty: authentication is OFF (Bot Framework Emulator mode). Set MicrosoftAppId and MicrosoftAppPassword to serve Microsoft Teams.',
    );
  }
  const secrets = await runtime.secrets();

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
  const azure = defenderClient(config, process.env, { logger, clock: systemClock, local: sandbox?.azure });
  const app = createApp({
    // Only a sandbox bot talks to the local ServiceNow simulator; production keeps the SSRF guard.
    config: config.BOT_MODE === 'sandbox' ? { ...config, SERVICENOW_ALLOW_PRIVATE_HOSTS: true } : config,
    store,
    locks,
    jobRuns,
    sendPacing,
    requestSlots,
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
  // One pass at a time across replicas (compose/services.ts exclusiveSync).
  const sync = app.sync;
  if (sync) void exclusiveSync(app.services, 'sync', () => sync.runOnce()).catch((err: unknown) => logger.error({ err }, 'initial sync failed'));
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
      await runtime.close();
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
