/**
 * Announcements in the conversation where an assignment was created (resolved, reopened, owner
 * changed…). Each is claimed in the store under its key before it is sent, so it goes out at most
 * once, even across restarts and overlapping passes; a send that then fails keeps its claim (a
 * lost note is better than a repeated one) and is logged.
 */
import type { Logger } from '../core/logger.js';
import { sendFailureLevel, type Messenger, type Store } from './ports.js';

export interface AnnouncementsDeps {
  store: Store;
  messenger: Messenger;
  logger: Logger;
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
    try {
      await this.deps.messenger.send(conversationId, { text });
      return true;
    } catch (err) {
      this.deps.logger[sendFailureLevel(err)]({ err, conversationId, key }, 'announcement could not be sent');
      return false;
    }
  }
}
