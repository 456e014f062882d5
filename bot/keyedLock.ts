/**
 * Runs one task per key at a time; later tasks for the same key wait for earlier ones. The bot
 * shares one lock for all changes to an assignment, so an owner's double click and an admin's
 * approval of the same assignment never interleave.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
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
