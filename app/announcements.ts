/**
 * Announcements in the conversation where an assignment was created (resolved, reopened, owner
 * changed…). Each is claimed in the store under its key before it is sent, so it goes out at most
 * once, even across restarts and overlapping passes; a send that then fails keeps its claim (a
 * lost note is better than a repeated one) and is logged.
 *
 * A job that announces the outcome of a step it has stored (the resolution pass) does not hold the
 * announcement in memory until it can send it: a crash in between would lose it, as the stored
 * outcome is not decided again. It writes the announcement as a work item (announcementIntent) in
 * the transaction that stores the outcome; deliverPending later claims the items and their keys in
 * one transaction and sends them. An item left by a crashed process is delivered by the next call,
 * and the key's claim keeps it to one send.
 *
 * What one call claims for the same conversation goes out as one message (a digest, digestTexts):
 * a pass that changes 50 tickets of one channel posts a few lists, not 50 notes (which Teams'
 * pacing of 8 sends per 2 s per conversation would also spread over 12 s). A lone outcome keeps
 * its own text.
 */
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { sendFailureLevel, type Messenger, type Store, type WorkRequest } from './ports.js';

export interface AnnouncementsDeps {
  store: Store;
  messenger: Messenger;
  logger: Logger;
}

/** The WorkQueue kind of an announcement written with its outcome, not sent yet. */
export const ANNOUNCEMENT_WORK = 'announcement';
const IntentPayload = z.object({ conversationId: z.string().min(1), text: z.string() });
/** Items claimed per round of deliverPending's transaction. */
const DELIVER_BATCH = 1000;
/** Claimed and completed in the same transaction, so no one ever finds the lease running; any positive value does. */
const DELIVER_LEASE_MS = 60_000;
/** Outcomes listed in one digest message; more go in further messages. A list longer than this is not read. */
export const DIGEST_MAX_LINES = 20;
/**
 * A digest's text in UTF-16 code units: at most 18 KB as UTF-16 and 27 KB as UTF-8, under the
 * smallest Teams message limit on record (28 KB, the Workflows connector; Teams itself says
 * 100 KB, keep under 80 KB), with room for the activity around it.
 */
export const DIGEST_MAX_CHARS = 9_000;

/** What one call of deliverPending sent: the outcomes announced, and the Teams messages they took. */
export interface Delivered {
  announced: number;
  messages: number;
}

/**
 * The messages for one conversation's announcements, in the order given: a lone one is its own
 * text; several are listed under a heading, one line each, at most DIGEST_MAX_LINES lines and
 * DIGEST_MAX_CHARS characters per message. A text too long to share a message goes alone, as is.
 */
export function digestTexts(texts: readonly string[]): Array<{ text: string; count: number }> {
  const total = texts.length;
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let chars = 0;
  for (const text of texts) {
    const line = `- ${text}`;
    // The heading of a chunk is at most ~60 characters; counted as 100 so the bound holds with it.
    if (chunk.length > 0 && (chunk.length >= DIGEST_MAX_LINES || chars + line.length + 1 > DIGEST_MAX_CHARS - 100)) {
      chunks.push(chunk);
      chunk = [];
      chars = 0;
    }
    chunk.push(text);
    chars += line.length + 1;
  }
  if (chunk.length > 0) chunks.push(chunk);
  let first = 1;
  return chunks.map((lines) => {
    const from = first;
    first += lines.length;
    if (lines.length === 1) return { text: lines[0]!, count: 1 };
    const heading =
      lines.length === total ? `${total} updates from the resolution job:` : `${total} updates from the resolution job (${from}–${from + lines.length - 1}):`;
    return { text: `${heading}\n\n${lines.map((l) => `- ${l}`).join('\n')}`, count: lines.length };
  });
}

/**
 * Forgets the delivered announcement items (done) finished more than `retentionDays` before
 * `now`; returns how many. Safe at any age: what keeps an announcement to one send is its key's
 * claim in the sent log, which is kept (app/reminders.ts prunes only period keys), so an intent
 * written again with the same key after its item is gone is still not sent twice.
 */
