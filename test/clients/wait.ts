/**
 * Polls a condition (a DOM count, a process's HTTP port…) until it holds; rejects with `what` and
 * the last value seen. Polling a condition, not sleeping for a guessed time.
 */
export async function waitUntil<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  opts: { timeoutMs?: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const seen = lastError && last === undefined ? `error ${String(lastError)}` : JSON.stringify(last);
      throw new Error(`${opts.what}: not reached within ${opts.timeoutMs ?? 10_000} ms (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** Resolves true if the condition holds within the time, false otherwise (for recording, not asserting). */
export async function holdsWithin(probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  try {
    await waitUntil(probe, (v) => v, { timeoutMs, what: 'condition' });
    return true;
  } catch {
    return false;
  }
}
