/**
 * The store benchmark's bot process for a store chosen by openStore (storage/index.ts): the
 * production start of bot/main.ts (config, store, secrets, Azure client, createApp, listen, the
 * first sync and resumePending in the background), with the store opened by openStore so that
 * DATABASE_URL selects PostgreSQL. bot/main.ts still opens lowdb directly until the lead wires
 * openStore there; then the benchmark can start dist/bot/main.js for every store and this file goes.
 * No data folder lock: the benchmark runs one process per folder.
 */
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../compose/config.js';
import { createApp } from '../bot/index.js';
import { createLogger } from '../compose/logger.js';
import { packageVersion } from '../compose/version.js';
import { AzureClient, createAzureCredential } from '../connectors/defender/azureClient.js';
import { openStore } from '../storage/index.js';
import { openSecretBox } from '../storage/secrets.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: false });
  const { store } = await openStore(config, { clock: systemClock, logger: logger.child({ module: 'store' }), applicationName: 'bench bot' });
  const secrets = await openSecretBox(config.SECRET_KEY, config.DATA_DIR);
  const azure = new AzureClient({
    credential: createAzureCredential(process.env),
    armBaseUrl: config.ARM_ENDPOINT,
    graphBaseUrl: config.GRAPH_ENDPOINT,
    logger: logger.child({ module: 'azure' }),
  });
  const app = createApp({
    config,
    store,
    clock: systemClock,
    logger,
    secrets,
    version: packageVersion(),
    azure,
    defenderScopes: config.DEFENDER_SCOPES,
    schedule: true,
  });
  await app.listen(config.PORT, config.HOST);
  if (app.sync) void app.sync.runOnce().catch((err: unknown) => logger.error({ err }, 'initial sync failed'));
  void app.assignments.resumePending().catch((err: unknown) => logger.error({ err }, 'resuming assignments failed'));
  const stop = async () => {
    await app.stop();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error('The bench bot could not start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
