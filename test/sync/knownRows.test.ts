import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILTIN_RECOMMENDATIONS, BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { silentLogger } from '../../core/logger.js';
import { recommendationKeyOf } from '../../core/recommendations.js';
import { FULL_PARSE_EVERY_MS, SyncJob } from '../../app/syncRecommendations.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Store } from '../../app/ports.js';
import { startHarness, START, type Harness } from '../defender/helpers.js';
import { RecordingMessenger } from './recordingMessenger.js';

const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);

const keyOfCard = (s: { message: unknown }) => ((s.message as any).card.actions as any[]).find((a) => a.title === 'Refresh').data.recommendationKey as string;
const choicesOf = (s: { message: unknown }) => ((s.message as any).card.body as any[]).find((b) => b.type === 'Input.ChoiceSet')?.choices ?? [];

/**
 * Rows the previous pass saw byte for byte are not parsed again (core/rowFingerprints.ts). Real
 * parts: the Defender simulator over HTTP, the AzureClient, a lowdb store in a temporary folder.
 */
describe('sync passes over rows seen before', () => {
  let h: Harness;
  let dir: string;
  let store: Store;
  let messenger: RecordingMessenger;
  let job: SyncJob;

  beforeEach(async () => {
    h = await startHarness({ pageSize: 40 });
    dir = mkdtempSync(path.join(os.tmpdir(), 'known-rows-'));
    store = await openLowdbStore({ file: path.join(dir, 'db.json'), clock: h.clock, logger: silentLogger });
    messenger = new RecordingMessenger();
    job = new SyncJob({ azure: h.client, store, messenger, clock: h.clock, logger: silentLogger, scopes: ALL });
    await store.conversations.upsert({
      id: 'c1',
      channelId: 'msteams',
      serviceUrl: 'https://smba.example/',
      kind: 'channel',
      reference: { conversation: { id: 'c1' } },
      subscribed: true,
      filters: { severities: [], scopes: [] },
      createdAt: START,
      updatedAt: START,
    });
    await job.runOnce();
    await job.delivered();
    messenger.reset();
  });
  afterEach(async () => {
    await store.close();
    await h.sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const unhealthy = () => h.sim.control.listAssessments({ code: 'Unhealthy' });

  it('a no-change pass knows every row: no card sent, nothing written, the same snapshots', async () => {
    const total = unhealthy().length;
    const before = await store.recommendations.list();
    const writes = store.status().writes;
    h.clock.advance(5 * 60_000);
    const report = await job.runOnce();
    await job.delivered();
    expect(report).toMatchObject({ knownRows: total, resources: total, new: 0, changed: 0, resolved: 0, cardsPosted: 0, cardsUpdated: 0, storeWrites: 0 });
    expect(report.pages).toBeGreaterThanOrEqual(3);
    expect(store.status().writes).toBe(writes);
    expect(messenger.sends).toHaveLength(0);
    expect(messenger.updates).toHaveLength(0);
    expect(await store.recommendations.list()).toEqual(before);
  });

  it('notices a changed row, a removed row and a new one among known rows, and updates only those cards', async () => {
    const rows = unhealthy();
    const total = rows.length;
    const counts = new Map<string, number>();
    for (const a of rows) counts.set(recommendationKeyOf(a.assessmentKey), (counts.get(recommendationKeyOf(a.assessmentKey)) ?? 0) + 1);
    const [removedKey] = [...counts].find(([, n]) => n >= 2)!;
    const removed = rows.find((a) => recommendationKeyOf(a.assessmentKey) === removedKey)!;
    // A changed recommendation: every row of it carries the new severity.
    const changedSpec = BUILTIN_RECOMMENDATIONS.find((r) => recommendationKeyOf(r.key) !== removedKey && counts.has(recommendationKeyOf(r.key)))!;
    const changedKey = recommendationKeyOf(changedSpec.key);
    const severity = changedSpec.severity === 'High' ? 'Low' : 'High';
    h.sim.control.addRecommendation({ ...changedSpec, severity });
    h.sim.control.markHealthy({ resourceId: removed.resourceId, assessmentKey: removed.assessmentKey });

    const report = await job.runOnce();
    await job.delivered();
    expect(report).toMatchObject({ resources: total - 1, changed: 2, new: 0, resolved: 0, cardsUpdated: 2, cardsPosted: 0, storeWrites: 1 });
    expect(report.knownRows).toBe(total - 1 - counts.get(changedKey)!);
    expect(messenger.updates.map(keyOfCard).sort()).toEqual([changedKey, removedKey].sort());
    const removedCard = messenger.updates.find((u) => keyOfCard(u) === removedKey)!;
    expect(choicesOf(removedCard).map((c: any) => c.value)).not.toContain(removed.resourceId);
    expect((await store.recommendations.get(changedKey))!.severity).toBe(severity);
    expect((await store.recommendations.get(removedKey))!.resources.map((r) => r.resourceId)).not.toContain(removed.resourceId);

    // The rows of the changed card are known from now on; the removed one coming back is a new row.
    messenger.reset();
    h.sim.control.markUnhealthy({ resourceId: removed.resourceId, assessmentKey: removed.assessmentKey });
    const back = await job.runOnce();
    await job.delivered();
    expect(back).toMatchObject({ resources: total, knownRows: total - 1, changed: 1, cardsUpdated: 1 });
    expect(messenger.updates.map(keyOfCard)).toEqual([removedKey]);
    expect(choicesOf(messenger.updates[0]!).map((c: any) => c.value)).toContain(removed.resourceId);

    messenger.reset();
    const quiet = await job.runOnce();
    await job.delivered();
    expect(quiet).toMatchObject({ knownRows: total, changed: 0, cardsUpdated: 0, storeWrites: 0 });
  });

  it('a row whose bytes changed without changing the card (a new statusChangeDate) is parsed, and no card is sent', async () => {
    const total = unhealthy().length;
    const row = unhealthy()[0]!;
    h.clock.advance(60_000);
    h.sim.control.addUnhealthyAssessments([{ resourceId: row.resourceId, assessmentKey: row.assessmentKey, statusChangeDate: h.clock.now().toISOString() }]);
    const report = await job.runOnce();
    await job.delivered();
    expect(report).toMatchObject({ knownRows: total - 1, resources: total, changed: 0, cardsUpdated: 0, storeWrites: 0 });
    expect(messenger.updates).toHaveLength(0);
  });

  it('parses every row again once FULL_PARSE_EVERY_MS has passed since the last full parse', async () => {
    const total = unhealthy().length;
    h.clock.advance(FULL_PARSE_EVERY_MS - 60_000);
    expect((await job.runOnce()).knownRows).toBe(total);
    h.clock.advance(60_000);
    const full = await job.runOnce();
    expect(full).toMatchObject({ knownRows: 0, resources: total, changed: 0, storeWrites: 0 });
    expect((await job.runOnce()).knownRows).toBe(total);
  });

  it('a snapshot stored differently since the last pass makes its rows unknown, and the pass puts it right', async () => {
    const total = unhealthy().length;
    const victim = (await store.recommendations.list()).find((r) => r.resources.length >= 2)!;
    // Another process (or a bug) stored the recommendation with a resource fewer.
    await store.recommendations.upsertMany([{ ...victim, resources: victim.resources.slice(1), contentHash: 'edited-behind-the-table' }]);
    const report = await job.runOnce();
    await job.delivered();
    // The posted card showed the right content all along: only the store is corrected.
    expect(report).toMatchObject({ resources: total, knownRows: total - victim.resources.length, changed: 1, cardsUpdated: 0, storeWrites: 1 });
    expect((await store.recommendations.get(victim.key))!.resources).toEqual(victim.resources);
  });
});
