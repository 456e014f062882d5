import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A Direct Line 3.0 service for Bot Framework Web Chat that is also the bot's Bot Connector
 * (`serviceUrl`), so the real Web Chat bundle talks to the real bot over HTTP:
 *
 *   Web Chat ──Direct Line 3.0 (polling)──▶ shim ──POST /api/messages──▶ bot
 *   Web Chat ◀──GET …/activities?watermark── shim ◀──Bot Connector v3──── bot
 *
 * An update from the bot (PUT /v3/conversations/:cid/activities/:aid) is delivered again through
 * the activity stream with the same id and the original timestamp: Web Chat's store replaces an
 * activity whose id it already has and keeps its place (its sort key comes from the timestamp).
 */

const WEBCHAT_BUNDLE = path.join(__dirname, '../../node_modules/botframework-webchat/dist/webchat.js');

export const BOT_ACCOUNT = { id: 'defender-bot', name: 'Defender bot', role: 'bot' as const };

export interface ShimUser {
  id: string;
  name: string;
}

/** One call from the bot to its Bot Connector, or one activity Web Chat sent to the bot. */
export interface ShimRecord {
  at: number;
  direction: 'toBot' | 'fromBot';
  /** Bot Connector operation (fromBot) or the Direct Line operation (toBot). */
  op: 'post' | 'reply' | 'update' | 'delete' | 'createConversation' | 'members' | 'userActivity';
  conversationId: string;
  activityId?: string;
  activity?: any;
  /** The bot's HTTP answer to a forwarded activity. */
  botStatus?: number;
}

interface Conversation {
  id: string;
  /** What Web Chat polls: every delivery in order (an update is a second delivery of the same id). */
  stream: any[];
  /** Deliveries (1-based positions in `stream`) Web Chat holds for up to 5 s: see `deliver`. */
  held: Set<number>;
  /** The current version of every activity, by id. */
  current: Map<string, any>;
  seq: number;
}

