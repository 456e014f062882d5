import { randomUUID } from 'node:crypto';
import type { Activity } from 'botbuilder';
import { z } from 'zod';
import type { MetaRepository } from '../app/ports.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';

/**
 * Web Chat and the Emulator send `Action.Submit` without `replyToId`, so the bot cannot tell which
 * message a click came from and would post its answer as a new copy. Every card sent to such a
 * channel carries its own identity in each Action.Submit's data:
 * - an update knows the activity id, so the card carries it (`cardActivityId`);
 * - a new post does not know it yet (the channel assigns it), so the card carries a random
 *   `cardKey` and the id the channel answers is remembered under that key once posted. This costs
 *   one store write per post instead of a second call to the channel (post, then update with the id).
 * Teams sends `Action.Execute` with `replyToId`: its cards are left as they are.
 */
export const CARD_ACTIVITY_ID = 'cardActivityId';
export const CARD_KEY = 'cardKey';

/** Bot Framework activity ids: Teams' numbers, Direct Line's "conv|0000001", the Emulator's GUIDs. Printable, bounded. */
export const cardActivityIdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/);
const cardKeySchema = z.uuid();

const META_PREFIX = 'card-key:';

/**
 * How long a posted card's key is kept. Its actions outlive it as plain posts (the answer comes as
 * a new message), so this is how long a click updates the card in place; a chat's cards older than
 * a month are rarely clicked, and one row per post would otherwise grow the store forever.
 */
export const CARD_KEY_RETENTION_DAYS = 30;
/** Old keys are pruned when a card is posted, at most this often (each prune reads every key). */
export const CARD_KEY_PRUNE_EVERY_MS = 3_600_000;

/**
 * The stored value: the activity id, a space, when the card was posted (ISO). Ids have no spaces
 * (cardActivityIdSchema). A value without the time (written before there was one) counts as old.
 */
export function cardKeyValue(activityId: string, postedAt: Date): string {
  return `${activityId} ${postedAt.toISOString()}`;
}
function parseCardKeyValue(value: string): { id: string; postedAt?: number } {
  const space = value.indexOf(' ');
  if (space < 0) return { id: value };
  const at = Date.parse(value.slice(space + 1));
  return { id: value.slice(0, space), ...(Number.isNaN(at) ? {} : { postedAt: at }) };
}

/** Channels whose card actions carry the clicked message's id themselves. */
export function channelKnowsClickedCard(channelId: string | undefined): boolean {
  return channelId === 'msteams';
}

/** The activity with `stamp` merged into the data of every Action.Submit of its Adaptive Cards. */
export function stampCardActions(activity: Partial<Activity>, stamp: Record<string, string>): Partial<Activity> {
  if (!activity.attachments?.length) return activity;
  let stamped = false;
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const obj = node as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = walk(v);
    if (obj.type === 'Action.Submit' && (out.data === undefined || (typeof out.data === 'object' && out.data !== null && !Array.isArray(out.data)))) {
      out.data = { ...((out.data as object | undefined) ?? {}), ...stamp };
      stamped = true;
    }
    return out;
  };
  const attachments = activity.attachments.map((a) => (a.contentType === 'application/vnd.microsoft.card.adaptive' ? { ...a, content: walk(a.content) } : a));
  return stamped ? { ...activity, attachments } : activity;
}

export class CardIds {
  private lastPrune = -Infinity;
  /** The prune a post started, if one is running: posts never wait for it (on lowdb it rewrites the file). */
  private pruning: Promise<number> | undefined;

  constructor(
    private readonly meta: MetaRepository,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /**
   * Deletes the keys of cards posted more than CARD_KEY_RETENTION_DAYS ago (and keys without a
   * posting time); returns how many. Never throws: a prune that fails is tried at the next post.
   */
  async pruneOld(): Promise<number> {
    const now = this.clock.now().getTime();
    this.lastPrune = now;
    const before = now - CARD_KEY_RETENTION_DAYS * 86_400_000;
    try {
      const removed = await this.meta.prune(META_PREFIX, (v) => (parseCardKeyValue(v).postedAt ?? -Infinity) < before);
      if (removed > 0) this.logger.info({ removed }, 'pruned old card keys');
      return removed;
    } catch (err) {
      this.lastPrune = -Infinity;
      this.logger.warn({ err }, 'could not prune old card keys; trying again at the next post');
      return 0;
    }
  }

  /**
   * Prepares a card for a new post: `remember` is given the id the channel assigned, after the post.
   * Never throws: a card whose key was not remembered still works, its actions just post their answer.
   */
  forPost(activity: Partial<Activity>, channelId: string | undefined): { activity: Partial<Activity>; remember: (id: string | undefined) => Promise<void> } {
    if (channelKnowsClickedCard(channelId)) return { activity, remember: async () => {} };
    const key = randomUUID();
    const stamped = stampCardActions(activity, { [CARD_KEY]: key });
    if (stamped === activity) return { activity, remember: async () => {} };
    return {
      activity: stamped,
      remember: async (id) => {
        if (!id) return;
        const now = this.clock.now();
        try {
          await this.meta.set(META_PREFIX + key, cardKeyValue(id, now));
        } catch (err) {
          this.logger.warn({ err }, "could not remember a card's activity id; its actions will post their answers");
        }
        if (!this.pruning && now.getTime() - this.lastPrune >= CARD_KEY_PRUNE_EVERY_MS)
          this.pruning = this.pruneOld().finally(() => (this.pruning = undefined));
      },
    };
  }

  /** Resolves when the prune a post started (if any) has finished; for shutdown and tests. */
  async settled(): Promise<void> {
    await this.pruning;
  }

  /** A card replacing the message `activityId`: its actions carry that id. */
  forUpdate(activity: Partial<Activity>, channelId: string | undefined, activityId: string): Partial<Activity> {
    return channelKnowsClickedCard(channelId) ? activity : stampCardActions(activity, { [CARD_ACTIVITY_ID]: activityId });
  }

  /**
   * The id of the message a card action came from, from the action's data (then removed from it,
   * so handlers see only their own fields). Malformed values are ignored: the answer is posted.
   */
  async clickedCard(data: Record<string, unknown>): Promise<string | undefined> {
    const { [CARD_ACTIVITY_ID]: rawId, [CARD_KEY]: rawKey } = data;
    delete data[CARD_ACTIVITY_ID];
    delete data[CARD_KEY];
    const id = cardActivityIdSchema.safeParse(rawId);
    if (id.success) return id.data;
    const key = cardKeySchema.safeParse(rawKey);
    if (!key.success) return undefined;
    try {
      const stored = await this.meta.get(META_PREFIX + key.data);
      const id = stored === undefined ? undefined : parseCardKeyValue(stored).id;
      return id && cardActivityIdSchema.safeParse(id).success ? id : undefined;
    } catch (err) {
      this.logger.warn({ err }, "could not read a card's activity id; the answer is posted");
      return undefined;
    }
  }
}
