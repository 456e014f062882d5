import { execute, message } from '../harness/activities.js';
import { SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import type { ConnectorCall } from '../harness/fakeConnector.js';
import { cardProblems } from '../cards/validate.js';

const CHANNEL = { conversationType: 'channel' as const, from: SANDBOX_ADMIN };
const isRecommendationCard = (c: ConnectorCall) => JSON.stringify(c.body).includes('"id":"resourceIds"');
const isDigest = (c: ConnectorCall) => JSON.stringify(c.body).includes('Defender for Cloud digest');
const to = (h: SandboxHarness, conversationId: string) => h.bot.connector.activities().filter((c) => c.conversationId === conversationId);
const cardOf = (c: ConnectorCall) => c.body.attachments?.[0]?.content;

/** Every Action.Execute of a card. */
function actions(card: unknown): any[] {
  const out: any[] = [];
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (n.type === 'Action.Execute') out.push(n);
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
}

describe('digest mode: one summary card per conversation, updated in place', () => {
  let h: SandboxHarness;
  let unhealthy: number;
  beforeAll(async () => {
    h = await startSandboxBot({ subscribe: false, env: { CHANNEL_DIGEST_ABOVE: '' } });
    await h.bot.app.sync!.runOnce();
    unhealthy = (await h.bot.store.recommendations.list()).filter((r) => r.status !== 'resolved').length;
    expect(unhealthy).toBeGreaterThan(10);
  });
  afterAll(() => h.stop());

  it('is the default for a channel with more than 10 recommendations: the welcome says so, one digest, no per-recommendation posts', async () => {
    const id = '19:busy@thread.tacv2';
    await h.bot.send(message('subscribe', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: id }));
    expect(JSON.stringify(to(h, id)[0].body)).toContain('Mode: digest');
    expect(JSON.stringify(to(h, id)[0].body)).toContain('subscribe mode=cards');
    await h.bot.connector.waitFor(() => to(h, id).some(isDigest), 5_000);
    await h.bot.app.sync!.delivered();
    expect((await h.bot.store.conversations.get(id))?.mode).toBe('digest');
    const posts = to(h, id).filter((c) => c.method === 'POST');
    expect(posts.filter(isDigest)).toHaveLength(1);
    expect(posts.filter(isRecommendationCard)).toHaveLength(0);

    const digest = cardOf(posts.find(isDigest)!);
    expect(cardProblems(digest)).toEqual([]);
    const text = JSON.stringify(digest);
    expect(text).toContain(`${unhealthy} recommendations`);
    expect(text).toContain('By severity');
    const open = actions(digest).filter((a) => a.verb === 'openRecommendation');
    expect(open).toHaveLength(10);

    // Open: the recommendation's card comes as a reply (the thread of the digest), with its resources.
    const res = await h.bot.send(execute('openRecommendation', open[0].data, { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: id }));
    expect(res.status).toBe(200);
    await h.bot.connector.waitFor(() => to(h, id).some(isRecommendationCard), 5_000);
    const opened = to(h, id).find(isRecommendationCard)!;
    expect(JSON.stringify(opened.body)).toContain(open[0].data.recommendationKey);
  });

  it('an unchanged sync updates nothing; a change updates the same digest in place', async () => {
    const id = '19:busy@thread.tacv2';
    const before = to(h, id).length;
    await h.bot.app.sync!.runOnce();
    await h.bot.app.sync!.delivered();
    expect(to(h, id).length).toBe(before);

    const rec = (await h.bot.store.recommendations.list()).find((r) => r.status !== 'resolved' && r.resources.length === 1)!;
    expect(h.defender.control.markHealthy({ resourceId: rec.resources[0].resourceId, assessmentKey: rec.key })).toBe(1);
    await h.bot.app.sync!.runOnce();
    await h.bot.app.sync!.delivered();
    const after = to(h, id).slice(before);

    expect(after.filter((c) => c.method === 'POST' && isDigest(c))).toHaveLength(0);
    const updates = after.filter((c) => c.method === 'PUT' && isDigest(c));
    expect(updates).toHaveLength(1);
    expect(updates[0].activityId).toBe((await h.bot.store.recommendations.getCard(id, '#digest'))?.activityId);
    expect(JSON.stringify(updates[0].body)).toContain(`${unhealthy - 1} recommendations`);
  });

  it('mode=cards keeps one card per recommendation; a channel with 10 or fewer gets cards by default', async () => {
    const cards = '19:cards@thread.tacv2';
    await h.bot.send(message('subscribe mode=cards', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: cards }));
    expect(JSON.stringify(to(h, cards)[0].body)).toContain('Mode: cards');
    const now = (await h.bot.store.recommendations.list()).filter((r) => r.status !== 'resolved').length;
    await h.bot.connector.waitFor(() => to(h, cards).filter(isRecommendationCard).length === now, 5_000);
    expect(to(h, cards).some(isDigest)).toBe(false);

    const few = '19:few@thread.tacv2';
    await h.bot.send(message('subscribe severity=Low', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: few }));
    const low = (await h.bot.store.recommendations.list()).filter((r) => r.status !== 'resolved' && r.severity === 'Low').length;
    expect(low).toBeLessThanOrEqual(10);
    expect((await h.bot.store.conversations.get(few))?.mode).toBe('cards');

    // Switching an existing subscription to the digest posts it at once.
    await h.bot.send(message('subscribe mode=digest', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: cards }));
    await h.bot.connector.waitFor(() => to(h, cards).some(isDigest), 5_000);
    expect(JSON.stringify(to(h, cards).find((c) => JSON.stringify(c.body).includes('Subscription updated'))?.body)).toContain('Mode: digest');
  });

  it('refuses an unknown mode with a clear error', async () => {
    await h.bot.send(message('subscribe mode=loud', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: '19:bad@thread.tacv2' }));
    expect(JSON.stringify(h.bot.connector.cards().pop())).toContain('mode \\"loud\\" is not one of digest, cards');
    expect((await h.bot.store.conversations.get('19:bad@thread.tacv2'))?.subscribed ?? false).toBe(false);
  });
});
