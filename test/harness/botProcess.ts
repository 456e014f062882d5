import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const MAIN = path.join(__dirname, '../../dist/bot/main.js');

export interface BotProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves with the server's base URL once it logged "bot listening"; rejects if it exits first. */
  listening(): Promise<string>;
  /** Waits until the output matches (a condition, not a time). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The real process `npm start` runs (dist/bot/main.js), in sandbox mode on free ports. */
export function spawnBot(dataDir: string, env: Record<string, string> = {}): BotProcess {
  const child = spawn(process.execPath, ['--disable-warning=DEP0111', MAIN], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      DATA_DIR: dataDir,
      SANDBOX_DEFENDER_PORT: '0',
      SANDBOX_SERVICENOW_PORT: '0',
      LOG_PRETTY: 'false',
      SYNC_CRON: '0 0 1 1 *',
      ...env,
    },
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    changed();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    changed();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    changed();
  });

  const waitFor = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out + err)) finish(resolve);
        else if (done) finish(() => reject(new Error(`exited before ${pattern}:\n${out}${err}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} in ${timeoutMs} ms:\n${out}${err}`))), timeoutMs);
      const finish = (then: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        then();
      };
      listeners.add(check);
      check();
    });

  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor,
    listening: async () => {
      await waitFor(/bot listening on http:\/\/[^/\s"]+\/api\/messages/);
      return /bot listening on (http:\/\/[^/\s"]+)\/api\/messages/.exec(out)![1]!;
    },
    kill: async (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}