export interface DirectLineShim {
  /** Base URL: the Direct Line domain is `${url}/v3/directline`, and it is the bot's serviceUrl. */
  url: string;
  /** The page that runs Web Chat against this shim. */
  pageUrl: string;
  records: ShimRecord[];
  /** The current version of every activity in a conversation (what Web Chat ends up showing). */
  transcript(conversationId?: string): any[];
  /**
   * The delivery numbers (channelData["shim:delivery"]) of a conversation's stream, first posts and
   * updates; without `includeHeld`, only those Web Chat shows at once.
   */
  deliveries(conversationId: string, opts?: { includeHeld?: boolean }): number[];
  conversationIds(): string[];
  /** Resolves when the predicate holds on the records; rejects with the last records after `timeoutMs`. */
  waitFor(predicate: (records: ShimRecord[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

export interface ShimOptions {
  /** The bot's messaging endpoint, e.g. http://127.0.0.1:3978/api/messages. */
  botEndpoint: string;
  /** `webchat` (Azure's Web Chat channel) or `emulator`; both get Action.Submit cards from this bot. */
  channelId?: 'webchat' | 'emulator' | 'directline';
  user?: ShimUser;
  /** Send conversationUpdate (bot and user added) when Web Chat starts a conversation, as the Emulator does. */
  greet?: boolean;
  pollingIntervalMs?: number;
}

export async function startDirectLineShim(opts: ShimOptions): Promise<DirectLineShim> {
  const channelId = opts.channelId ?? 'webchat';
  const user = opts.user ?? { id: 'user-alice', name: 'Alice Johnson' };
  const conversations = new Map<string, Conversation>();
  const records: ShimRecord[] = [];
  const waiters = new Set<() => void>();
  let url = '';

  const record = (r: Omit<ShimRecord, 'at'>) => {
    records.push({ ...r, at: Date.now() });
    for (const w of waiters) w();
  };

  /**
   * Web Chat holds a bot activity whose replyToId it has not seen (no activity with that id, none
   * replying to it) for up to 5 s before showing it; botbuilder's proactive sends reply to the id of
   * a continueConversation event the client never gets, so they are held. Numbering every delivery
   * lets a test wait until Web Chat has taken in exactly what it was sent.
   */
  const deliver = (conv: Conversation, activity: any) => {
    const n = conv.stream.length + 1;
    const replyTo = activity.from?.role === 'bot' ? activity.replyToId : undefined;
    if (replyTo && !conv.stream.some((a) => a.id === replyTo || a.replyToId === replyTo)) conv.held.add(n);
    const numbered = { ...activity, channelData: { ...activity.channelData, 'shim:delivery': n } };
    conv.current.set(activity.id, numbered);
    conv.stream.push(numbered);
  };

  const newActivityId = (conv: Conversation) => `${conv.id}|${String(++conv.seq).padStart(7, '0')}`;

  const forwardToBot = async (conv: Conversation, activity: any): Promise<number> => {
    const res = await fetch(opts.botEndpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
    await res.text();
    return res.status;
  };

  /** What the bot receives: the activity Web Chat posted, completed the way the Direct Line service does. */
  const incoming = (conv: Conversation, body: any) => ({
    ...body,
    id: newActivityId(conv),
    timestamp: new Date().toISOString(),
    channelId,
    serviceUrl: url,
    from: { ...user, ...body.from, role: 'user' },
    recipient: { id: BOT_ACCOUNT.id, name: BOT_ACCOUNT.name },
    conversation: { id: conv.id },
  });

  const page = (pollingIntervalMs: number) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Web Chat (Direct Line shim)</title>
<style>html, body { margin: 0; height: 100%; font-family: 'Segoe UI', sans-serif; } #webchat { height: 100%; }</style></head>
<body><div id="webchat" role="main"></div>
<script src="/webchat.js"></script>
<script>
  const directLine = window.WebChat.createDirectLine({
    domain: location.origin + '/v3/directline',
    token: 'shim-token',
    webSocket: false,
    pollingInterval: ${pollingIntervalMs},
  });
  // Delivery numbers of the activities Web Chat has taken into its transcript, so a test can wait until it caught up.
  const incoming = (window.__webchatIncoming = []);
  const store = window.WebChat.createStore({}, () => (next) => (action) => {
    if (action.type === 'DIRECT_LINE/INCOMING_ACTIVITY') incoming.push(action.payload.activity.channelData?.['shim:delivery']);
    return next(action);
  });
  window.WebChat.renderWebChat({ directLine, store, userID: ${JSON.stringify(user.id)}, username: ${JSON.stringify(user.name)}, locale: 'en-US' },
    document.getElementById('webchat'));
  document.body.dataset.state = 'ready';
</script></body></html>`;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      void handle(req, res, raw).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { code: 'ShimError', message: String(err) } });
      });
    });
  });

  const send = (res: http.ServerResponse, status: number, payload: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(payload));
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const body = raw ? JSON.parse(raw) : undefined;

    if (method === 'GET' && u.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page(opts.pollingIntervalMs ?? 200));
      return;
    }
    if (method === 'GET' && u.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (method === 'GET' && u.pathname === '/webchat.js') {
      res.writeHead(200, { 'content-type': 'application/javascript', 'cache-control': 'max-age=3600' });
      res.end(readFileSync(WEBCHAT_BUNDLE));
      return;
    }

    // ── Direct Line 3.0 (what Web Chat calls) ──
    if (parts[0] === 'v3' && parts[1] === 'directline') {
      const rest = parts.slice(2);
      if (method === 'POST' && rest[0] === 'tokens' && rest[1] === 'refresh') return send(res, 200, { token: 'shim-token', expires_in: 1800 });
      if (method === 'POST' && rest.length === 1 && rest[0] === 'conversations') {
        const conv: Conversation = { id: randomUUID(), stream: [], held: new Set(), current: new Map(), seq: 0 };
        conversations.set(conv.id, conv);
        send(res, 201, { conversationId: conv.id, token: 'shim-token', expires_in: 1800 });
        if (opts.greet) {
          const update = incoming(conv, { type: 'conversationUpdate', membersAdded: [{ id: BOT_ACCOUNT.id, name: BOT_ACCOUNT.name }, user] });
          const status = await forwardToBot(conv, update);
          record({ direction: 'toBot', op: 'userActivity', conversationId: conv.id, activityId: update.id, activity: update, botStatus: status });
        }
        return;
      }
      const conv = rest[0] === 'conversations' ? conversations.get(rest[1] ?? '') : undefined;
      if (!conv) return send(res, 404, { error: { code: 'BadArgument', message: 'Conversation not found' } });
      if (method === 'GET' && rest.length === 2) return send(res, 200, { conversationId: conv.id, token: 'shim-token', expires_in: 1800 });
      if (method === 'GET' && rest[2] === 'activities') {
        const from = Number(u.searchParams.get('watermark') || 0);
        return send(res, 200, { activities: conv.stream.slice(from), watermark: String(conv.stream.length) });
      }
      if (method === 'POST' && rest[2] === 'activities') {
        const activity = incoming(conv, body);
        // The Direct Line service echoes the user's activity to the client (Web Chat marks it "sent").
        deliver(conv, activity);
        const status = await forwardToBot(conv, activity);
        record({ direction: 'toBot', op: 'userActivity', conversationId: conv.id, activityId: activity.id, activity, botStatus: status });
        // Direct Line answers 502 when the bot fails, and Web Chat shows the message as not sent.
        return status < 300 ? send(res, 200, { id: activity.id }) : send(res, 502, { error: { code: 'BotError', message: `bot answered ${status}` } });
      }
      return send(res, 404, { error: { code: 'NotFound', message: `shim has no ${method} ${u.pathname}` } });
    }

    // ── Bot Connector v3 (what the bot calls, with this shim as its serviceUrl) ──
    if (parts[0] === 'v3' && parts[1] === 'conversations') {
      if (parts.length === 2 && method === 'POST') {
        // Direct Line cannot start a conversation from the bot side.
        record({ direction: 'fromBot', op: 'createConversation', conversationId: '', activity: body });
        return send(res, 400, { error: { code: 'BadArgument', message: 'Direct Line does not support creating conversations from the bot' } });
      }
      const conv = conversations.get(parts[2] ?? '');
      if (!conv) return send(res, 404, { error: { code: 'ConversationNotFound', message: 'Conversation not found' } });
      if (method === 'GET' && (parts[3] === 'members' || parts[3] === 'pagedmembers')) {
        record({ direction: 'fromBot', op: 'members', conversationId: conv.id });
        const members = [user];
        if (parts[4]) return parts[4] === user.id ? send(res, 200, user) : send(res, 404, { error: { code: 'MemberNotFound', message: 'no such member' } });
        return send(res, 200, parts[3] === 'pagedmembers' ? { members } : members);
      }
      if (parts[3] !== 'activities') return send(res, 404, { error: { code: 'NotFound', message: `shim has no ${method} ${u.pathname}` } });
      const activityId = parts[4];
      if (method === 'POST') {
        const activity = {
          ...body,
          id: newActivityId(conv),
          timestamp: new Date().toISOString(),
          channelId,
          conversation: { id: conv.id },
          from: { ...BOT_ACCOUNT, ...body?.from, role: 'bot' },
          ...(activityId ? { replyToId: activityId } : {}),
        };
        deliver(conv, activity);
        record({ direction: 'fromBot', op: activityId ? 'reply' : 'post', conversationId: conv.id, activityId: activity.id, activity });
        return send(res, 200, { id: activity.id });
      }
      if (method === 'PUT' && activityId) {
        const previous = conv.current.get(activityId);
        if (!previous) return send(res, 404, { error: { code: 'ActivityNotFound', message: `no activity ${activityId}` } });
        const activity = {
          ...body,
          id: activityId,
          timestamp: previous.timestamp,
          channelId,
          conversation: { id: conv.id },
          from: { ...BOT_ACCOUNT, ...body?.from, role: 'bot' },
        };
        deliver(conv, activity);
        record({ direction: 'fromBot', op: 'update', conversationId: conv.id, activityId, activity });
        return send(res, 200, { id: activityId });
      }
      if (method === 'DELETE' && activityId) {
        conv.current.delete(activityId);
        record({ direction: 'fromBot', op: 'delete', conversationId: conv.id, activityId });
        return send(res, 200, {});
      }
    }
    return send(res, 404, { error: { code: 'NotFound', message: `shim has no ${method} ${u.pathname}` } });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    pageUrl: `${url}/`,
    records,
    conversationIds: () => [...conversations.keys()],
    deliveries: (conversationId, o = {}) => {
      const conv = conversations.get(conversationId);
      if (!conv) return [];
      return conv.stream.map((_, i) => i + 1).filter((n) => o.includeHeld || !conv.held.has(n));
    },
    transcript: (conversationId) => {
      const conv = conversationId ? conversations.get(conversationId) : [...conversations.values()].at(-1);
      return conv ? [...conv.current.values()] : [];
    },
    waitFor: (predicate, timeoutMs = 10_000, what = 'condition') =>
      new Promise<void>((resolve, reject) => {
        if (predicate(records)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          const last = records
            .slice(-8)
            .map((r) => `${r.direction} ${r.op} ${r.activityId ?? ''} ${summarize(r.activity)}`)
            .join('\n  ');
          reject(new Error(`Direct Line shim: ${what} not met within ${timeoutMs} ms; last records:\n  ${last}`));
        }, timeoutMs);
        const check = () => {
          if (predicate(records)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of waiters) waiters.delete(w);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A one-line view of an activity for error messages and reports. */
export function summarize(activity: any): string {
  if (!activity) return '';
  const card = activity.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
  const title = card?.body?.find((b: any) => b.type === 'TextBlock')?.text;
  const parts = [activity.type];
  if (activity.text) parts.push(JSON.stringify(String(activity.text).slice(0, 80)));
  if (activity.value) parts.push(`value=${JSON.stringify(activity.value).slice(0, 200)}`);
  if (title) parts.push(`card "${String(title).slice(0, 60)}"`);
  if (activity.replyToId) parts.push(`replyToId=${activity.replyToId}`);
  return parts.join(' ');
}
