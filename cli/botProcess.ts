import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../bot/config.js';
import { IntegrationError, reasonOf } from '../bot/integrations.js';
import { createLogger } from '../bot/logger.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openLowdbStore, StoreValidationError } from '../storage/lowdbStore.js';
import type { Store } from '../storage/repositories.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** The bot keeps the data file in memory; a second writer would lose one side's changes. */
export const PID_FILE = 'bot.pid';

export function botRunning(dataDir: string): number | undefined {
  const file = path.join(dataDir, PID_FILE);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** A refusal the user can act on (wrong usage, the bot is running): exit code 2. */
export class CliRefusal extends Error {}

export interface Workspace {
  config: Config;
  dataDir: string;
  logger: Logger;
  store: Store;
}

/**
 * What every CLI command that touches the data opens: the validated config, the data folder and
 * the store. `busyMessage` is given when the command writes: the bot keeps the data in memory,
 * so a CLI writing beside a running bot would lose one side's changes.
 */
export async function openWorkspace(
  env: Record<string, string | undefined>,
  clock: Clock,
  busyMessage?: (pid: number, dataDir: string, config: Config) => string,
): Promise<Workspace> {
  const config = loadConfig(env);
  const dataDir = path.resolve(config.DATA_DIR);
  const pid = busyMessage ? botRunning(dataDir) : undefined;
  if (pid && busyMessage) throw new CliRefusal(busyMessage(pid, dataDir, config));
  const logger = createLogger({ level: 'silent' });
  const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger });
  return { config, dataDir, logger, store };
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
