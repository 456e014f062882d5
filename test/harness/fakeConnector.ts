import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Bot Connector service for tests: the bot's `serviceUrl`. It records every call the bot
 * makes (replies, sends, updates, conversation creation), can be told to answer 429, and can act
 * as Teams does for a conversation the bot was removed from (403/404 with Teams' error body).
 */
export interface ConnectorCall {
  method: string;
  path: string;
  conversationId?: string;
  activityId?: string;
  body: any;
  headers: http.IncomingHttpHeaders;
  at: number;
  /** HTTP status of a call refused because the bot was removed from the conversation (removeBot). */
  refused?: number;
}

/** How Teams refuses calls to a conversation the bot is no longer in. */
export interface Removal {
  status: 403 | 404;
  /**
   * Teams' error code; null answers with a generic code, as some gateways and older services do.
   * Default: BotNotInConversationRoster (403) or ConversationNotFound (404).
   */
  code?: string | null;
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
  /** From now on every call to this conversation is refused as Teams refuses it once the bot was removed. */
  removeBot(conversationId: string, removal?: Removal): void;
  /** Undoes removeBot (the app was installed again). */
  restoreBot(conversationId: string): void;
  /** Calls refused by removeBot for this conversation. */
  refusedCalls(conversationId?: string): ConnectorCall[];
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
  const removed = new Map<string, Removal>();

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
      const removal = call.conversationId !== undefined ? removed.get(call.conversationId) : undefined;
      if (removal) {
        calls.push({ ...call, refused: removal.status });
        for (const w of waiters) w();
        return send(removal.status, teamsRefusal(removal));
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
    calls.filter(
      (c) =>
        !c.path.startsWith('FAULT') && c.refused === undefined && c.conversationId && (c.method === 'POST' || c.method === 'PUT') && c.body?.type === 'message',
    );
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
    removeBot: (conversationId, removal = { status: 403 }) => {
      removed.set(conversationId, removal);
    },
    restoreBot: (conversationId) => {
      removed.delete(conversationId);
    },
    refusedCalls: (conversationId) => calls.filter((c) => c.refused !== undefined && (conversationId === undefined || c.conversationId === conversationId)),
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

/** Teams' error bodies (Bot Connector `ErrorResponse`) for a conversation the bot cannot reach. */
function teamsRefusal(removal: Removal): { error: { code: string; message: string } } {
  if (removal.code === null) return { error: { code: removal.status === 403 ? 'Forbidden' : 'NotFound', message: 'The request was refused.' } };
  const code = removal.code ?? (removal.status === 403 ? 'BotNotInConversationRoster' : 'ConversationNotFound');
  const messages: Record<string, string> = {
    BotNotInConversationRoster: 'The bot is not part of the conversation roster.',
    ConversationNotFound: 'Conversation not found.',
    ConversationBlockedByUser: 'User blocked the conversation with the bot.',
  };
  return { error: { code, message: messages[code] ?? 'The bot cannot post in this conversation.' } };
}
