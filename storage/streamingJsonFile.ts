import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Adapter } from 'lowdb';

/** The top-level key of the seal the store appends to every file it writes (see readSealed). */
export const SEAL_KEY = 'integrity';
const sealSuffix = (schema: string, sha256: string) => `,"${SEAL_KEY}":{"schema":"${schema}","sha256":"${sha256}"}}`;
const SEAL_LENGTH = sealSuffix('0'.repeat(64), '0'.repeat(64)).length;
const SEAL_PATTERN = new RegExp(`^,"${SEAL_KEY}":\\{"schema":"([0-9a-f]{64})","sha256":"([0-9a-f]{64})"\\}\\}$`);

/** Bytes (about) per write call and hash update. */
const CHUNK = 1 << 20;
/** Chunk buffers kept between writes: a write usually holds two (one filling, one being written). */
const MAX_SPARE_CHUNKS = 2;

/** How rows are stored where it is not as they are in memory (storage/storedForm.ts). */
export interface StoredRowForm {
  /** Top-level records stored as an array of their rows (each row carries its id), and each row's stored form. */
  arrays?: Record<string, (row: unknown) => unknown>;
}

/**
 * A lowdb adapter that writes the database row by row into a temp file, fsyncs it and renames it
 * over the real file. Stringifying a large store in one piece holds the whole text in memory
 * twice (string + buffer); this holds ~1 MB of it at a time, plus each row's text kept from the
 * last write (an unchanged row is not stringified again).
 *
 * With a `seal` (the schema fingerprint, storage/schema.ts) every write ends with
 * `"integrity":{"schema":…,"sha256":…}`: the fingerprint and the SHA-256 of every byte before it.
 */
export class StreamingJsonFile<T extends object> implements Adapter<T> {
  constructor(
    private readonly file: string,
    private readonly seal?: string,
    private readonly form?: StoredRowForm,
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

  /**
   * The JSON text of each row object last written (rows are immutable: a change puts a new
   * object), so a write of a big store stringifies only the rows changed since the last one.
   */
  private readonly texts = new WeakMap<object, string>();
  /**
   * Chunk buffers of earlier writes, taken by the next one: a store written after every card a
   * drain sends allocated megabytes per write, and that garbage outlived the drain as heap.
   */
  private readonly spare: Buffer[] = [];

  /** The text `from` was written as also stands for `to` (a stored row completed into its full form). */
  carry(from: object, to: object): void {
    const text = this.texts.get(from);
    if (text !== undefined) this.texts.set(to, text);
  }

  private text(value: unknown, stored?: (row: unknown) => unknown): string {
    if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
    // Only the rows of the tables kept in the stored form (assignments, the many small rows) are
    // kept as text: keeping every table's (recommendations carry all their resources) cost sync
    // passes at 200k assessments ~160 MB more peak RSS for writes it barely shortened.
    if (!stored) return JSON.stringify(value);
    let text = this.texts.get(value);
    if (text === undefined) {
      text = JSON.stringify(stored ? stored(value) : value);
      this.texts.set(value, text);
    }
    return text;
  }

  async write(data: T): Promise<void> {
    // A name of its own per write: two writes (or, against the lock's intent, two processes)
    // never write into one temp file or rename each other's half-written one.
    const temp = tempName(this.file);
    const hash = this.seal === undefined ? undefined : createHash('sha256');
    let handle: FileHandle | undefined;
    // Text is encoded straight into ~1 MB buffers: one hash update and one write call per chunk
    // rather than per row, and no joined string (joining and re-encoding was most of a big write).
    const chunks: Buffer[] = [];
    const take = (bytes: number) => (bytes <= CHUNK ? (this.spare.pop() ?? Buffer.allocUnsafe(CHUNK)) : Buffer.allocUnsafe(bytes));
    // Only a chunk-sized buffer goes back: an outsized one (a huge row) is not kept alive for later writes.
    const giveBack = (b: Buffer) => {
      if (b.buffer.byteLength === CHUNK && this.spare.length < MAX_SPARE_CHUNKS) this.spare.push(Buffer.from(b.buffer, b.byteOffset, CHUNK));
    };
    let buf = take(CHUNK);
    let pos = 0;
    const flush = async () => {
      for (const chunk of chunks.splice(0)) {
        hash?.update(chunk);
        for (let at = 0; at < chunk.length;) at += (await handle!.write(chunk, at)).bytesWritten;
        giveBack(chunk);
      }
    };
    /** True when chunks are ready (the caller awaits flush(): no promise per row). */
    const put = (text: string): boolean => {
      // A UTF-16 code unit is at most 3 bytes of UTF-8.
      if (pos + text.length * 3 > buf.length) {
        if (pos > 0) chunks.push(buf.subarray(0, pos));
        else giveBack(buf);
        buf = take(text.length * 3);
        pos = 0;
      }
      pos += buf.write(text, pos);
      return chunks.length > 0;
    };
    try {
      handle = await open(temp, 'wx', 0o600);
      if (put('{')) await flush();
      let firstKey = true;
      for (const [key, value] of Object.entries(data)) {
        if (!firstKey) put(',');
        if (put(`${JSON.stringify(key)}:`)) await flush();
        firstKey = false;
        const stored = this.form?.arrays?.[key];
        if (stored && value && typeof value === 'object') {
          // A record stored as the array of its rows (each row carries its id).
          if (put('[')) await flush();
          let first = true;
          // The engine may hold a table as a Map (storage/engine.ts Table).
          const rows = value instanceof Map ? (value.values() as Iterable<unknown>) : Object.values(value);
          for (const row of rows) {
            if (!first) put(',');
            if (put(this.text(row, stored))) await flush();
            first = false;
          }
          if (put(']')) await flush();
        } else if (Array.isArray(value)) {
          if (put('[')) await flush();
          for (let i = 0; i < value.length; i++) {
            if (i) put(',');
            if (put(this.text(value[i]))) await flush();
          }
          if (put(']')) await flush();
        } else if (value && typeof value === 'object') {
          if (put('{')) await flush();
          let first = true;
          for (const [k, v] of Object.entries(value)) {
            if (!first) put(',');
            put(JSON.stringify(k));
            put(':');
            if (put(this.text(v))) await flush();
            first = false;
          }
          if (put('}')) await flush();
        } else {
          if (put(JSON.stringify(value) ?? 'null')) await flush();
        }
      }
      if (pos > 0) chunks.push(buf.subarray(0, pos));
      else giveBack(buf);
      await flush();
      // JSON.stringify never emits lone surrogates, so the hash covers exactly the bytes written.
      const tail = Buffer.from(hash ? sealSuffix(this.seal!, hash.digest('hex')) : '}', 'utf8');
      for (let at = 0; at < tail.length;) at += (await handle.write(tail, at)).bytesWritten;
      // Data on disk before the rename makes it visible: a crash leaves the old or the new file.
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, this.file);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }
}

/** `.<name>.<12 hex>.tmp` next to `target`: unique per write. */
export function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}
