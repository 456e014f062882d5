import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import type { Recommendation } from '../../core/model.js';
import { execute, message } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';

const ADMIN = SANDBOX_ADMIN;
const ALL = '19:channel-1@thread.tacv2';
const SCOPED = '19:channel-scoped@thread.tacv2';

/** A recommendation with resources in at least two subscriptions, and one of its subscriptions. */
async function splitRecommendation(h: SandboxHarness): Promise<{ rec: Recommendation; inside: string; outsideNames: string[]; insideNames: string[] }> {
  for (const rec of await h.bot.store.recommendations.list()) {
    if (rec.status !== 'unhealthy' || rec.resources.length > 10) continue;
    const subs = [...new Set(rec.resources.map((r) => r.subscriptionId.toLowerCase()))];
    if (subs.length < 2) continue;
    const inside = subs[0]!;
    const insideNames = rec.resources.filter((r) => r.subscriptionId.toLowerCase() === inside).map((r) => r.name);
    // Names that also appear inside the scope cannot tell the two apart.
    const outsideNames = rec.resources.filter((r) => r.subscriptionId.toLowerCase() !== inside && !insideNames.includes(r.name)).map((r) => r.name);
    if (outsideNames.length) return { rec, inside, outsideNames, insideNames };
  }
  throw new Error('no recommendation spans two subscriptions');
}

const cardUpdatesTo = (h: SandboxHarness, conversationId: string) =>
  h.bot.connector.activities().filter((c) => c.method === 'PUT' && c.conversationId === conversationId && c.body?.attachments?.length);

describe("card refreshes keep each conversation's filters", () => {
  let h: SandboxHarness;
  let split: Awaited<ReturnType<typeof splitRecommendation>>;

  beforeEach(async () => {
    h = await startSandboxBot();
    split = await splitRecommendation(h);
    expect(BUILTIN_SUBSCRIPTIONS.some((s) => s.subscriptionId.toLowerCase() === split.inside)).toBe(true);
    await h.bot.send(
      message(`subscribe scope=/subscriptions/${split.inside}`, {
        serviceUrl: h.bot.connector.url,
        conversationType: 'channel',
        conversationId: SCOPED,
        from: ADMIN,
      }),
    );
    expect((await h.bot.store.conversations.get(SCOPED))?.filters.scopes).toEqual([`/subscriptions/${split.inside}`]);
    await h.bot.app.sync!.runOnce();
    await h.bot.app.sync!.delivered();
    expect(await h.bot.store.recommendations.getCard(SCOPED, split.rec.key)).toBeDefined();
  });
  afterEach(() => h.stop());

  /** The scoped channel's refreshed card lists only its subscription's resources, and the next sync pass sends it nothing. */
  async function expectScopedCardKept(before: number) {
    const updates = cardUpdatesTo(h, SCOPED);
    expect(updates.length).toBeGreaterThan(before);
    const text = JSON.stringify(updates.at(-1)!.body);
    for (const name of split.outsideNames) expect(text).not.toContain(name);
    expect(text).toContain(split.insideNames[0]);
    // The unfiltered channel still sees everything.
    expect(JSON.stringify(cardUpdatesTo(h, ALL).at(-1)!.body)).toContain(split.outsideNames[0]);

    h.bot.connector.reset();
    await h.bot.app.sync!.runOnce();
    expect(await h.bot.app.sync!.delivered()).toEqual({ posted: 0, updated: 0, failed: 0 });
    expect(h.bot.connector.activities().filter((c) => c.conversationId === SCOPED)).toEqual([]);
  }

  async function assign(resourceName: string) {
    const resource = split.rec.resources.find((r) => r.name === resourceName)!;
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: split.rec.key, resourceIds: resource.resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, conversationType: 'channel', from: ADMIN },
      ),
    );
    const a = (await h.bot.store.assignments.list()).find((x) => x.resourceId === resource.resourceId)!;
    expect(a).toMatchObject({ status: 'open' });
    return a;
  }

  it('after an assignment is created', async () => {
    h.bot.connector.reset();
    await assign(split.outsideNames[0]!);
    await expectScopedCardKept(0);
  });

  it('after a grace period ends', async () => {
    await assign(split.insideNames[0]!);
    h.bot.connector.reset();
    h.clock.set('2026-12-14T10:00:00Z');
    const report = await h.bot.app.reminders.runOnce();
    expect(report.graceAnnouncements).toBe(1);
    expect(report.cardsUpdated).toBe(2);
    await expectScopedCardKept(0);
  });

  it('after a ticket is resolved', async () => {
    const a = await assign(split.outsideNames[0]!);
    await h.bot.app.resolution!.runOnce();
    h.bot.connector.reset();
    h.defender.control.markHealthy({ resourceId: a.resourceId, assessmentKey: a.recommendationKey });
    const report = await h.bot.app.resolution!.runOnce();
    expect(report).toMatchObject({ resolved: 1 });
    expect((await h.bot.store.assignments.get(a.id))!.status).toBe('resolved');
    expect(report.cardsUpdated).toBe(2);
    // The resolved resource still shows on cards until the sync pass sees it healthy; the scoped one never lists it.
    const updates = cardUpdatesTo(h, SCOPED);
    expect(updates.length).toBe(1);
    for (const name of split.outsideNames) expect(JSON.stringify(updates[0]!.body)).not.toContain(name);
  });

  it('the Refresh button answers with a message for a recommendation the filters exclude', async () => {
    await h.bot.send(
      message('subscribe severity=Low', { serviceUrl: h.bot.connector.url, conversationType: 'channel', conversationId: '19:low@thread.tacv2', from: ADMIN }),
    );
    const high = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.severity !== 'Low')!;
    h.bot.connector.reset();
    const res = await h.bot.send(
      execute(
        'refreshRecommendation',
        { recommendationKey: high.key, page: 1 },
        { serviceUrl: h.bot.connector.url, conversationType: 'channel', conversationId: '19:low@thread.tacv2', from: ADMIN },
      ),
    );
    expect(res.status).toBe(200);
    const all = JSON.stringify(res.body) + JSON.stringify(h.bot.connector.activities().map((c) => c.body));
    expect(all).toContain("outside this conversation's filters");
    for (const r of high.resources) expect(all).not.toContain(r.resourceId);
  });
});
