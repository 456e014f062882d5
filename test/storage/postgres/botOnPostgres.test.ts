import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../cli/index.js';
import { spawnBot, type BotProcess } from '../../harness/botProcess.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('the bot and the CLI on PostgreSQL (DATABASE_URL)', () => {
  let db: TestDatabase;
  let dataDir: string;
  const bots: BotProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'pg-bot-'));
  });
  afterEach(async () => {
    await Promise.all(bots.splice(0).map((b) => b.kill('SIGKILL')));
    rmSync(dataDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('the bot stores in the database, takes no data-folder lock, and the CLI writes while it runs', async () => {
    const bot = spawnBot(dataDir, { DATABASE_URL: db.url });
    bots.push(bot);
    const url = await bot.listening();
    await bot.waitFor(/integration added/);
    // The sandbox integration is a row in PostgreSQL, not in a db.json.
    expect(await db.sql("SELECT doc->>'name' AS name FROM integrations WHERE NOT removed")).toEqual([{ name: 'Sandbox ServiceNow' }]);
    expect(existsSync(path.join(dataDir, 'db.json'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'data.lock'))).toBe(false);
    const [sessions] = await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'bot'`, [
      db.name,
    ]);
    expect(sessions!.n).toBeGreaterThan(0);

    const env = { DATA_DIR: dataDir, DATABASE_URL: db.url };
    const write = capture();
    expect(await runCli(['integration', 'remove', '--name', 'Sandbox ServiceNow'], env, write.io)).toBe(0);
    expect(write.err).toEqual([]);
    expect(await db.sql("SELECT doc->>'name' AS name FROM integrations WHERE NOT removed")).toEqual([]);

    // The running bot sees the CLI's change (no copy of the state in its memory).
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; store: { ok: boolean } };
    expect(health).toMatchObject({ status: 'ok', store: { ok: true } });
    const read = capture();
    expect(await runCli(['integration', 'list'], env, read.io)).toBe(0);
    expect(read.out.filter((l) => l.startsWith('Sandbox ServiceNow'))).toEqual([]);

    // A second bot on the same folder and database starts beside the first (a replica), where lowdb refuses.
    const second = spawnBot(dataDir, { DATABASE_URL: db.url });
    bots.push(second);
    const secondUrl = await second.listening();
    expect(await (await fetch(`${secondUrl}/healthz`)).json()).toMatchObject({ status: 'ok', store: { ok: true } });
    expect(await bot.kill()).toBe(0);
    expect(await second.kill()).toBe(0);
  });
});
