import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const LOCK_MODULE = path.join(__dirname, '../../dist/storage/dataDirLock.js');

export interface LockHolder {
  child: ChildProcess;
  pid: number;
  /** Ends the holder: SIGTERM releases the lock on the way out, SIGKILL leaves it behind. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Another process holding a data folder's lock through the real storage/dataDirLock.ts (built
 * into dist/ by `tsc`), as the bot does. Resolves once the lock is held.
 */
export async function holdDataDirLock(dataDir: string, role = 'the bot'): Promise<LockHolder> {
  const script = `require(${JSON.stringify(LOCK_MODULE)}).lockDataDir(${JSON.stringify(dataDir)}, { role: ${JSON.stringify(role)} })
    .then(() => { process.stdout.write('locked\\n'); setInterval(() => {}, 1000); }, (err) => { console.error(err.message); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('locked\n')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}): ${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
