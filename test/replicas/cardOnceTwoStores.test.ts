import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { silentLogger } from '../../core/logger.js';
import type { MessageSource } from '../../app/ports.js';
import type { Conversation } from '../../core/model.js';
import { SyncJob } from '../../app/syncRecommendations.js';
import { openStore, type OpenedStore } from '../../storage/index.js';
import { startHarness, START, type Harness } from '../defender/helpers.js';
import { RecordingMessenger } from '../sync/recordingMessenger.js';
import { createTestDatabase, type TestDatabase } from '../storage/postgres/testDatabase.js';

/**
 * Issue 14, the cross-replica card fix (app/syncRecommendations.ts): two app instances on one
 * PostgreSQL database, in one process (two stores, two advisory-lock pools, two messengers). A
 * subscribe on one posts the stored recommendations' cards while a sync pass on the other posts
 * the same cards; each card must reach Teams once, whichever gets there first.
 */
const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);
const CHANNEL = '19:replicas@thread.tacv2';

/** Teams takes a moment to answer a post: the window in which the other replica reads "no card yet". */
class TeamsLikeMessenger extends RecordingMessenger {
  override async send(conversationId: string, message: MessageSource): Promise<string | undefined> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return super.send(conversationId, message);
  }
}

const keyOfCard = (s: { message: unknown }) => ((s.message as any).card.actions as any[]).find((a) => a.title === 'Refresh').data.recommendationKey as string;

describe('two app instances on one PostgreSQL database', () => {
  let h: Harness;
  let db: TestDatabase;
  const opened: OpenedStore[] = [];

  beforeEach(async () => {
    h = await startHarness({ pageSize: 200 });
    db = await createTestDatabase();
    for (let i = 0; i < 2; i++)
      opened.push(await openStore({ DATA_DIR: '/nonexistent', DATABASE_URL: db.url, DATABASE_POOL_SIZE: 4 }, { clock: h.clock, logger: silentLogger }));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((o) => o.store.close()));
    await db.drop();
    await h.sim.close();
  });

  it('a subscribe on one racing a sync pass on the other posts each recommendation card once', async () => {
    const [a, b] = opened as [OpenedStore, OpenedStore];
    const job = (o: OpenedStore, messenger: RecordingMessenger) =>
      new SyncJob({ azure: h.client, store: o.store, locks: o.locks, messenger, clock: h.clock, logger: silentLogger, scopes: ALL });
    const teamsA = new TeamsLikeMessenger();
    const teamsB = new TeamsLikeMessenger();
    const jobA = job(a, teamsA);
    const jobB = job(b, teamsB);

    // A pass before anyone subscribed: the recommendations are stored, no card is posted.
    const first = await jobA.runOnce();
    expect(first.recommendations).toBeGreaterThan(5);
    expect(teamsA.sends).toHaveLength(0);

    const channel: Conversation = {
      id: CHANNEL,
      channelId: 'msteams',
      serviceUrl: 'https://smba.example/',
      kind: 'channel',
      reference: { conversation: { id: CHANNEL } },
      subscribed: true,
      filters: { severities: [], scopes: [] },
      createdAt: START,
      updatedAt: START,
    };
    await a.store.conversations.upsert(channel);
    // Replica A answers the subscribe (cards from the stored pass) while replica B's cron tick syncs.
    const [subscribed] = await Promise.all([jobA.postStored(CHANNEL), jobB.runOnce()]);
    await Promise.all([jobA.delivered(), jobB.delivered()]);

    const perKey = new Map<string, number>();
    for (const s of [...teamsA.sends, ...teamsB.sends]) perKey.set(keyOfCard(s), (perKey.get(keyOfCard(s)) ?? 0) + 1);
    const unhealthy = (await a.store.recommendations.list()).filter((r) => r.status !== 'resolved');
    expect(subscribed.posted).toBe(unhealthy.length);
    expect([...perKey.keys()].sort()).toEqual(unhealthy.map((r) => r.key).sort());
    expect([...perKey.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // The stored card is the one Teams has, and no update was needed to correct a second post.
    expect(await a.store.recommendations.listCards({ conversationId: CHANNEL })).toHaveLength(unhealthy.length);
  });
});
