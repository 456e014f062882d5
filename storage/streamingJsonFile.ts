import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Adapter } from 'lowdb';

/** The top-level key of the seal the store appends to every file it writes (see readSealed). */
export const SEAL_KEY = 'integrity';
const sealSuffix = (schema: string, sha256: string) => `,"${SEAL_KEY}":{"schema":"${schema}","sha256":"${sha256}"}}`;
const SEAL_LENGTH = sealSuffix('0'.repeat(64), '0'.repeat(64)).length;
const SEAL_PATTERN = new RegExp(`^,"${SEAL_KEY}":\\{"schema":"([0-9a-f]{64})","sha256":"([0-9a-f]{64})"\\}\\}$`);

/**
 * A lowdb adapter that writes the database record by record into a temp file, fsyncs it and
 * renames it over the real file. Stringifying a large store in one piece holds the whole text
 * in memory twice (string + buffer); streaming keeps only one record at a time.
 *
 * With a `seal` (the schema fingerprint, storage/schema.ts) every write ends with
 * `"integrity":{"schema":…,"sha256":…}`: the fingerprint and the SHA-256 of every byte before it.
 */
export class StreamingJsonFile<T extends object> implements Adapter<T> {
  constructor(
    private readonly file: string,
    private readonly seal?: string,
  ) {}

  async read(): Promise<T | null> {
    return (await this.readSealed())?.data ?? null;
  }

  /**
   * The file's data (without the seal's key), and whether it is sealed with this adapter's
   * fingerprint over exactly these bytes: then it is a file this store wrote from validated rows
   * and nobody changed since. Any other file (edited, cut short, older build, no seal) is not.
   */
  async readSealed(): Promise<{ data: T; sealed: boolean } | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const m = this.seal !== undefined && bytes.length > SEAL_LENGTH ? SEAL_PATTERN.exec(bytes.subarray(bytes.length - SEAL_LENGTH).toString('latin1')) : null;
    // WebCrypto hashes on the thread pool: the hash runs while this thread parses.
    const digest = m && m[1] === this.seal ? webcrypto.subtle.digest('SHA-256', bytes.subarray(0, bytes.length - SEAL_LENGTH)) : undefined;
    let data: T;
    try {
      data = JSON.parse(bytes.toString('utf8')) as T;
    } finally {
      await digest?.catch(() => undefined);
    }
    if (data && typeof data === 'object' && Object.hasOwn(data, SEAL_KEY)) delete (data as Record<string, unknown>)[SEAL_KEY];
    const sealed = digest !== undefined && Buffer.from(await digest).toString('hex') === m![2];
    return { data, sealed };
  }

  async write(data: T): Promise<void> {
    // A name of its own per write: two writes (or, against the lock's intent, two processes)
    // never write into one temp file or rename each other's half-written one.
    const temp = tempName(this.file);
    const out = createWriteStream(temp, { encoding: 'utf8', mode: 0o600 });
    const hash = this.seal === undefined ? undefined : createHash('sha256');
    const put = async (chunk: string) => {
      // JSON.stringify never emits lone surrogates, so these are the bytes the stream writes.
      hash?.update(chunk, 'utf8');
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
      if (hash) {
        const suffix = sealSuffix(this.seal!, hash.digest('hex'));
        if (!out.write(suffix)) await once(out, 'drain');
      } else await put('}');
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
