import { botAdded, message } from '../harness/activities.js';
import { SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import type { ConnectorCall } from '../harness/fakeConnector.js';

const CHANNEL = { conversationType: 'channel' as const, from: SANDBOX_ADMIN };
const FIRST_CARD_WITHIN_MS = 5_000;

/** Recommendation cards (not the welcome) posted to a conversation. */
const recommendationPosts = (calls: ConnectorCall[], conversationId: string) =>
  calls.filter((c) => c.method === 'POST' && c.conversationId === conversationId && JSON.stringify(c.body).includes('"id":"resourceIds"'));

describe('a new subscription gets its cards from the last sync at once', () => {
  let h: SandboxHarness;
  let unhealthy: number;
  beforeAll(async () => {
    h = await startSandboxBot({ subscribe: false, env: { CHANNEL_DIGEST_ABOVE: '' } });
    // As at start: a first sync before anyone subscribed stores the recommendations, posts nothing.
    await h.bot.app.sync!.runOnce();
    unhealthy = (await h.bot.store.recommendations.list()).filter((r) => r.status !== 'resolved').length;
    expect(assessmentQueries()).toBeGreaterThan(0);
    expect(unhealthy).toBeGreaterThan(10);
  });
  afterAll(() => h.stop());
  const assessmentQueries = () =>
    h.defender.control.requests().filter((r) => r.kind === 'resourceGraph' && /securityresources/i.test(JSON.stringify(r.body))).length;

  it('subscribe: the welcome first, then every card within 5 s, with no new Azure query', async () => {
    const conversationId = '19:fresh@thread.tacv2';
    const queriesBefore = assessmentQueries();
    const started = Date.now();
    await h.bot.send(message('subscribe mode=cards', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId }));
    await h.bot.connector.waitFor((calls) => recommendationPosts(calls, conversationId).length > 0, FIRST_CARD_WITHIN_MS);
    const firstCardMs = Date.now() - started;
    expect(firstCardMs).toBeLessThan(FIRST_CARD_WITHIN_MS);
    await h.bot.connector.waitFor((calls) => recommendationPosts(calls, conversationId).length === unhealthy, 10_000);
    await h.bot.app.sync!.delivered();
    // (The role check may read the management-group ancestry; the recommendations are not asked for again.)
    expect(assessmentQueries()).toBe(queriesBefore);

    const toThis = h.bot.connector.activities().filter((c) => c.conversationId === conversationId);
    expect(JSON.stringify(toThis[0].body)).toContain('Subscribed');
    expect((await h.bot.store.recommendations.listCards()).filter((c) => c.conversationId === conversationId)).toHaveLength(unhealthy);

    // The next pass and a repeated subscribe see those cards as posted: no second copy.
    await h.bot.app.sync!.runOnce();
    await h.bot.send(message('subscribe mode=cards', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId }));
    await h.bot.app.sync!.delivered();
    expect(recommendationPosts(h.bot.connector.activities(), conversationId)).toHaveLength(unhealthy);
  });

  it('install: a channel subscribed by installing gets its digest (over 10 recommendations) at once, after the welcome', async () => {
    const conversationId = '19:installed@thread.tacv2';
    const digest = (calls: ConnectorCall[]) =>
      calls.filter((c) => c.conversationId === conversationId && JSON.stringify(c.body).includes('Defender for Cloud digest'));
    const started = Date.now();
    await h.bot.send(botAdded({ serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId }));
    await h.bot.connector.waitFor((calls) => digest(calls).length > 0, FIRST_CARD_WITHIN_MS);
    expect(Date.now() - started).toBeLessThan(FIRST_CARD_WITHIN_MS);
    const toThis = h.bot.connector.activities().filter((c) => c.conversationId === conversationId);
    expect(JSON.stringify(toThis[0].body)).toContain('Mode: digest');
    expect(digest([toThis[0]])).toHaveLength(0);
  });

  it('a filter change posts the cards the new filter adds, and none twice', async () => {
    const conversationId = '19:filtered@thread.tacv2';
    const recs = (await h.bot.store.recommendations.list()).filter((r) => r.status !== 'resolved');
    await h.bot.send(message('subscribe severity=Low', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId }));
    const low = recs.filter((r) => r.severity === 'Low').length;
    await h.bot.connector.waitFor((calls) => recommendationPosts(calls, conversationId).length === low, FIRST_CARD_WITHIN_MS);
    await h.bot.send(message('subscribe severity=Low,High', { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId }));
    const lowHigh = recs.filter((r) => r.severity !== 'Medium').length;
    await h.bot.connector.waitFor((calls) => recommendationPosts(calls, conversationId).length === lowHigh, FIRST_CARD_WITHIN_MS);
    await h.bot.app.sync!.delivered();
    expect(recommendationPosts(h.bot.connector.activities(), conversationId)).toHaveLength(lowHigh);
  });
});
