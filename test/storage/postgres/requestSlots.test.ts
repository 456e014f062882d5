import { silentLogger } from '../../../core/logger.js';
import { systemClock } from '../../../core/clock.js';
import { openPostgresStore, type PostgresStore } from '../../../storage/postgres/store.js';
import { MAX_HAND_ONS, REQUEST_SLOTS_LOCK_NAMESPACE } from '../../../storage/postgres/requestSlots.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

/** The shared ServiceNow request budget on a real server: two stores stand for two replicas. */
let db: TestDatabase;
let stores: PostgresStore[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});
afterAll(async () => {
  await db.drop();
});

const open = async (): Promise<PostgresStore> => {
  const s = await openPostgresStore({ connectionString: db.url, clock: systemClock, logger: silentLogger, poolSize: 6 });
  stores.push(s);
  return s;
};

/** Request-slot advisory locks on the server: held (granted) or waited for. */
const slotLocks = async (granted: boolean): Promise<number> =>
  Number(
    (
      await db.sql<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND ${granted ? '' : 'NOT '}granted`, [
        REQUEST_SLOTS_LOCK_NAMESPACE,
      ])
    )[0]!.n,
  );
/** Exactly one process is queued for a slot. */
const oneQueued = async () => (await slotLocks(false)) === 1;
/** Lets the event loop turn until `ok` holds (bounded; the caller asserts it afterwards). */
const until = async (ok: () => Promise<boolean>) => {
  for (let i = 0; i < 500 && !(await ok()); i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('PostgreSQL request slots', () => {
  it('two processes asking for 40 slots of one instance at once hold at most the limit together, and every request gets one', async () => {
    const [a, b] = [await open(), await open()];
    let held = 0;
    let most = 0;
    let served = 0;
    const request = async (slots: PostgresStore['requestSlots']) => {
      const release = await slots.acquire('https://contoso.service-now.com', 3);
      held++;
      most = Math.max(most, held);
      // A request in flight: other callers run meanwhile.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await db.sql('SELECT 1');
      held--;
      served++;
      release();
    };
    await Promise.all(Array.from({ length: 20 }, () => [request(a.requestSlots), request(b.requestSlots)]).flat());
    expect(served).toBe(40);
    expect(most).toBeLessThanOrEqual(3);
    // The limit was reached (the calls overlapped), not just kept by running one at a time.
    expect(most).toBeGreaterThan(1);
    // Another instance has its own slots.
    const full = await Promise.all([0, 1, 2].map(() => a.requestSlots.acquire('https://fabrikam.service-now.com', 3)));
    const other = await b.requestSlots.acquire('https://contoso.service-now.com', 3);
    other();
    full.forEach((release) => release());
  });

  it('a slot released as the next request of the process asks is handed on to it, at most MAX_HAND_ONS times while another process waits for it', async () => {
    const [a, b] = [await open(), await open()];
    const instance = 'https://contoso.service-now.com';
    let release = await a.requestSlots.acquire(instance, 1);
    let bGranted = false;
    const bWaits = b.requestSlots.acquire(instance, 1).then((r) => {
      bGranted = true;
      return r;
    });
    await until(oneQueued);
    expect(await oneQueued()).toBe(true);
    // Released and asked for again in the same turn: the same slot, still locked, goes on.
    let handedOn = 0;
    for (;;) {
      release();
      const next = a.requestSlots.acquire(instance, 1);
      const got = await Promise.race([next.then((r) => ({ r })), bWaits.then(() => undefined)]);
      if (!got) {
        // The slot went back to PostgreSQL: b, queued first, got it; a is queued after it.
        (await bWaits)();
        release = await next;
        break;
      }
      release = got.r;
      handedOn++;
      expect(handedOn).toBeLessThanOrEqual(MAX_HAND_ONS);
      // One slot is held throughout (the limit of 1 holds across both processes), and b still waits for it.
      expect(await slotLocks(true)).toBe(1);
      expect(await oneQueued()).toBe(true);
      expect(bGranted).toBe(false);
    }
    expect(handedOn).toBe(MAX_HAND_ONS);
    release();
    // Released with no request of the process asking: unlocked at the end of the turn.
    const spare = await b.requestSlots.acquire(instance, 1);
    spare();
    await until(async () => (await slotLocks(true)) === 0);
    expect(await slotLocks(true)).toBe(0);
  });

  it("a process that dies gives its slots back: a waiter gets the dead one's slot", async () => {
    const [victim, survivor] = [await open(), await open()];
    const victimRelease = await victim.requestSlots.acquire('https://contoso.service-now.com', 1);
    let granted = false;
    const waiting = survivor.requestSlots.acquire('https://contoso.service-now.com', 1).then((release) => {
      granted = true;
      return release;
    });
    // The survivor is queued behind the victim's slot in PostgreSQL.
    await until(oneQueued);
    expect(await oneQueued()).toBe(true);
    expect(granted).toBe(false);
    // What PostgreSQL sees when the victim's process is SIGKILLed: the connection holding the slot closes.
    await db.sql(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted`, [REQUEST_SLOTS_LOCK_NAMESPACE]);
    (await waiting)();
    expect(granted).toBe(true);
    // Its broken connection goes back to be closed, so the victim's store can end.
    victimRelease();
  });
});
