import type { IncomingMessage } from 'node:http';

/**
 * Reading request bodies at the HTTP boundary: JSON only, bounded, in memory, never on disk.
 *
 * restify's body parsers are not used: `bodyParser()` hands multipart bodies to formidable, which
 * writes them to the temp folder before anything is checked, and its `bodyReader` reads a body
 * to the end whatever its size and does not bound what a gzip body inflates to. (raw-body, the
 * usual library for this, needs Node 22 from version 4 on.)
 */

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/** `application/json`, optionally with a UTF-8 charset: what every Bot Framework channel sends. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';').map((p) => p.trim());
  if (type!.toLowerCase() !== 'application/json') return false;
  return params.every((p) => {
    if (!p) return true;
    const eq = p.indexOf('=');
    if (eq < 0) return false;
    const key = p.slice(0, eq).trim().toLowerCase();
    const val = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    return key === 'charset' && (val === 'utf-8' || val === 'utf8');
  });
}

/** What a client may still send after a refusal before the connection is cut (so it reads the answer). */
const DRAIN_AFTER_REFUSAL = 4 * 1024 * 1024;

/**
 * Reads the body into memory, refusing it (413) as soon as it passes `limit` bytes, whether the
 * size was announced (Content-Length) or not (chunked). After a refusal the rest is read and
 * dropped for a while, then the connection is closed.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new BodyError(413, 'PayloadTooLarge', `The request body must be at most ${limit} bytes.`);
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    discardBody(req);
    return Promise.reject(new BodyError(415, 'UnsupportedMediaType', 'Compressed request bodies are not accepted.'));
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    discardBody(req);
    return Promise.reject(tooLarge());
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        discardBody(req);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      // A small body arrives in one chunk: no copy needed.
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => onError(new Error('the client aborted the request'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * For a request refused before its body was read: the client may still be sending, and cutting
 * the connection at once would lose the answer, so a bounded amount is read and dropped first.
 */
export function discardBody(req: IncomingMessage): void {
  if (req.readableEnded) return;
  let dropped = 0;
  const onData = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_AFTER_REFUSAL) {
      req.off('data', onData);
      req.socket.destroy();
    }
  };
  req.on('data', onData);
  req.on('error', () => undefined);
  req.resume();
}

/** Nesting deeper than any activity has; deeper JSON would overflow recursive code further on. */
export const MAX_JSON_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** In a `u` regex a surrogate pair is one code point, so only unpaired halves match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Decodes strict UTF-8 and parses JSON into a plain object. `__proto__` keys are dropped (so no
 * later copy or merge can set a prototype), nesting is bounded, and strings must be well-formed
 * Unicode (a lone surrogate makes encodeURIComponent, used to build connector URLs, throw).
 */
export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new BodyError(400, 'BadRequest', 'The request body is not valid UTF-8.');
  }
  let value: unknown;
  try {
    // No reviver: V8 runs revivers recursively, so deep nesting would overflow the stack there.
    value = JSON.parse(text);
  } catch {
    throw new BodyError(400, 'BadRequest', 'The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BodyError(400, 'BadRequest', 'The request body must be a JSON Bot Framework activity (an object).');
  }
  checkShape(value);
  return value as Record<string, unknown>;
}

/** Iterative (an attacker's nesting cannot overflow the stack here); drops `__proto__` keys on the way. */
function checkShape(root: object): void {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: root, depth: 1 }];
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) throw new BodyError(400, 'BadRequest', 'The request body contains invalid Unicode (a lone surrogate).');
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_JSON_DEPTH) throw new BodyError(400, 'BadRequest', `The request body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
    // JSON.parse makes "__proto__" an own data property; deleting it removes only that property.
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) delete (v as Record<string, unknown>)['__proto__'];
    for (const [k, child] of Object.entries(v)) {
      if (LONE_SURROGATE.test(k)) throw new BodyError(400, 'BadRequest', 'The request body contains invalid Unicode (a lone surrogate).');
      stack.push({ v: child, depth: depth + 1 });
    }
  }
}
