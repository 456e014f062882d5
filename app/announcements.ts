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
    return this.send(conversationId, key, text);
  }

  /**
   * Sends the announcements written as intents (announcementIntent) and not delivered yet: the
   * items are completed and their keys claimed in one transaction (one store write however many),
   * then sent. A key claimed before (by a pass that crashed after claiming, or by announce) is not
   * sent again. When that transaction fails nothing is claimed: the items stay for the next call.
   * Never rejects; resolves with how many were sent.
   */
  async deliverPending(at: Date, owner: string): Promise<number> {
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
      return 0;
    }
    const sent = await Promise.all(due.map(({ conversationId, key, text }) => this.send(conversationId, key, text)));
    return sent.filter(Boolean).length;
  }

  private async send(conversationId: string, key: string, text: string): Promise<boolean> {
    try {
      await this.deps.messenger.send(conversationId, { text });
      return true;
    } catch (err) {
      this.deps.logger[sendFailureLevel(err)]({ err, conversationId, key }, 'announcement could not be sent');
      return false;
    }
  }
}
