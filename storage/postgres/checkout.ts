import type { Pool, PoolClient } from 'pg';

export interface Checkout {
  client: PoolClient;
  /** The error the connection emitted while checked out (it is then unusable), if any. */
  readonly error: Error | undefined;
  /** Back to the pool; a connection that failed (or `err`) is closed instead of reused. */
  release(err?: Error): void;
}

/**
 * A pooled connection for the caller. pg-pool listens for a connection's 'error' only while it is
 * idle in the pool; one that breaks while checked out (server restart, network, an administrator
 * terminating it) emits an 'error' nobody hears, which would crash the process. This listens
 * until release.
 */
export async function checkout(pool: Pool, onError?: (err: Error) => void): Promise<Checkout> {
  const client = await pool.connect();
  let error: Error | undefined;
  const listener = (err: Error) => {
    error ??= err;
    onError?.(err);
  };
  client.on('error', listener);
  let released = false;
  return {
    client,
    get error() {
      return error;
    },
    release(err?: Error) {
      if (released) return;
      released = true;
      client.off('error', listener);
      client.release(err ?? error);
    },
  };
}
