import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** The bot keeps the data file in memory; a second writer would lose one side's changes. */
export const PID_FILE = 'bot.pid';

export function botRunning(dataDir: string): number | undefined {
  const file = path.join(dataDir, PID_FILE);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

