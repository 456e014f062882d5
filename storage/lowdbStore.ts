import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { StreamingJsonFile } from './streamingJsonFile.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { migrate } from './migrations.js';
import type { Store, StoreStatus } from './repositories.js';
import { databaseSchema, emptyDatabase, SCHEMA_VERSION, type Database } from './schema.js';
import { createRepositories } from './memoryRepositories.js';

export class StoreValidationError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `The data file ${file} is not valid, so the bot will not start (it never overwrites a file it cannot read):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        `\nFix or restore the file (the last good copy is ${file}.bak) and start again.`,
    );
    this.name = 'StoreValidationError';
  }
}

export interface LowdbStoreOptions {
  file: string;
  clock: Clock;
  logger: Logger;
}

/**
 * The embedded store: one JSON file, validated on open, written atomically (steno writes a temp
 * file and renames it) and coalesced (all mutations of one tick become one write).
 */
export async function openLowdbStore(options: LowdbStoreOptions): Promise<Store> {
  const { file, clock, logger } = options;
  await mkdir(path.dirname(file), { recursive: true });
  // lowdb's presets switch to memory under NODE_ENV=test; the explicit adapter never does.
  const adapter = new StreamingJsonFile<Database>(file);
  let raw: unknown;
  try {
    raw = await adapter.read();
  } catch (err) {
    throw new StoreValidationError(file, [`not valid JSON: ${(err as Error).message}`]);
  }

  let data: Database;
  let migratedFrom: number | undefined;
  if (raw === null) {
    data = emptyDatabase();
  } else {
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new StoreValidationError(file, ['the top level is not a JSON object']);
    let candidate: Record<string, unknown>;
    try {
      const result = migrate(raw as Record<string, unknown>, SCHEMA_VERSION);
      candidate = result.data;
      if (result.from !== SCHEMA_VERSION) migratedFrom = result.from;
    } catch (err) {
      throw new StoreValidationError(file, [(err as Error).message]);
    }
    const parsed = databaseSchema.safeParse(candidate);
    if (!parsed.success) {
      throw new StoreValidationError(
        file,
        parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
      );
    }
    data = parsed.data;
    // Only a file that passed validation becomes the backup, so the .bak is always usable.
    await copyFile(file, `${file}.bak`);
  }

  const db = new Low<Database>(adapter, data);
  db.data = data;

  const status: StoreStatus = { kind: 'lowdb', ok: true, writes: 0 };
  let scheduled: Promise<void> | null = null;
  let inFlight: Promise<void> | null = null;

  const write = async (): Promise<void> => {
    try {
      await db.write();
      status.writes++;
      status.ok = true;
      status.lastWriteAt = clock.now().toISOString();
      delete status.lastError;
    } catch (err) {
      status.ok = false;
      status.lastError = (err as Error).message;
      logger.error({ err, file }, 'store write failed');
      throw err;
    }
  };

  /**
   * Every mutation made before the next write starts joins that write: all changes of one tick,
   * and all changes made while an earlier write is still on its way to disk, become one write.
   * The promise resolves once a write that includes the caller's change has finished.
   */
  const persist = (): Promise<void> => {
    if (scheduled) return scheduled;
    scheduled = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      while (inFlight) await inFlight.catch(() => undefined);
      // From here on, new changes schedule the next write; this one snapshots the state now.
      scheduled = null;
      const current = write();
      inFlight = current;
      try {
        await current;
      } finally {
        if (inFlight === current) inFlight = null;
      }
    })();
    return scheduled;
  };

  if (migratedFrom !== undefined) {
    logger.info({ from: migratedFrom, to: SCHEMA_VERSION }, 'data file migrated');
    await persist();
  }

  const repos = createRepositories(() => db.data, persist);
  return {
    ...repos,
    status: () => ({ ...status }),
    flush: async () => {
      while (scheduled || inFlight) await (scheduled ?? inFlight)!.catch(() => undefined);
    },
    close: async () => {
      while (scheduled || inFlight) await (scheduled ?? inFlight)!.catch(() => undefined);
    },
  };
}
