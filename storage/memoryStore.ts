import { systemClock, type Clock } from '../core/clock.js';
import type { Store } from '../app/ports.js';
import { createEngine } from './engine.js';
import { databaseSchema, emptyDatabase, type Database } from './schema.js';

export interface MemoryStoreOptions {
  /** Time for the work queue's leases and run times (default: the system clock). */
  clock?: Clock;
}

/**
 * A store that lives only in memory, with the same engine (indexes, constraints, transactions) as
 * the lowdb store: for tests and benches of code that needs a store. `initial` is validated and
 * copied, like a data file on open.
 */
export function openMemoryStore(initial: Database = emptyDatabase(), options: MemoryStoreOptions = {}): Store {
  const db = databaseSchema.parse(structuredClone(initial));
  let writes = 0;
  const engine = createEngine(db, {
    clock: options.clock ?? systemClock,
    persist: async () => {
      writes++;
    },
  });
  return {
    ...engine.repositories,
    transaction: engine.transaction,
    status: () => ({ kind: 'memory', ok: true, writes }),
    flush: async () => undefined,
    close: async () => undefined,
  };
}
