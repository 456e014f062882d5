import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore, ReadOnlyStoreError } from '../../storage/lowdbStore.js';
import { type Conversation } from '../../core/model.js';
import { emptyDatabase, type Database } from '../../storage/schema.js';
import { StreamingJsonFile } from '../../storage/streamingJsonFile.js';

const clock = new ManualClock('2026-11-26T09:00:00Z');
const tmpDir = () => mkdtempSync(path.join(os.tmpdir(), 'atomic-'));

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

/** A valid data file with `n` conversations (large enough that a copy takes several writes). */
function database(n: number, tag: string): Database {
  const db = emptyDatabase();
  for (let i = 0; i < n; i++) db.conversations[`${tag}-${i}`] = conversation(`${tag}-${i}`);
  return db;
}

describe('store writes never share a temp file', () => {
  it('two writers on one file (what the lock prevents) each complete, and the file is always one whole version', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'db.json');
    const a = new StreamingJsonFile<Database>(file);
    const b = new StreamingJsonFile<Database>(file);
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => [a.write(database(300, `a${i}`)), b.write(database(300, `b${i}`))]).flat());
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const text = readFileSync(file, 'utf8');
    const parsed = JSON.parse(text) as Database;
    const tags = new Set(Object.keys(parsed.conversations).map((k) => k.split('-')[0]));
    expect(tags.size).toBe(1);
    expect(Object.keys(parsed.conversations)).toHaveLength(300);
    expect(readdirSync(dir).sort()).toEqual(['db.json']);
  });
});

describe('db.json.bak', () => {
  it('is replaced in one step: a copy that dies half-way leaves the previous backup whole', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'db.json');
    // First start: the backup is a copy of the old file.
    writeFileSync(file, JSON.stringify(database(200, 'old')));
    await (await openLowdbStore({ file, clock, logger: silentLogger })).close();
    const oldBackup = readFileSync(`${file}.bak`, 'utf8');
    expect(JSON.parse(oldBackup).conversations['old-0']).toBeDefined();

    // Second start with a newer file, and the process "dies" half-way through copying it.
    writeFileSync(file, JSON.stringify(database(200, 'new')));
    const killedMidCopy = async (from: string, to: string) => {
      const bytes = readFileSync(from);
      const handle = await open(to, 'w');
      await handle.write(bytes.subarray(0, bytes.length >> 1));
      await handle.close();
      throw Object.assign(new Error('killed mid-copy'), { code: 'EKILLED' });
    };
    await expect(openLowdbStore({ file, clock, logger: silentLogger, copyFile: killedMidCopy })).rejects.toThrow('killed mid-copy');
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(oldBackup);
    expect(readdirSync(dir).sort()).toEqual(['db.json', 'db.json.bak']);

    // The next start makes the new backup.
    await (await openLowdbStore({ file, clock, logger: silentLogger })).close();
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(readFileSync(file, 'utf8'));
  });

  it('temp files a killed writer left behind are removed by the next writer', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'db.json');
    writeFileSync(file, JSON.stringify(database(3, 'x')));
    writeFileSync(path.join(dir, '.db.json.0123456789ab.tmp'), '{"half');
    writeFileSync(path.join(dir, '.db.json.bak.ba9876543210.tmp'), '{"half');
    writeFileSync(path.join(dir, 'notes.txt'), 'kept');
    const store = await openLowdbStore({ file, clock, logger: silentLogger });
    await store.conversations.upsert(conversation('y'));
    await store.close();
    expect(readdirSync(dir).sort()).toEqual(['db.json', 'db.json.bak', 'notes.txt']);
  });
});

describe('read-only store (readers without the lock)', () => {
  it('reads, refuses every write, and changes nothing in the folder', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'db.json');
    const text = JSON.stringify(database(3, 'r'));
    writeFileSync(file, text);
    writeFileSync(path.join(dir, '.db.json.0123456789ab.tmp'), 'another writer’s temp file');
    const store = await openLowdbStore({ file, clock, logger: silentLogger, readOnly: true });
    expect(await store.conversations.list()).toHaveLength(3);
    await expect(store.conversations.upsert(conversation('w'))).rejects.toBeInstanceOf(ReadOnlyStoreError);
    await store.close();
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(readdirSync(dir).sort()).toEqual(['.db.json.0123456789ab.tmp', 'db.json']);
  });
});
