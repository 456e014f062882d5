import { copyFile, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { StreamingJsonFile, tempName } from './streamingJsonFile.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { migrate } from './migrations.js';
import type { Store, StoreStatus } from '../app/ports.js';
import { databaseSchema, emptyDatabase, schemaFingerprint, SCHEMA_VERSION, type Database } from './schema.js';
import { createEngine } from './engine.js';
import { assignmentsFromStored, isStoredAssignment, storedAssignmentView, toAssignment, toStoredAssignment, type StoredAssignment } from './storedForm.js';
import type { Assignment } from '../core/model.js';

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
  /**
   * Read the file and leave the folder exactly as it is: no backup, no migration written back,
   * and every write is refused. For readers that do not hold the data folder's lock.
   */
  readOnly?: boolean;
  /** The copy step of the backup (tests inject a copy that fails half-way). */
  copyFile?: (from: string, to: string) => Promise<void>;
}

export class ReadOnlyStoreError extends Error {
  constructor(file: string) {
    super(`${file} was opened read-only; this command cannot change it`);
    this.name = 'ReadOnlyStoreError';
  }
}

/**
 * The embedded store: one JSON file, validated on open, written atomically (a temp file renamed
 * over it) and coalesced (all mutations of one tick, or of one transaction, become one write).
 * Lookups by key use in-memory indexes (storage/engine.ts), built on first use. Assignments are
 * stored compactly (storage/storedForm.ts) and completed when first read. A writer must hold the data
 * folder's lock (storage/dataDirLock.ts): the store keeps the data in memory, so two writers
 * would each overwrite the other's changes.
 */
export async function openLowdbStore(options: LowdbStoreOptions): Promise<Store> {
  const { file, clock, logger, readOnly = false } = options;
  if (!readOnly) {
    await mkdir(path.dirname(file), { recursive: true });
    await removeTempFiles(file);
  }
  // lowdb's presets switch to memory under NODE_ENV=test; the explicit adapter never does.
  const adapter = fileAdapter(file);
  const loaded = await readDataFile(file, adapter, { complete: 'lazily' });
  const data = loaded?.data ?? emptyDatabase();
  const migratedFrom = loaded?.migratedFrom;
  // Only a file that passed validation (or is sealed) becomes the backup, so the .bak is always
  // usable. The copy runs while the indexes are built; nothing writes db.json before it is done.
  const backup = loaded && !readOnly ? writeBackup(file, options.copyFile ?? copyFile) : Promise.resolve();
  backup.catch(() => undefined);

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
    if (readOnly) return Promise.reject(new ReadOnlyStoreError(file));
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

  const engine = createEngine(db.data, {
    clock,
    persist,
    // A file this store sealed is not checked up front: its rows stay in stored form until used.
    checkLazily: loaded?.sealed ?? false,
    onProblem: (problem) => logger.warn({ file, problem }, 'data file loaded with a problem'),
    stored: {
      // A row left in stored form by the read (a sealed file: its rows were validated when they
      // were written) is completed on its first read; indexes read it through a view.
      assignments: {
        complete: (value) => {
          if (!isStoredAssignment(value)) return undefined;
          const full = toAssignment(value);
          adapter.carry(value, full);
          return full;
        },
        view: (value) => (isStoredAssignment(value) ? storedAssignmentView(value) : undefined),
      },
    },
    // Checked before anything changes in memory: a refused write leaves the state as it was.
    assertWritable: () => {
      if (readOnly) throw new ReadOnlyStoreError(file);
    },
  });
  await backup;
  if (migratedFrom !== undefined && !readOnly) {
    logger.info({ from: migratedFrom, to: SCHEMA_VERSION }, 'data file migrated');
    await persist();
  }

  return {
    ...engine.repositories,
    transaction: engine.transaction,
    status: () => ({ ...status }),
    flush: async () => {
      while (scheduled || inFlight) await (scheduled ?? inFlight)!.catch(() => undefined);
    },
    close: async () => {
      while (scheduled || inFlight) await (scheduled ?? inFlight)!.catch(() => undefined);
    },
  };
}

