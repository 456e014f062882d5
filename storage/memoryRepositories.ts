import type { Store } from './repositories.js';
import { emptyDatabase, type Assignment, type Database } from './schema.js';

const LIVE_ASSIGNMENT = new Set<Assignment['status']>(['pending', 'open', 'failed', 'awaiting-manual-close']);
/** The audit trail is append-only; past this many entries the oldest are dropped. */
export const AUDIT_LIMIT = 50_000;

const cardKey = (conversationId: string, recommendationKey: string) => `${conversationId}\u0000${recommendationKey}`;

/**
 * Repositories over an in-memory Database object. `persist` makes the current state durable;
 * the lowdb store passes its coalesced atomic write, the memory store a no-op.
 */
export function createRepositories(data: () => Database, persist: () => Promise<void>): Omit<Store, 'status' | 'flush' | 'close'> {
  return {
    conversations: {
      get: (id) => data().conversations[id],
      list: () => Object.values(data().conversations),
      upsert: (c) => {
        data().conversations[c.id] = c;
        return persist();
      },
      remove: async (id) => {
        if (!data().conversations[id]) return false;
        delete data().conversations[id];
        await persist();
        return true;
      },
    },
    integrations: {
      get: (id) => data().integrations[id],
      findByName: (name) => Object.values(data().integrations).find((i) => !i.removedAt && i.name.toLowerCase() === name.toLowerCase()),
      list: () => Object.values(data().integrations).filter((i) => !i.removedAt),
      listAll: () => Object.values(data().integrations),
      upsert: (i) => {
        data().integrations[i.id] = i;
        return persist();
      },
    },
    recommendations: {
      get: (key) => data().recommendations[key],
      list: () => Object.values(data().recommendations),
      upsertMany: (recs) => {
        for (const r of recs) data().recommendations[r.key] = r;
        return persist();
      },
      getCard: (conversationId, key) => data().postedCards[cardKey(conversationId, key)],
      listCards: (key) => Object.values(data().postedCards).filter((c) => key === undefined || c.recommendationKey === key),
      upsertCard: (card) => {
        data().postedCards[cardKey(card.conversationId, card.recommendationKey)] = card;
        return persist();
      },
      removeCardsFor: (conversationId) => {
        for (const [k, c] of Object.entries(data().postedCards)) if (c.conversationId === conversationId) delete data().postedCards[k];
        return persist();
      },
    },
    assignments: {
      get: (id) => data().assignments[id],
      findLiveByKey: (key) => Object.values(data().assignments).find((a) => a.key === key && LIVE_ASSIGNMENT.has(a.status)),
      list: (filter) => {
        const all = Object.values(data().assignments);
        return filter ? all.filter(filter) : all;
      },
      upsertMany: (assignments) => {
        for (const a of assignments) data().assignments[a.id] = a;
        return persist();
      },
    },
    reminders: {
      wasSent: (key) => key in data().reminders,
      markSent: async (entry) => {
        if (entry.key in data().reminders) return false;
        data().reminders[entry.key] = entry;
        await persist();
        return true;
      },
      prune: async (olderThan, keyPrefixes) => {
        if (keyPrefixes.length === 0) return 0;
        const cutoff = olderThan.getTime();
        const log = data().reminders;
        let removed = 0;
        for (const [key, entry] of Object.entries(log)) {
          if (Date.parse(entry.sentAt) < cutoff && keyPrefixes.some((p) => key.startsWith(p))) {
            delete log[key];
            removed++;
          }
        }
        if (removed > 0) await persist();
        return removed;
      },
    },
    audit: {
      append: (entry) => {
        const log = data().audit;
        log.push(entry);
        if (log.length > AUDIT_LIMIT) log.splice(0, log.length - AUDIT_LIMIT);
        return persist();
      },
      list: (limit = 100) => data().audit.slice(-limit).reverse(),
      findLast: (target, predicate) => {
        const log = data().audit;
        for (let i = log.length - 1; i >= 0; i--) {
          const e = log[i]!;
          if (e.target === target && (!predicate || predicate(e))) return e;
        }
        return undefined;
      },
    },
    meta: {
      get: (key) => data().meta[key],
      set: (key, value) => {
        data().meta[key] = value;
        return persist();
      },
    },
  };
}

/** A store that lives only in memory: for unit tests of code that needs repositories. */
export function openMemoryStore(initial: Database = emptyDatabase()): Store {
  const db = structuredClone(initial);
  let writes = 0;
  const repos = createRepositories(
    () => db,
    async () => {
      writes++;
    },
  );
  return { ...repos, status: () => ({ kind: 'memory', ok: true, writes }), flush: async () => undefined, close: async () => undefined };
}
