import { silentLogger } from '../../../core/logger.js';
import type { Clock } from '../../../core/clock.js';
import { openPostgresStore, type PostgresStore } from '../../../storage/postgres/store.js';
import { describeCoordinationContract } from '../coordinationContract.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const open = (clock: Clock): Promise<PostgresStore> => openPostgresStore({ connectionString: db.url, clock, logger: silentLogger, poolSize: 4 });

describeCoordinationContract(
  'PostgreSQL (a real server)',
  async (clock) => {
    await db.truncate();
    const stores = [await open(clock)];
    const [store] = stores;
    return {
      jobRuns: store!.jobRuns,
      sendPacing: store!.sendPacing,
      // Another replica: a store of its own, with its own pools, on the same database.
      openPeer: async () => {
        const peer = await open(clock);
        stores.push(peer);
        return { jobRuns: peer.jobRuns, sendPacing: peer.sendPacing };
      },
      close: async () => {
        await Promise.all(stores.map((s) => s.close()));
      },
    };
  },
  { shared: true },
);
