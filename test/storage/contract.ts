/**
 * The Store port's contract (app/ports.ts), as one suite every store implementation runs: the
 * lowdb, memory and PostgreSQL stores. It covers every repository method, every query field,
 * ordering, the constraints (one live assignment per key, one sent reminder per key, one work item
 * per kind+key), transactions (read-your-writes, all or nothing, conflicts with other writers),
 * the work queue (claim, lease expiry, retry, idempotent enqueue) and Locks. A shared store
 * (PostgreSQL) also runs the guarantees across processes: a second store object on the same data,
 * with its own connections, stands for another replica.
 */
import { ManualClock, MINUTE_MS } from '../../core/clock.js';
import {
  assignmentSchema,
  LIVE_ASSIGNMENT_STATUSES,
  ruleSchema,
  type Assignment,
  type AuditEntry,
  type Conversation,
  type Integration,
  type PostedCard,
  type Recommendation,
  type Rule,
  type RuleInput,
} from '../../core/model.js';
import { InvalidRowError, StoreConstraintError, type Locks, type Store } from '../../app/ports.js';
import { ticketWatermarkKey } from '../../app/resolution.js';

export interface ContractStore {
  store: Store;
  /** The Locks that go with the store (in-process for the embedded stores). */
  locks: Locks;
  /** Closes the store and opens it again on the same data (durable stores only). */
  reopen?: () => Promise<Store>;
  /** Shared stores: another process on the same data (its own store object and connections). Closed by the suite. */
  openPeer?: () => Promise<{ store: Store; locks: Locks }>;
  /** Shared stores: resolves once some session of the database is waiting for a lock another one holds. */
  untilSomeoneWaits?: () => Promise<void>;
}

export interface ContractOptions {
  /** The data outlives the store object: close and reopen must keep everything. */
  durable: boolean;
  /**
   * How a transaction and another writer of the same unique key are resolved; exactly one of them
   * wins either way.
   * - 'at-commit' (embedded stores): the other writer goes through at once; the transaction fails
   *   when it commits and applies nothing.
   * - 'other-waits' (PostgreSQL): the other writer waits until the transaction ends and then is
   *   refused (StoreConstraintError; markSent false; enqueue returns the transaction's item); a
   *   claim outside skips the items the transaction claimed instead of waiting.
   */
  conflicts?: 'at-commit' | 'other-waits';
  /** Several processes share the data (openPeer): run the cross-process guarantees. */
  shared?: boolean;
}

const T0 = '2026-11-26T09:00:00.000Z';
const SECRET = { v: 1 as const, iv: 'aXY=', tag: 'dGFn', data: 'ZGF0YQ==' };

let n = 0;
const next = () => ++n;

