import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Bot Connector service for tests: the bot's `serviceUrl`. It records every call the bot
 * makes (replies, sends, updates, conversation creation) and can be told to answer 429.
 */
export interface ConnectorCall {
  method: string;
  path: string;
  conversationId?: string;
  activityId?: string;
  body: any;
  headers: http.IncomingHttpHeaders;
  at: number;
}

export interface RosterMember {
  id: string;
  name: string;
  aadObjectId: string;
  userPrincipalName: string;
  email?: string;
}

export interface FakeConnector {
  url: string;
  calls: ConnectorCall[];
  /** Calls that posted or updated an activity, in order. */
  activities(): ConnectorCall[];
  cards(): any[];
  roster: RosterMember[];
  failNext(count: number, status: number, retryAfterSeconds?: number): void;
  waitFor(predicate: (calls: ConnectorCall[]) => boolean, timeoutMs?: number): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeConnector(): Promise<FakeConnector> {
  const calls: ConnectorCall[] = [];
  const waiters = new Set<() => void>();
  let faults: { count: number; status: number; retryAfter?: number } | undefined;
  let nextId = 1;
  const roster: RosterMember[] = [];

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const body = raw ? JSON.parse(raw) : undefined;
      const call: ConnectorCall = { method: req.method ?? 'GET', path: url.pathname, body, headers: req.headers, at: Date.now() };
      if (parts[0] === 'v3' && parts[1] === 'conversations') {
        call.conversationId = parts[2];
        if (parts[3] === 'activities') call.activityId = parts[4];
      }
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      if (faults && faults.count > 0) {
        faults.count--;
        calls.push({ ...call, path: `FAULT ${call.path}` });
        return send(
          faults.status,
          { error: { code: 'Throttled', message: 'fake fault' } },
          faults.retryAfter !== undefined ? { 'retry-after': String(faults.retryAfter) } : {},
        );
      }
      calls.push(call);
      for (const w of waiters) w();

      if (call.method === 'POST' && parts.length === 2) return send(200, { id: `conv-created-${nextId++}`, activityId: `act-${nextId++}` });
      if (call.method === 'GET' && parts[3] === 'members' && parts[4]) {
        const m = roster.find((r) => [r.id, r.aadObjectId, r.userPrincipalName.toLowerCase(), r.email?.toLowerCase()].includes(parts[4].toLowerCase()));
        return m ? send(200, m) : send(404, { error: { code: 'MemberNotFoundInConversation', message: 'The member was not found' } });
      }
      if (call.method === 'GET' && parts[3] === 'pagedmembers') return send(200, { members: roster });
      if (call.method === 'GET' && parts[3] === 'members') return send(200, roster);
      if (parts[3] === 'activities') return send(200, { id: call.method === 'PUT' ? call.activityId : `act-${nextId++}` });
      return send(404, { error: { code: 'NotFound', message: `fake connector has no ${call.method} ${url.pathname}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const activities = () =>
    calls.filter((c) => !c.path.startsWith('FAULT') && c.conversationId && (c.method === 'POST' || c.method === 'PUT') && c.body?.type === 'message');
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    roster,
    activities,
    cards: () =>
      activities().flatMap((c) =>
        (c.body.attachments ?? []).filter((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive').map((a: any) => a.content),
      ),
    failNext: (count, status, retryAfter) => {
      faults = { count, status, retryAfter };
    },
    waitFor: (predicate, timeoutMs = 5000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(calls)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake connector: condition not met within ${timeoutMs} ms; calls: ${calls.map((c) => `${c.method} ${c.path}`).join(', ')}`));
        }, timeoutMs);
        const check = () => {
          if (predicate(calls)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      }),
    reset: () => {
      calls.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
