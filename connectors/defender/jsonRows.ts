/**
 * Splits a JSON object's top-level array (Resource Graph's `data`) into its elements while the
 * response streams in, so a page is never held as one string (plus its bytes) next to its parsed
 * rows. A page of 1,000 assessments is about a megabyte of text: as one piece it is a large-object
 * allocation per page that only a full collection frees, and that garbage was much of the sync
 * pass's peak memory. Here each element is copied into one reused byte buffer and parsed on its
 * own (rows of a kilobyte die young), and the rest of the object (the envelope, with the array
 * left empty) is parsed at the end.
 *
 * The scan works on bytes: every structural character of JSON is ASCII, and no byte of a multi-byte
 * UTF-8 sequence is below 0x80, so a chunk may end anywhere, even inside a character. Malformed
 * JSON is refused by JSON.parse on a row or on the envelope, or by end() when the text stops
 * inside a value.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Key strings at the top level longer than this cannot be the array's key and are not kept. */
const MAX_KEY_BYTES = 256;

/** A byte buffer that grows by doubling and is reused from one row to the next. */
class Bytes {
  private buf: Buffer;
  length = 0;
  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  append(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.length + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    this.buf.set(src.subarray(start, end), this.length);
    this.length += n;
  }
  text(): string {
    return this.buf.toString('utf8', 0, this.length);
  }
  /** The bytes as a view of the reused buffer: valid until the next row. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * A row's bytes (a view valid only during the call) and its parse, for a caller that may not need
 * the parsed row at all (rows it saw before, by fingerprint). What it returns is kept as the row.
 */
export type RowFromBytes = (bytes: Uint8Array, parse: () => unknown) => unknown;

type Element = 'none' | 'container' | 'string' | 'scalar';

export class JsonRowSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Depth inside the array being split (its elements start there); 0 when not inside it. */
  private arrayDepth = 0;
  private element: Element = 'none';
  /** Array syntax between elements, which JSON.parse of a row cannot check: `[1 2]`, `[1,,2]`, `[1,]`. */
  private afterElement = false;
  private afterComma = false;
  private readonly row = new Bytes(64 * 1024);
  private readonly envelope = new Bytes(4 * 1024);
  /** The last top-level string's raw bytes (escapes kept), while it may still be a key. */
  private readonly keyBytes: number[] = [];
  private keyTooLong = false;
  private lastString: string | undefined;
  private key: string | undefined;
  private rows: unknown[] | undefined;

  /**
   * `arrayKey`: the top-level array to split. `mapRow` turns each parsed element into what is kept
   * of it (the parsed element is then garbage at once, before the rest of the answer arrives).
   */
  constructor(
    private readonly arrayKey = 'data',
    private readonly mapRow: (row: unknown) => unknown = (row) => row,
    private readonly rowFromBytes?: RowFromBytes,
  ) {}

