import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliRefusal, openWorkspace } from '../../cli/botProcess.js';
import { runCli } from '../../cli/index.js';
import { systemClock } from '../../core/clock.js';
import { DataDirLockedError, lockDataDir, STALE_MS, UPDATE_MS } from '../../storage/dataDirLock.js';
import { spawnBot, type BotProcess } from '../harness/botProcess.js';
import { holdDataDirLock } from '../harness/lockHolder.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('one writer per data folder', () => {
  let dataDir: string;
  const bots: BotProcess[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'lock-'));
  });
  afterEach(async () => {
    await Promise.all(bots.splice(0).map((b) => b.kill('SIGKILL')));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = (env?: Record<string, string>) => {
    const bot = spawnBot(dataDir, env);
    bots.push(bot);
    return bot;
  };

  it('a second bot on the same folder exits 1 with one line naming the folder and the first bot’s pid', async () => {
    const first = start();
    const url = await first.listening();
    await first.waitFor(/integration added/);

    const second = start();
    expect(await second.exited).toBe(1);
    expect(second.stdout()).toBe('');
    expect(second.stderr().trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The bot cannot start: ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by the bot \\(pid ${first.pid}, since [^)]+\\); stop it first`,
        ),
      ),
    ]);
    // The first one is untouched: still serving, its store valid.
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: 'ok', store: { ok: true } });
    expect(JSON.parse(readFileSync(path.join(dataDir, 'db.json'), 'utf8'))).toHaveProperty('integrations');
    expect(await first.kill()).toBe(0);
  });

  it('after the holder is SIGKILLed, a new bot starts on the same folder', async () => {
    const first = start();
    await first.listening();
    await first.waitFor(/integration added/);
    await first.kill('SIGKILL');
    // The dead holder's lock is still on disk; the next start waits for it to go stale.
    expect(existsSync(path.join(dataDir, 'data.lock'))).toBe(true);

    const started = Date.now();
    const second = start();
    const url = await second.listening();
    const waited = Date.now() - started;
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: 'ok', store: { ok: true } });
    expect(JSON.parse(readFileSync(path.join(dataDir, 'data.lock.owner'), 'utf8'))).toMatchObject({ pid: second.pid, role: 'the bot' });
    // Stale after at most STALE_MS, plus the process's own start-up.
    expect(waited).toBeLessThan(STALE_MS + 3 * UPDATE_MS + 8_000);
    expect(await second.kill()).toBe(0);
  });

  it('a CLI write while the bot runs is refused with the bot’s pid; a read-only command still works', async () => {
    const bot = start();
    await bot.listening();
    await bot.waitFor(/integration added/);

    const write = capture();
    expect(await runCli(['integration', 'remove', '--name', 'Sandbox ServiceNow'], { DATA_DIR: dataDir }, write.io)).toBe(2);
    expect(write.out).toEqual([]);
    expect(write.err).toEqual([`the bot is running on ${dataDir} (pid ${bot.pid}); use the Teams "integrations" command, or stop the bot first`]);

    const read = capture();
    expect(await runCli(['integration', 'list'], { DATA_DIR: dataDir }, read.io)).toBe(0);
    expect(read.out).toEqual([expect.stringMatching(/^Sandbox ServiceNow\t/)]);
    // The bot still holds the folder, and nothing the reader did left a trace in it.
    expect(JSON.parse(readFileSync(path.join(dataDir, 'data.lock.owner'), 'utf8'))).toMatchObject({ pid: bot.pid });
    expect(await bot.kill()).toBe(0);
  });
});

describe('lockDataDir', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'lock-unit-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const busy = (pid: number, dir: string) => `the bot is running on ${dir} (pid ${pid})`;

  it('two concurrent CLI writers cannot both open the folder', async () => {
    const env = { DATA_DIR: dataDir };
    const results = await Promise.allSettled([
      openWorkspace(env, systemClock, busy, '`npm run cli -- integration add`'),
      openWorkspace(env, systemClock, busy, '`npm run cli -- integration add`'),
    ]);
    const opened = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect([opened.length, refused.length]).toEqual([1, 1]);
    const reason = (refused[0] as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(CliRefusal);
    expect(reason.message).toMatch(new RegExp(`is in use by \`npm run cli -- integration add\` \\(pid ${process.pid}, since `));
    await (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openWorkspace>>>).value.close();
    // Released: the next writer opens.
    await (await openWorkspace(env, systemClock, busy)).close();
  });

  it('a CLI writer in another process is named with its pid', async () => {
    const holder = await holdDataDirLock(dataDir, '`npm run cli -- sync`');
    try {
      const { io, err } = capture();
      expect(await runCli(['integration', 'test', '--name', 'x'], { DATA_DIR: dataDir }, io)).toBe(2);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(
        new RegExp(`^${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by \`npm run cli -- sync\` \\(pid ${holder.pid}, since `),
      );
    } finally {
      await holder.kill();
    }
  });

  it('a live holder is refused at once; a SIGKILLed one is taken over once its lock is stale (measured)', async () => {
    const holder = await holdDataDirLock(dataDir);
    let started = Date.now();
    await expect(lockDataDir(dataDir, { role: 'test' })).rejects.toMatchObject({ name: 'DataDirLockedError', owner: { pid: holder.pid } });
    const refusedInMs = Date.now() - started;
    expect(refusedInMs).toBeLessThan(1_000);

    await holder.kill('SIGKILL');
    started = Date.now();
    const lock = await lockDataDir(dataDir, { role: 'test' });
    const takeoverMs = Date.now() - started;
    try {
      // The holder refreshed its lock every UPDATE_MS; it goes stale STALE_MS after the last refresh
      // (plus up to 1 s where mtimes have whole-second precision). Measured here: about 5-6 s.
      expect(takeoverMs).toBeLessThanOrEqual(STALE_MS + 3 * UPDATE_MS);
    } finally {
      await lock.release();
    }
    // Released cleanly: no lock and no owner left, and the next taker gets it at once.
    expect(existsSync(path.join(dataDir, 'data.lock'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'data.lock.owner'))).toBe(false);
    started = Date.now();
    await (await lockDataDir(dataDir, { role: 'test' })).release();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a second lock in the same process is refused too (nothing is re-entrant)', async () => {
    const lock = await lockDataDir(dataDir, { role: 'the bot' });
    try {
      const err = await lockDataDir(dataDir, { role: 'test' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as Error).message).toMatch(new RegExp(`is in use by the bot \\(pid ${process.pid}, since `));
    } finally {
      await lock.release();
    }
  });
});
