import type { Locks } from '../app/ports.js';

/**
 * Locks for one process (the embedded store has exactly one writer process, see
 * storage/dataDirLock.ts): one task per key at a time, later tasks for the same key wait for the
 * earlier ones in order, and a failed task releases the key like a successful one.
 */
export class InProcessLocks implements Locks {
  private readonly tails = new Map<string, Promise<unknown>>();

  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with work queued or running (for tests and diagnostics). */
  size(): number {
    return this.tails.size;
  }
}
