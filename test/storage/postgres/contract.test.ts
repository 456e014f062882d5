import { silentLogger } from '../../../core/logger.js';
import type { Clock } from '../../../core/clock.js';
import { openPostgresStore, type PostgresStore } from '../../../storage/postgres/store.js';
import { describeStoreContract } from '../contract.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

// One database for this file; every test starts from empty tables.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const open = (clock: Clock): Promise<PostgresStore> => openPostgresStore({ connectionString: db.url, clock, logger: silentLogger, poolSize: 4 });

describeStoreContract(
  'PostgreSQL (a real server)',
  async (clock) => {
    await db.truncate();
    let store = await open(clock);
    return {
      store,
      locks: store.locks,
      reopen: async () => {
        await store.close();
        store = await open(clock);
        return store;
      },
      openPeer: async () => {
        const other = await open(clock);
        return { store: other, locks: other.locks };
      },
      untilSomeoneWaits: () => db.untilSomeoneWaits(),
    };
  },
  { durable: true, conflicts: 'other-waits', shared: true },
);
