import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAIN = path.join(__dirname, '../../dist/bot/main.js');

/** The real process: `npm start` runs exactly this file. */
describe('bot process', () => {
  it('starts in sandbox mode with no account, serves, and on SIGTERM stops cleanly after flushing the store', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'proc-'));
    const child = spawn(process.execPath, ['--disable-warning=DEP0111', MAIN], {
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        DATA_DIR: dataDir,
        SANDBOX_DEFENDER_PORT: '0',
        SANDBOX_SERVICENOW_PORT: '0',
        LOG_PRETTY: 'false',
        SYNC_CRON: '0 0 1 1 *',
      },
      cwd: dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line in 15 s:\n${output}`)), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const m = /bot listening on (http:\/\/[^/\s"]+)\/api\/messages/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    });
    // Wait for the condition "sandbox integration stored", not for time.
    for (let i = 0; i < 200 && !/integration added/.test(output); i++) await new Promise((r) => setTimeout(r, 25));
    const health = await (await fetch(`${url}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', mode: 'sandbox', store: { kind: 'lowdb', ok: true } });
    expect(output).toContain('authentication is OFF');
    // The data folder's lock is held and names this process.
    expect(existsSync(path.join(dataDir, 'data.lock'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dataDir, 'data.lock.owner'), 'utf8'))).toMatchObject({ pid: child.pid, role: 'the bot' });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
    expect(existsSync(path.join(dataDir, 'data.lock'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'data.lock.owner'))).toBe(false);
    const db = JSON.parse(readFileSync(path.join(dataDir, 'db.json'), 'utf8'));
    expect(Object.values(db.integrations).map((i: any) => i.name)).toEqual(['Sandbox ServiceNow']);
    // The sandbox key file exists and the stored password is encrypted with it.
    expect(readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(db)).not.toContain('sandbox-password');
  });
});
