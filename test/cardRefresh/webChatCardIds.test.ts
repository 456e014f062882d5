import { execute, message, submit } from '../harness/activities.js';
import type { ConnectorCall } from '../harness/fakeConnector.js';
import { SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import type { Recommendation } from '../../core/model.js';

/**
 * Web Chat and the Emulator send Action.Submit without replyToId (issue 13 item 2): the card's own
 * id rides in its actions, so Next/Previous/Refresh update the card instead of posting a copy.
 */
const WEBCHAT = { channelId: 'webchat' as const, conversationType: 'personal' as const, from: SANDBOX_ADMIN, conversationId: 'webchat-conv-1' };

function nodes(card: unknown, type: string): any[] {
  const out: any[] = [];
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (n.type === type) out.push(n);
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
}
const cardOf = (c: ConnectorCall) => c.body?.attachments?.[0]?.content;
const submitAction = (card: unknown, title: string) => nodes(card, 'Action.Submit').find((a) => a.title === title);
const isCardOf = (c: ConnectorCall, rec: Recommendation) => JSON.stringify(cardOf(c) ?? null).includes(`"recommendationKey":"${rec.key}"`);
const cardPosts = (h: SandboxHarness) => h.bot.connector.activities().filter((c) => c.method === 'POST' && c.body?.attachments?.length);
const puts = (h: SandboxHarness) => h.bot.connector.activities().filter((c) => c.method === 'PUT');
const pageOf = (card: unknown) => JSON.stringify(card).match(/Page (\d+) of/)?.[1];

describe('Web Chat: card actions update the card they came from', () => {
  let h: SandboxHarness;
  let rec: Recommendation;
  let tracked: string;
  let posted: any;
  beforeAll(async () => {
    h = await startSandboxBot({ subscribe: false });
    await h.bot.app.sync!.runOnce();
    rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length > 25)!;
    expect(rec).toBeDefined();
    await h.bot.send(message('subscribe mode=cards', { serviceUrl: h.bot.connector.url, ...WEBCHAT }));
    await h.bot.connector.waitFor((calls) => calls.some((c) => c.method === 'POST' && isCardOf(c, rec)), 10_000);
    await h.bot.app.sync!.delivered();
    tracked = (await h.bot.store.recommendations.getCard(WEBCHAT.conversationId, rec.key))!.activityId;
    posted = cardOf(cardPosts(h).find((c) => isCardOf(c, rec))!);
  }, 60_000);
  afterAll(() => h.stop());

  const send = (data: Record<string, unknown>) => h.bot.send(submit(data, { serviceUrl: h.bot.connector.url, ...WEBCHAT }));

  it('Next on a posted card (no replyToId) updates that activity, and the updated card carries its id for Previous', async () => {
    const next = submitAction(posted, 'Next');
    expect(next).toBeDefined();
    // A new post cannot know its id yet: it carries a key the bot remembered the id under.
    expect(next.data.cardKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(next.data.cardActivityId).toBeUndefined();
    h.bot.connector.reset();
    expect((await send(next.data)).status).toBe(200);
    expect(cardPosts(h)).toHaveLength(0);
    expect(puts(h).map((c) => c.activityId)).toEqual([tracked]);
    const two = cardOf(puts(h)[0]!);
    expect(pageOf(two)).toBe('2');

    const previous = submitAction(two, 'Previous');
    expect(previous.data.cardActivityId).toBe(tracked);
    h.bot.connector.reset();
    await send(previous.data);
    expect(cardPosts(h)).toHaveLength(0);
    expect(puts(h).map((c) => c.activityId)).toEqual([tracked]);
    expect(pageOf(cardOf(puts(h)[0]!))).toBe('1');
  });

  it('a stale copy (no id, or another message) answers on the tracked card and posts no second live card', async () => {
    const next = submitAction(posted, 'Next');
    const { cardKey: _key, ...withoutId } = next.data;
    h.bot.connector.reset();
    // An old copy whose actions carry no id (posted by an older version of the bot).
    await send(withoutId);
    await h.bot.connector.waitFor((calls) => calls.some((c) => c.method === 'POST'), 5_000);
    expect(cardPosts(h)).toHaveLength(0);
    expect(puts(h).map((c) => c.activityId)).toEqual([tracked]);
    const text = h.bot.connector
      .activities()
      .filter((c) => c.method === 'POST')
      .map((c) => c.body.text);
    expect(text).toEqual([expect.stringContaining('older copy')]);

    // A copy that knows its own id: it is replaced by a notice (no live buttons), the tracked card shows the page.
    h.bot.connector.reset();
    await send({ ...withoutId, cardActivityId: 'act-copy-1' });
    await h.bot.connector.waitFor((calls) => calls.filter((c) => c.method === 'PUT').length === 2, 5_000);
    expect(cardPosts(h)).toHaveLength(0);
    const byId = new Map(puts(h).map((c) => [c.activityId, cardOf(c)]));
    expect(pageOf(byId.get(tracked))).toBe('2');
    expect(JSON.stringify(byId.get('act-copy-1'))).toContain('Older copy');
    expect(nodes(byId.get('act-copy-1'), 'Action.Submit')).toHaveLength(0);

    const cards = (await h.bot.store.recommendations.listCards({ recommendationKey: rec.key })).filter((c) => c.conversationId === WEBCHAT.conversationId);
    expect(cards.map((c) => c.activityId)).toEqual([tracked]);
  });

  it('"Back to the recommendation" on another card (an outcome) updates the tracked card and leaves that card as it is', async () => {
    h.bot.connector.reset();
    await send({ verb: 'refreshRecommendation', recommendationKey: rec.key, page: 1, cardActivityId: 'act-outcome-1' });
    await h.bot.connector.waitFor((calls) => calls.some((c) => c.method === 'POST'), 5_000);
    expect(puts(h).map((c) => c.activityId)).toEqual([tracked]);
    expect(pageOf(cardOf(puts(h)[0]!))).toBe('1');
    expect(cardPosts(h)).toHaveLength(0);
    expect(
      h.bot.connector
        .activities()
        .filter((c) => c.method === 'POST')
        .map((c) => c.body.text),
    ).toEqual([expect.stringContaining('further up, now shows page 1')]);
  });

  it('a malformed id in the action data is ignored (never used as an activity id)', async () => {
    const next = submitAction(posted, 'Next');
    h.bot.connector.reset();
    const res = await send({ ...next.data, cardKey: undefined, cardActivityId: `bad id ${'x'.repeat(300)}` });
    expect(res.status).toBe(200);
    await h.bot.connector.waitFor((calls) => calls.some((c) => c.method === 'PUT'), 5_000);
    expect(puts(h).map((c) => c.activityId)).toEqual([tracked]);
  });

  it('Teams (Action.Execute with replyToId) answers in the invoke response, as before', async () => {
    const teams = { serviceUrl: h.bot.connector.url, conversationType: 'channel' as const, from: SANDBOX_ADMIN, replyToId: 'teams-card-1' };
    h.bot.connector.reset();
    const res = await h.bot.send(execute('refreshRecommendation', { recommendationKey: rec.key, page: '2' }, teams));
    expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(pageOf(res.body.value)).toBe('2');
    expect(nodes(res.body.value, 'Action.Execute').every((a) => a.data?.cardKey === undefined && a.data?.cardActivityId === undefined)).toBe(true);
    expect(h.bot.connector.activities()).toHaveLength(0);
  });
});
