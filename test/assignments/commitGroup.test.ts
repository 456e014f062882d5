/**
 * app/assignmentWriter.ts CommitGroup: steps under their own locks whose writes share one store
 * transaction per round. Each write still resolves only once it is durable (a step can persist,
 * then call out), a refused row fails only its own step, and at most `slots` steps run at once.
 */
import { AssignmentWriter } from '../../app/assignmentWriter.js';
import { ManualClock } from '../../core/clock.js';
import { healthyPassCounted, removed, reopened } from '../../core/lifecycle.js';
import type { Assignment } from '../../core/model.js';
import { InProcessLocks } from '../../storage/locks.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import { assignment } from '../reminders/fixtures.js';

function setup(rows: Assignment[]) {
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  const store = openMemoryStore(undefined, { clock });
  const writer = new AssignmentWriter({ store, locks: new InProcessLocks(), clock });
  return { clock, store, writer, ready: store.assignments.upsertMany(rows) };
}

const open = (n: number) => Array.from({ length: n }, () => assignment({ owner: 'alice@contoso.com', dueDate: '2026-12-31', status: 'open' }));

describe('CommitGroup', () => {
  it('commits the writes of many steps in one transaction per round, each durable before its step goes on', async () => {
    const rows = open(6);
    const { store, writer, ready } = setup(rows);
    await ready;
    const writes0 = store.status().writes;
    const group = writer.commitGroup(2);
    let running = 0;
    let most = 0;
    const seenDurable: boolean[] = [];
    await Promise.all(
      rows.map((r) =>
        writer.withLock(
          r.id,
          async (s) => {
            await s.apply(r.id, (x) => healthyPassCounted(x, 1, new Date()), { actor: 't', action: 'first' });
            // Where a step calls out: the row it wrote is in the store by now, and few steps are out at once.
            running++;
            most = Math.max(most, running);
            seenDurable.push((await store.assignments.get(r.id))!.healthyPasses === 1);
            await new Promise((resolve) => setImmediate(resolve));
            running--;
            await s.apply(r.id, (x) => healthyPassCounted(x, 2, new Date()), { actor: 't', action: 'second' });
          },
          group,
        ),
      ),
    );
    expect(seenDurable).toEqual(rows.map(() => true));
    expect(group.commits).toBe(2);
    expect(store.status().writes - writes0).toBe(2);
    expect(most).toBeLessThanOrEqual(2);
    for (const r of rows) expect((await store.assignments.get(r.id))!.healthyPasses).toBe(2);
    expect((await store.audit.list(100)).filter((e) => e.action === 'second')).toHaveLength(6);
  });

  it('a step waiting for a lock held by a step of its group waiting for the commit does not stall the group', async () => {
    // Two steps of one group on one assignment, one slot: the second must wait for the lock outside
    // the slot, or the first's write is never committed (the group waits for no step running).
    const [a] = open(1) as [Assignment];
    const { store, writer, ready } = setup([a]);
    await ready;
    const group = writer.commitGroup(1);
    const order: string[] = [];
    const stepOf = (name: string, passes: number) =>
      writer.withLock(
        a.id,
        async (s) => {
          await s.apply(a.id, (x) => healthyPassCounted(x, passes, new Date()), { actor: 't', action: name });
          order.push(name);
        },
        group,
      );
    await Promise.all([stepOf('first', 1), stepOf('second', 2)]);
    expect(order).toEqual(['first', 'second']);
    expect((await store.assignments.get(a.id))!.healthyPasses).toBe(2);
  });

  it('a row the store refuses fails only its own step', async () => {
    const [a, b, c] = open(3) as [Assignment, Assignment, Assignment];
    // c is an ended assignment of a's key: reopening it would make two live assignments for one key.
    const { store, writer, ready } = setup([a, b, removed({ ...c, key: a.key }, { closeReason: 'x' }, new Date())]);
    await ready;
    const group = writer.commitGroup(4);
    const results = await Promise.allSettled([
      writer.withLock(a.id, (s) => s.apply(a.id, (x) => healthyPassCounted(x, 1, new Date())), group),
      writer.withLock(b.id, (s) => s.apply(b.id, (x) => healthyPassCounted(x, 1, new Date())), group),
      writer.withLock(c.id, (s) => s.apply(c.id, (x) => reopened({ ...x, status: 'resolved' }, new Date())), group),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((await store.assignments.get(a.id))!.healthyPasses).toBe(1);
    expect((await store.assignments.get(b.id))!.healthyPasses).toBe(1);
    expect((await store.assignments.get(c.id))!.status).toBe('removed');
  });
});
