import http from 'node:http';
import { readdirSync } from 'node:fs';
import os from 'node:os';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Bytes of the request body written before the answer arrived (chunked uploads). */
  sent: number;
}

/**
 * One HTTP request with full control of headers and body, which fetch does not give (no
 * Content-Length override, no chunk-by-chunk upload that stops when the answer comes).
 */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string; chunks?: { size: number; max: number } },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let sent = 0;
    let answered = false;
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'POST', headers: opts.headers, agent: false },
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8'), sent });
          // An upload cut short by the answer is abandoned.
          req.destroy();
        });
        res.on('error', reject);
      },
    );
    // The server may close the connection after answering while we still upload: that is fine.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (opts.chunks) {
      const chunk = Buffer.alloc(opts.chunks.size, 'a');
      const pump = () => {
        while (!answered && sent < opts.chunks!.max) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.write('{"type":"message","text":"');
      pump();
      return;
    }
    if (opts.body !== undefined) sent = Buffer.byteLength(opts.body);
    req.end(opts.body);
  });
}

/** Files formidable (restify's multipart parser) leaves in the temp folder. */
export function uploadFiles(): Set<string> {
  return new Set(readdirSync(os.tmpdir()).filter((f) => f.startsWith('upload_')));
}

export function multipartBody(size: number): { body: Buffer; contentType: string } {
  const boundary = '----fuzzboundary7MA4YWxkTrZu0gW';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  return { body: Buffer.concat([Buffer.from(head), Buffer.alloc(size, 0x41), Buffer.from(tail)]), contentType: `multipart/form-data; boundary=${boundary}` };
}
