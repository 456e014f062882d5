import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import { InProcessLocks } from '../../storage/locks.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import { emptyDatabase } from '../../storage/schema.js';
import { describeStoreContract } from './contract.js';

describeStoreContract(
  'lowdb (a real file in a temp folder)',
  async (clock) => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'contract-')), 'db.json');
    let store = await openLowdbStore({ file, clock, logger: silentLogger });
    return {
      store,
      locks: new InProcessLocks(),
      reopen: async () => {
        await store.close();
        store = await openLowdbStore({ file, clock, logger: silentLogger });
        return store;
      },
    };
  },
  { durable: true },
);

describeStoreContract('memory', async (clock) => ({ store: openMemoryStore(emptyDatabase(), { clock }), locks: new InProcessLocks() }), { durable: false });