/** The data file's adapter: sealed with this build's fingerprint, assignments in their stored form. */
function fileAdapter(file: string): StreamingJsonFile<Database> {
  return new StreamingJsonFile<Database>(file, schemaFingerprint(), {
    arrays: { assignments: (row) => (isStoredAssignment(row) ? row : toStoredAssignment(row as Assignment)) },
  });
}

/**
 * Reads and validates a data file, upgrading an older schema version in memory (nothing is
 * written). null when there is no file; StoreValidationError when it cannot be used.
 * `complete: 'lazily'` (the store, whose engine completes rows on first read): a sealed file's
 * assignments stay in their stored form in `data` (storage/storedForm.ts).
 */
export async function readDataFile(
  file: string,
  adapter: StreamingJsonFile<Database> = fileAdapter(file),
  options: { complete?: 'now' | 'lazily' } = {},
): Promise<{ data: Database; migratedFrom?: number; sealed: boolean } | null> {
  let raw: unknown;
  let sealed = false;
  try {
    const read = await adapter.readSealed();
    raw = read?.data ?? null;
    sealed = read?.sealed ?? false;
  } catch (err) {
    throw new StoreValidationError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  if (raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new StoreValidationError(file, ['the top level is not a JSON object']);
  // Byte for byte what this store wrote, from rows this schema validated (the seal's hash and
  // schema fingerprint say so; only an adapter given this build's fingerprint trusts a seal):
  // validating 100,000 rows again would double the start. Any other file, including one edited
  // by hand, is validated below.
  const version = (raw as Partial<Database>).version;
  if (sealed && version === SCHEMA_VERSION) {
    const data = raw as Record<string, unknown>;
    const stored = assignmentsFromStored(data.assignments);
    // Lazily: the engine's table takes the Map as it is (storage/engine.ts Table) and completes rows on first read.
    data.assignments = options.complete === 'lazily' ? stored : completed(stored);
    return { data: data as Database, sealed: true };
  }
  let candidate: Record<string, unknown>;
  let migratedFrom: number | undefined;
  try {
    const result = migrate(fullRows(raw as Record<string, unknown>), SCHEMA_VERSION);
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
  return { data: parsed.data, migratedFrom, sealed: false };
}

/**
 * The file's assignments as full rows, for migrations and validation: a version-4 file stores
 * them as an array of stored rows (storage/storedForm.ts). A record of full rows, as versions 1–3
 * stored them (or as written by hand or by a test), is taken as it is and validated like any.
 */
function fullRows(raw: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(raw.assignments)) return raw;
  return { ...raw, assignments: completed(assignmentsFromStored(raw.assignments)) };
}

/** A record of full rows (fromEntries: an id such as "__proto__" stays a plain key). */
function completed(stored: Map<string, unknown>): Record<string, Assignment> {
  return Object.fromEntries([...stored].map(([id, row]) => [id, toAssignment(row as StoredAssignment)]));
}

/**
 * Replaces `<file>.bak` in one step: a copy under a unique temp name, fsynced, then renamed over
 * the old backup. copyFile onto the backup itself would truncate it first, so a kill mid-copy
 * left neither the old nor the new backup.
 */
async function writeBackup(file: string, copy: (from: string, to: string) => Promise<void>): Promise<void> {
  const temp = tempName(`${file}.bak`);
  try {
    await copy(file, temp);
    const handle = await open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, `${file}.bak`);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Temp files a killed writer left behind; only the lock holder opens for writing, so none is in use. */
async function removeTempFiles(file: string): Promise<void> {
  const base = path.basename(file);
  const pattern = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.bak)?\\.[0-9a-f]{12}\\.tmp$`);
  const names = await readdir(path.dirname(file)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => pattern.test(n)).map((n) => unlink(path.join(path.dirname(file), n)).catch(() => undefined)));
}
