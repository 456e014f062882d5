import { BUILTIN_SUBSCRIPTIONS, CHILD_MANAGEMENT_GROUP } from '../../sandbox/defender/dataset.js';
import { silentLogger } from '../../core/logger.js';
import { recommendationKeyOf } from '../../core/recommendations.js';
import { SyncJob } from '../../app/syncRecommendations.js';
import { scheduleSync } from '../../jobs/schedules.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import type { Store } from '../../app/ports.js';
import type { Conversation, SubscriptionFilters } from '../../core/model.js';
import { startHarness, START, type Harness } from '../defender/helpers.js';
import { RecordingMessenger } from './recordingMessenger.js';

const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);
const DEV = BUILTIN_SUBSCRIPTIONS.find((s) => s.managementGroup !== CHILD_MANAGEMENT_GROUP)!.subscriptionId;

function conversation(id: string, filters: SubscriptionFilters = { severities: [], scopes: [] }): Conversation {
  return {
    id,
    channelId: 'msteams',
    serviceUrl: 'https://smba.example/',
    kind: 'channel',
    reference: { conversation: { id } },
    subscribed: true,
    filters,
    createdAt: START,
    updatedAt: START,
  };
}

/** Unhealthy (recommendation key → resource ids), straight from the simulator's state. */
function unhealthyByKey(h: Harness): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of h.sim.control.listAssessments({ code: 'Unhealthy' })) {
    const k = recommendationKeyOf(a.assessmentKey);
    out.set(k, [...(out.get(k) ?? []), a.resourceId]);
  }
  return out;
}

const keyOfCard = (s: { message: unknown }) => ((s.message as any).card.actions as any[]).find((a) => a.title === 'Refresh').data.recommendationKey as string;
const choicesOf = (s: { message: unknown }) => ((s.message as any).card.body as any[]).find((b) => b.type === 'Input.ChoiceSet')?.choices ?? [];

