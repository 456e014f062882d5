import { createLogger } from '../compose/logger.js';
import { BOT_ROLE, ConfigError, DataDirLockedError, openRuntime, StoreValidationError, type Runtime } from '../compose/open.js';
import { loadConfig, type Config } from '../compose/config.js';
import { IntegrationError, reasonOf } from '../app/manageIntegrations.js';
import type { Clock } from '../core/clock.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** A refusal the user can act on (wrong usage, the bot is running): exit code 2. */
export class CliRefusal extends Error {}

/** What a CLI command opens (compose/open.ts): the validated config, the data folder and the store; the secrets on demand. */
export type Workspace = Runtime;

/**
 * What every CLI command that touches the data opens. `busyMessage` is given when the command
 * writes: the command then takes the data folder's lock (storage/dataDirLock.ts) before reading
 * the store, so it never writes beside the bot or another CLI command; the message is what it
 * says when the bot holds the folder. Read-only commands take no lock (they must work while the
 * bot runs) and get a store that refuses writes and leaves the folder as it is: no backup, no
 * migration written, no cleanup.
 */
export async function openWorkspace(
  env: Record<string, string | undefined>,
  clock: Clock,
  busyMessage?: (pid: number, dataDir: string, config: Config) => string,
  role = 'a CLI command',
): Promise<Workspace> {
  try {
    return await openRuntime({ env, clock, logger: () => createLogger({ level: 'silent' }), lockRole: busyMessage ? role : undefined });
  } catch (err) {
    if (!(err instanceof DataDirLockedError) || !busyMessage) throw err;
    throw new CliRefusal(err.owner?.role === BOT_ROLE ? busyMessage(err.owner.pid, err.dataDir, loadConfig(env)) : err.message);
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
