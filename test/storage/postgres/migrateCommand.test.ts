/**
 * `npm run cli -- store migrate --to postgres` end to end: a lowdb data folder written by the
 * lowdb store → runCli → a real PostgreSQL database, read back through the Store port.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../cli/index.js';
import { ManualClock, MINUTE_MS } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import type { Integration, Recommendation } from '../../../core/model.js';
import type { Store } from '../../../app/ports.js';
import { lockDataDir } from '../../../storage/dataDirLock.js';
import { openLowdbStore } from '../../../storage/lowdbStore.js';
import { openPostgresStore } from '../../../storage/postgres/store.js';
import { emptyDatabase } from '../../../storage/schema.js';
import { SecretBox } from '../../../storage/secrets.js';
import { aConversation, anAssignment, aRule } from '../contract.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

const T0 = '2026-11-26T09:00:00.000Z';
const box = new SecretBox(Buffer.alloc(32, 9));

let db: TestDatabase;
let dataDir: string;
beforeEach(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'store-migrate-'));
});
afterEach(async () => {
  await db.drop();
});

async function cli(argv: string[], env: Record<string, string | undefined> = { DATA_DIR: dataDir, DATABASE_URL: db.url }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

function anIntegration(id: string, name: string, over: Partial<Integration> = {}): Integration {
  return {
    id,
    name,
    scope: '/subscriptions/sub-1',
    instanceUrl: 'https://contoso.service-now.com',
    username: 'svc-bot',
    password: box.encrypt(`password of ${id}`),
    clientId: 'client',
    clientSecret: box.encrypt(`client secret of ${id}`),
    fieldMode: 'customized',
    customFields: { incident: ['assignment_group', 'impact'] },
    tokens: box.encrypt(JSON.stringify({ refresh: `refresh of ${id}` })),
    createdAt: T0,
    createdBy: 'admin',
    ...over,
  };
}

function aRecommendation(key: string): Recommendation {
  return {
    key,
    displayName: `Recommendation ${key}`,
    severity: 'Medium',
    description: 'd',
    remediation: 'r',
    resources: [
      {
        resourceId: `/subscriptions/sub-1/vm-${key}`,
        assessmentId: `/subscriptions/sub-1/vm-${key}/assessments/${key}`,
        name: 'vm',
        type: 'vm',
        subscriptionId: 'sub-1',
      },
    ],
    contentHash: `hash-${key}`,
    status: 'unhealthy',
    firstSeenAt: T0,
    updatedAt: T0,
  };
}

/** A data folder with every kind of row, written by the lowdb store itself (one transaction: one write). */
async function writeSource(clock: ManualClock, assignments = 2_345): Promise<void> {
  const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock, logger: silentLogger });
  await store.transaction(async (tx) => {
    await tx.conversations.upsert(aConversation('team-1', { name: 'Security', tenantId: 't' }));
    await tx.conversations.upsert(aConversation('chat-bob', { kind: 'personal', subscribed: false, userUpn: 'Bob@Contoso.com', userAadObjectId: 'aad-bob' }));
    await tx.conversations.upsert(aConversation('gone', { kind: 'groupChat', unreachable: { since: T0, status: 403, code: 'BotNotInConversationRoster' } }));
    await tx.integrations.upsert(anIntegration('int-1', 'Contoso ITSM', { lastSuccessAt: T0 }));
    await tx.integrations.upsert(anIntegration('int-old', 'Contoso ITSM', { removedAt: T0 }));
    await tx.recommendations.upsertMany([aRecommendation('rec-a'), aRecommendation('rec-b')]);
    await tx.recommendations.upsertCard({
      conversationId: 'team-1',
      recommendationKey: 'rec-a',
      activityId: 'act-1',
      contentHash: 'h',
      postedAt: T0,
      updatedAt: T0,
    });
    await tx.recommendations.upsertCard({
      conversationId: 'team-1',
      recommendationKey: 'rec-b',
      activityId: 'act-2',
      contentHash: 'h',
      postedAt: T0,
      updatedAt: T0,
    });
    // Enough assignments for several batches of the copy, with live and ended ones sharing keys.
    const live = Math.min(assignments, 2_000);
    const many = Array.from({ length: assignments }, (_, i) =>
      anAssignment({
        key: `rec-a|${i % live}`,
        status: i < live ? (i % 3 === 0 ? 'pending' : 'open') : 'resolved',
        owner: `owner${i % 7}@contoso.com`,
        ticket: i % 2 === 0 ? { table: 'incident', sysId: `sys${i}`, number: `INC${i}`, link: 'l' } : undefined,
      }),
    );
    await tx.assignments.upsertMany(many);
    await tx.reminders.markSent({ key: 'digest:bob:2026-W48', sentAt: T0, recipient: 'bob@contoso.com' });
    await tx.reminders.markSent({ key: 'announce:asg-1', sentAt: T0, recipient: 'team-1' });
    for (let i = 0; i < 30; i++)
      await tx.audit.append({ at: T0, actor: 'alice', action: `action-${i}`, target: `asg-${i % 4}`, details: { n: i, nested: { ok: true } } });
    await tx.meta.set('lastSyncAt', T0);
    await tx.meta.set('watermark', '2026-11-26T08:00:00.000Z');
    await tx.rules.upsert(aRule('rule-1', { name: 'Critical to owners', enabled: true }));
    await tx.rules.upsert(aRule('rule-2', { name: 'Key vaults', paused: { since: T0, waiting: 40 } }));
    await tx.work.enqueue([
      { kind: 'ticket', key: 'batch-1', payload: { ids: ['a', 'b'] } },
      { kind: 'ticket', key: 'batch-2', payload: { ids: ['c'] }, runAt: new Date(Date.parse(T0) + MINUTE_MS) },
    ]);
  });
  await store.work.claim('ticket', 'worker-that-died', 1, MINUTE_MS);
  await store.close();
}

