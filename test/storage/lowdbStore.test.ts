import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore, StoreValidationError } from '../../storage/lowdbStore.js';
import { migrate } from '../../storage/migrations.js';
import { type Conversation } from '../../core/model.js';
import { emptyDatabase } from '../../storage/schema.js';

const clock = new ManualClock('2026-11-26T09:00:00Z');
const tmp = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'store-')), 'db.json');

function conversation(id: string): Conversation {
  return {
    id,
    channelId: 'msteams',
    serviceUrl: 'https://smba.example/',
    kind: 'channel',
    reference: { conversation: { id } },
    subscribed: true,
    filters: { severities: [], scopes: [] },
    createdAt: clock.now().toISOString(),
    updatedAt: clock.now().toISOString(),
  };
}

describe('lowdb store', () => {
  it('starts empty, persists, and reads back after reopening', async () => {
    const file = tmp();
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    await store.conversations.upsert(conversation('c1'));
    await store.close();
    const again = await openLowdbStore({ file, clock, logger: silentLogger });
    expect(await again.conversations.get('c1')).toMatchObject({ id: 'c1', subscribed: true });
  });

  it('coalesces many updates in one tick into one write', async () => {
    const store = await openLowdbStore({ file: tmp(), clock, logger: silentLogger });
    const before = store.status().writes;
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.conversations.upsert(conversation(`c${i}`))));
    expect(store.status().writes - before).toBe(1);
    expect(await store.conversations.list()).toHaveLength(100);
  });

  it('folds changes made while a write is on its way to disk into one follow-up write', async () => {
    const file = tmp();
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    // A large store keeps the first write in flight for many ticks.
    await Promise.all(
      Array.from({ length: 20_000 }, (_, i) =>
        store.audit.append({ at: clock.now().toISOString(), actor: 'a', action: `bulk-${i}`, details: { i, pad: 'x'.repeat(100) } }),
      ),
    );
    const before = store.status().writes;
    const pending = [store.conversations.upsert(conversation('first'))];
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      pending.push(store.conversations.upsert(conversation(`later-${i}`)));
    }
    await Promise.all(pending);
    expect(store.status().writes - before).toBeLessThanOrEqual(3);
    await store.close();
    const again = await openLowdbStore({ file, clock, logger: silentLogger });
    expect(await again.conversations.list()).toHaveLength(11);
  });

  it('writes atomically: the file on disk is always complete JSON, with no temp file left', async () => {
    const file = tmp();
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    for (let i = 0; i < 20; i++) {
      void store.audit.append({ at: clock.now().toISOString(), actor: 'test', action: `a${i}`, details: {} });
      await store.flush();
      expect(() => JSON.parse(readFileSync(file, 'utf8'))).not.toThrow();
    }
    expect(existsSync(path.join(path.dirname(file), '.db.json.tmp'))).toBe(false);
  });

  it('refuses to open a file that fails validation, names the problem, and does not touch it', async () => {
    const file = tmp();
    const broken = { ...emptyDatabase(), conversations: { c1: { id: 'c1', subscribed: 'yes' } } };
    writeFileSync(file, JSON.stringify(broken));
    const err = await openLowdbStore({ file, clock, logger: silentLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreValidationError);
    expect((err as Error).message).toMatch(/conversations\.c1\.subscribed/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(broken);
  });

  it('refuses a file that is not JSON', async () => {
    const file = tmp();
    writeFileSync(file, '{"version": 1, "conver');
    await expect(openLowdbStore({ file, clock, logger: silentLogger })).rejects.toThrow(/not valid JSON/);
  });

  it('keeps a backup of the last good file', async () => {
    const file = tmp();
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    await store.conversations.upsert(conversation('c1'));
    await store.close();
    await openLowdbStore({ file, clock, logger: silentLogger });
    expect(JSON.parse(readFileSync(`${file}.bak`, 'utf8')).conversations.c1.id).toBe('c1');
  });

  it('refuses a file from a newer schema version', async () => {
    const file = tmp();
    writeFileSync(file, JSON.stringify({ ...emptyDatabase(), version: 99 }));
    await expect(openLowdbStore({ file, clock, logger: silentLogger })).rejects.toThrow(/schema version 99, newer than this build/);
  });

  it('runs migrations step by step', () => {
    const steps = { 1: (d: Record<string, unknown>) => ({ ...d, renamed: d.old }), 2: (d: Record<string, unknown>) => ({ ...d, extra: true }) };
    const { data, from } = migrate({ version: 1, old: 'x' }, 3, steps);
    expect(from).toBe(1);
    expect(data).toEqual({ version: 3, old: 'x', renamed: 'x', extra: true });
    expect(() => migrate({ version: 1 }, 3, { 1: (d) => d })).toThrow(/no migration from schema version 2/);
  });

  it('records a reminder exactly once', async () => {
    const store = await openLowdbStore({ file: tmp(), clock, logger: silentLogger });
    const entry = { key: 'digest:alice:2026-W48', sentAt: clock.now().toISOString(), recipient: 'alice' };
    const results = await Promise.all([store.reminders.markSent(entry), store.reminders.markSent(entry)]);
    expect(results.sort()).toEqual([false, true]);
  });
});
