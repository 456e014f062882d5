import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP pass-through that records every exchange: put between the Agents Playground and the
 * bot (both ways) it shows exactly which activities the bot received and what it sent back, and
 * how it answered each invoke, without changing either side.
 */
export interface Exchange {
  at: number;
  method: string;
  path: string;
  requestBody: any;
  status: number;
  responseBody: any;
}

export interface RecordingProxy {
  url: string;
  exchanges: Exchange[];
  /** Where requests go (base URL, may include a path prefix); can be set after the proxy starts. */
  target: string;
  waitFor(predicate: (exchanges: Exchange[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

const parse = (raw: string) => {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
};

export async function startRecordingProxy(target = ''): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  const waiters = new Set<() => void>();
  const proxy: RecordingProxy = {
    url: '',
    exchanges,
    target,
    waitFor: (predicate, timeoutMs = 10_000, what = 'condition') =>
      new Promise<void>((resolve, reject) => {
        if (predicate(exchanges)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          const last = exchanges
            .slice(-6)
            .map((e) => `${e.method} ${e.path} → ${e.status}`)
            .join('; ');
          reject(new Error(`recording proxy: ${what} not met within ${timeoutMs} ms; last: ${last}`));
        }, timeoutMs);
        const check = () => {
          if (predicate(exchanges)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      void fetch(`${proxy.target}${req.url ?? '/'}`, {
        method: req.method,
        headers: headers as Record<string, string>,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      })
        .then(async (upstream) => {
          const text = await upstream.text();
          exchanges.push({
            at: Date.now(),
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            requestBody: parse(body.toString('utf8')),
            status: upstream.status,
            responseBody: parse(text),
          });
          for (const w of waiters) w();
          const out: Record<string, string> = {};
          upstream.headers.forEach((v, k) => {
            if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
          });
          res.writeHead(upstream.status, out);
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'ProxyError', message: String(err) } }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
