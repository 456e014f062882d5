import type { Pool } from 'pg';
import type { Logger } from '../../core/logger.js';
import type { Locks } from '../../app/ports.js';
import { InProcessLocks } from '../locks.js';
import { checkout } from './checkout.js';

/**
 * First half of every advisory lock id taken by withLock (the two-int form; the migration lock
 * uses the one-bigint form, a separate key space in PostgreSQL).
 */
export const LOCK_NAMESPACE = 0x44_53_4e_01;

/**
 * Locks shared by every process on the database: a PostgreSQL session advisory lock per key
 * (pg_advisory_lock(LOCK_NAMESPACE, hashtext(key))), held on a connection of the lock pool for as
 * long as `fn` runs.
 *
 * Why session locks on their own connection, and not pg_advisory_xact_lock: `fn` is application
 * work (read an assignment, call ServiceNow, write it back in a store transaction of its own on
 * another connection); holding a transaction open around it would keep a connection "idle in
 * transaction" during the HTTP call and tie the lock to a transaction the work does not use.
 *
 * - Across processes: PostgreSQL grants the lock to one session at a time; the others wait.
 * - Within a process: callers for one key queue in order in memory first (InProcessLocks), so a
 *   process has at most one connection waiting per key.
 * - A process that dies (SIGKILL, lost network) loses its session, and PostgreSQL releases the
 *   lock at once: the next waiter goes on. The same holds when the holder's connection breaks
 *   while `fn` still runs, so long work must also be safe to repeat (the work queue's leases).
 * - Distinct keys can share a 32-bit hash; they then only wait for each other, never mix up data.
 * - The lock pool caps how many keys a process holds at once; nesting withLock for many keys
 *   inside each other can wait for a free connection.
 */
export class PostgresLocks implements Locks {
  private readonly local = new InProcessLocks();

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.local.withLock(key, async () => {
      const held = await checkout(this.pool, (err) =>
        this.logger.warn({ err, key }, 'the connection holding a lock broke: PostgreSQL released the lock, another process may take it now'),
      );
      let broken: Error | undefined;
      try {
        try {
          await held.client.query('SELECT pg_advisory_lock($1::int, hashtext($2))', [LOCK_NAMESPACE, key]);
        } catch (err) {
          broken = err as Error;
          throw err;
        }
        try {
          return await fn();
        } finally {
          if (!held.error) {
            await held.client.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [LOCK_NAMESPACE, key]).catch((err: Error) => {
              // Dropping the connection releases every lock it holds.
              broken = err;
            });
          }
        }
      } finally {
        held.release(broken);
      }
    });
  }

  /**
   * Every key's advisory lock on one connection, taken in hash order in one statement (the same
   * order in every process; keys sharing a hash are one lock), released together: a batch of 200
   * assignments holds one pooled connection, not 200.
   */
  withLocks<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    // In this process, callers queue per key first (in key order), as withLock does.
    const nest = (i: number): Promise<T> => (i === sorted.length ? this.holdAll(sorted, fn) : this.local.withLock(sorted[i]!, () => nest(i + 1)));
    return nest(0);
  }

  private async holdAll<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const held = await checkout(this.pool, (err) =>
      this.logger.warn({ err, keys: keys.length }, 'the connection holding locks broke: PostgreSQL released them, another process may take them now'),
    );
    let broken: Error | undefined;
    try {
      try {
        await held.client.query(
          'SELECT pg_advisory_lock($1::int, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY h) AS ordered',
          [LOCK_NAMESPACE, keys],
        );
      } catch (err) {
        broken = err as Error;
        throw err;
      }
      try {
        return await fn();
      } finally {
        if (!held.error) {
          // The connection is this call's alone while it is checked out: every advisory lock on it is ours.
          await held.client.query('SELECT pg_advisory_unlock_all()').catch((err: Error) => {
            broken = err;
          });
        }
      }
    } finally {
      held.release(broken);
    }
  }
}
