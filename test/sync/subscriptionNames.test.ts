import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { subscriptionNamesQuery } from '../../connectors/defender/resourceGraph.js';
import { silentLogger } from '../../core/logger.js';
import { SyncJob, type SyncAzureClient } from '../../app/syncRecommendations.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import type { Store } from '../../app/ports.js';
import type { Conversation } from '../../core/model.js';
import { capturingLogger, startHarness, START, type Harness } from '../defender/helpers.js';
import { RecordingMessenger } from './recordingMessenger.js';

const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);
const PROD = BUILTIN_SUBSCRIPTIONS.find((s) => s.displayName === 'Contoso Production')!;

function conversation(id: string): Conversation {
  return {
    id,
    channelId: 'msteams',
    serviceUrl: 'https://smba.example/',
    kind: 'channel',
    reference: { conversation: { id } },
    subscribed: true,
    filters: { severities: [], scopes: [] },
    createdAt: START,
    updatedAt: START,
  };
}

const resourceTitles = (messenger: RecordingMessenger): string[] =>
  messenger.sends.flatMap((s) =>
    (((s.message as any).card.body as any[]).find((b) => b.type === 'Input.ChoiceSet')?.choices ?? []).map((c: { title: string }) => c.title),
  );

const namesLookups = (h: Harness) =>
  h.sim.control.requests().filter((r) => r.kind === 'resourceGraph' && JSON.stringify(r.body ?? '').includes('resourcecontainers')).length;

describe('subscription display names on recommendation cards', () => {
  let h: Harness;
  let store: Store;
  let messenger: RecordingMessenger;

  beforeEach(async () => {
    h = await startHarness();
    store = openMemoryStore();
    messenger = new RecordingMessenger();
    await store.conversations.upsert(conversation('c1'));
  });
  afterEach(async () => {
    await h.sim.close();
  });

  it('reads names from Resource Graph resourcecontainers, keyed by the ids asked for', async () => {
    const names = await h.client.getSubscriptionNames([PROD.subscriptionId.toUpperCase(), '00000000-0000-0000-0000-000000000000']);
    expect(names).toEqual(new Map([[PROD.subscriptionId.toUpperCase(), 'Contoso Production']]));
    expect(subscriptionNamesQuery([PROD.subscriptionId])).toContain("resourcecontainers\n| where type =~ 'microsoft.resources/subscriptions'");
  });

  it('a sync pass posts cards showing "Contoso Production" instead of the GUID, and asks once across passes', async () => {
    const job = new SyncJob({ azure: h.client, store, messenger, clock: h.clock, logger: silentLogger, scopes: ALL });
    await job.runOnce();
    await job.delivered();
    const titles = resourceTitles(messenger);
    expect(titles.some((t) => t.includes(' · Contoso Production'))).toBe(true);
    expect(titles.some((t) => t.includes(PROD.subscriptionId))).toBe(false);
    expect(job.subscriptionNames().get(PROD.subscriptionId.toLowerCase())).toBe('Contoso Production');
    expect(namesLookups(h)).toBe(1);

    h.clock.advance(5 * 60_000);
    await job.runOnce();
    expect(namesLookups(h)).toBe(1);
  });

  it('a failed name lookup is logged, cards show ids, and the next pass asks again', async () => {
    const logs: Harness['logs'] = [];
    const unreachable = h.makeClient({ armBaseUrl: 'http://127.0.0.1:1' });
    let namesFrom = unreachable;
    // The real client for assessments; the names lookup goes to whichever real client is current.
    const azure: SyncAzureClient = {
      queryUnhealthyAssessments: (scopes, opts) => h.client.queryUnhealthyAssessments(scopes, opts),
      getSubscriptionAncestry: (ids) => h.client.getSubscriptionAncestry(ids),
      getSubscriptionNames: (ids) => namesFrom.getSubscriptionNames(ids),
    };
    const job = new SyncJob({ azure, store, messenger, clock: h.clock, logger: capturingLogger(logs), scopes: ALL });
    const report = await job.runOnce();
    await job.delivered();
    expect(report.cardsPosted).toBeGreaterThan(0);
    expect(resourceTitles(messenger).some((t) => t.includes(PROD.subscriptionId))).toBe(true);
    expect(logs.some((l) => l.level === 'warn' && /subscription names/.test(l.msg ?? ''))).toBe(true);
    expect(job.subscriptionNames().size).toBe(0);

    namesFrom = h.client;
    await job.runOnce();
    expect(job.subscriptionNames().get(PROD.subscriptionId.toLowerCase())).toBe('Contoso Production');
  });
});
