import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../bot/config.js';
import { IntegrationError, reasonOf } from '../bot/integrations.js';
import { createLogger } from '../bot/logger.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { DataDirLockedError, lockDataDir, type DataDirLock } from '../storage/dataDirLock.js';
import { openLowdbStore, StoreValidationError } from '../storage/lowdbStore.js';
import type { Store } from '../app/ports.js';

/** How the bot names itself in the data folder's lock, so the CLI can say "the bot is running". */
export const BOT_ROLE = 'the bot';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** A refusal the user can act on (wrong usage, the bot is running): exit code 2. */
export class CliRefusal extends Error {}

export interface Workspace {
  config: Config;
  dataDir: string;
  logger: Logger;
  store: Store;
  /** Flushes and closes the store, then gives the data folder's lock up (if taken). */
  close(): Promise<void>;
}

/**
 * What every CLI command that touches the data opens: the validated config, the data folder and
 * the store. `busyMessage` is given when the command writes: the command then takes the data
 * folder's lock (storage/dataDirLock.ts) before reading the store, so it never writes beside the
 * bot or another CLI command; the message is what it says when the bot holds the folder.
 * Read-only commands take no lock (they must work while the bot runs) and get a store that
 * refuses writes and leaves the folder as it is: no backup, no migration written, no cleanup.
 * Reading without the lock is safe because every write replaces db.json by a rename.
 */
export async function openWorkspace(
  env: Record<string, string | undefined>,
  clock: Clock,
  busyMessage?: (pid: number, dataDir: string, config: Config) => string,
  role = 'a CLI command',
): Promise<Workspace> {
  const config = loadConfig(env);
  const dataDir = path.resolve(config.DATA_DIR);
  let lock: DataDirLock | undefined;
  if (busyMessage) {
    try {
      lock = await lockDataDir(dataDir, { role });
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      throw new CliRefusal(err.owner?.role === BOT_ROLE ? busyMessage(err.owner.pid, dataDir, config) : err.message);
    }
  }
  try {
    const logger = createLogger({ level: 'silent' });
    const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger, readOnly: !busyMessage });
    return {
      config,
      dataDir,
      logger,
      store,
      close: async () => {
        try {
          await store.close();
        } finally {
          await lock?.release();
        }
      },
    };
  } catch (err) {
    await lock?.release();
    throw err;
  }
}

/** One readable line for any failure, and the exit code that goes with it. */
export function reportFailure(err: unknown, io: CliIo): number {
  if (err instanceof CliRefusal) io.err(err.message);
  else if (err instanceof ConfigError) io.err(`Invalid configuration: ${err.problems.join('; ')}`);
  else if (err instanceof StoreValidationError) io.err(err.message.split('\n')[0]!);
  else if (err instanceof IntegrationError) io.err(`Error: ${err.message}`);
  else io.err(`Error: ${reasonOf(err).split('\n')[0]}`);
  return err instanceof CliRefusal ? 2 : 1;
}
