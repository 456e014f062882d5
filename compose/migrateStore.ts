/**
 * What `npm run cli -- store migrate --to postgres` opens and runs: the data folder's lock (held
 * for the whole copy, so neither the bot nor another command changes the file meanwhile), the data
 * file, and the copy into the empty PostgreSQL database (storage/postgres/copy.ts). The CLI words
 * the outcome; the file is left as it was.
 */
import path from 'node:path';
import { silentLogger } from '../core/logger.js';
import { DataDirLockedError, lockDataDir } from '../storage/dataDirLock.js';
import { describeDatabaseUrl } from '../storage/index.js';
import { readDataFile } from '../storage/lowdbStore.js';
import { copyIntoPostgres, describeCounts } from '../storage/postgres/copy.js';

export { CopyRefusedError } from '../storage/postgres/copy.js';
export { StoreValidationError } from '../storage/lowdbStore.js';

export type StoreCopyOutcome =
  /** Someone else holds the data folder: nothing was read. */
  | { kind: 'locked'; reason: string }
  /** The data file was gone once the lock was held. */
  | { kind: 'no-file'; file: string }
  | { kind: 'copied'; file: string; target: string; counts: string };

/** Throws CopyRefusedError (the database is not empty…), StoreValidationError (a bad file) or the database's error. */
export async function copyDataFileIntoPostgres(dataDir: string, url: string, role: string): Promise<StoreCopyOutcome> {
  const file = path.join(dataDir, 'db.json');
  let lock;
  try {
    lock = await lockDataDir(dataDir, { role });
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    return { kind: 'locked', reason: err.message };
  }
  try {
    const loaded = await readDataFile(file);
    if (!loaded) return { kind: 'no-file', file };
    const target = describeDatabaseUrl(url);
    const counts = await copyIntoPostgres(loaded.data, url, { logger: silentLogger });
    return { kind: 'copied', file, target, counts: describeCounts(counts) };
  } finally {
    await lock.release();
  }
}
