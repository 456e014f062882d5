import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Bot Connector that only counts: the test harness's fake connector keeps every card body,
 * which at benchmark scale would inflate the very memory figures being measured. It answers a
 * roster lookup of one member as Teams does (with the user's UPN), so a 1:1 chat's user is
 * learnt once, as in production, instead of being asked for on every message.
 */
export interface CountingConnector {
  url: string;
  posts(): number;
  updates(): number;
  /** Roster lookups (GET …/members/{id}). */
  lookups(): number;
  close(): Promise<void>;
}

export const BENCH_USER_UPN = 'bench.user@contoso.com';

export async function startCountingConnector(): Promise<CountingConnector> {
  let posts = 0;
  let updates = 0;
  let lookups = 0;
  let nextId = 1;
  const server = http.createServer((req, res) => {
    // Drained, not kept.
    req.on('data', () => undefined);
    req.on('end', () => {
      const parts = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (parts[0] === 'v3' && parts[1] === 'conversations' && parts[3] === 'activities') {
        if (req.method === 'POST') {
          posts++;
          return reply(200, { id: `bench-act-${nextId++}` });
        }
        if (req.method === 'PUT' && parts[4]) {
          updates++;
          return reply(200, { id: decodeURIComponent(parts[4]) });
        }
      }
      if (parts[0] === 'v3' && parts[1] === 'conversations' && parts[3] === 'members' && parts[4] && req.method === 'GET') {
        lookups++;
        const id = decodeURIComponent(parts[4]);
        return reply(200, {
          id,
          name: 'Bench User',
          aadObjectId: '00000000-0000-0000-0000-0000000000b1',
          userPrincipalName: BENCH_USER_UPN,
          email: BENCH_USER_UPN,
        });
      }
      return reply(404, { error: { code: 'NotFound', message: `no ${req.method} ${req.url}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    posts: () => posts,
    updates: () => updates,
    lookups: () => lookups,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