export function anAssignment(over: Partial<Assignment> = {}): Assignment {
  const i = next();
  const resourceId = `/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${i}`;
  return assignmentSchema.parse({
    id: `asg-${i}`,
    key: `key-${i}`,
    batchId: 'batch-1',
    recommendationKey: 'rec-a',
    recommendationName: 'Recommendation A',
    severity: 'High',
    assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/rec-a`,
    resourceId,
    resourceName: `vm-${i}`,
    subscriptionId: 'sub-1',
    integrationId: 'int-1',
    ticketType: 'incident',
    owner: 'alice@contoso.com',
    caller: 'admin@contoso.com',
    dueDate: '2026-12-10',
    gracePeriod: false,
    notifyOwner: true,
    notifyManager: false,
    status: 'open',
    conversationId: 'conv-1',
    createdBy: { id: 'admin' },
    createdAt: T0,
    updatedAt: T0,
    ...over,
  });
}

export function aConversation(id: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id,
    channelId: 'msteams',
    serviceUrl: 'https://smba.example/',
    kind: 'channel',
    reference: { conversation: { id } },
    subscribed: true,
    filters: { severities: [], scopes: [] },
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function anIntegration(id: string, over: Partial<Integration> = {}): Integration {
  return {
    id,
    name: `Integration ${id}`,
    scope: '/subscriptions/sub-1',
    instanceUrl: 'https://contoso.service-now.com',
    username: 'bot',
    password: SECRET,
    clientId: 'client',
    clientSecret: SECRET,
    fieldMode: 'default',
    customFields: {},
    createdAt: T0,
    createdBy: 'admin',
    ...over,
  };
}

function aRecommendation(key: string, over: Partial<Recommendation> = {}): Recommendation {
  return {
    key,
    displayName: `Recommendation ${key}`,
    severity: 'High',
    description: '',
    remediation: '',
    resources: [
      { resourceId: '/subscriptions/sub-1/vm', assessmentId: `/subscriptions/sub-1/vm/assessments/${key}`, name: 'vm', type: 'vm', subscriptionId: 'sub-1' },
    ],
    contentHash: `hash-${key}`,
    status: 'unhealthy',
    firstSeenAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function aCard(conversationId: string, recommendationKey: string, over: Partial<PostedCard> = {}): PostedCard {
  return {
    conversationId,
    recommendationKey,
    activityId: `act-${conversationId}-${recommendationKey}`,
    contentHash: 'h',
    postedAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function anEntry(target: string, action: string, over: Partial<AuditEntry> = {}): AuditEntry {
  return { at: T0, actor: 'alice', action, target, details: {}, ...over };
}

export function aRule(id: string, over: Partial<RuleInput> = {}): Rule {
  return ruleSchema.parse({
    id,
    name: `Rule ${id}`,
    priority: 100,
    scope: '/providers/Microsoft.Management/managementGroups/mg-contoso',
    owner: { kind: 'tag', tags: ['owner'] },
    integrationId: 'int-1',
    dueInDays: 14,
    createdBy: { id: 'admin' },
    createdAt: T0,
    updatedBy: { id: 'admin' },
    updatedAt: T0,
    ...over,
  });
}

const ids = (rows: ReadonlyArray<{ id: string }>) => rows.map((r) => r.id);

export function describeStoreContract(name: string, open: (clock: ManualClock) => Promise<ContractStore>, options: ContractOptions): void {
  describe(`Store contract: ${name}`, () => {
    let clock: ManualClock;
    let handle: ContractStore;
    let store: Store;
    let peers: Store[];
    const conflicts = options.conflicts ?? 'at-commit';

    beforeEach(async () => {
      clock = new ManualClock(T0);
      handle = await open(clock);
      store = handle.store;
      peers = [];
    });
    afterEach(async () => {
      await Promise.all([store.close(), ...peers.map((p) => p.close())]);
    });

    const peer = async () => {
      const p = await handle.openPeer!();
      peers.push(p.store);
      return p;
    };

    // ---------------------------------------------------------------- conversations

    describe('conversations', () => {
      it('get, upsert (insert and replace), list in first-stored order, remove', async () => {
        expect(await store.conversations.get('c1')).toBeUndefined();
        await store.conversations.upsert(aConversation('c1'));
        await store.conversations.upsert(aConversation('c2'));
        await store.conversations.upsert(aConversation('c1', { name: 'renamed' }));
        expect(await store.conversations.get('c1')).toMatchObject({ id: 'c1', name: 'renamed' });
        expect(ids(await store.conversations.list())).toEqual(['c1', 'c2']);
        expect(await store.conversations.remove('c1')).toBe(true);
        expect(await store.conversations.remove('c1')).toBe(false);
        expect(await store.conversations.get('c1')).toBeUndefined();
        expect(ids(await store.conversations.list())).toEqual(['c2']);
      });

      it('ids that are Object.prototype names are plain keys', async () => {
        for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
          expect(await store.conversations.get(id)).toBeUndefined();
          await store.conversations.upsert(aConversation(id));
          expect((await store.conversations.get(id))?.id).toBe(id);
        }
        expect(ids(await store.conversations.list())).toEqual(['constructor', '__proto__', 'toString', 'hasOwnProperty']);
      });

      it('queries: subscribed, reachable, kinds, channelId, userUpn (any case), userAadObjectId, and their combination; count agrees', async () => {
        await store.conversations.upsert(aConversation('team', { kind: 'channel', tenantId: 't' }));
        await store.conversations.upsert(aConversation('gone', { kind: 'groupChat', unreachable: { since: T0, status: 403 } }));
        await store.conversations.upsert(
          aConversation('bob-1', { kind: 'personal', subscribed: false, userUpn: 'bob@contoso.com', userAadObjectId: 'aad-bob', channelId: 'emulator' }),
        );
        await store.conversations.upsert(aConversation('bob-2', { kind: 'personal', subscribed: false, userUpn: 'Bob@Contoso.com' }));
        const q = async (query: Parameters<Store['conversations']['list']>[0]) => {
          const rows = ids(await store.conversations.list(query));
          expect(await store.conversations.count(query)).toBe(rows.length);
          return rows;
        };
        expect(await q({})).toEqual(['team', 'gone', 'bob-1', 'bob-2']);
        expect(await q({ subscribed: true })).toEqual(['team', 'gone']);
        expect(await q({ subscribed: false })).toEqual(['bob-1', 'bob-2']);
        expect(await q({ reachable: true })).toEqual(['team', 'bob-1', 'bob-2']);
        expect(await q({ reachable: false })).toEqual(['gone']);
        expect(await q({ kinds: ['personal'] })).toEqual(['bob-1', 'bob-2']);
        expect(await q({ kinds: ['channel', 'groupChat'] })).toEqual(['team', 'gone']);
        expect(await q({ kinds: [] })).toEqual([]);
        expect(await q({ channelId: 'emulator' })).toEqual(['bob-1']);
        expect(await q({ userUpn: 'BOB@contoso.COM' })).toEqual(['bob-1', 'bob-2']);
        expect(await q({ userAadObjectId: 'aad-bob' })).toEqual(['bob-1']);
        expect(await q({ kinds: ['personal'], channelId: 'msteams', userUpn: 'bob@contoso.com' })).toEqual(['bob-2']);
        expect(await q({ subscribed: true, reachable: true })).toEqual(['team']);
        // An index follows a changed field.
        await store.conversations.upsert(aConversation('bob-2', { kind: 'personal', subscribed: false, userUpn: 'carol@contoso.com' }));
        expect(await q({ userUpn: 'bob@contoso.com' })).toEqual(['bob-1']);
        expect(await q({ userUpn: 'carol@contoso.com' })).toEqual(['bob-2']);
        await store.conversations.remove('bob-1');
        expect(await q({ userAadObjectId: 'aad-bob' })).toEqual([]);
      });

      it('refuses an invalid row and keeps nothing of it', async () => {
        const bad = { ...aConversation('bad'), subscribed: 'yes' } as unknown as Conversation;
        await expect(store.conversations.upsert(bad)).rejects.toBeInstanceOf(InvalidRowError);
        expect(await store.conversations.get('bad')).toBeUndefined();
      });

      it('rows are snapshots: changing the written or the read object changes nothing stored', async () => {
        const written = aConversation('c1');
        await store.conversations.upsert(written);
        written.name = 'changed after write';
        (written.reference.conversation as { id: string }).id = 'changed';
        const read = (await store.conversations.get('c1'))!;
        try {
          read.name = 'changed after read';
        } catch {
          // Frozen rows throw in strict mode; a networked store hands out copies. Either is fine.
        }
        const stored = (await store.conversations.get('c1'))!;
        expect(stored.name).toBeUndefined();
        expect(stored.reference).toEqual({ conversation: { id: 'c1' } });
      });
    });

    // ---------------------------------------------------------------- integrations

    describe('integrations', () => {
      it('get, findByName (active, any case), list (active), listAll, upsert', async () => {
        await store.integrations.upsert(anIntegration('i1', { name: 'Contoso ITSM' }));
        await store.integrations.upsert(anIntegration('i2', { name: 'Old', removedAt: T0 }));
        await store.integrations.upsert(anIntegration('i3', { name: 'Fabrikam' }));
        expect((await store.integrations.get('i2'))?.name).toBe('Old');
        expect((await store.integrations.findByName('contoso itsm'))?.id).toBe('i1');
        expect(await store.integrations.findByName('old')).toBeUndefined();
        expect(await store.integrations.findByName('nobody')).toBeUndefined();
        expect(ids(await store.integrations.list())).toEqual(['i1', 'i3']);
        expect(ids(await store.integrations.listAll())).toEqual(['i1', 'i2', 'i3']);
        await store.integrations.upsert({ ...(await store.integrations.get('i1'))!, removedAt: T0 });
        expect(ids(await store.integrations.list())).toEqual(['i3']);
        expect(await store.integrations.findByName('Contoso ITSM')).toBeUndefined();
      });
    });

    // ---------------------------------------------------------------- recommendations and cards

    describe('recommendations and posted cards', () => {
      it('get, list, upsertMany (insert and replace in one write)', async () => {
        await store.recommendations.upsertMany([aRecommendation('r1'), aRecommendation('r2')]);
        const writes = store.status().writes;
        await store.recommendations.upsertMany([aRecommendation('r1', { status: 'resolved' }), aRecommendation('r3')]);
        expect(store.status().writes - writes).toBe(1);
        expect((await store.recommendations.get('r1'))?.status).toBe('resolved');
        expect(await store.recommendations.get('nope')).toBeUndefined();
        expect((await store.recommendations.list()).map((r) => r.key)).toEqual(['r1', 'r2', 'r3']);
      });

      it('upsertMany is all or nothing', async () => {
        const bad = { ...aRecommendation('r2'), severity: 'Critical' } as unknown as Recommendation;
        await expect(store.recommendations.upsertMany([aRecommendation('r1'), bad])).rejects.toBeInstanceOf(InvalidRowError);
        expect(await store.recommendations.list()).toEqual([]);
      });

      it('cards: getCard, listCards by conversation, by recommendation, both; upsertCard replaces; removeCardsFor', async () => {
        await store.recommendations.upsertCard(aCard('c1', 'r1'));
        await store.recommendations.upsertCard(aCard('c1', 'r2'));
        await store.recommendations.upsertCard(aCard('c2', 'r1'));
        await store.recommendations.upsertCard(aCard('c1', 'r1', { contentHash: 'h2' }));
        const keys = (cards: PostedCard[]) => cards.map((c) => `${c.conversationId}/${c.recommendationKey}`);
        expect((await store.recommendations.getCard('c1', 'r1'))?.contentHash).toBe('h2');
        expect(await store.recommendations.getCard('c2', 'r2')).toBeUndefined();
        expect(keys(await store.recommendations.listCards())).toEqual(['c1/r1', 'c1/r2', 'c2/r1']);
        expect(keys(await store.recommendations.listCards({ conversationId: 'c1' }))).toEqual(['c1/r1', 'c1/r2']);
        expect(keys(await store.recommendations.listCards({ recommendationKey: 'r1' }))).toEqual(['c1/r1', 'c2/r1']);
        expect(keys(await store.recommendations.listCards({ conversationId: 'c2', recommendationKey: 'r1' }))).toEqual(['c2/r1']);
        expect(keys(await store.recommendations.listCards({ conversationId: 'c3' }))).toEqual([]);
        await store.recommendations.removeCardsFor('c1');
        expect(keys(await store.recommendations.listCards())).toEqual(['c2/r1']);
        expect(keys(await store.recommendations.listCards({ recommendationKey: 'r1' }))).toEqual(['c2/r1']);
        await store.recommendations.removeCardsFor('nobody');
      });
    });

    // ---------------------------------------------------------------- assignments

    describe('assignments', () => {
      it('get, findLiveByKey (live only), findLiveByKeys', async () => {
        const live = anAssignment({ key: 'k1' });
        const ended = anAssignment({ key: 'k1', status: 'resolved' });
        const other = anAssignment({ key: 'k2', status: 'pending' });
        await store.assignments.upsertMany([ended, live, other]);
        expect((await store.assignments.get(live.id))?.id).toBe(live.id);
        expect(await store.assignments.get('nope')).toBeUndefined();
        expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(live.id);
        expect(await store.assignments.findLiveByKey('k3')).toBeUndefined();
        const found = await store.assignments.findLiveByKeys(['k1', 'k2', 'k3', 'k1']);
        expect([...found.keys()].sort()).toEqual(['k1', 'k2']);
        expect(found.get('k2')?.id).toBe(other.id);
        expect((await store.assignments.findLiveByKeys([])).size).toBe(0);
        // Every live status counts; the index follows status changes.
        for (const status of LIVE_ASSIGNMENT_STATUSES) {
          await store.assignments.upsertMany([{ ...live, status }]);
          expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(live.id);
        }
        await store.assignments.upsertMany([{ ...live, status: 'removed' }]);
        expect(await store.assignments.findLiveByKey('k1')).toBeUndefined();
      });

      it('every query field alone and combined, in first-stored order; count agrees', async () => {
        const a = anAssignment({
          status: 'open',
          batchId: 'b1',
          ticket: { table: 'incident', sysId: 's1', number: 'INC1', link: 'l' },
          governance: { key: 'g', status: 'synced' },
        });
        const b = anAssignment({ status: 'pending', batchId: 'b1', owner: 'Bob@Contoso.com', recommendationKey: 'REC-B', dueDate: '2026-12-01' });
        const c = anAssignment({
          status: 'failed',
          batchId: 'b2',
          integrationId: 'int-2',
          conversationId: 'conv-2',
          governance: { key: 'g', status: 'failed' },
          dueDate: '2026-11-30',
        });
        const d = anAssignment({
          status: 'resolved',
          batchId: 'b2',
          ticket: { table: 'incident', sysId: 's1', number: 'INC1', link: 'l' },
          governance: { key: 'g', status: 'deleted' },
        });
        await store.assignments.upsertMany([a, b, c, d]);
        const q = async (query: Parameters<Store['assignments']['list']>[0]) => {
          const rows = ids(await store.assignments.list(query));
          expect(await store.assignments.count(query)).toBe(rows.length);
          return rows;
        };
        expect(await q(undefined)).toEqual([a.id, b.id, c.id, d.id]);
        expect(await q({})).toEqual([a.id, b.id, c.id, d.id]);
        expect(await q({ statuses: LIVE_ASSIGNMENT_STATUSES })).toEqual([a.id, b.id, c.id]);
        expect(await q({ statuses: ['resolved', 'pending'] })).toEqual([b.id, d.id]);
        expect(await q({ statuses: [] })).toEqual([]);
        expect(await q({ ids: [d.id, a.id, 'nope'] })).toEqual([a.id, d.id]);
        expect(await q({ ids: [] })).toEqual([]);
        expect(await q({ batchId: 'b2' })).toEqual([c.id, d.id]);
        expect(await q({ integrationId: 'int-2' })).toEqual([c.id]);
        expect(await q({ recommendationKey: 'rec-b' })).toEqual([b.id]);
        expect(await q({ recommendationKey: 'REC-A' })).toEqual([a.id, c.id, d.id]);
        expect(await q({ owner: 'bob@contoso.com' })).toEqual([b.id]);
        expect(await q({ owner: 'ALICE@contoso.com' })).toEqual([a.id, c.id, d.id]);
        expect(await q({ conversationId: 'conv-2' })).toEqual([c.id]);
        expect(await q({ hasTicket: true })).toEqual([a.id, d.id]);
        expect(await q({ hasTicket: false })).toEqual([b.id, c.id]);
        expect(await q({ ticketSysId: 's1' })).toEqual([a.id, d.id]);
        expect(await q({ dueBefore: '2026-12-01' })).toEqual([c.id]);
        expect(await q({ dueBefore: '2026-12-02' })).toEqual([b.id, c.id]);
        expect(await q({ governanceStatuses: ['failed', 'synced'] })).toEqual([a.id, c.id]);
        expect(await q({ governanceStatuses: [] })).toEqual([]);
        expect(await q({ limit: 2 })).toEqual([a.id, b.id]);
        expect(await q({ limit: 0 })).toEqual([]);
        expect(await q({ statuses: LIVE_ASSIGNMENT_STATUSES, limit: 2 })).toEqual([a.id, b.id]);
        expect(await q({ batchId: 'b1', statuses: ['open'], hasTicket: true, ticketSysId: 's1', owner: 'alice@contoso.com' })).toEqual([a.id]);
        expect(await q({ batchId: 'b1', integrationId: 'int-2' })).toEqual([]);
        expect(await q({ statuses: ['open', 'resolved'], ticketSysId: 's1', limit: 1 })).toEqual([a.id]);
      });

      it('updates keep a row in its place and move it between query results', async () => {
        const a = anAssignment({ status: 'pending', batchId: 'b1' });
        const b = anAssignment({ status: 'pending', batchId: 'b1' });
        await store.assignments.upsertMany([a]);
        await store.assignments.upsertMany([b]);
        await store.assignments.upsertMany([
          { ...a, status: 'open', batchId: 'b2', owner: 'carol@contoso.com', ticket: { table: 'incident', sysId: 's9', number: 'INC9', link: 'l' } },
        ]);
        expect(ids(await store.assignments.list())).toEqual([a.id, b.id]);
        expect(ids(await store.assignments.list({ statuses: ['pending'] }))).toEqual([b.id]);
        expect(ids(await store.assignments.list({ statuses: ['open'] }))).toEqual([a.id]);
        expect(ids(await store.assignments.list({ batchId: 'b1' }))).toEqual([b.id]);
        expect(ids(await store.assignments.list({ batchId: 'b2' }))).toEqual([a.id]);
        expect(ids(await store.assignments.list({ owner: 'alice@contoso.com' }))).toEqual([b.id]);
        expect(ids(await store.assignments.list({ ticketSysId: 's9' }))).toEqual([a.id]);
      });

      it('one live assignment per key: a second one is refused with a clear error and nothing of the write is applied', async () => {
        const first = anAssignment({ key: 'k1' });
        await store.assignments.upsertMany([first]);
        const second = anAssignment({ key: 'k1', status: 'pending' });
        const bystander = anAssignment({ key: 'k9' });
        const err = await store.assignments.upsertMany([bystander, second]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreConstraintError);
        expect((err as Error).message).toMatch(/k1/);
        expect(await store.assignments.get(second.id)).toBeUndefined();
        expect(await store.assignments.get(bystander.id)).toBeUndefined();
        // Two new live ones for one key in one write: refused too.
        await expect(store.assignments.upsertMany([anAssignment({ key: 'k2' }), anAssignment({ key: 'k2' })])).rejects.toBeInstanceOf(StoreConstraintError);
        expect(await store.assignments.findLiveByKey('k2')).toBeUndefined();
        // Allowed: updating the live one, ended ones with the same key, and ending the old one in the write that adds the new one.
        await store.assignments.upsertMany([{ ...first, owner: 'bob@contoso.com' }]);
        await store.assignments.upsertMany([anAssignment({ key: 'k1', status: 'resolved' }), anAssignment({ key: 'k1', status: 'removed' })]);
        const replacement = anAssignment({ key: 'k1', status: 'pending' });
        await store.assignments.upsertMany([{ ...first, status: 'resolved' }, replacement]);
        expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(replacement.id);
        // The same with the new one first in the write: only the result counts, not the order.
        const successor = anAssignment({ key: 'k1', status: 'pending' });
        await store.assignments.upsertMany([successor, { ...replacement, status: 'removed' }]);
        expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(successor.id);
        expect(ids(await store.assignments.list()).slice(-2)).toEqual([replacement.id, successor.id]);
        await store.assignments.upsertMany([
          { ...successor, status: 'resolved' },
          { ...replacement, status: 'open' },
        ]);
        expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(replacement.id);
        expect(await store.assignments.count({ statuses: LIVE_ASSIGNMENT_STATUSES })).toBe(1);
        // Reviving the ended one while the replacement is live: refused.
        await expect(store.assignments.upsertMany([{ ...first, status: 'open' }])).rejects.toBeInstanceOf(StoreConstraintError);
      });

      it('refuses one id twice in a write, and invalid rows, applying nothing', async () => {
        const a = anAssignment();
        await expect(store.assignments.upsertMany([a, { ...a, owner: 'x@contoso.com' }])).rejects.toBeInstanceOf(StoreConstraintError);
        const bad = { ...anAssignment(), dueDate: 'next week' };
        await expect(store.assignments.upsertMany([a, bad])).rejects.toBeInstanceOf(InvalidRowError);
        expect(await store.assignments.list()).toEqual([]);
      });

      it('upsertMany of many rows is one write; an empty one is none', async () => {
        const writes = store.status().writes;
        await store.assignments.upsertMany(Array.from({ length: 50 }, () => anAssignment()));
        expect(store.status().writes - writes).toBe(1);
        await store.assignments.upsertMany([]);
        expect(store.status().writes - writes).toBe(1);
      });
    });

    // ---------------------------------------------------------------- reminders, audit, meta

    describe('reminders', () => {
      it('markSent exactly once, also when two claims race; wasSent; sentAmong', async () => {
        const entry = { key: 'digest:alice:2026-W48', sentAt: T0, recipient: 'alice' };
        const results = await Promise.all([store.reminders.markSent(entry), store.reminders.markSent(entry), store.reminders.markSent(entry)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.reminders.markSent(entry)).toBe(false);
        expect(await store.reminders.wasSent(entry.key)).toBe(true);
        expect(await store.reminders.wasSent('digest:bob:2026-W48')).toBe(false);
        expect([...(await store.reminders.sentAmong(['digest:bob:2026-W48', entry.key, entry.key]))]).toEqual([entry.key]);
        expect((await store.reminders.sentAmong([])).size).toBe(0);
      });

      it('prune forgets old keys with the given prefixes only', async () => {
        await store.reminders.markSent({ key: 'digest:old', sentAt: '2026-01-01T00:00:00.000Z', recipient: 'a' });
        await store.reminders.markSent({ key: 'grace-ended:old', sentAt: '2026-01-01T00:00:00.000Z', recipient: 'a' });
        await store.reminders.markSent({ key: 'digest:new', sentAt: T0, recipient: 'a' });
        expect(await store.reminders.prune(new Date('2026-06-01T00:00:00Z'), ['digest:'])).toBe(1);
        expect([...(await store.reminders.sentAmong(['digest:old', 'grace-ended:old', 'digest:new']))].sort()).toEqual(['digest:new', 'grace-ended:old']);
        expect(await store.reminders.prune(new Date('2027-01-01T00:00:00Z'), [])).toBe(0);
        expect(await store.reminders.markSent({ key: 'digest:old', sentAt: T0, recipient: 'a' })).toBe(true);
      });
    });

    describe('audit', () => {
      it('append; list newest first with a limit (default 100)', async () => {
        for (let i = 0; i < 120; i++) await store.audit.append(anEntry('t', `a${i}`));
        expect((await store.audit.list(3)).map((e) => e.action)).toEqual(['a119', 'a118', 'a117']);
        expect(await store.audit.list()).toHaveLength(100);
        expect(await store.audit.list(0)).toEqual([]);
      });

      it('findLast by target, with actions, actor, details and detailKeys', async () => {
        await store.audit.append(anEntry('asg-1', 'assignment.eta', { actor: 'bob', details: { eta: '2026-12-10', requestedByObjectId: 'o1' } }));
        await store.audit.append(anEntry('asg-1', 'assignment.dueDate', { actor: 'carol', details: { eta: '2026-12-10', to: '2026-12-10' } }));
        await store.audit.append(anEntry('asg-1', 'assignment.declined', { actor: 'dave', details: { eta: '2026-12-18' } }));
        await store.audit.append(anEntry('asg-2', 'assignment.eta', { actor: 'bob', details: { eta: '2026-12-10' } }));
        await store.audit.append(anEntry('asg-1', 'assignment.healthy-pass', { actor: 'resolution', details: { passes: 1 } }));
        await store.audit.append({ at: T0, actor: 'x', action: 'no-target', details: {} });
        expect((await store.audit.findLast('asg-1'))?.action).toBe('assignment.healthy-pass');
        expect((await store.audit.findLast('asg-1', { actions: ['assignment.eta'] }))?.actor).toBe('bob');
        expect((await store.audit.findLast('asg-1', { actions: ['assignment.dueDate', 'assignment.declined'] }))?.actor).toBe('dave');
        expect((await store.audit.findLast('asg-1', { actions: [] }))?.actor).toBeUndefined();
        expect((await store.audit.findLast('asg-1', { actor: 'carol' }))?.action).toBe('assignment.dueDate');
        expect((await store.audit.findLast('asg-1', { details: { eta: '2026-12-10' } }))?.actor).toBe('carol');
        expect((await store.audit.findLast('asg-1', { details: { eta: '2026-12-10' }, actor: 'bob' }))?.details.requestedByObjectId).toBe('o1');
        expect((await store.audit.findLast('asg-1', { details: { passes: 1 } }))?.actor).toBe('resolution');
        expect(await store.audit.findLast('asg-1', { details: { passes: '1' } })).toBeUndefined();
        expect((await store.audit.findLast('asg-1', { detailKeys: ['eta'] }))?.actor).toBe('dave');
        expect((await store.audit.findLast('asg-1', { detailKeys: ['eta', 'to'] }))?.actor).toBe('carol');
        expect(await store.audit.findLast('asg-1', { actions: ['assignment.healthy-pass'], detailKeys: ['eta'] })).toBeUndefined();
        expect(await store.audit.findLast('asg-3')).toBeUndefined();
      });
    });

    describe('meta', () => {
      it('get and set', async () => {
        expect(await store.meta.get('watermark')).toBeUndefined();
        await store.meta.set('watermark', T0);
        await store.meta.set('watermark', '2026-11-27T00:00:00.000Z');
        expect(await store.meta.get('watermark')).toBe('2026-11-27T00:00:00.000Z');
        expect(await store.meta.get('constructor')).toBeUndefined();
      });

      it('prune deletes the stale keys of one prefix only, in a transaction too, and the deletes last', async () => {
        await store.meta.set('card-key:a', 'old');
        await store.meta.set('card-key:b', 'new');
        await store.meta.set('card-keys', 'old');
        await store.meta.set('watermark', 'old');
        await store.transaction(async (tx) => tx.meta.set('card-key:c', 'old'));
        expect(await store.meta.prune('card-key:', (v) => v === 'old')).toBe(2);
        expect(await store.meta.prune('card-key:', (v) => v === 'old')).toBe(0);
        expect([await store.meta.get('card-key:a'), await store.meta.get('card-key:b'), await store.meta.get('card-key:c')]).toEqual([
          undefined,
          'new',
          undefined,
        ]);
        expect([await store.meta.get('card-keys'), await store.meta.get('watermark')]).toEqual(['old', 'old']);
        // Staged in a transaction: what it set is seen and pruned with the committed keys.
        await store.transaction(async (tx) => {
          await tx.meta.set('card-key:d', 'old');
          expect(await tx.meta.prune('card-key:', (v) => v !== 'gone')).toBe(2);
          expect(await tx.meta.get('card-key:b')).toBeUndefined();
        });
        expect(await store.meta.get('card-key:b')).toBeUndefined();
        expect(await store.meta.get('card-key:d')).toBeUndefined();
        if (handle.reopen) {
          store = await handle.reopen();
          expect([await store.meta.get('card-key:a'), await store.meta.get('card-key:b'), await store.meta.get('watermark')]).toEqual([
            undefined,
            undefined,
            'old',
          ]);
        }
      });

      it('ticket watermarks: one per integration and table, each moved on its own', async () => {
        const [a, b, c] = [ticketWatermarkKey('int-1', 'incident'), ticketWatermarkKey('int-1', 'problem'), ticketWatermarkKey('int-2', 'incident')];
        expect(new Set([a, b, c]).size).toBe(3);
        await store.meta.set(a, '2026-11-26T09:00:00.000Z');
        await store.meta.set(b, '2026-11-26T08:00:00.000Z');
        await store.transaction(async (tx) => tx.meta.set(c, '2026-11-26T07:00:00.000Z'));
        await store.meta.set(a, '2026-11-26T09:05:00.000Z');
        expect([await store.meta.get(a), await store.meta.get(b), await store.meta.get(c)]).toEqual([
          '2026-11-26T09:05:00.000Z',
          '2026-11-26T08:00:00.000Z',
          '2026-11-26T07:00:00.000Z',
        ]);
        expect(await store.meta.get(ticketWatermarkKey('int-2', 'problem'))).toBeUndefined();
        if (handle.reopen) {
          store = await handle.reopen();
          expect([await store.meta.get(a), await store.meta.get(b), await store.meta.get(c)]).toEqual([
            '2026-11-26T09:05:00.000Z',
            '2026-11-26T08:00:00.000Z',
            '2026-11-26T07:00:00.000Z',
          ]);
        }
      });
    });

    // ---------------------------------------------------------------- governance rules

    describe('rules', () => {
      it('get, findByName (any case), list in first-stored order, upsert (insert and replace in place), remove', async () => {
        expect(await store.rules.get('r1')).toBeUndefined();
        await store.rules.upsert(aRule('r1', { name: 'High to owners' }));
        await store.rules.upsert(aRule('r2', { name: 'Key vaults' }));
        await store.rules.upsert({ ...(await store.rules.get('r1'))!, enabled: true, stats: { matched: 3, assigned: 2, needsOwner: 1, lastRunAt: T0 } });
        expect(await store.rules.get('r1')).toMatchObject({ name: 'High to owners', enabled: true, stats: { matched: 3, assigned: 2, needsOwner: 1 } });
        expect((await store.rules.findByName('  key VAULTS'.trim()))?.id).toBe('r2');
        expect(await store.rules.findByName('nobody')).toBeUndefined();
        expect(ids(await store.rules.list())).toEqual(['r1', 'r2']);
        expect(await store.rules.remove('r1')).toBe(true);
        expect(await store.rules.remove('r1')).toBe(false);
        expect(await store.rules.findByName('High to owners')).toBeUndefined();
        expect(ids(await store.rules.list())).toEqual(['r2']);
      });

      it('names are unique whatever their case: a second one is refused and nothing of it is written; a rename frees the old name', async () => {
        await store.rules.upsert(aRule('r1', { name: 'Critical' }));
        await expect(store.rules.upsert(aRule('r2', { name: 'CRITICAL' }))).rejects.toBeInstanceOf(StoreConstraintError);
        expect(await store.rules.get('r2')).toBeUndefined();
        await store.rules.upsert({ ...(await store.rules.get('r1'))!, name: 'critical' });
        await store.rules.upsert({ ...(await store.rules.get('r1'))!, name: 'Renamed' });
        await store.rules.upsert(aRule('r2', { name: 'Critical' }));
        expect((await store.rules.findByName('critical'))?.id).toBe('r2');
        expect((await store.rules.findByName('renamed'))?.id).toBe('r1');
        // Inside one transaction a rename and a new rule with the old name go together.
        await store.transaction(async (tx) => {
          await tx.rules.upsert({ ...(await tx.rules.get('r2'))!, name: 'Was critical' });
          await tx.rules.upsert(aRule('r3', { name: 'Critical' }));
        });
        expect(ids(await store.rules.list())).toEqual(['r1', 'r2', 'r3']);
        expect((await store.rules.findByName('critical'))?.id).toBe('r3');
      });

      it('refuses an invalid row; rows are frozen snapshots', async () => {
        const bad = { ...aRule('r1'), priority: 0 };
        await expect(store.rules.upsert(bad)).rejects.toBeInstanceOf(InvalidRowError);
        await expect(store.rules.upsert({ ...aRule('r1'), scope: '/somewhere' })).rejects.toThrow(/rules row: scope/);
        expect(await store.rules.list()).toEqual([]);
        const rule = aRule('r1');
        await store.rules.upsert(rule);
        rule.name = 'changed after the write';
        const read = (await store.rules.get('r1'))!;
        expect(read.name).toBe('Rule r1');
        expect(() => {
          (read as { name: string }).name = 'x';
        }).toThrow();
      });

      it('in a transaction: read-your-writes, all or nothing, and a name taken by another writer meanwhile: exactly one of them wins', async () => {
        await expect(
          store.transaction(async (tx) => {
            await tx.rules.upsert(aRule('r1', { name: 'Mine' }));
            expect((await tx.rules.findByName('mine'))?.id).toBe('r1');
            expect(await store.rules.get('r1')).toBeUndefined();
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        expect(await store.rules.list()).toEqual([]);

        if (conflicts === 'at-commit') {
          const err = await store
            .transaction(async (tx) => {
              await tx.rules.upsert(aRule('r1', { name: 'Shared name' }));
              await store.rules.upsert(aRule('r2', { name: 'shared NAME' }));
            })
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StoreConstraintError);
          expect(ids(await store.rules.list())).toEqual(['r2']);
        } else {
          // The other writer waits for the transaction's uncommitted name, then is refused.
          let outside!: Promise<unknown>;
          await store.transaction(async (tx) => {
            await tx.rules.upsert(aRule('r1', { name: 'Shared name' }));
            outside = store.rules.upsert(aRule('r2', { name: 'shared NAME' })).then(
              () => 'written',
              (e: unknown) => e,
            );
            await handle.untilSomeoneWaits!();
          });
          expect(await outside).toBeInstanceOf(StoreConstraintError);
          expect(ids(await store.rules.list())).toEqual(['r1']);
        }
      });
    });

    // ---------------------------------------------------------------- transactions

    describe('transactions', () => {
      it('reads see the transaction’s own writes; nobody else does until it commits; then all of it at once, in one write', async () => {
        const existing = anAssignment({ key: 'k0', status: 'open', batchId: 'b0' });
        await store.assignments.upsertMany([existing]);
        const writes = store.status().writes;
        const created = anAssignment({ key: 'k1', status: 'pending', batchId: 'b1' });
        const result = await store.transaction(async (tx) => {
          await tx.assignments.upsertMany([created, { ...existing, status: 'resolved', batchId: 'b1' }]);
          await tx.audit.append(anEntry(created.id, 'assignment.create'));
          await tx.meta.set('m', 'v');
          expect(await tx.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'a' })).toBe(true);
          expect(await tx.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'a' })).toBe(false);
          await tx.conversations.upsert(aConversation('c1'));
          await tx.recommendations.upsertCard(aCard('c1', 'r1'));
          // Read-your-writes, through every kind of read.
          expect((await tx.assignments.get(created.id))?.status).toBe('pending');
          expect(ids(await tx.assignments.list({ batchId: 'b1' }))).toEqual([existing.id, created.id]);
          expect(ids(await tx.assignments.list({ statuses: ['open'] }))).toEqual([]);
          expect(await tx.assignments.count({ statuses: LIVE_ASSIGNMENT_STATUSES })).toBe(1);
          expect((await tx.assignments.findLiveByKey('k1'))?.id).toBe(created.id);
          expect(await tx.assignments.findLiveByKey('k0')).toBeUndefined();
          expect((await tx.audit.findLast(created.id))?.action).toBe('assignment.create');
          expect((await tx.audit.list(1))[0]?.action).toBe('assignment.create');
          expect(await tx.meta.get('m')).toBe('v');
          expect(await tx.reminders.wasSent('once')).toBe(true);
          expect(ids(await tx.conversations.list())).toEqual(['c1']);
          expect(await tx.recommendations.listCards({ conversationId: 'c1' })).toHaveLength(1);
          // Outside the transaction: nothing yet.
          expect(await store.assignments.get(created.id)).toBeUndefined();
          expect((await store.assignments.get(existing.id))?.status).toBe('open');
          expect(await store.audit.findLast(created.id)).toBeUndefined();
          expect(await store.meta.get('m')).toBeUndefined();
          expect(await store.reminders.wasSent('once')).toBe(false);
          expect(await store.conversations.get('c1')).toBeUndefined();
          return 'result';
        });
        expect(result).toBe('result');
        expect(store.status().writes - writes).toBe(1);
        expect((await store.assignments.get(created.id))?.status).toBe('pending');
        expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(created.id);
        expect(ids(await store.assignments.list({ statuses: ['resolved'] }))).toEqual([existing.id]);
        expect((await store.audit.findLast(created.id))?.action).toBe('assignment.create');
        expect(await store.meta.get('m')).toBe('v');
        expect(await store.reminders.wasSent('once')).toBe(true);
        expect((await store.recommendations.getCard('c1', 'r1'))?.activityId).toBeDefined();
      });

      it('rows a transaction creates come after the committed ones, in the order it wrote them', async () => {
        const a = anAssignment();
        await store.assignments.upsertMany([a]);
        const [b, c] = [anAssignment(), anAssignment()];
        await store.transaction(async (tx) => {
          await tx.assignments.upsertMany([b]);
          await tx.assignments.upsertMany([c, { ...a, owner: 'zed@contoso.com' }]);
          expect(ids(await tx.assignments.list())).toEqual([a.id, b.id, c.id]);
        });
        expect(ids(await store.assignments.list())).toEqual([a.id, b.id, c.id]);
      });

      it('a failing transaction applies nothing and rejects with its own error', async () => {
        const a = anAssignment({ key: 'k1' });
        await store.assignments.upsertMany([a]);
        await store.conversations.upsert(aConversation('c1'));
        const writes = store.status().writes;
        const boom = new Error('boom');
        await expect(
          store.transaction(async (tx) => {
            await tx.assignments.upsertMany([{ ...a, status: 'resolved' }, anAssignment({ key: 'k2' })]);
            await tx.audit.append(anEntry(a.id, 'assignment.resolve'));
            await tx.meta.set('m', 'v');
            await tx.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'a' });
            await tx.conversations.remove('c1');
            await tx.work.enqueue([{ kind: 'ticket', key: 'k2', payload: {} }]);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(store.status().writes).toBe(writes);
        expect((await store.assignments.get(a.id))?.status).toBe('open');
        expect(await store.assignments.findLiveByKey('k2')).toBeUndefined();
        expect(await store.audit.findLast(a.id)).toBeUndefined();
        expect(await store.meta.get('m')).toBeUndefined();
        expect(await store.reminders.wasSent('once')).toBe(false);
        expect(await store.conversations.get('c1')).toBeDefined();
        expect(await store.work.list()).toEqual([]);
      });

      it('a constraint broken inside a transaction rejects that call at once; the transaction can go on without it', async () => {
        await store.assignments.upsertMany([anAssignment({ key: 'k1' })]);
        const ok = anAssignment({ key: 'k2' });
        await store.transaction(async (tx) => {
          await expect(tx.assignments.upsertMany([anAssignment({ key: 'k1' })])).rejects.toBeInstanceOf(StoreConstraintError);
          await tx.assignments.upsertMany([ok]);
        });
        expect(await store.assignments.count({ statuses: LIVE_ASSIGNMENT_STATUSES })).toBe(2);
        expect((await store.assignments.findLiveByKey('k2'))?.id).toBe(ok.id);
      });

      if (conflicts === 'at-commit') {
        it('another writer taking the same unique key first makes the commit fail and apply nothing', async () => {
          const mine = anAssignment({ key: 'k1' });
          const theirs = anAssignment({ key: 'k1' });
          const other = anAssignment({ key: 'k7' });
          const err = await store
            .transaction(async (tx) => {
              await tx.assignments.upsertMany([mine, other]);
              await tx.audit.append(anEntry(mine.id, 'assignment.create'));
              await store.assignments.upsertMany([theirs]);
            })
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StoreConstraintError);
          expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(theirs.id);
          expect(await store.assignments.get(other.id)).toBeUndefined();
          expect(await store.audit.findLast(mine.id)).toBeUndefined();

          await expect(
            store.transaction(async (tx) => {
              expect(await tx.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'me' })).toBe(true);
              expect(await store.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'them' })).toBe(true);
            }),
          ).rejects.toBeInstanceOf(StoreConstraintError);
          expect(await store.reminders.sentAmong(['once'])).toEqual(new Set(['once']));

          await expect(
            store.transaction(async (tx) => {
              await tx.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { by: 'me' } }]);
              await store.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { by: 'them' } }]);
            }),
          ).rejects.toBeInstanceOf(StoreConstraintError);
          expect((await store.work.list()).map((w) => w.payload)).toEqual([{ by: 'them' }]);
        });
      }

      if (conflicts === 'other-waits') {
        it('another writer of a unique key the transaction holds waits for it to end and is then refused; the transaction commits', async () => {
          const mine = anAssignment({ key: 'k1' });
          const theirs = anAssignment({ key: 'k1' });
          const other = anAssignment({ key: 'k7' });
          let outside!: Promise<unknown>;
          await store.transaction(async (tx) => {
            await tx.assignments.upsertMany([mine, other]);
            await tx.audit.append(anEntry(mine.id, 'assignment.create'));
            outside = store.assignments.upsertMany([theirs]).then(
              () => 'written',
              (e: unknown) => e,
            );
            await handle.untilSomeoneWaits!();
          });
          expect(await outside).toBeInstanceOf(StoreConstraintError);
          expect((await store.assignments.findLiveByKey('k1'))?.id).toBe(mine.id);
          expect(await store.assignments.get(theirs.id)).toBeUndefined();
          expect(await store.assignments.get(other.id)).toBeDefined();
          expect((await store.audit.findLast(mine.id))?.action).toBe('assignment.create');

          let outsideSent!: Promise<boolean>;
          await store.transaction(async (tx) => {
            expect(await tx.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'me' })).toBe(true);
            outsideSent = store.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'them' });
            await handle.untilSomeoneWaits!();
          });
          expect(await outsideSent).toBe(false);
          expect(await store.reminders.sentAmong(['once'])).toEqual(new Set(['once']));

          let outsideItems!: Promise<unknown>;
          const [mineItem] = await store.transaction(async (tx) => {
            const items = await tx.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { by: 'me' } }]);
            outsideItems = store.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { by: 'them' } }]);
            await handle.untilSomeoneWaits!();
            return items;
          });
          expect(await outsideItems).toEqual([mineItem]);
          expect((await store.work.list()).map((w) => w.payload)).toEqual([{ by: 'me' }]);
        });
      }

      it('a transaction that changed nothing writes nothing; its repositories cannot be used after it ended', async () => {
        const writes = store.status().writes;
        let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
        expect(
          await store.transaction(async (tx) => {
            leaked = tx;
            return (await tx.assignments.list()).length;
          }),
        ).toBe(0);
        expect(store.status().writes).toBe(writes);
        await expect(leaked!.assignments.upsertMany([anAssignment()])).rejects.toThrow(/transaction is over/);
        await expect(leaked!.assignments.get('x')).rejects.toThrow(/transaction is over/);
        expect(await store.assignments.list()).toEqual([]);
      });
    });

    // ---------------------------------------------------------------- work queue

    describe('work queue', () => {
      it('enqueue is idempotent by (kind, key) while the item is queued or running', async () => {
        const [first] = await store.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { n: 1 } }]);
        expect(first).toMatchObject({ kind: 'ticket', key: 'k1', payload: { n: 1 }, status: 'queued', attempts: 0, runAt: T0 });
        const again = await store.work.enqueue([
          { kind: 'ticket', key: 'k1', payload: { n: 2 } },
          { kind: 'card', key: 'k1', payload: {} },
          { kind: 'ticket', key: 'k2', payload: {} },
          { kind: 'ticket', key: 'k2', payload: { dup: true } },
        ]);
        expect(again[0]).toMatchObject({ id: first!.id, payload: { n: 1 } });
        expect(again[3]!.id).toBe(again[2]!.id);
        expect((await store.work.list()).map((w) => `${w.kind}/${w.key}`)).toEqual(['ticket/k1', 'card/k1', 'ticket/k2']);
        await store.work.claim('ticket', 'w1', 1, MINUTE_MS);
        expect((await store.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { n: 3 } }]))[0]).toMatchObject({ id: first!.id, status: 'running' });
        expect(await store.work.list({ kind: 'ticket', key: 'k1' })).toHaveLength(1);
      });

      it('claim takes due items of its kind, earliest runAt first then first enqueued, up to the limit, and leases them', async () => {
        await store.work.enqueue([
          { kind: 'ticket', key: 'a', payload: 1 },
          { kind: 'ticket', key: 'b', payload: 2, runAt: new Date(Date.parse(T0) - MINUTE_MS) },
          { kind: 'ticket', key: 'later', payload: 3, runAt: new Date(Date.parse(T0) + 10 * MINUTE_MS) },
          { kind: 'ticket', key: 'c', payload: 4 },
          { kind: 'other', key: 'x', payload: 5 },
        ]);
        const claimed = await store.work.claim('ticket', 'worker-1', 2, 5 * MINUTE_MS);
        expect(claimed.map((w) => w.key)).toEqual(['b', 'a']);
        expect(claimed[0]).toMatchObject({
          status: 'running',
          leaseOwner: 'worker-1',
          leaseUntil: new Date(Date.parse(T0) + 5 * MINUTE_MS).toISOString(),
          attempts: 1,
        });
        expect((await store.work.claim('ticket', 'worker-2', 10, MINUTE_MS)).map((w) => w.key)).toEqual(['c']);
        expect(await store.work.claim('ticket', 'worker-2', 10, MINUTE_MS)).toEqual([]);
        expect(await store.work.claim('ticket', 'worker-2', 0, MINUTE_MS)).toEqual([]);
        // Ten minutes on, every lease above has expired and `later` is due.
        clock.advance(10 * MINUTE_MS);
        expect((await store.work.claim('ticket', 'worker-2', 10, MINUTE_MS)).map((w) => w.key)).toEqual(['b', 'a', 'c', 'later']);
        await expect(store.work.claim('ticket', '', 1, MINUTE_MS)).rejects.toThrow(/owner/);
        await expect(store.work.claim('ticket', 'w', 1, 0)).rejects.toThrow(/lease/);
      });

      it('an expired lease is claimed again; then only the new owner may complete or fail it', async () => {
        const [item] = await store.work.enqueue([{ kind: 'ticket', key: 'k', payload: {} }]);
        await store.work.claim('ticket', 'dead-worker', 1, MINUTE_MS);
        clock.advance(MINUTE_MS - 1);
        expect(await store.work.claim('ticket', 'new-worker', 1, MINUTE_MS)).toEqual([]);
        clock.advance(1);
        const [reclaimed] = await store.work.claim('ticket', 'new-worker', 1, MINUTE_MS);
        expect(reclaimed).toMatchObject({ id: item!.id, leaseOwner: 'new-worker', attempts: 2 });
        expect(await store.work.complete(item!.id, 'dead-worker')).toBe(false);
        expect(await store.work.fail(item!.id, 'dead-worker', 'late')).toBe(false);
        expect(await store.work.get(item!.id)).toMatchObject({ status: 'running', leaseOwner: 'new-worker' });
        expect(await store.work.complete(item!.id, 'new-worker')).toBe(true);
        const done = (await store.work.get(item!.id))!;
        expect(done).toMatchObject({ status: 'done', finishedAt: clock.now().toISOString() });
        expect(done.leaseOwner).toBeUndefined();
        expect(done.leaseUntil).toBeUndefined();
        expect(await store.work.complete(item!.id, 'new-worker')).toBe(false);
        expect(await store.work.complete('no-such-item', 'new-worker')).toBe(false);
      });

      it('fail with retryAt queues it again for then; without, it ends failed; a finished key can be enqueued again', async () => {
        const [item] = await store.work.enqueue([{ kind: 'ticket', key: 'k', payload: { v: 1 } }]);
        await store.work.claim('ticket', 'w', 1, MINUTE_MS);
        const retryAt = new Date(Date.parse(T0) + 5 * MINUTE_MS);
        expect(await store.work.fail(item!.id, 'w', 'ServiceNow answered 503', retryAt)).toBe(true);
        expect(await store.work.get(item!.id)).toMatchObject({
          status: 'queued',
          runAt: retryAt.toISOString(),
          lastError: 'ServiceNow answered 503',
          attempts: 1,
        });
        expect(await store.work.claim('ticket', 'w', 1, MINUTE_MS)).toEqual([]);
        clock.set(retryAt);
        const [second] = await store.work.claim('ticket', 'w', 1, MINUTE_MS);
        expect(second).toMatchObject({ id: item!.id, attempts: 2 });
        expect(await store.work.fail(item!.id, 'w', 'gave up')).toBe(true);
        expect(await store.work.get(item!.id)).toMatchObject({ status: 'failed', lastError: 'gave up', finishedAt: retryAt.toISOString() });
        clock.advance(MINUTE_MS);
        expect(await store.work.claim('ticket', 'w', 1, MINUTE_MS)).toEqual([]);
        const [revived] = await store.work.enqueue([{ kind: 'ticket', key: 'k', payload: { v: 2 } }]);
        expect(revived).toMatchObject({ id: item!.id, status: 'queued', attempts: 0, payload: { v: 2 }, runAt: clock.now().toISOString() });
        expect((await store.work.claim('ticket', 'w', 1, MINUTE_MS))[0]?.id).toBe(item!.id);
      });

      it('an outbox in transactions: enqueued with a row; claimed, its keys recorded and completed in one, or not at all', async () => {
        // The resolution pass's announcements (app/announcements.ts): the intent is written with the outcome...
        const a = anAssignment({ id: 'outbox-a', key: 'outbox-key' });
        await store.transaction(async (tx) => {
          await tx.assignments.upsertMany([a]);
          await tx.work.enqueue([
            { kind: 'announce', key: 'k1', payload: { text: 'one' } },
            { kind: 'announce', key: 'k2', payload: { text: 'two' } },
          ]);
        });
        expect(await store.assignments.get(a.id)).toBeDefined();
        // ...a delivery that fails part-way claims nothing...
        await expect(
          store.transaction(async (tx) => {
            for (const item of await tx.work.claim('announce', 'pass-1', 10, MINUTE_MS)) {
              await tx.reminders.markSent({ key: item.key, sentAt: T0, recipient: 'c' });
              await tx.work.complete(item.id, 'pass-1');
            }
            throw new Error('killed');
          }),
        ).rejects.toThrow('killed');
        expect((await store.work.list({ kind: 'announce', statuses: ['queued'] })).map((w) => w.key)).toEqual(['k1', 'k2']);
        expect(await store.reminders.sentAmong(['k1', 'k2'])).toEqual(new Set());
        // ...and the next one claims each key once: one recorded before is not claimed again.
        await store.reminders.markSent({ key: 'k2', sentAt: T0, recipient: 'c' });
        const firsts = await store.transaction(async (tx) => {
          const out: string[] = [];
          for (const item of await tx.work.claim('announce', 'pass-2', 10, MINUTE_MS)) {
            if (await tx.reminders.markSent({ key: item.key, sentAt: T0, recipient: 'c' })) out.push(item.key);
            expect(await tx.work.complete(item.id, 'pass-2')).toBe(true);
          }
          return out;
        });
        expect(firsts).toEqual(['k1']);
        expect(await store.work.list({ kind: 'announce', statuses: ['queued', 'running'] })).toEqual([]);
        expect(await store.reminders.sentAmong(['k1', 'k2'])).toEqual(new Set(['k1', 'k2']));
      });

      it('list by kind, statuses and key; get', async () => {
        await store.work.enqueue([
          { kind: 'ticket', key: 'a', payload: {} },
          { kind: 'ticket', key: 'b', payload: {} },
          { kind: 'card', key: 'a', payload: {} },
        ]);
        const [a] = await store.work.claim('ticket', 'w', 1, MINUTE_MS);
        await store.work.complete(a!.id, 'w');
        expect((await store.work.list({ kind: 'ticket' })).map((w) => w.key)).toEqual(['a', 'b']);
        expect((await store.work.list({ statuses: ['queued'] })).map((w) => `${w.kind}/${w.key}`)).toEqual(['ticket/b', 'card/a']);
        expect((await store.work.list({ kind: 'ticket', statuses: ['queued', 'running'] })).map((w) => w.key)).toEqual(['b']);
        expect((await store.work.list({ kind: 'card', key: 'a' })).map((w) => w.kind)).toEqual(['card']);
        expect((await store.work.list({ statuses: [] })).length).toBe(0);
        expect(await store.work.get('nope')).toBeUndefined();
      });

      it('prune forgets the done items of a kind finished before the cutoff, and only the failed ones named as handled', async () => {
        await store.work.enqueue(['done-old', 'failed-old', 'failed-kept', 'running', 'queued'].map((key) => ({ kind: 'ticket', key, payload: {} })));
        await store.work.enqueue([{ kind: 'card', key: 'done-old', payload: {} }]);
        const byKey = new Map((await store.work.claim('ticket', 'w', 4, 60 * MINUTE_MS)).map((w) => [w.key, w]));
        const [card] = await store.work.claim('card', 'w', 1, MINUTE_MS);
        await store.work.complete(byKey.get('done-old')!.id, 'w');
        await store.work.complete(card!.id, 'w');
        await store.work.fail(byKey.get('failed-old')!.id, 'w', 'boom');
        await store.work.fail(byKey.get('failed-kept')!.id, 'w', 'boom');
        clock.advance(MINUTE_MS);
        // A done item finished after the cutoff stays: finished at T0 + 1 minute.
        const [late] = await store.work.enqueue([{ kind: 'ticket', key: 'done-late', payload: {}, runAt: new Date(Date.parse(T0) - MINUTE_MS) }]);
        await store.work.claim('ticket', 'w', 1, MINUTE_MS);
        await store.work.complete(late!.id, 'w');
        const cutoff = new Date(Date.parse(T0) + 1);
        const keys = async () => (await store.work.list()).map((w) => `${w.kind}/${w.key}/${w.status}`);

        expect(await store.work.prune('ticket', new Date(Date.parse(T0)), [byKey.get('failed-old')!.id])).toBe(0);
        expect(await store.work.prune('ticket', cutoff, [byKey.get('failed-old')!.id, 'no-such-id'])).toBe(2);
        expect(await keys()).toEqual([
          'ticket/failed-kept/failed',
          'ticket/running/running',
          'ticket/queued/queued',
          'card/done-old/done',
          'ticket/done-late/done',
        ]);
        // Nothing left to forget; a queued or running id named as handled is not touched.
        expect(await store.work.prune('ticket', cutoff, [byKey.get('running')!.id])).toBe(0);
        expect(await store.work.prune('card', cutoff)).toBe(1);
        clock.advance(60 * MINUTE_MS);
        expect(await store.work.prune('ticket', clock.now())).toBe(1);
        expect(await keys()).toEqual(['ticket/failed-kept/failed', 'ticket/running/running', 'ticket/queued/queued']);
        // A pruned key can be enqueued again as a new item.
        const [again] = await store.work.enqueue([{ kind: 'ticket', key: 'done-old', payload: { n: 2 } }]);
        expect(again).toMatchObject({ status: 'queued', attempts: 0, payload: { n: 2 } });
        expect(again!.id).not.toBe(byKey.get('done-old')!.id);
        if (handle.reopen) {
          store = await handle.reopen();
          expect(await keys()).toEqual(['ticket/failed-kept/failed', 'ticket/running/running', 'ticket/queued/queued', 'ticket/done-old/queued']);
        }
      });

      it('payloads are stored as JSON: a copy, and refused when they are not JSON', async () => {
        const payload = { ids: ['a1'], nested: { n: 1 } };
        const [item] = await store.work.enqueue([{ kind: 'ticket', key: 'k', payload }]);
        payload.ids.push('changed');
        expect((await store.work.get(item!.id))?.payload).toEqual({ ids: ['a1'], nested: { n: 1 } });
        await expect(store.work.enqueue([{ kind: 'ticket', key: 'big', payload: { n: BigInt(1) } }])).rejects.toBeInstanceOf(InvalidRowError);
        await expect(store.work.enqueue([{ kind: '', key: 'k', payload: {} }])).rejects.toBeInstanceOf(InvalidRowError);
        expect(await store.work.list()).toHaveLength(1);
      });

      it('claims, completions and retries inside a transaction commit with it', async () => {
        const [item] = await store.work.enqueue([{ kind: 'ticket', key: 'k', payload: {} }]);
        await store.transaction(async (tx) => {
          const [claimed] = await tx.work.claim('ticket', 'w', 1, MINUTE_MS);
          expect(claimed?.id).toBe(item!.id);
          expect((await store.work.get(item!.id))?.status).toBe('queued');
          expect(await tx.work.complete(item!.id, 'w')).toBe(true);
        });
        expect((await store.work.get(item!.id))?.status).toBe('done');
        await store.work.enqueue([{ kind: 'ticket', key: 'k2', payload: {} }]);
        if (conflicts === 'at-commit') {
          // A claim in a transaction loses to one made outside it meanwhile.
          await expect(
            store.transaction(async (tx) => {
              await tx.work.claim('ticket', 'slow', 1, MINUTE_MS);
              await store.work.claim('ticket', 'fast', 1, MINUTE_MS);
            }),
          ).rejects.toBeInstanceOf(StoreConstraintError);
          expect((await store.work.list({ key: 'k2' }))[0]?.leaseOwner).toBe('fast');
        } else {
          // A claim outside skips (does not wait for) the item the transaction claimed; the transaction's claim commits.
          await store.transaction(async (tx) => {
            expect(await tx.work.claim('ticket', 'slow', 1, MINUTE_MS)).toHaveLength(1);
            expect(await store.work.claim('ticket', 'fast', 1, MINUTE_MS)).toEqual([]);
          });
          expect((await store.work.list({ key: 'k2' }))[0]?.leaseOwner).toBe('slow');
        }
      });
    });

    // ---------------------------------------------------------------- locks

    describe('locks', () => {
      it('callers of one key run one at a time, in order; a failure releases the key; other keys do not wait', async () => {
        const order: string[] = [];
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const first = handle.locks.withLock('asg-1', async () => {
          order.push('first starts');
          await gate;
          order.push('first ends');
          throw new Error('first failed');
        });
        const second = handle.locks.withLock('asg-1', async () => {
          order.push('second');
          return 2;
        });
        const third = handle.locks.withLock('asg-1', async () => {
          order.push('third');
          return 3;
        });
        expect(await handle.locks.withLock('asg-2', async () => 'another key')).toBe('another key');
        release();
        await expect(first).rejects.toThrow('first failed');
        expect(await second).toBe(2);
        expect(await third).toBe(3);
        expect(order).toEqual(['first starts', 'first ends', 'second', 'third']);
      });
    });

    // ---------------------------------------------------------------- several processes on one store

    if (options.shared) {
      describe('several processes on the same data', () => {
        it("each process sees the other's committed writes at once, and never a transaction's uncommitted or rolled-back ones", async () => {
          const other = (await peer()).store;
          const a = anAssignment({ key: 'k1' });
          await store.assignments.upsertMany([a]);
          expect((await other.assignments.findLiveByKey('k1'))?.id).toBe(a.id);
          await other.assignments.upsertMany([{ ...a, status: 'resolved' }]);
          expect(await store.assignments.findLiveByKey('k1')).toBeUndefined();
          await expect(
            store.transaction(async (tx) => {
              await tx.assignments.upsertMany([anAssignment({ key: 'k2' })]);
              await tx.meta.set('m', 'v');
              expect(await other.assignments.findLiveByKey('k2')).toBeUndefined();
              expect(await other.meta.get('m')).toBeUndefined();
              throw new Error('rolled back');
            }),
          ).rejects.toThrow('rolled back');
          expect(await other.assignments.findLiveByKey('k2')).toBeUndefined();
          expect(await other.meta.get('m')).toBeUndefined();
        });

        it('unique keys hold across processes: a second live assignment, reminder, work item or active integration name is refused, also when both race', async () => {
          const other = (await peer()).store;
          await store.assignments.upsertMany([anAssignment({ key: 'k1' })]);
          await expect(other.assignments.upsertMany([anAssignment({ key: 'k1' })])).rejects.toBeInstanceOf(StoreConstraintError);
          for (let round = 0; round < 10; round++) {
            const key = `race-${round}`;
            const results = await Promise.allSettled([
              store.assignments.upsertMany([anAssignment({ key })]),
              other.assignments.upsertMany([anAssignment({ key })]),
            ]);
            expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
            expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(StoreConstraintError);
            expect(await store.assignments.count({ statuses: LIVE_ASSIGNMENT_STATUSES })).toBe(round + 2);
            const sent = await Promise.all([
              store.reminders.markSent({ key, sentAt: T0, recipient: 'a' }),
              other.reminders.markSent({ key, sentAt: T0, recipient: 'b' }),
            ]);
            expect(sent.filter(Boolean)).toHaveLength(1);
            const [mine, theirs] = await Promise.all([
              store.work.enqueue([{ kind: 'ticket', key, payload: { by: 'a' } }]),
              other.work.enqueue([{ kind: 'ticket', key, payload: { by: 'b' } }]),
            ]);
            expect(mine[0]!.id).toBe(theirs[0]!.id);
          }
          expect(await store.work.list({ kind: 'ticket' })).toHaveLength(10);
          await store.integrations.upsert(anIntegration('i1', { name: 'Contoso ITSM' }));
          await expect(other.integrations.upsert(anIntegration('i2', { name: 'contoso itsm' }))).rejects.toBeInstanceOf(StoreConstraintError);
          // A removed one frees its name.
          await other.integrations.upsert({ ...(await other.integrations.get('i1'))!, removedAt: T0 });
          await store.integrations.upsert(anIntegration('i2', { name: 'contoso itsm' }));
          expect((await other.integrations.findByName('CONTOSO ITSM'))?.id).toBe('i2');
        });

        it('claims of two processes at the same time never hand out one item twice, and together take every item', async () => {
          const other = (await peer()).store;
          await store.work.enqueue(Array.from({ length: 60 }, (_, i) => ({ kind: 'ticket', key: `k${i}`, payload: { i } })));
          const seen: string[] = [];
          for (;;) {
            const [a, b] = await Promise.all([store.work.claim('ticket', 'replica-a', 7, MINUTE_MS), other.work.claim('ticket', 'replica-b', 7, MINUTE_MS)]);
            if (a.length === 0 && b.length === 0) break;
            seen.push(...a.map((w) => w.id), ...b.map((w) => w.id));
          }
          expect(new Set(seen).size).toBe(seen.length);
          expect(seen).toHaveLength(60);
          // Each item is leased by the one that claimed it: the other's completion does not count.
          const [item] = await store.work.list({ key: 'k0' });
          const stranger = item!.leaseOwner === 'replica-a' ? other : store;
          expect(await stranger.work.complete(item!.id, item!.leaseOwner === 'replica-a' ? 'replica-b' : 'replica-a')).toBe(false);
          expect(await stranger.work.complete(item!.id, item!.leaseOwner!)).toBe(true);
        });

        it('a lock held by one process makes the other wait until it is released; a failure releases it too', async () => {
          const other = await peer();
          const order: string[] = [];
          let theirs!: Promise<void>;
          await handle.locks.withLock('asg-1', async () => {
            order.push('mine starts');
            theirs = other.locks.withLock('asg-1', async () => {
              order.push('theirs');
            });
            await handle.untilSomeoneWaits!();
            // Another key is free meanwhile.
            await other.locks.withLock('asg-2', async () => order.push('another key'));
            order.push('mine ends');
          });
          await theirs;
          expect(order).toEqual(['mine starts', 'another key', 'mine ends', 'theirs']);

          order.length = 0;
          const failing = other.locks.withLock('job:sync', async () => {
            order.push('theirs fails');
            throw new Error('boom');
          });
          await expect(failing).rejects.toThrow('boom');
          await handle.locks.withLock('job:sync', async () => order.push('mine'));
          expect(order).toEqual(['theirs fails', 'mine']);
        });
      });
    }

    // ---------------------------------------------------------------- durability

    if (options.durable) {
      describe('durability', () => {
        it('rules are there after a reopen, with their name lookup and uniqueness', async () => {
          await store.rules.upsert(aRule('r1', { name: 'First', paused: { since: T0, waiting: 12 } }));
          await store.rules.upsert(aRule('r2', { name: 'Second', owner: { kind: 'fixed', email: 'frank@contoso.com' } }));
          store = await handle.reopen!();
          expect(ids(await store.rules.list())).toEqual(['r1', 'r2']);
          expect(await store.rules.findByName('FIRST')).toMatchObject({ id: 'r1', paused: { since: T0, waiting: 12 } });
          expect((await store.rules.get('r2'))?.owner).toEqual({ kind: 'fixed', email: 'frank@contoso.com' });
          await expect(store.rules.upsert(aRule('r3', { name: 'second' }))).rejects.toBeInstanceOf(StoreConstraintError);
        });

        it('everything written is there after a reopen, in the same order, with working lookups', async () => {
          const a = anAssignment({ key: 'k1', owner: 'Bob@Contoso.com', batchId: 'b1' });
          const b = anAssignment({ key: 'k2', status: 'resolved', batchId: 'b1' });
          await store.assignments.upsertMany([a, b]);
          await store.assignments.upsertMany([{ ...a, status: 'pending' }]);
          await store.conversations.upsert(aConversation('c1', { kind: 'personal', userUpn: 'bob@contoso.com' }));
          await store.recommendations.upsertMany([aRecommendation('r1')]);
          await store.recommendations.upsertCard(aCard('c1', 'r1'));
          await store.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'a' });
          await store.audit.append(anEntry(a.id, 'assignment.create'));
          await store.meta.set('m', 'v');
          const [item] = await store.work.enqueue([{ kind: 'ticket', key: 'k1', payload: { a: a.id } }]);
          await store.work.claim('ticket', 'crashed-worker', 1, MINUTE_MS);
          await store.transaction(async (tx) => {
            await tx.integrations.upsert(anIntegration('i1'));
          });
          await expect(
            store.transaction(async (tx) => {
              await tx.integrations.upsert(anIntegration('i2'));
              throw new Error('rolled back');
            }),
          ).rejects.toThrow('rolled back');

          store = await handle.reopen!();
          expect(ids(await store.assignments.list())).toEqual([a.id, b.id]);
          expect((await store.assignments.findLiveByKey('k1'))?.status).toBe('pending');
          expect(ids(await store.assignments.list({ owner: 'bob@contoso.com', batchId: 'b1' }))).toEqual([a.id]);
          expect(ids(await store.conversations.list({ userUpn: 'BOB@contoso.com' }))).toEqual(['c1']);
          expect(await store.recommendations.listCards({ recommendationKey: 'r1' })).toHaveLength(1);
          expect(await store.reminders.markSent({ key: 'once', sentAt: T0, recipient: 'a' })).toBe(false);
          expect((await store.audit.findLast(a.id))?.action).toBe('assignment.create');
          expect(await store.meta.get('m')).toBe('v');
          expect(ids(await store.integrations.listAll())).toEqual(['i1']);
          await expect(store.assignments.upsertMany([anAssignment({ key: 'k1' })])).rejects.toBeInstanceOf(StoreConstraintError);
          // The worker died holding the lease: after it expires, another worker takes the item over.
          expect(await store.work.claim('ticket', 'next-worker', 1, MINUTE_MS)).toEqual([]);
          clock.advance(MINUTE_MS);
          expect(await store.work.claim('ticket', 'next-worker', 1, MINUTE_MS)).toMatchObject([{ id: item!.id, attempts: 2, payload: { a: a.id } }]);
        });
      });
    }
  });
}
