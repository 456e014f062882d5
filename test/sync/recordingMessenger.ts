import type { Messenger } from '../../bot/messenger.js';
import { SendError } from '../../bot/messenger.js';
import { messageOf, type MessageSource } from '../../app/ports.js';
import type { OutgoingMessage } from '../../bot/turn.js';

export interface Sent {
  conversationId: string;
  activityId: string;
  message: OutgoingMessage;
}

/**
 * Records sends and updates, completing each on a microtask like a queue would. A deferred
 * message is built when its send runs, as the real messenger builds it at the head of its queue. Conversations
 * listed in `failing` reject every call with SendError(gone), as an uninstalled bot would see.
 */
export class RecordingMessenger implements Messenger {
  readonly sends: Sent[] = [];
  readonly updates: Sent[] = [];
  readonly failing = new Set<string>();
  private next = 1;
  private readonly queue = new Set<Promise<unknown>>();

  send(conversationId: string, source: MessageSource): Promise<string | undefined> {
    return this.track(async () => {
      if (this.failing.has(conversationId)) throw new SendError(`sending to ${conversationId} failed (HTTP 403)`, 403, true);
      const message = messageOf(source);
      const activityId = `act-${this.next++}`;
      this.sends.push({ conversationId, activityId, message });
      return activityId;
    });
  }

  update(conversationId: string, activityId: string, source: MessageSource): Promise<void> {
    return this.track(async () => {
      if (this.failing.has(conversationId)) throw new SendError(`sending to ${conversationId} failed (HTTP 403)`, 403, true);
      this.updates.push({ conversationId, activityId, message: messageOf(source) });
    });
  }

  pending(): number {
    return this.queue.size;
  }

  async drain(): Promise<void> {
    while (this.queue.size > 0) await Promise.allSettled([...this.queue]);
  }

  reset(): void {
    this.sends.length = 0;
    this.updates.length = 0;
  }

  private track<T>(op: () => Promise<T>): Promise<T> {
    const p = Promise.resolve().then(op);
    const settled = p.catch(() => undefined).finally(() => this.queue.delete(settled));
    this.queue.add(settled);
    return p;
  }
}
