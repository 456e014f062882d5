/**
 * The seal the lowdb store puts at the end of every file it writes (storage/streamingJsonFile.ts):
 * a start may skip validating the rows of a file sealed with this build's schema fingerprint over
 * exactly its bytes, and must validate every other file as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openLowdbStore, StoreValidationError } from '../../storage/lowdbStore.js';
import { schemaFingerprint } from '../../storage/schema.js';
import { SEAL_KEY } from '../../storage/streamingJsonFile.js';
import { toAssignment } from '../../storage/storedForm.js';
import { generateAssignments } from '../../bench/reminders.js';

const clock = new ManualClock('2026-11-26T09:00:00Z');
const tmp = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'sealed-')), 'db.json');
const SEAL = new RegExp(`,"${SEAL_KEY}":\\{"schema":"([0-9a-f]{64})","sha256":"([0-9a-f]{64})"\\}\\}$`);

async function storeFile(n = 20): Promise<string> {
  const file = tmp();
  const store = await openLowdbStore({ file, clock, logger: silentLogger });
  await store.assignments.upsertMany(generateAssignments(n, 3));
  await store.close();
  return file;
}

/** A seal over `body` (the file without its seal), as the store writes it. */
const sealed = (body: string, schema = schemaFingerprint()) =>
  `${body},"${SEAL_KEY}":{"schema":"${schema}","sha256":"${createHash('sha256').update(body).digest('hex')}"}}`;
const unsealed = (text: string) => `${text.replace(SEAL, '')}}`;
/** The first due date in a file (stored rows are arrays: the only YYYY-MM-DD value is dueDate). */
const DUE_DATE = /"\d{4}-\d{2}-\d{2}"/;

describe('sealed data file', () => {
  it('ends every write with the schema fingerprint and the SHA-256 of the bytes before it', async () => {
    const text = readFileSync(await storeFile(), 'utf8');
    const m = SEAL.exec(text);
    expect(m?.[1]).toBe(schemaFingerprint());
    expect(m?.[2]).toBe(createHash('sha256').update(text.slice(0, m!.index)).digest('hex'));
  });

  it('opens to the same rows as the same file validated row by row, frozen, without the seal in the data', async () => {
    const file = await storeFile();
    const plain = tmp();
    writeFileSync(plain, unsealed(readFileSync(file, 'utf8')));
    const a = await openLowdbStore({ file, clock, logger: silentLogger, readOnly: true });
    const b = await openLowdbStore({ file: plain, clock, logger: silentLogger, readOnly: true });
    const rows = await a.assignments.list();
    expect(rows).toHaveLength(20);
    expect(rows).toEqual(await b.assignments.list());
    expect(Object.isFrozen(rows[0])).toBe(true);
    expect(Object.isFrozen(rows[0]!.createdBy)).toBe(true);
    expect(await a.assignments.list({ owner: rows[0]!.owner })).toEqual(await b.assignments.list({ owner: rows[0]!.owner }));
  });

  it('a sealed file edited by hand is validated: an invalid row refuses the start and nothing is written', async () => {
    const file = await storeFile();
    const text = readFileSync(file, 'utf8');
    const edited = text.replace(DUE_DATE, '"soon"');
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    const err = await openLowdbStore({ file, clock, logger: silentLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreValidationError);
    expect((err as StoreValidationError).problems.join('\n')).toMatch(/^assignments\.[^.]+\.dueDate: /m);
    expect(readFileSync(file, 'utf8')).toBe(edited);
    // Only a valid file becomes the backup.
    expect(existsSync(`${file}.bak`)).toBe(false);
  });

  it('a seal of another schema is not trusted: its rows are validated (and defaults applied)', async () => {
    const file = await storeFile(1);
    const data = JSON.parse(unsealed(readFileSync(file, 'utf8'))) as { assignments: unknown[][] };
    // A row as an older build wrote it: a full object without the fields that have defaults today.
    const { attempts: _a, healthyPasses: _h, ...row } = toAssignment(data.assignments[0]!);
    const old = JSON.stringify({ ...data, assignments: { [row.id]: row } }).slice(0, -1);
    expect(old).not.toContain('"attempts"');
    writeFileSync(file, sealed(old, '0'.repeat(64)));
    const store = await openLowdbStore({ file, clock, logger: silentLogger, readOnly: true });
    expect(await store.assignments.list()).toEqual([expect.objectContaining({ id: row.id, dueDate: row.dueDate, attempts: 0, healthyPasses: 0 })]);

    writeFileSync(file, sealed(old.replace(/"dueDate":"[^"]*"/, '"dueDate":"soon"'), '0'.repeat(64)));
    await expect(openLowdbStore({ file, clock, logger: silentLogger, readOnly: true })).rejects.toBeInstanceOf(StoreValidationError);
  });

  it('a seal whose hash does not match the bytes is not trusted', async () => {
    const file = await storeFile(1);
    const text = readFileSync(file, 'utf8');
    const m = SEAL.exec(text)!;
    // Same seal (this build's fingerprint, the old hash), body changed to an invalid row.
    writeFileSync(file, text.slice(0, m.index).replace(DUE_DATE, '"soon"') + text.slice(m.index));
    await expect(openLowdbStore({ file, clock, logger: silentLogger })).rejects.toBeInstanceOf(StoreValidationError);
  });
});
