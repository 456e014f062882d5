import { BUILTIN_SUBSCRIPTIONS, CHILD_MANAGEMENT_GROUP } from '../../sandbox/defender/dataset.js';
import { silentLogger } from '../../core/logger.js';
import { SyncJob, type SyncAzureClient } from '../../app/syncRecommendations.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import type { Store } from '../../app/ports.js';
import type { Conversation, SubscriptionFilters } from '../../core/model.js';
import { startHarness, START, type Harness } from '../defender/helpers.js';
import { RecordingMessenger } from './recordingMessenger.js';

const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);
const MG = `/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`;

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

describe('sync pass when the management-group ancestry query fails', () => {
  let h: Harness;
  let store: Store;
  let messenger: RecordingMessenger;
  let job: SyncJob;
  let ancestryDown = false;

  beforeEach(async () => {
    h = await startHarness({ pageSize: 200 });
    store = openMemoryStore();
    messenger = new RecordingMessenger();
    // The real client against the simulator; the outage is a real HTTP 500 from Resource Graph, for the ancestry query only.
    const azure: SyncAzureClient = {
      queryUnhealthyAssessments: (scopes, opts) => h.client.queryUnhealthyAssessments(scopes, opts),
      getSubscriptionAncestry: async (ids) => {
        if (ancestryDown) h.sim.control.injectFaults({ count: 1000, status: 500, target: 'resourceGraph' });
        try {
          return await h.client.getSubscriptionAncestry(ids);
        } finally {
          h.sim.control.clearFaults();
        }
      },
    };
    job = new SyncJob({ azure, store, messenger, clock: h.clock, logger: silentLogger, scopes: ALL });
    await store.conversations.upsert(conversation('c-all'));
    await store.conversations.upsert(conversation('c-mg', { severities: [], scopes: [MG] }));
  });
  afterEach(async () => {
    await h.sim.close();
  });

  const sentTo = (id: string) => [...messenger.sends, ...messenger.updates].filter((s) => s.conversationId === id).length;

  it('still completes: unfiltered cards go out, MG-filtered ones wait for a known ancestry, then keep the last known one', async () => {
    ancestryDown = true;
    const first = await job.runOnce();
    await job.delivered();
    expect(first.recommendations).toBeGreaterThan(0);
    expect(sentTo('c-all')).toBe(first.recommendations);
    // Without any ancestry every MG-filtered card would look resolved: none is posted yet.
    expect(sentTo('c-mg')).toBe(0);

    ancestryDown = false;
    messenger.reset();
    await job.runOnce();
    await job.delivered();
    const mgCards = sentTo('c-mg');
    expect(mgCards).toBeGreaterThan(0);
    expect(job.ancestry().size).toBeGreaterThan(0);

    ancestryDown = true;
    messenger.reset();
    h.clock.advance(5 * 60_000);
    const third = await job.runOnce();
    expect(await job.delivered()).toEqual({ posted: 0, updated: 0, failed: 0 });
    expect(third).toMatchObject({ cardsPosted: 0, cardsUpdated: 0 });
    expect(job.ancestry().size).toBeGreaterThan(0);
    expect((await store.recommendations.listCards()).filter((c) => c.conversationId === 'c-mg')).toHaveLength(mgCards);
  });
});
