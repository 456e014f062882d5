import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Adapter } from 'lowdb';

/**
 * A lowdb adapter that writes the database record by record into a temp file, fsyncs it and
 * renames it over the real file. Stringifying a large store in one piece holds the whole text
 * in memory twice (string + buffer); streaming keeps only one record at a time.
 */
export class StreamingJsonFile<T extends object> implements Adapter<T> {
  constructor(private readonly file: string) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return JSON.parse(text) as T;
  }

  async write(data: T): Promise<void> {
    // A name of its own per write: two writes (or, against the lock's intent, two processes)
    // never write into one temp file or rename each other's half-written one.
    const temp = tempName(this.file);
    const out = createWriteStream(temp, { encoding: 'utf8', mode: 0o600 });
    const put = async (chunk: string) => {
      if (!out.write(chunk)) await once(out, 'drain');
    };
    try {
      await put('{');
      let firstKey = true;
      for (const [key, value] of Object.entries(data)) {
        await put(`${firstKey ? '' : ','}${JSON.stringify(key)}:`);
        firstKey = false;
        if (Array.isArray(value)) {
          await put('[');
          for (let i = 0; i < value.length; i++) await put(`${i ? ',' : ''}${JSON.stringify(value[i])}`);
          await put(']');
        } else if (value && typeof value === 'object') {
          await put('{');
          let first = true;
          for (const [k, v] of Object.entries(value)) {
            await put(`${first ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`);
            first = false;
          }
          await put('}');
        } else {
          await put(JSON.stringify(value) ?? 'null');
        }
      }
      await put('}');
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      // Data on disk before the rename makes it visible: a crash leaves the old or the new file.
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    } catch (err) {
      out.destroy();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }
}

/** `.<name>.<12 hex>.tmp` next to `target`: unique per write. */
export function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}
