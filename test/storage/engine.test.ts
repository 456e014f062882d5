/**
 * What the embedded engine (storage/engine.ts) promises beyond the Store contract: indexes that
 * stay exact, legacy files that break a constraint still open, the audit cap, frozen rows, the
 * read-only mode that changes nothing, and the migrations (1 → 2 → 3 → 4).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { conversationSchema, type Conversation, type Recommendation } from '../../core/model.js';
import { StoreConstraintError } from '../../app/ports.js';
import { AUDIT_LIMIT, Table } from '../../storage/engine.js';
import { openLowdbStore, ReadOnlyStoreError } from '../../storage/lowdbStore.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import { migrate } from '../../storage/migrations.js';
import { emptyDatabase, SCHEMA_VERSION } from '../../storage/schema.js';
import { aConversation, anAssignment } from './contract.js';

const clock = new ManualClock('2026-11-26T09:00:00Z');
const tmp = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'engine-')), 'db.json');

function capture(): { logger: Logger; lines: Array<{ obj: unknown; msg?: string }> } {
  const lines: Array<{ obj: unknown; msg?: string }> = [];
  const log = (obj: unknown, msg?: string) => void lines.push({ obj, msg });
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return { logger, lines };
}

describe('engine tables', () => {
  it('keep every index exact through inserts, updates and deletes (no stale ids)', () => {
    const rows: Record<string, Conversation> = {};
    const t = new Table('conversations', conversationSchema, rows, { upn: (c) => c.userUpn });
    t.put('a', Object.freeze(aConversation('a', { userUpn: 'x' })));
    t.put('b', Object.freeze(aConversation('b', { userUpn: 'x' })));
    t.put('a', Object.freeze(aConversation('a', { userUpn: 'y' })));
    expect([...t.lookup('upn', 'x')]).toEqual(['b']);
    expect([...t.lookup('upn', 'y')]).toEqual(['a']);
    t.put('b', Object.freeze(aConversation('b')));
    expect([...t.lookup('upn', 'x')]).toEqual([]);
    expect(t.delete('a')).toBe(true);
    expect(t.delete('a')).toBe(false);
    expect([...t.lookup('upn', 'y')]).toEqual([]);
    expect([...t.ids()]).toEqual(['b']);
    expect(Object.keys(rows)).toEqual(['b']);
    expect(() => t.lookup('nope', 'x')).toThrow(/no index nope/);
  });
});

describe('embedded stores', () => {
  it('hand out frozen rows: an in-place change throws instead of silently changing (or not changing) the store', async () => {
    const store = openMemoryStore();
    const a = anAssignment({ ticket: { table: 'incident', sysId: 's', number: 'INC1', link: 'l' } });
    await store.assignments.upsertMany([a]);
    const read = (await store.assignments.get(a.id))!;
    expect(() => {
      (read as { status: string }).status = 'resolved';
    }).toThrow(TypeError);
    expect(() => {
      read.ticket!.number = 'INC2';
    }).toThrow(TypeError);
    // The caller's own object stays theirs.
    a.owner = 'changed@contoso.com';
    expect((await store.assignments.get(a.id))!.owner).toBe('alice@contoso.com');
  });

  it("keep a recommendation as the caller's own object, frozen, when it is exactly what the schema gives (no second copy of its resources)", async () => {
    const resource = { resourceId: '/subscriptions/s/vm', assessmentId: '/subscriptions/s/vm/a/k', name: 'vm', type: 'vm', subscriptionId: 's' };
    const rec: Recommendation = {
      key: 'k',
      displayName: 'R',
      severity: 'High',
      description: '',
      remediation: '',
      resources: [resource],
      contentHash: 'h',
      status: 'unhealthy',
      firstSeenAt: '2026-11-26T09:00:00.000Z',
      updatedAt: '2026-11-26T09:00:00.000Z',
    };
    for (const store of [openMemoryStore(), await openLowdbStore({ file: tmp(), clock, logger: silentLogger })]) {
      const mine = structuredClone(rec);
      await store.recommendations.upsertMany([mine]);
      const read = (await store.recommendations.get('k'))!;
      expect(read).toBe(mine);
      expect(Object.isFrozen(mine) && Object.isFrozen(mine.resources) && Object.isFrozen(mine.resources[0])).toBe(true);
      expect(() => {
        (mine.resources[0] as { name: string }).name = 'other';
      }).toThrow(TypeError);
      // A row with a key the schema drops is stored as the schema's copy; the caller's object stays theirs.
      const extra = { ...structuredClone(rec), key: 'x', note: 'not stored' } as Recommendation;
      await store.recommendations.upsertMany([extra]);
      const stored = (await store.recommendations.get('x'))!;
      expect(stored).not.toBe(extra);
      expect(stored).toEqual({ ...rec, key: 'x' });
      expect(Object.isFrozen(stored) && !Object.isFrozen(extra)).toBe(true);
      await store.close();
    }
  });

  it('open a file that already has two live assignments for one key, say so in the log, and refuse a third', async () => {
    const file = tmp();
    const db = emptyDatabase();
    const [x, y] = [anAssignment({ key: 'dup' }), anAssignment({ key: 'dup', status: 'pending' })];
    db.assignments[x.id] = x;
    db.assignments[y.id] = y;
    writeFileSync(file, JSON.stringify(db));
    const { logger, lines } = capture();
    const store = await openLowdbStore({ file, clock, logger });
    expect(lines.some((l) => JSON.stringify(l.obj).includes('more than one live assignment'))).toBe(true);
    expect((await store.assignments.findLiveByKey('dup'))?.id).toBe(x.id);
    await store.assignments.upsertMany([{ ...y, owner: 'bob@contoso.com' }]);
    await expect(store.assignments.upsertMany([anAssignment({ key: 'dup' })])).rejects.toBeInstanceOf(StoreConstraintError);
    await store.assignments.upsertMany([{ ...x, status: 'resolved' }]);
    expect((await store.assignments.findLiveByKey('dup'))?.id).toBe(y.id);
    await store.close();
  });

  it(`keep finding the newest entry for a target after the audit trail passed its cap of ${AUDIT_LIMIT}`, async () => {
    const store = openMemoryStore();
    const at = clock.now().toISOString();
    await store.audit.append({ at, actor: 'old', action: 'assignment.dueDate', target: 'asg-old', details: {} });
    await store.audit.append({ at, actor: 'kept', action: 'assignment.dueDate', target: 'asg-1', details: {} });
    await store.transaction(async (tx) => {
      for (let i = 0; i < AUDIT_LIMIT - 2; i++) await tx.audit.append({ at, actor: 'job', action: 'pass', target: `t${i % 10}`, details: {} });
    });
    expect((await store.audit.findLast('asg-old'))?.actor).toBe('old');
    // One more: the oldest entry is dropped, and so is its place in the index.
    await store.audit.append({ at, actor: 'job', action: 'pass', target: 't0', details: {} });
    expect(await store.audit.findLast('asg-old')).toBeUndefined();
    expect(await store.audit.findLast('asg-old', { actions: ['assignment.dueDate'] })).toBeUndefined();
    expect((await store.audit.findLast('asg-1'))?.actor).toBe('kept');
    expect((await store.audit.findLast('t3'))?.action).toBe('pass');
    expect(await store.audit.list(AUDIT_LIMIT + 10)).toHaveLength(AUDIT_LIMIT);
  });

  it('read-only: a refused write leaves the state in memory as it was', async () => {
    const file = tmp();
    const writer = await openLowdbStore({ file, clock, logger: silentLogger });
    await writer.conversations.upsert(aConversation('c1'));
    await writer.close();
    const reader = await openLowdbStore({ file, clock, logger: silentLogger, readOnly: true });
    await expect(reader.conversations.upsert(aConversation('c2'))).rejects.toBeInstanceOf(ReadOnlyStoreError);
    await expect(reader.transaction(async (tx) => tx.conversations.upsert(aConversation('c3')))).rejects.toBeInstanceOf(ReadOnlyStoreError);
    await expect(reader.audit.append({ at: clock.now().toISOString(), actor: 'x', action: 'y', details: {} })).rejects.toBeInstanceOf(ReadOnlyStoreError);
    expect((await reader.conversations.list()).map((c) => c.id)).toEqual(['c1']);
    expect(await reader.audit.list()).toEqual([]);
  });

  it('migrate a version 1 file (no work queue) to the current version, keeping the version 1 file as the backup', async () => {
    const file = tmp();
    const { work: _work, rules: _rules, ...v1 } = { ...emptyDatabase(), version: 1 };
    v1.conversations = { c1: aConversation('c1') };
    writeFileSync(file, JSON.stringify(v1));
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    expect(SCHEMA_VERSION).toBe(4);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 4, work: {}, rules: {}, conversations: { c1: { id: 'c1' } } });
    expect(JSON.parse(readFileSync(`${file}.bak`, 'utf8'))).toMatchObject({ version: 1 });
    await store.work.enqueue([{ kind: 'ticket', key: 'k', payload: {} }]);
    expect(await store.work.list()).toHaveLength(1);
    await store.close();
  });

  it('migrate a version 2 file (no rules) to the current version: everything kept, an empty rules table, the version 2 file as the backup', async () => {
    const file = tmp();
    const { rules: _rules, ...v2 } = { ...emptyDatabase(), version: 2 };
    v2.conversations = { c1: aConversation('c1') };
    v2.meta = { watermark: 'w' };
    writeFileSync(file, JSON.stringify(v2));
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 4, rules: {}, meta: { watermark: 'w' }, conversations: { c1: { id: 'c1' } } });
    expect(JSON.parse(readFileSync(`${file}.bak`, 'utf8'))).toMatchObject({ version: 2 });
    expect(await store.rules.list()).toEqual([]);
    expect((await store.conversations.get('c1'))?.id).toBe('c1');
    await store.close();
  });

  it('migrate a version 3 file to version 4 (assignments in their stored form): same rows, the version 3 file kept byte for byte as the backup, refused by a version 3 build', async () => {
    const file = tmp();
    const rows = [
      anAssignment({ id: 'a1', key: 'k1' }),
      anAssignment({ id: 'constructor', key: 'k2', status: 'resolved', attempts: 2, customFields: { impact: '1' }, lastError: 'boom' }),
    ];
    const v3 = { ...emptyDatabase(), version: 3, assignments: Object.fromEntries(rows.map((a) => [a.id, a])) };
    const text = JSON.stringify(v3);
    writeFileSync(file, text);
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    const written = JSON.parse(readFileSync(file, 'utf8'));
    expect(written.version).toBe(4);
    expect(written.assignments.map((a: unknown[]) => a[0])).toEqual(['a1', 'constructor']);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(text);
    expect(await store.assignments.list()).toEqual(rows);
    await store.close();
    // Opened again (now sealed, rows completed on first read): the same rows.
    const again = await openLowdbStore({ file, clock, logger: silentLogger, readOnly: true });
    expect(await again.assignments.get('constructor')).toEqual(rows[1]);
    expect(await again.assignments.list()).toEqual(rows);
    expect(() => migrate(written, 3)).toThrow('the file is schema version 4, newer than this build understands (3)');
  });
});