export async function pruneDeliveredAnnouncements(store: Store, now: Date, retentionDays: number): Promise<number> {
  return store.work.prune(ANNOUNCEMENT_WORK, new Date(now.getTime() - retentionDays * 86_400_000));
}

/** What to write (WorkQueue) with an outcome so its announcement survives a crash; undefined when it has nowhere to go. */
export function announcementIntent(conversationId: string | undefined, key: string, text: string): WorkRequest | undefined {
  if (!conversationId) return undefined;
  return { kind: ANNOUNCEMENT_WORK, key, payload: { conversationId, text } };
}

export class Announcements {
  constructor(private readonly deps: AnnouncementsDeps) {}

  /** Never rejects. Resolves true when this call sent it, false when it was claimed before, had nowhere to go or failed. */
  async announce(conversationId: string | undefined, key: string, text: string, at: Date): Promise<boolean> {
    if (!conversationId) return false;
    const claimed = await this.deps.store.reminders.markSent({ key, sentAt: at.toISOString(), recipient: conversationId }).catch((err: unknown) => {
      this.deps.logger.warn({ err, key }, 'announcement could not be claimed; not sent');
      return false;
    });
    if (!claimed) return false;
    return this.send(conversationId, { key }, text);
  }

  /**
   * Sends the announcements written as intents (announcementIntent) and not delivered yet: the
   * items are completed and their keys claimed in one transaction (one store write however many),
   * then sent. A key claimed before (by a pass that crashed after claiming, or by announce) is not
   * sent again. When that transaction fails nothing is claimed: the items stay for the next call.
   * Each conversation's items go out as digestTexts makes them; a message that fails is logged
   * with all its keys, which stay claimed. Never rejects.
   */
  async deliverPending(at: Date, owner: string): Promise<Delivered> {
    const { store, logger } = this.deps;
    let due: Array<{ conversationId: string; key: string; text: string }>;
    try {
      due = await store.transaction(async (tx) => {
        const out: Array<{ conversationId: string; key: string; text: string }> = [];
        for (;;) {
          const items = await tx.work.claim(ANNOUNCEMENT_WORK, owner, DELIVER_BATCH, DELIVER_LEASE_MS);
          for (const item of items) {
            const intent = IntentPayload.safeParse(item.payload);
            if (!intent.success) logger.warn({ key: item.key }, 'announcement intent unreadable; dropped');
            else if (await tx.reminders.markSent({ key: item.key, sentAt: at.toISOString(), recipient: intent.data.conversationId }))
              out.push({ key: item.key, ...intent.data });
            await tx.work.complete(item.id, owner);
          }
          if (items.length < DELIVER_BATCH) return out;
        }
      });
    } catch (err) {
      logger.warn({ err }, 'pending announcements could not be claimed; they are sent by a later pass');
      return { announced: 0, messages: 0 };
    }
    const byConversation = new Map<string, Array<{ key: string; text: string }>>();
    for (const { conversationId, key, text } of due) {
      const list = byConversation.get(conversationId);
      if (list) list.push({ key, text });
      else byConversation.set(conversationId, [{ key, text }]);
    }
    const sends: Array<Promise<number>> = [];
    for (const [conversationId, items] of byConversation) {
      let next = 0;
      // The messenger queues each conversation's sends in order, so the parts of a split digest arrive in order.
      for (const { text, count } of digestTexts(items.map((i) => i.text))) {
        const keys = items.slice(next, (next += count)).map((i) => i.key);
        sends.push(this.send(conversationId, keys.length === 1 ? { key: keys[0] } : { keys }, text).then((ok) => (ok ? count : 0)));
      }
    }
    const sent = await Promise.all(sends);
    return { announced: sent.reduce((n, c) => n + c, 0), messages: sent.filter((c) => c > 0).length };
  }

  private async send(conversationId: string, keys: { key?: string; keys?: string[] }, text: string): Promise<boolean> {
    try {
      await this.deps.messenger.send(conversationId, { text });
      return true;
    } catch (err) {
      this.deps.logger[sendFailureLevel(err)]({ err, conversationId, ...keys }, 'announcement could not be sent');
      return false;
    }
  }
}
