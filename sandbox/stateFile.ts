import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { z } from 'zod';

/**
 * A simulator's state on disk (sandbox mode keeps it in DATA_DIR next to db.json, so a restart
 * does not hand out INC0010001 a second time). Written synchronously, before the response that
 * reports the change is sent: a write the bot saw acknowledged is on disk.
 */
export function writeStateFile(file: string, state: unknown): void {
  // Temp file + rename: a crash mid-write leaves the previous state, never half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** The saved state, or undefined when there is none yet; a damaged file is an error naming it. */
export function readStateFile<T>(file: string, schema: z.ZodType<T>): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); delete it to start the simulator from its seed data`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${file} is not a simulator state file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The control API called in-process (sandbox scripts, the bot's `simulate`), saving after each call. */
export function persistingControl<T extends object>(control: T, save: () => void): T {
  const out = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(control)) {
    out[k] =
      typeof v === 'function'
        ? (...args: unknown[]) => {
            const r: unknown = (v as (...a: unknown[]) => unknown).apply(control, args);
            save();
            return r;
          }
        : v;
  }
  return out as T;
}
