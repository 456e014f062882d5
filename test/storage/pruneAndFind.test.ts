import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import type { Store } from '../../app/ports.js';

const clock = new ManualClock('2026-11-26T09:00:00Z');
const tmp = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'store-')), 'db.json');
const PERIOD = ['digest:', 'manager:', 'nudge:'];
const CUTOFF = new Date('2026-08-28T09:00:00Z'); // 90 days before the clock

async function seedLog(store: Store) {
  const sent = (key: string, sentAt: string) => store.reminders.markSent({ key, sentAt, recipient: 'someone' });
  await sent('digest:bob@contoso.com:2026-W30', '2026-07-20T09:00:00.000Z');
  await sent('manager:alice@contoso.com:2026-W30', '2026-07-20T09:00:00.000Z');
  await sent('nudge:asg-1:2026-07-23', '2026-07-20T09:00:00.000Z');
  await sent('digest:bob@contoso.com:2026-W35', '2026-08-28T09:00:00.000Z'); // exactly at the cutoff: kept
  await sent('digest:bob@contoso.com:2026-W48', '2026-11-23T09:00:00.000Z');
  // Once per assignment, not per period: kept however old.
  await sent('grace-ended:asg-1', '2026-07-20T09:00:00.000Z');
  await sent('announce:asg-1:resolved:gone', '2026-07-20T09:00:00.000Z');
}

const REMAINING = ['digest:bob@contoso.com:2026-W35', 'digest:bob@contoso.com:2026-W48', 'grace-ended:asg-1', 'announce:asg-1:resolved:gone'];
const PRUNED = ['digest:bob@contoso.com:2026-W30', 'manager:alice@contoso.com:2026-W30', 'nudge:asg-1:2026-07-23'];

describe('reminders.prune', () => {
  it('forgets old period keys only, and a pruned key can be claimed again', async () => {
    const store = openMemoryStore();
    await seedLog(store);
    expect(await store.reminders.prune(CUTOFF, PERIOD)).toBe(3);
    for (const k of PRUNED) expect(await store.reminders.wasSent(k)).toBe(false);
    for (const k of REMAINING) expect(await store.reminders.wasSent(k)).toBe(true);
    expect(await store.reminders.prune(CUTOFF, PERIOD)).toBe(0);
    expect(await store.reminders.prune(new Date('2027-01-01T00:00:00Z'), [])).toBe(0);
    expect(await store.reminders.wasSent('grace-ended:asg-1')).toBe(true);
    expect(await store.reminders.markSent({ key: PRUNED[0]!, sentAt: clock.now().toISOString(), recipient: 'someone' })).toBe(true);
  });

  it('is durable in the lowdb store, and writes nothing when nothing is old', async () => {
    const file = tmp();
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    await seedLog(store);
    expect(await store.reminders.prune(CUTOFF, PERIOD)).toBe(3);
    const writes = store.status().writes;
    expect(await store.reminders.prune(CUTOFF, PERIOD)).toBe(0);
    expect(store.status().writes).toBe(writes);
    await store.close();

    const again = await openLowdbStore({ file, clock, logger: silentLogger });
    for (const k of PRUNED) expect(await again.reminders.wasSent(k)).toBe(false);
    for (const k of REMAINING) expect(await again.reminders.wasSent(k)).toBe(true);
    await again.close();
  });
});

describe('audit.findLast', () => {
  it('finds the newest matching entry for a target however many entries came after it', async () => {
    const store = openMemoryStore();
    const at = clock.now().toISOString();
    await store.audit.append({ at, actor: 'alice', action: 'assignment.dueDate', target: 'asg-1', details: { eta: '2026-12-10' } });
    await store.audit.append({ at, actor: 'carol', action: 'assignment.dueDate', target: 'asg-1', details: { eta: '2026-12-18' } });
    await store.audit.append({ at, actor: 'dave', action: 'assignment.dueDate', target: 'asg-2', details: { eta: '2026-12-18' } });
    // The resolution job writes many entries about other assignments in the meantime.
    for (let i = 0; i < 5000; i++) await store.audit.append({ at, actor: 'resolution', action: 'assignment.healthy-pass', target: `asg-x${i}`, details: {} });
    await store.audit.append({ at, actor: 'resolution', action: 'assignment.healthy-pass', target: 'asg-1', details: {} });

    expect((await store.audit.list(1000)).some((e) => e.target === 'asg-1' && e.action === 'assignment.dueDate')).toBe(false);
    expect(await store.audit.findLast('asg-1')).toMatchObject({ action: 'assignment.healthy-pass' });
    expect(await store.audit.findLast('asg-1', { actions: ['assignment.dueDate'] })).toMatchObject({ actor: 'carol' });
    expect(await store.audit.findLast('asg-1', { details: { eta: '2026-12-10' } })).toMatchObject({ actor: 'alice' });
    expect(await store.audit.findLast('asg-3')).toBeUndefined();
  });
});
