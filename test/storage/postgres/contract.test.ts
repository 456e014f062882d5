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

const open = (clock: Clock, listCacheMinRows?: number): Promise<PostgresStore> =>
  openPostgresStore({ connectionString: db.url, clock, logger: silentLogger, poolSize: 4, listCacheMinRows });

// Once as configured, once with every list of assignments kept and answered again through the
// list cache (a list answered before reads ids and seals, then the changed rows): both must
// answer as the contract says.
for (const [name, listCacheMinRows] of [
  ['PostgreSQL (a real server)', undefined],
  ['PostgreSQL, every list of assignments through the list cache', 1],
] as const)
  describeStoreContract(
    name,
    async (clock) => {
      await db.truncate();
      let store = await open(clock, listCacheMinRows);
      return {
        store,
        locks: store.locks,
        reopen: async () => {
          await store.close();
          store = await open(clock, listCacheMinRows);
          return store;
        },
        openPeer: async () => {
          const other = await open(clock, listCacheMinRows);
          return { store: other, locks: other.locks };
        },
        untilSomeoneWaits: () => db.untilSomeoneWaits(),
      };
    },
    { durable: true, conflicts: 'other-waits', shared: true },
  );
