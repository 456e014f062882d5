import type { Assignment, AuditEntry, Conversation, Integration, PostedCard, Recommendation, ReminderSent } from './schema.js';

/**
 * The store seen by the rest of the app. Mutations resolve once the change is durable, so a
 * caller can "persist, then call out". Several mutations in the same tick share one write.
 * The embedded lowdb store implements these; a shared database can take its place later.
 */
export interface ConversationRepository {
  get(id: string): Conversation | undefined;
  list(): Conversation[];
  upsert(conversation: Conversation): Promise<void>;
  remove(id: string): Promise<boolean>;
}

export interface IntegrationRepository {
  get(id: string): Integration | undefined;
  findByName(name: string): Integration | undefined;
  /** Active integrations (removed ones are kept for history but not listed). */
  list(): Integration[];
  /** Active and removed ones. */
  listAll(): Integration[];
  upsert(integration: Integration): Promise<void>;
}

export interface RecommendationRepository {
  get(key: string): Recommendation | undefined;
  list(): Recommendation[];
  upsertMany(recommendations: Recommendation[]): Promise<void>;
  getCard(conversationId: string, recommendationKey: string): PostedCard | undefined;
  listCards(recommendationKey?: string): PostedCard[];
  upsertCard(card: PostedCard): Promise<void>;
  removeCardsFor(conversationId: string): Promise<void>;
}

export interface AssignmentRepository {
  get(id: string): Assignment | undefined;
  /** The live (not resolved/removed) assignment for a recommendation+resource key. */
  findLiveByKey(key: string): Assignment | undefined;
  list(filter?: (a: Assignment) => boolean): Assignment[];
  upsertMany(assignments: Assignment[]): Promise<void>;
}

export interface ReminderRepository {
  wasSent(key: string): boolean;
  /** Records a sent reminder; returns false when it was already recorded (exactly-once guard). */
  markSent(entry: ReminderSent): Promise<boolean>;
  /**
   * Forgets entries sent before `olderThan` whose key starts with one of `keyPrefixes`; returns
   * how many. The caller names the prefixes: only it knows which keys are tied to a period that
   * is over (keys of a still-live thing, such as grace-ended:{assignment}, must stay).
   */
  prune(olderThan: Date, keyPrefixes: readonly string[]): Promise<number>;
}

export interface AuditRepository {
  append(entry: AuditEntry): Promise<void>;
  list(limit?: number): AuditEntry[];
  /** The newest entry about `target` that matches, however old (list() only sees the last few). */
  findLast(target: string, predicate?: (entry: AuditEntry) => boolean): AuditEntry | undefined;
}

export interface MetaRepository {
  get(key: string): string | undefined;
  set(key: string, value: string): Promise<void>;
}

export interface StoreStatus {
  kind: string;
  ok: boolean;
  writes: number;
  lastWriteAt?: string;
  lastError?: string;
}

export interface Store {
  conversations: ConversationRepository;
  integrations: IntegrationRepository;
  recommendations: RecommendationRepository;
  assignments: AssignmentRepository;
  reminders: ReminderRepository;
  audit: AuditRepository;
  meta: MetaRepository;
  status(): StoreStatus;
  /** Resolves when every pending write is on disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
