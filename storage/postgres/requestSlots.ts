import type { Pool } from 'pg';
import type { Logger } from '../../core/logger.js';
import type { RequestSlots } from '../../app/ports.js';
import { checkout, type Checkout } from './checkout.js';

/** First half of the advisory lock ids of request slots (LOCK_NAMESPACE + 3; see storage/postgres/locks.ts). */
export const REQUEST_SLOTS_LOCK_NAMESPACE = 0x44_53_4e_04;

/**
 * How many times in a row a released slot may go straight to the next request of the same
 * process before it is given back to PostgreSQL, where another process may be queued for it.
 */
export const MAX_HAND_ONS = 8;

/** A slot released but still locked, until the current turn of the event loop ends. */
interface Spare {
  held: Checkout;
  slot: number;
  handedOn: number;
  unlock: NodeJS.Immediate;
}

/**
 * RequestSlots (app/ports.ts) on PostgreSQL: slot i of an instance is the session advisory lock
 * (REQUEST_SLOTS_LOCK_NAMESPACE, hashtext('<instance>#<i>')), held on a connection of this pool
 * while the request is in flight. PostgreSQL grants each lock to one session, so the slots held
 * across every process never exceed `limit`, and a process that dies drops its connections and
 * with them its slots.
 *
 * acquire tries the slots this process does not hold, from a rotating start, in one round trip;
 * when all are taken it waits in pg_advisory_lock on one of them, in
 * PostgreSQL's queue for that lock: no polling, and no herd of waiters retrying on each release.
 * A waiter can wait on a slot while another one frees; at saturation (every slot busy, others
 * queued) each slot is handed on at once, which is when the limit matters.
 *
 * A slot released while another request of this process is about to ask for one (the next
 * waiter of the local semaphore asks in the same turn of the event loop) is handed straight on,
 * still locked: no unlock and lock again, two round trips per request during which the slot was
 * nobody's. At most MAX_HAND_ONS times in a row, then it goes back to PostgreSQL's queue, so the
 * requests of other processes waiting for it get their turn.
 *
 * Distinct slots can share a 32-bit hash; they then act as one slot (a lower limit, never a higher one).
 * The pool caps the slots this process waits on or holds; the in-process semaphore in front of it
 * (connectors/servicenow/client.ts) keeps that at the instance's limit per instance.
 */
export class PostgresRequestSlots implements RequestSlots {
  private next = 0;
  /** Per instance, the slots this process holds now. */
  private readonly held = new Map<string, Set<number>>();

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  /** Per instance, released slots waiting for the end of this turn of the event loop to be unlocked. */
  private readonly spare = new Map<string, Spare[]>();

  async acquire(instance: string, limit: number): Promise<() => void> {
    const spare = this.spare.get(instance)?.pop();
    if (spare) {
      clearImmediate(spare.unlock);
      if (!spare.held.error) return this.lease(instance, spare.held, spare.slot, spare.handedOn + 1);
      this.mine(instance).delete(spare.slot);
      spare.held.release();
    }
    const size = Math.max(1, Math.floor(limit));
    const held = await checkout(this.pool, (err) =>
      this.logger.warn({ err, instance }, 'the connection holding a ServiceNow request slot broke: PostgreSQL released the slot'),
    );
    const mine = this.mine(instance);
    // The slots this process holds are known to be taken: the others first, from a rotating start.
    const start = this.next++;
    const order = Array.from({ length: size }, (_, i) => (start + i) % size);
    const candidates = [...order.filter((s) => !mine.has(s)), ...order.filter((s) => mine.has(s))];
    let slot: number | undefined;
    try {
      // Tried in order until one is free, in one round trip: each step of a recursive query runs
      // only when the one before found its slot taken, so at most one slot is locked.
      const { rows } = await held.client.query<{ slot: number }>(
        `WITH RECURSIVE t(i, got) AS (
           SELECT 1, pg_try_advisory_lock($1::int, hashtext($2 || '#' || ($3::int[])[1]))
           UNION ALL
           SELECT i + 1, pg_try_advisory_lock($1::int, hashtext($2 || '#' || ($3::int[])[i + 1])) FROM t WHERE NOT got AND i < cardinality($3::int[])
         )
         SELECT ($3::int[])[i] AS slot FROM t WHERE got`,
        [REQUEST_SLOTS_LOCK_NAMESPACE, instance, candidates],
      );
      slot = rows[0]?.slot;
      if (slot === undefined) {
        slot = candidates[0]!;
        await held.client.query('SELECT pg_advisory_lock($1::int, hashtext($2))', [REQUEST_SLOTS_LOCK_NAMESPACE, `${instance}#${slot}`]);
      }
    } catch (err) {
      // Dropping the connection releases whatever it holds.
      held.release(err as Error);
      throw err;
    }
    mine.add(slot);
    return this.lease(instance, held, slot, 0);
  }

  private mine(instance: string): Set<number> {
    let mine = this.held.get(instance);
    if (!mine) {
      mine = new Set<number>();
      this.held.set(instance, mine);
    }
    return mine;
  }

  /** The release function of a slot held on `held`, which hands it on or unlocks it. */
  private lease(instance: string, held: Checkout, slot: number, handedOn: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (held.error) {
        this.mine(instance).delete(slot);
        return held.release();
      }
      if (handedOn >= MAX_HAND_ONS) return this.unlock(instance, held, slot);
      const spares = this.spare.get(instance) ?? [];
      this.spare.set(instance, spares);
      const spare: Spare = {
        held,
        slot,
        handedOn,
        unlock: setImmediate(() => {
          spares.splice(spares.indexOf(spare), 1);
          this.unlock(instance, held, slot);
        }),
      };
      spares.push(spare);
    };
  }

  private unlock(instance: string, held: Checkout, slot: number): void {
    this.mine(instance).delete(slot);
    held.client.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [REQUEST_SLOTS_LOCK_NAMESPACE, `${instance}#${slot}`]).then(
      () => held.release(),
      (err: Error) => held.release(err),
    );
  }
}
