/**
 * bot/cardIds.ts remembers one `card-key:*` meta row per card posted outside Teams. Rows older
 * than CARD_KEY_RETENTION_DAYS are pruned when a card is posted (at most once an hour, by the
 * injected clock), so the store stops growing with every post while recent cards keep updating.
 */
import { ManualClock, DAY_MS, HOUR_MS } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import { CARD_KEY, CARD_KEY_RETENTION_DAYS, CardIds, cardKeyValue } from '../../bot/cardIds.js';

const card = {
  attachments: [
    {
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: { type: 'AdaptiveCard', actions: [{ type: 'Action.Submit', title: 'Go', data: { verb: 'go' } }] },
    },
  ],
};

describe('card keys are pruned by age', () => {
  const store = openMemoryStore();
  const clock = new ManualClock('2026-11-01T09:00:00Z');
  const ids = new CardIds(store.meta, silentLogger, clock);

  /** Posts a card (as the router does outside Teams) and returns the data its button sends back. */
  async function post(activityId: string): Promise<Record<string, unknown>> {
    const prepared = ids.forPost(card, 'webchat');
    await prepared.remember(activityId);
    // The post does not wait for a prune it starts; the checks below look at its result.
    await ids.settled();
    const data = (prepared.activity.attachments![0]!.content as any).actions[0].data as Record<string, unknown>;
    expect(data[CARD_KEY]).toEqual(expect.any(String));
    return data;
  }
  const clicked = (data: Record<string, unknown>) => ids.clickedCard({ ...data });

  it('keeps a key for the retention period, prunes it after, and never touches other meta rows', async () => {
    await store.meta.set('watermark', 'w');
    // A key written before keys had a posting time: counted as old.
    await store.meta.set('card-key:00000000-0000-4000-8000-000000000000', 'act-legacy');
    const first = await post('act-1');
    expect(await clicked(first)).toBe('act-1');
    expect(await store.meta.get('card-key:00000000-0000-4000-8000-000000000000')).toBeUndefined();

    clock.advance((CARD_KEY_RETENTION_DAYS - 1) * DAY_MS);
    const second = await post('act-2');
    expect(await clicked(first)).toBe('act-1');

    clock.advance(2 * DAY_MS);
    await post('act-3');
    // The first card is past the retention: its click now posts its answer; the second still updates.
    expect(await clicked(first)).toBeUndefined();
    expect(await clicked(second)).toBe('act-2');
    expect(await store.meta.get('watermark')).toBe('w');
  });

  it('prunes at most once an hour of the clock, however many cards are posted', async () => {
    clock.advance(2 * HOUR_MS);
    await post('act-a'); // prunes (more than an hour since the last)
    const staleKey = 'card-key:11111111-1111-4111-8111-111111111111';
    await store.meta.set(staleKey, cardKeyValue('act-stale', new Date(clock.now().getTime() - (CARD_KEY_RETENTION_DAYS + 1) * DAY_MS)));
    clock.advance(HOUR_MS - 1);
    await post('act-b');
    expect(await store.meta.get(staleKey)).toMatch(/^act-stale /);
    clock.advance(1);
    await post('act-c');
    expect(await store.meta.get(staleKey)).toBeUndefined();
    expect(await clicked(await post('act-d'))).toBe('act-d');
  });

  it('a post does not wait for the prune it starts (on lowdb a prune rewrites the file)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slowStore = openMemoryStore();
    let prunes = 0;
    const slowMeta = {
      ...slowStore.meta,
      prune: async (prefix: string, stale: (v: string) => boolean) => {
        prunes++;
        await held;
        return slowStore.meta.prune(prefix, stale);
      },
    };
    const slow = new CardIds(slowMeta, silentLogger, new ManualClock('2026-11-01T09:00:00Z'));
    const prepared = slow.forPost(card, 'webchat');
    // Had remember waited for the held prune, this would be 'prune'.
    const first = await Promise.race([prepared.remember('act-slow').then(() => 'post'), held.then(() => 'prune')]);
    expect(first).toBe('post');
    expect(prunes).toBe(1);
    const data = (prepared.activity.attachments![0]!.content as any).actions[0].data as Record<string, unknown>;
    expect(await slow.clickedCard({ ...data })).toBe('act-slow');
    let settled = false;
    const settling = slow.settled().then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    release();
    await settling;
    expect(settled).toBe(true);
  });
});
