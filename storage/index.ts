/**
 * The one call that opens the configured store: PostgreSQL when DATABASE_URL is set, the lowdb
 * file in DATA_DIR when it is not. The composition root passes the validated config.
 */
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { JobRuns, Locks, RequestSlots, SendPacing, Store } from '../app/ports.js';
import { InProcessJobRuns, InProcessSendPacing } from './coordination.js';
import { InProcessLocks } from './locks.js';
import { openLowdbStore } from './lowdbStore.js';
import { DEFAULT_POOL_SIZE, openPostgresStore } from './postgres/store.js';

/** The config variables that choose and reach the store (compose/config.ts names). */
export interface StoreSettings {
  DATA_DIR: string;
  DATABASE_URL?: string;
  DATABASE_POOL_SIZE?: number;
}

export interface OpenStoreOptions {
  clock: Clock;
  logger: Logger;
  /**
   * lowdb: read the file and refuse every write (readers that do not hold the data folder's lock).
   * PostgreSQL ignores it: readers and writers of every process share the database safely.
   */
  readOnly?: boolean;
  /** PostgreSQL: the name in pg_stat_activity (e.g. "bot", "cli"). */
  applicationName?: string;
}

export interface OpenedStore {
  kind: 'lowdb' | 'postgres';
  store: Store;
  /**
   * Mutual exclusion that matches the store: in-process for lowdb (one process owns the data
   * folder), PostgreSQL advisory locks shared by every process on the database.
   */
  locks: Locks;
  /** Which process runs each cron tick of a job: in-process for lowdb, a shared table for PostgreSQL. */
  jobRuns: JobRuns;
  /** Teams' per-conversation send pacing: in-process for lowdb, shared by every replica on PostgreSQL. */
  sendPacing: SendPacing;
  /** Each ServiceNow instance's request budget across processes: PostgreSQL only (lowdb has one process). */
  requestSlots?: RequestSlots;
  /** Where the data is, for messages: the data file, or the database without its password. */
  location: string;
}

/**
 * Opens the store the settings name. lowdb: the caller holds the data folder's lock
 * (storage/dataDirLock.ts) before writing. PostgreSQL: the schema is migrated first (one process
 * at a time); several processes may share the database.
 */
export async function openStore(settings: StoreSettings, options: OpenStoreOptions): Promise<OpenedStore> {
  if (settings.DATABASE_URL) {
    const store = await openPostgresStore({
      connectionString: settings.DATABASE_URL,
      poolSize: settings.DATABASE_POOL_SIZE ?? DEFAULT_POOL_SIZE,
      clock: options.clock,
      logger: options.logger,
      applicationName: options.applicationName,
    });
    return {
      kind: 'postgres',
      store,
      locks: store.locks,
      jobRuns: store.jobRuns,
      sendPacing: store.sendPacing,
      requestSlots: store.requestSlots,
      location: describeDatabaseUrl(settings.DATABASE_URL),
    };
  }
  const file = path.join(path.resolve(settings.DATA_DIR), 'db.json');
  const store = await openLowdbStore({ file, clock: options.clock, logger: options.logger, readOnly: options.readOnly });
  return {
    kind: 'lowdb',
    store,
    locks: new InProcessLocks(),
    jobRuns: new InProcessJobRuns(options.clock),
    sendPacing: new InProcessSendPacing(options.clock),
    location: file,
  };
}

/** postgres://user@host:port/database, without the password or the query (safe to print or log). */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `postgres://${user}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unparsable DATABASE_URL)';
  }
}