describe('sync job against the Defender simulator', () => {
  let h: Harness;
  let store: Store;
  let messenger: RecordingMessenger;
  let job: SyncJob;

  beforeEach(async () => {
    h = await startHarness({ pageSize: 200 });
    store = openMemoryStore();
    messenger = new RecordingMessenger();
    job = new SyncJob({ azure: h.client, store, messenger, clock: h.clock, logger: silentLogger, scopes: ALL });
  });
  afterEach(async () => {
    await h.sim.close();
  });

  it('posts one card per recommendation per conversation, then a pass without changes sends nothing and does not write', async () => {
    await store.conversations.upsert(conversation('c1'));
    await store.conversations.upsert(conversation('c2'));
    const expected = unhealthyByKey(h);
    const first = await job.runOnce();
    expect(first).toMatchObject({
      recommendations: expected.size,
      new: expected.size,
      changed: 0,
      resolved: 0,
      cardsPosted: expected.size * 2,
      cardsUpdated: 0,
      storeWrites: 1,
    });
    expect(first.resources).toBe([...expected.values()].reduce((n, ids) => n + ids.length, 0));
    expect(await job.delivered()).toEqual({ posted: expected.size * 2, updated: 0, failed: 0 });
    expect(messenger.sends).toHaveLength(expected.size * 2);
    expect(new Set(messenger.sends.filter((s) => s.conversationId === 'c1').map(keyOfCard))).toEqual(new Set(expected.keys()));
    const cards = await store.recommendations.listCards();
    expect(cards).toHaveLength(expected.size * 2);
    const sent = messenger.sends.find((s) => s.conversationId === 'c2')!;
    expect((await store.recommendations.getCard('c2', keyOfCard(sent)))!.activityId).toBe(sent.activityId);

    messenger.reset();
    const writes = store.status().writes;
    h.clock.advance(5 * 60_000);
    const second = await job.runOnce();
    await job.delivered();
    expect(second).toMatchObject({ new: 0, changed: 0, resolved: 0, unchanged: expected.size, cardsPosted: 0, cardsUpdated: 0 });
    expect(second.storeWrites).toBe(0);
    expect(store.status().writes - writes).toBeLessThanOrEqual(1);
    expect(messenger.sends).toHaveLength(0);
    expect(messenger.updates).toHaveLength(0);
  });

  it('updates only the card whose resources changed, in place, and marks a fully healthy recommendation resolved', async () => {
    await store.conversations.upsert(conversation('c1'));
    await job.runOnce();
    await job.delivered();
    const byKey = unhealthyByKey(h);
    const [multiKey, multiIds] = [...byKey].find(([, ids]) => ids.length >= 2)!;
    const [soloKey, soloIds] = [...byKey].find(([k]) => k !== multiKey)!;
    const postedMulti = (await store.recommendations.getCard('c1', multiKey))!;
    messenger.reset();

    h.sim.control.markHealthy({ resourceId: multiIds[0]!, assessmentKey: multiKey });
    const r1 = await job.runOnce();
    await job.delivered();
    expect(r1).toMatchObject({ changed: 1, new: 0, resolved: 0, cardsPosted: 0, cardsUpdated: 1 });
    expect(messenger.sends).toHaveLength(0);
    expect(messenger.updates).toHaveLength(1);
    expect(messenger.updates[0]).toMatchObject({ conversationId: 'c1', activityId: postedMulti.activityId });
    expect(choicesOf(messenger.updates[0]!).map((c: any) => c.value)).not.toContain(multiIds[0]);
    expect((await store.recommendations.getCard('c1', multiKey))!.contentHash).toBe((await store.recommendations.get(multiKey))!.contentHash);
    messenger.reset();

    for (const id of soloIds) h.sim.control.markHealthy({ resourceId: id, assessmentKey: soloKey });
    const r2 = await job.runOnce();
    await job.delivered();
    expect(r2).toMatchObject({ resolved: 1, changed: 0, cardsPosted: 0, cardsUpdated: 1 });
    expect(await store.recommendations.get(soloKey)).toMatchObject({ status: 'resolved', resources: [] });
    expect(messenger.updates).toHaveLength(1);
    expect(keyOfCard(messenger.updates[0]!)).toBe(soloKey);
    expect(JSON.stringify(messenger.updates[0]!.message)).toContain('Resolved – all resources healthy');
    expect(choicesOf(messenger.updates[0]!)).toEqual([]);

    messenger.reset();
    await job.runOnce();
    await job.delivered();
    expect(messenger.updates).toHaveLength(0);
  });

  it('respects severity and management-group filters', async () => {
    await store.conversations.upsert(conversation('high', { severities: ['High'], scopes: [] }));
    await store.conversations.upsert(
      conversation('prod', { severities: [], scopes: [`/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`] }),
    );
    const report = await job.runOnce();
    await job.delivered();
    const high = messenger.sends.filter((s) => s.conversationId === 'high');
    const prod = messenger.sends.filter((s) => s.conversationId === 'prod');
    const highKeys = new Set((await store.recommendations.list()).filter((r) => r.severity === 'High').map((r) => r.key));
    expect(high.length).toBe(highKeys.size);
    expect(high.every((s) => highKeys.has(keyOfCard(s)))).toBe(true);
    expect(high.length).toBeLessThan(report.recommendations);

    const prodKeys = new Set((await store.recommendations.list()).filter((r) => r.resources.some((x) => x.subscriptionId !== DEV)).map((r) => r.key));
    expect(new Set(prod.map(keyOfCard))).toEqual(prodKeys);
    const prodChoiceIds = prod.flatMap((s) => choicesOf(s).map((c: any) => c.value as string));
    expect(prodChoiceIds.length).toBeGreaterThan(0);
    expect(prodChoiceIds.some((id) => id.includes(DEV))).toBe(false);

    // A change limited to a subscription outside the scope does not touch the scoped card.
    messenger.reset();
    const devOnly = (await store.recommendations.list()).find((r) => prodKeys.has(r.key) && r.resources.some((x) => x.subscriptionId === DEV))!;
    const devResource = devOnly.resources.find((x) => x.subscriptionId === DEV)!;
    h.sim.control.markHealthy({ resourceId: devResource.resourceId, assessmentKey: devOnly.key });
    await job.runOnce();
    await job.delivered();
    expect(messenger.updates.filter((u) => u.conversationId === 'prod')).toHaveLength(0);
  });

  it('pages through at least 3 Resource Graph pages', async () => {
    await store.conversations.upsert(conversation('c1'));
    h.sim.control.setPageSize(50);
    const total = h.sim.control.listAssessments({ code: 'Unhealthy' }).length;
    const report = await job.runOnce();
    expect(report.pages).toBe(Math.ceil(total / 50));
    expect(report.pages).toBeGreaterThanOrEqual(3);
    expect(report.resources).toBe(total);
    // Plus the one subscription-names lookup of a first pass.
    expect(h.sim.control.requestCount({ kind: 'resourceGraph' })).toBe(report.pages + 1);
  });

  it('retries a 429 from Resource Graph and completes the pass', async () => {
    await store.conversations.upsert(conversation('c1'));
    h.sim.control.injectFaults({ count: 2, status: 429, retryAfterSeconds: 3 });
    const report = await job.runOnce();
    await job.delivered();
    expect(h.sim.control.requestCount({ kind: 'resourceGraph', status: 429 })).toBe(2);
    expect(h.sleeps).toContain(3000);
    expect(report.recommendations).toBe(unhealthyByKey(h).size);
    expect(messenger.sends).toHaveLength(report.recommendations);
  });

  it('keeps going when one conversation cannot be reached, and posts there once it can', async () => {
    await store.conversations.upsert(conversation('broken'));
    await store.conversations.upsert(conversation('ok'));
    messenger.failing.add('broken');
    const report = await job.runOnce();
    expect(await job.delivered()).toEqual({ posted: report.recommendations, updated: 0, failed: report.recommendations });
    expect(messenger.sends.filter((s) => s.conversationId === 'ok')).toHaveLength(report.recommendations);
    expect((await store.recommendations.listCards()).every((c) => c.conversationId === 'ok')).toBe(true);

    messenger.failing.clear();
    messenger.reset();
    const retry = await job.runOnce();
    await job.delivered();
    expect(retry.cardsPosted).toBe(report.recommendations);
    expect(messenger.sends.every((s) => s.conversationId === 'broken')).toBe(true);
  });

  it('does not resolve anything when the fetch fails part-way', async () => {
    await store.conversations.upsert(conversation('c1'));
    await job.runOnce();
    await job.delivered();
    const before = (await store.recommendations.list()).map((r) => r.contentHash);
    messenger.reset();
    h.sim.control.setPageSize(50);
    h.sim.control.injectFaults({ count: 50, status: 500 });
    await expect(job.runOnce()).rejects.toThrow();
    expect((await store.recommendations.list()).map((r) => r.contentHash)).toEqual(before);
    expect(messenger.updates).toHaveLength(0);
  });

  it('runs from the cron task and logs a failed pass instead of throwing', async () => {
    await store.conversations.upsert(conversation('c1'));
    const task = scheduleSync(job, '0 0 1 1 *', silentLogger);
    try {
      const report = await task.execute();
      expect(report.cardsPosted).toBe(unhealthyByKey(h).size);
      const errors: unknown[] = [];
      const failing = scheduleSync({ runOnce: () => Promise.reject(new Error('boom')) }, '0 0 1 1 *', {
        ...silentLogger,
        error: (o: unknown) => void errors.push(o),
      } as typeof silentLogger);
      try {
        await expect(failing.execute()).resolves.toBeUndefined();
        expect(errors).toHaveLength(1);
      } finally {
        await failing.destroy();
      }
    } finally {
      await task.destroy();
    }
  });
});
