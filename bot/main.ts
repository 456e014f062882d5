import { existsSync } from 'node:fs';
import path from 'node:path';
import { systemClock } from '../core/clock.js';
import { ConfigError, decodeSecretKey, loadConfig } from './config.js';
import { createApp } from './index.js';
import { createLogger } from './logger.js';
import { openLowdbStore, StoreValidationError } from '../storage/lowdbStore.js';
import { loadOrCreateKeyFile, SecretBox } from '../storage/secrets.js';
import { packageVersion } from './version.js';

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
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY ?? process.stdout.isTTY === true });
  if (!config.MicrosoftAppId) {
    logger.warn('MicrosoftAppId is empty: authentication is OFF (Bot Framework Emulator mode). Set MicrosoftAppId and MicrosoftAppPassword to serve Microsoft Teams.');
  }

  const dataDir = path.resolve(config.DATA_DIR);
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
  const key = config.SECRET_KEY ? decodeSecretKey(config.SECRET_KEY)! : await loadOrCreateKeyFile(path.join(dataDir, 'secret.key'));

  const app = createApp({ config, store, clock: systemClock, logger, secrets: new SecretBox(key), version: packageVersion() });
  const url = await app.listen(config.PORT);
  logger.info({ url: `${url}/api/messages`, mode: config.BOT_MODE }, `bot listening on ${url}/api/messages`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app.stop();
      await store.close();
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