  write(chunk: Uint8Array): void {
    const n = chunk.length;
    // Where the bytes not yet copied start, to the row (inside an element) or the envelope (outside the array).
    let from = 0;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        i = this.scanString(chunk, i);
        if (this.inString) break;
        // The closing quote is at i - 1.
        if (this.depth === 1 && this.arrayDepth === 0) this.endTopLevelString();
        if (this.element === 'string' && this.depth === this.arrayDepth) {
          this.row.append(chunk, from, i);
          from = i;
          this.emitRow();
        }
        continue;
      }
      const b = chunk[i]!;
      const atArray = this.arrayDepth > 0 && this.depth === this.arrayDepth;
      if (atArray && this.element === 'scalar' && (isSpace(b) || b === COMMA || b === CLOSE_BRACKET)) {
        this.row.append(chunk, from, i);
        from = i;
        this.emitRow();
      }
      if (atArray && this.element === 'none') {
        // Between elements: separators and spaces belong to neither the rows nor the envelope.
        if (isSpace(b) || b === COMMA) {
          if (b === COMMA && !this.afterElement) throw new SyntaxError('a comma without an element before it in the JSON array');
          if (b === COMMA) this.afterElement = false;
          this.afterComma ||= b === COMMA;
          i++;
          from = i;
          continue;
        }
        if (b === CLOSE_BRACKET) {
          if (this.afterComma) throw new SyntaxError('a comma before the end of the JSON array');
          this.depth--;
          this.arrayDepth = 0;
          from = i; // the bracket closes the envelope's empty array
          i++;
          continue;
        }
        if (this.afterElement) throw new SyntaxError('two elements without a comma between them in the JSON array');
        this.afterComma = false;
        this.element = b === OPEN_BRACE || b === OPEN_BRACKET ? 'container' : b === QUOTE ? 'string' : 'scalar';
        from = i;
      }
      i++;
      if (b === QUOTE) {
        this.inString = true;
        this.escaped = false;
        if (this.depth === 1 && this.arrayDepth === 0) {
          this.keyBytes.length = 0;
          this.keyTooLong = false;
        }
        continue;
      }
      if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        this.depth++;
        if (b === OPEN_BRACKET && this.depth === 2 && this.arrayDepth === 0 && this.key === this.arrayKey) {
          // The array to split: the envelope keeps it empty, and a repeated key wins like in JSON.parse.
          this.envelope.append(chunk, from, i);
          from = i;
          this.arrayDepth = 2;
          this.afterElement = false;
          this.afterComma = false;
          this.rows = [];
        }
        continue;
      }
      if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        this.depth--;
        if (this.element === 'container' && this.depth === this.arrayDepth) {
          this.row.append(chunk, from, i);
          from = i;
          this.emitRow();
        }
        continue;
      }
      if (this.depth === 1 && this.arrayDepth === 0) {
        if (b === COLON) this.key = this.lastString;
        else if (b === COMMA) this.key = undefined;
        if (!isSpace(b)) this.lastString = undefined;
      }
    }
    if (this.element !== 'none') this.row.append(chunk, from, n);
    else if (this.arrayDepth === 0) this.envelope.append(chunk, from, n);
  }

  /** The envelope (the array empty) once the whole text was written; the rows went to `rows()`. */
  end(): unknown {
    if (this.inString || this.depth !== 0 || this.element !== 'none') throw new SyntaxError('JSON text ended inside a value');
    return JSON.parse(this.envelope.text());
  }

  /** The array's elements parsed so far (all of them after end()); undefined when the text had no such array. */
  parsedRows(): unknown[] | undefined {
    return this.rows;
  }

  private emitRow(): void {
    const row = this.row;
    this.rows!.push(this.rowFromBytes ? this.rowFromBytes(row.view(), () => JSON.parse(row.text())) : this.mapRow(JSON.parse(row.text())));
    this.row.length = 0;
    this.element = 'none';
    this.afterElement = true;
  }

  /** Finds the end of the string the scan is in; returns the index after its closing quote, or the chunk's length. */
  private scanString(chunk: Uint8Array, start: number): number {
    const topLevel = this.depth === 1 && this.arrayDepth === 0;
    let i = start;
    if (this.escaped) {
      // The chunk before ended in a backslash: this byte is escaped, whatever it is.
      this.escaped = false;
      i++;
    }
    // No backslash before `begin` escapes anything after it.
    const begin = i;
    for (;;) {
      const q = chunk.indexOf(QUOTE, i);
      const stop = q < 0 ? chunk.length : q;
      let run = 0;
      for (let k = stop - 1; k >= begin && chunk[k] === BACKSLASH; k--) run++;
      if (q < 0) {
        this.escaped = run % 2 === 1;
        if (topLevel) this.keepKeyBytes(chunk, start, chunk.length);
        return chunk.length;
      }
      if (run % 2 === 1) {
        i = q + 1;
        continue;
      }
      this.inString = false;
      if (topLevel) this.keepKeyBytes(chunk, start, q);
      return q + 1;
    }
  }

  private keepKeyBytes(chunk: Uint8Array, start: number, end: number): void {
    if (this.keyTooLong) return;
    if (this.keyBytes.length + end - start > MAX_KEY_BYTES) {
      this.keyTooLong = true;
      return;
    }
    for (let k = start; k < end; k++) this.keyBytes.push(chunk[k]!);
  }

  private endTopLevelString(): void {
    if (this.keyTooLong) {
      this.lastString = undefined;
      return;
    }
    const raw = Buffer.from(this.keyBytes).toString('utf8');
    this.lastString = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
  }
}
