import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';

/** The lock directory proper-lockfile creates (mkdir is atomic) and keeps fresh. */
export const LOCK_NAME = 'data.lock';
/**
 * Who holds the lock. It sits next to the lock, not inside it: proper-lockfile removes the lock
 * with rmdir and treats any change of the directory's mtime as a takeover.
 */
export const OWNER_NAME = 'data.lock.owner';

/**
 * A holder refreshes the lock's mtime every UPDATE_MS; a lock older than STALE_MS belongs to a
 * process that died without releasing it (SIGKILL, power loss) and is taken over. A holder whose
 * event loop stalls longer than STALE_MS while another process starts loses the lock and stops.
 */
export const STALE_MS = 5_000;
export const UPDATE_MS = 1_000;

const ownerSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  role: z.string(),
  since: z.string(),
});
export type LockOwner = z.infer<typeof ownerSchema>;

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(
      owner
        ? `${dataDir} is in use by ${owner.role} (pid ${owner.pid}${owner.hostname === os.hostname() ? '' : ` on ${owner.hostname}`}, since ${owner.since}); stop it first or use another DATA_DIR`
        : `${dataDir} is in use by another process (no owner recorded in ${OWNER_NAME}); stop it first or use another DATA_DIR`,
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Gives the folder up; safe to call more than once. */
  release(): Promise<void>;
}

export interface LockDataDirOptions {
  /** Shown to the process that is refused, e.g. "the bot" or "`npm run cli -- sync`". */
  role: string;
  /**
   * Another process took the lock over (this one looked dead: its event loop stalled past
   * STALE_MS). It must stop writing at once. Default: one line on stderr and exit 1.
   */
  onCompromised?: (err: Error) => void;
}

const defaultCompromised = (dataDir: string) => (err: Error) => {
  console.error(`Lost the lock on ${dataDir} (${err.message}); stopping so that two processes never write the same data.`);
  process.exit(1);
};

/**
 * Takes the one exclusive lock of a data folder; every process that writes the store (the bot, CLI
 * commands that write) holds it from before the store is read until it exits. A folder held by a
 * live process on this machine is refused at once (DataDirLockedError names its pid); a lock whose
 * holder is gone is waited for until it goes stale (at most STALE_MS after the holder died) and
 * then taken over.
 */
export async function lockDataDir(dir: string, options: LockDataDirOptions): Promise<DataDirLock> {
  const dataDir = path.resolve(dir);
  await mkdir(dataDir, { recursive: true });
  const lockfilePath = path.join(dataDir, LOCK_NAME);
  const ownerFile = path.join(dataDir, OWNER_NAME);
  // A dead holder's lock goes stale STALE_MS after its last refresh (up to UPDATE_MS before it died;
  // on file systems with 1 s mtime precision proper-lockfile rounds the mtime up by up to 1 s).
  const deadline = Date.now() + STALE_MS + 3 * UPDATE_MS;
  for (;;) {
    let unlock: () => Promise<void>;
    try {
      unlock = await lockfile.lock(dataDir, {
        lockfilePath,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        onCompromised: options.onCompromised ?? defaultCompromised(dataDir),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      const owner = await readOwner(ownerFile);
      // A recorded owner may be the previous, dead holder while a new one is between taking the
      // lock and writing its name: so a dead owner only means "wait", never "break the lock".
      if ((owner && isAlive(owner)) || Date.now() >= deadline) throw new DataDirLockedError(dataDir, owner);
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    try {
      const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), role: options.role, since: new Date().toISOString() };
      const temp = `${ownerFile}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(temp, JSON.stringify(owner) + '\n');
      await rename(temp, ownerFile);
    } catch (err) {
      await unlock().catch(() => undefined);
      throw err;
    }
    let released = false;
    return {
      dataDir,
      release: async () => {
        if (released) return;
        released = true;
        await unlink(ownerFile).catch(() => undefined);
        await unlock().catch((err: NodeJS.ErrnoException) => {
          // Already gone (compromised and reported): nothing left to give up.
          if (err.code !== 'ERELEASED' && err.code !== 'ENOTACQUIRED') throw err;
        });
      },
    };
  }
}

/** Who holds the lock of a folder, if anyone recorded it (for messages; never proof of a live lock). */
export async function readOwner(ownerFile: string): Promise<LockOwner | undefined> {
  try {
    const parsed = ownerSchema.safeParse(JSON.parse(await readFile(ownerFile, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Only a pid on this machine can be checked; a holder elsewhere (shared volume) counts as alive. */
function isAlive(owner: LockOwner): boolean {
  if (owner.hostname !== os.hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