/** Everything the port can read, for comparing two stores. */
async function everything(store: Store) {
  const audit = await store.audit.list(1_000);
  return {
    conversations: await store.conversations.list(),
    integrations: await store.integrations.listAll(),
    recommendations: await store.recommendations.list(),
    cards: await store.recommendations.listCards(),
    assignments: await store.assignments.list(),
    live: [...(await store.assignments.findLiveByKeys(['rec-a|0', 'rec-a|1999', 'rec-a|5']))],
    reminders: [...(await store.reminders.sentAmong(['digest:bob:2026-W48', 'announce:asg-1', 'digest:alice:2026-W48']))].sort(),
    audit,
    lastAudit: await store.audit.findLast('asg-1'),
    meta: [await store.meta.get('lastSyncAt'), await store.meta.get('watermark')],
    work: await store.work.list(),
    rules: await store.rules.list(),
    ruleByName: await store.rules.findByName('KEY VAULTS'),
  };
}

describe('npm run cli -- store migrate --to postgres', () => {
  it('copies every table of the data folder into the empty database; read back through the port it equals the source; the file is unchanged', async () => {
    const clock = new ManualClock(T0);
    await writeSource(clock);
    const file = path.join(dataDir, 'db.json');
    const hash = () => createHash('sha256').update(readFileSync(file)).digest('hex');
    const before = hash();

    const { code, out, err } = await cli(['store', 'migrate', '--to', 'postgres']);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const target = `postgres://${new URL(db.url).username}@${new URL(db.url).host}/${db.name}`;
    expect(out).toEqual([
      `Copied ${file} into ${target}: 3 conversations, 2 integrations, 2 recommendations, 2 posted cards, 2345 assignments, 2 sent reminders, 30 audit entries, 2 meta values, 2 work items, 2 rules.`,
      'Counts verified in PostgreSQL; db.json was not changed.',
      'Run the bot with DATABASE_URL set and the same SECRET_KEY (secrets were copied still encrypted).',
    ]);
    expect(out.join('\n')).not.toContain(new URL(db.url).password || 'no password');
    expect(hash()).toBe(before);

    const source = await openLowdbStore({ file, clock, logger: silentLogger, readOnly: true });
    const copy = await openPostgresStore({ connectionString: db.url, clock, logger: silentLogger });
    try {
      const expected = await everything(source);
      expect(expected.assignments).toHaveLength(2_345);
      expect(await everything(copy)).toEqual(expected);
      // Secrets are the same ciphertext and open with the same key.
      const integration = (await copy.integrations.get('int-1'))!;
      expect(box.decrypt(integration.password)).toBe('password of int-1');
      expect(JSON.stringify(await db.sql('SELECT doc FROM integrations'))).not.toContain('password of');
      // Lookups and constraints work on the copy.
      expect(await copy.assignments.count({ owner: 'OWNER3@contoso.com', statuses: ['open', 'pending'] })).toBe(
        expected.assignments.filter((a) => a.owner === 'owner3@contoso.com' && a.status !== 'resolved').length,
      );
      expect((await copy.conversations.list({ userUpn: 'bob@contoso.com' })).map((c) => c.id)).toEqual(['chat-bob']);
      await expect(copy.assignments.upsertMany([anAssignment({ key: 'rec-a|7' })])).rejects.toMatchObject({ name: 'StoreConstraintError' });
      expect(await copy.reminders.markSent({ key: 'announce:asg-1', sentAt: T0, recipient: 'x' })).toBe(false);
      // The item the dead worker held is taken over when its lease ends.
      clock.advance(MINUTE_MS);
      expect((await copy.work.claim('ticket', 'new-worker', 5, MINUTE_MS)).map((w) => w.key)).toEqual(['batch-1', 'batch-2']);
    } finally {
      await Promise.all([source.close(), copy.close()]);
    }
  });

  it('refuses a database that is not empty, in one line, exit 1, and changes nothing there', async () => {
    await writeSource(new ManualClock(T0), 10);
    const other = await openPostgresStore({ connectionString: db.url, clock: new ManualClock(T0), logger: silentLogger });
    await other.meta.set('already', 'here');
    await other.assignments.upsertMany([anAssignment()]);
    await other.close();
    const { code, out, err } = await cli(['store', 'migrate', '--to', 'postgres']);
    expect([code, out]).toEqual([1, []]);
    expect(err).toEqual(['Refused: the target database is not empty (1 assignments, 1 meta values); the copy goes only into an empty database.']);
    expect(await db.sql('SELECT count(*)::int AS n FROM assignments')).toEqual([{ n: 1 }]);
    expect(await db.sql('SELECT count(*)::int AS n FROM conversations')).toEqual([{ n: 0 }]);
  });

  it('rows that do not arrive (here a trigger drops audit entries) fail the count check: exit 1, and nothing of the copy is kept', async () => {
    await writeSource(new ManualClock(T0), 10);
    await (await openPostgresStore({ connectionString: db.url, clock: new ManualClock(T0), logger: silentLogger })).close();
    await db.sql(`CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
    await db.sql(`CREATE TRIGGER lose_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION drop_row()`);
    const { code, out, err } = await cli(['store', 'migrate', '--to', 'postgres']);
    expect([code, out]).toEqual([1, []]);
    expect(err).toEqual(['Error: counts differ after copying, nothing was kept: audit entries 0 instead of 30']);
    expect(await db.sql('SELECT count(*)::int AS n FROM assignments')).toEqual([{ n: 0 }]);
  });

  it('refuses a file PostgreSQL would not take (two live assignments of one key, from before the store refused them), naming the key; nothing is copied', async () => {
    const data = emptyDatabase();
    const a = anAssignment({ key: 'k-dup' });
    const b = anAssignment({ key: 'k-dup', status: 'pending' });
    data.assignments = { [a.id]: a, [b.id]: b };
    writeFileSync(path.join(dataDir, 'db.json'), JSON.stringify(data));
    const { code, err } = await cli(['store', 'migrate', '--to', 'postgres']);
    expect(code).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^Refused: the data file cannot go into PostgreSQL as it is: 1 key\(s\) have more than one live assignment \(e\.g\. k-dup: /);
    expect(await db.sql(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'assignments'`)).toEqual([{ n: 0 }]);

    // Two rules whose names differ only in case (a file edited by hand): PostgreSQL's unique name would refuse them.
    const twice = emptyDatabase();
    twice.rules = { r1: aRule('r1', { name: 'Critical' }), r2: aRule('r2', { name: 'CRITICAL' }) };
    writeFileSync(path.join(dataDir, 'db.json'), JSON.stringify(twice));
    const named = await cli(['store', 'migrate', '--to', 'postgres']);
    expect([named.code, named.err]).toEqual([
      1,
      ['Refused: the data file cannot go into PostgreSQL as it is: more than one rule is named "critical"; rename all but one.'],
    ]);
  });

  it('refuses while the bot holds the data folder (exit 2), and says what is wrong with the words or the environment (exit 2)', async () => {
    await writeSource(new ManualClock(T0), 10);
    const lock = await lockDataDir(dataDir, { role: 'the bot' });
    try {
      const busy = await cli(['store', 'migrate', '--to', 'postgres']);
      expect(busy.code).toBe(2);
      expect(busy.err).toHaveLength(1);
      expect(busy.err[0]).toMatch(/^Refused: .* is in use by the bot \(pid \d+.*\(the copy must read a file nobody changes\)\.$/);
    } finally {
      await lock.release();
    }
    const cases: Array<[string[], Record<string, string | undefined>, RegExp]> = [
      [['store'], { DATA_DIR: dataDir, DATABASE_URL: db.url }, /^a store command is required\. Usage: npm run cli -- store migrate --to postgres$/],
      [['store', 'copy'], { DATA_DIR: dataDir, DATABASE_URL: db.url }, /^unknown store command "copy"/],
      [['store', 'migrate'], { DATA_DIR: dataDir, DATABASE_URL: db.url }, /^--to is required/],
      [['store', 'migrate', '--to', 'mysql'], { DATA_DIR: dataDir, DATABASE_URL: db.url }, /^--to must be postgres \(got "mysql"\)/],
      [['store', 'migrate', '--to', 'postgres', '--force'], { DATA_DIR: dataDir, DATABASE_URL: db.url }, /--force/],
      [['store', 'migrate', '--to', 'postgres'], { DATA_DIR: dataDir }, /^DATABASE_URL must name the target database/],
      [['store', 'migrate', '--to', 'postgres'], { DATA_DIR: dataDir, DATABASE_URL: 'mysql://x@y/z' }, /^DATABASE_URL must be a postgres:\/\//],
    ];
    for (const [argv, env, message] of cases) {
      const r = await cli(argv, env);
      expect([argv, r.code, r.out, r.err.length]).toEqual([argv, 2, [], 1]);
      expect(r.err[0]).toMatch(message);
    }
    const empty = mkdtempSync(path.join(os.tmpdir(), 'store-migrate-empty-'));
    const none = await cli(['store', 'migrate', '--to', 'postgres'], { DATA_DIR: empty, DATABASE_URL: db.url });
    expect([none.code, none.err]).toEqual([1, [`There is no data file at ${path.join(empty, 'db.json')} (DATA_DIR=${empty}); nothing to copy.`]]);
    expect(await db.sql(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'assignments'`)).toEqual([{ n: 0 }]);

    // Two rules whose names differ only in case (a file edited by hand): PostgreSQL's unique name would refuse them.
    const twice = emptyDatabase();
    twice.rules = { r1: aRule('r1', { name: 'Critical' }), r2: aRule('r2', { name: 'CRITICAL' }) };
    writeFileSync(path.join(dataDir, 'db.json'), JSON.stringify(twice));
    const named = await cli(['store', 'migrate', '--to', 'postgres']);
    expect([named.code, named.err]).toEqual([
      1,
      ['Refused: the data file cannot go into PostgreSQL as it is: more than one rule is named "critical"; rename all but one.'],
    ]);
  });
});
