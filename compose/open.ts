/**
 * What a process opens before any use case runs, in this order: the validated configuration,
 * the data folder's lock (a writer holds it from before the store is read until exit: the store
 * lives in memory, so a second writer beside it would lose one side's changes), the store, the
 * secrets, and the Defender client. Used by bot/main.ts and cli/; the errors are typed so each
 * entry point words them its own way.
 */
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { JobRuns, Locks, RequestSlots, SendPacing, Store } from '../app/ports.js';
import { AzureClient, createAzureCredential, localAzureClient, simulatorCredential, type LocalAzureEndpoint } from '../connectors/defender/azureClient.js';
import { lockDataDir, type DataDirLock } from '../storage/dataDirLock.js';
import { openStore } from '../storage/index.js';
import { openSecretBox, type SecretBox } from '../storage/secrets.js';
import { loadConfig, type Config } from './config.js';

export { ConfigError } from './config.js';
export { DataDirLockedError } from '../storage/dataDirLock.js';
export { StoreValidationError } from '../storage/lowdbStore.js';
export type { LocalAzureEndpoint } from '../connectors/defender/azureClient.js';

/** How the bot names itself in the data folder's lock, so the CLI can say "the bot is running". */
export const BOT_ROLE = 'the bot';

export interface RuntimeOptions {
  env: Record<string, string | undefined>;
  clock: Clock;
  /** The process's logger, made from the validated configuration. */
  logger: (config: Config) => Logger;
  /**
   * lowdb: writers take the data folder's lock under this role before the store is read. Without
   * it the store is opened read-only and the folder is left exactly as it is (safe beside a
   * running bot: every write replaces db.json by a rename). PostgreSQL (DATABASE_URL) takes no
   * folder lock: every process reads and writes the database safely beside the others.
   */
  lockRole?: string;
  /** PostgreSQL: the name in pg_stat_activity (e.g. "bot", "cli"). */
  applicationName?: string;
  /** Another process took the folder over (the lock could not be kept). */
  onCompromised?: (err: Error) => void;
}

export interface Runtime {
  config: Config;
  dataDir: string;
  logger: Logger;
  store: Store;
  /** Which store DATABASE_URL chose. */
  storeKind: 'lowdb' | 'postgres';
  /** Mutual exclusion that matches the store (PostgreSQL advisory locks shared by every replica). */
  locks: Locks;
  /** Which process runs each cron tick (jobs/schedule.ts). */
  jobRuns: JobRuns;
  /** Teams' per-conversation send pacing shared by every process on the store. */
  sendPacing: SendPacing;
  /** Each ServiceNow instance's request budget shared by the replicas (PostgreSQL only). */
  requestSlots?: RequestSlots;
  lock?: DataDirLock;
  /** The secret box (SECRET_KEY, or the key file in the data folder), opened once on first use. */
  secrets(): Promise<SecretBox>;
  /** Flushes and closes the store, then gives the data folder's lock up (if taken). */
  close(): Promise<void>;
}

/**
 * config → data-folder lock (lowdb writers only) → store (openStore: PostgreSQL when DATABASE_URL
 * is set); ConfigError, DataDirLockedError and StoreValidationError say what is wrong.
 */
export async function openRuntime(options: RuntimeOptions): Promise<Runtime> {
  const config = loadConfig(options.env);
  const logger = options.logger(config);
  const dataDir = path.resolve(config.DATA_DIR);
  const shared = Boolean(config.DATABASE_URL);
  const lock = options.lockRole && !shared ? await lockDataDir(dataDir, { role: options.lockRole, onCompromised: options.onCompromised }) : undefined;
  let opened: Awaited<ReturnType<typeof openStore>>;
  try {
    opened = await openStore(config, {
      clock: options.clock,
      logger: logger.child({ module: 'store' }),
      readOnly: !shared && !lock,
      applicationName: options.applicationName,
    });
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const { store } = opened;
  let secrets: Promise<SecretBox> | undefined;
  return {
    config,
    dataDir,
    logger,
    store,
    storeKind: opened.kind,
    locks: opened.locks,
    jobRuns: opened.jobRuns,
    sendPacing: opened.sendPacing,
    requestSlots: opened.requestSlots,
    lock,
    secrets: () => (secrets ??= openSecretBox(config.SECRET_KEY, dataDir)),
    close: async () => {
      try {
        await store.close();
      } finally {
        await lock?.release();
      }
    },
  };
}

/**
 * The Defender client: Azure (DEFENDER_SOURCE=azure, with the environment's credential), or a
 * local simulator endpoint the sandbox entry started (`local`); none without either.
 */
export function defenderClient(
  config: Pick<Config, 'DEFENDER_SOURCE' | 'ARM_ENDPOINT' | 'GRAPH_ENDPOINT'>,
  env: Record<string, string | undefined>,
  opts: { logger: Logger; clock: Clock; local?: LocalAzureEndpoint },
): AzureClient | undefined {
  if (config.DEFENDER_SOURCE === 'azure') {
    return new AzureClient({
      credential: createAzureCredential(env),
      armBaseUrl: config.ARM_ENDPOINT,
      graphBaseUrl: config.GRAPH_ENDPOINT,
      logger: opts.logger.child({ module: 'azure' }),
      clock: opts.clock,
    });
  }
  return opts.local && localAzureClient(opts.local, { logger: opts.logger.child({ module: 'azure' }), clock: opts.clock });
}

/** Whether a local Defender simulator answers at this endpoint (it hands out a token for the sandbox client) within `timeoutMs`. */
export async function localDefenderAnswers(endpoint: LocalAzureEndpoint, timeoutMs: number): Promise<boolean> {
  const credential = simulatorCredential(endpoint.url, endpoint.tenantId, endpoint.clientId, endpoint.clientSecret);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      credential.getToken('https://management.azure.com/.default').then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
