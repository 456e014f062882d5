/**
 * The Defender → Teams sync pass: fetch unhealthy assessments, fold them into recommendation
 * snapshots, persist what changed, and post/update one card per recommendation per subscribed
 * conversation. Sends are enqueued on the Messenger (which paces them to Teams' limits); the pass
 * returns once everything is enqueued, and each PostedCard is stored when its send completes.
 * With `postCards: false` (the CLI, which has no Teams connection) the pass counts the cards it
 * would post or update and leaves them to the bot, whose next pass finds them missing or stale.
 */
import type { Clock } from '../core/clock.js';
import { splitAssessmentId } from '../core/defender-model.js';
import { LIVE_ASSIGNMENT_STATUSES } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import { FingerprintRecorder, RowFingerprints } from '../core/rowFingerprints.js';
import {
  diffRecommendations,
  isMassResolution,
  keepMissing,
  massResolutionSample,
  normaliseAncestry,
  recommendationKeyOf,
  RecommendationAccumulator,
  type Ancestry,
} from '../core/recommendations.js';
import { channelDigestCard } from '../cards/channelDigestCards.js';
import type { CardAssignment } from '../cards/recommendationCards.js';
import type { AdaptiveCard } from '../cards/render.js';
import type { Conversation, PostedCard, Recommendation } from '../core/model.js';
import { digestFor, hasManagementGroupScope, renderRecommendationFor, toCardAssignment, viewForConversation } from './recommendationCards.js';
import { sendFailureLevel, type DefenderPort, type Locks, type MessageSource, type Messenger, type OutgoingMessage, type Store } from './ports.js';

/** The part of the DefenderPort the sync pass calls; the assessments API and names are optional (stubs in tests). */
export type SyncAzureClient = Pick<DefenderPort, 'queryUnhealthyAssessments' | 'getSubscriptionAncestry'> &
  Partial<Pick<DefenderPort, 'getAssessment' | 'getSubscriptionNames'>>;

export interface SyncDeps {
  azure: SyncAzureClient;
  store: Store;
  /**
   * Held per conversation and recommendation while a new card is posted, so another process's pass
   * or subscribe (whose in-flight sends this one cannot see) finds the stored card instead of
   * posting a second one. Without it, only this process's own sends are told apart.
   */
  locks?: Locks;
  /** Where cards are posted; needed unless `postCards` is false. */
  messenger?: Messenger;
  /** false: count the cards to post or update and leave them to the bot (default true). */
  postCards?: boolean;
  clock: Clock;
  logger: Logger;
  /** ARM scopes queried: `/subscriptions/{id}` and `/providers/Microsoft.Management/managementGroups/{name}`. */
  scopes: readonly string[];
  /** Subscription display names known up front (they win over Resource Graph's); ids are shown when a name is unknown. */
  subscriptionNames?: ReadonlyMap<string, string>;
  /** Time zone of due dates (REMINDER_TIMEZONE): the tickets' due states on cards are judged there. Default UTC. */
  timeZone?: string;
}

export interface SyncReport {
  /** Unhealthy recommendations seen in this pass. */
  recommendations: number;
  /** Unhealthy (recommendation, resource) pairs. */
  resources: number;
  new: number;
  changed: number;
  resolved: number;
  unchanged: number;
  /** Card sends enqueued (delivery completes later; see SyncJob.delivered()); with postCards false, the ones left to the bot. */
  cardsPosted: number;
  cardsUpdated: number;
  /**
   * Cards skipped because a send for the same card from an earlier pass is still in flight, or
   * (the digest) failed to render. A recommendation card is rendered when its send comes up, so
   * one that fails to render is a failed delivery (DeliveryReport.failed), logged with the reason.
   */
  cardsDeferred: number;
  storeWrites: number;
  pages: number;
  skippedRows: number;
  /** Rows the previous pass saw byte for byte, taken as they were instead of parsed (see FULL_PARSE_EVERY_MS). */
  knownRows: number;
  /**
   * Set when this pass did not see the complete set (Resource Graph's answer truncated or short,
   * malformed rows skipped, or a mass resolution the assessments API did not confirm): why. Such
   * a pass resolves nothing and takes no resource off a card; the next complete pass does.
   */
  incomplete?: string;
  /** Recommendations missing from this pass that would have been resolved, kept as they were because it was incomplete. */
  heldBack: number;
  durationMs: number;
}

export interface DeliveryReport {
  posted: number;
  updated: number;
  failed: number;
}

/**
 * A pass skips the rows the previous one saw byte for byte (core/rowFingerprints.ts); once this
 * long after the last pass that parsed everything, one parses every row again, so nothing rests on
 * fingerprints (or on a stored snapshot edited behind the table's back) for longer than a day.
 */
export const FULL_PARSE_EVERY_MS = 24 * 60 * 60 * 1000;

/** The digest card's PostedCard key (recommendation keys are assessment GUIDs, so it cannot collide). */
export const DIGEST_KEY = '#digest';

const cardKey = (conversationId: string, recommendationKey: string) => `${conversationId}\u0000${recommendationKey}`;

export class SyncJob {
  private running: Promise<SyncReport> | undefined;
  /** Cards with a send in flight: a later pass must not post them twice before the id is stored. */
  private readonly inFlight = new Set<string>();
  private readonly deliveries = new Set<Promise<void>>();
  /** Cards delivered since the last read of the posted cards: another read that started earlier must not post them again. */
  private readonly justPosted = new Map<string, PostedCard>();
  private delivery: DeliveryReport = { posted: 0, updated: 0, failed: 0 };
  private lastAncestry: Map<string, string[]> = new Map();
  private ancestryRead = false;
  /** Subscription id (lower case) → display name, kept across passes: names rarely change. */
  private readonly names = new Map<string, string>();
  /** Ids Resource Graph was asked about and did not name (no access): not asked again every pass. */
  private readonly unnamed = new Set<string>();
  /** The rows of the last complete pass, by fingerprint; undefined after an incomplete or failed one. */
  private fingerprints: RowFingerprints | undefined;
  private lastFullParseAt: number | undefined;

  constructor(private readonly deps: SyncDeps) {
    if (deps.postCards !== false && !deps.messenger) throw new Error('the sync pass needs a Messenger to post cards (or postCards: false)');
    for (const [id, name] of deps.subscriptionNames ?? []) this.names.set(id.toLowerCase(), name);
  }

  /** Runs a pass; a call while one is running joins it instead of starting a second one. */
  runOnce(): Promise<SyncReport> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /**
   * Resolves once every send enqueued so far has completed and its PostedCard is persisted;
   * returns the counts since the previous call.
   */
  async delivered(): Promise<DeliveryReport> {
    while (this.deliveries.size > 0) await Promise.all([...this.deliveries]);
    await this.deps.store.flush();
    const report = this.delivery;
    this.delivery = { posted: 0, updated: 0, failed: 0 };
    return report;
  }

  /**
   * A conversation just subscribed (or changed its filters): its cards from the recommendations
   * the last pass stored, posted now instead of at the next SYNC_CRON pass, without asking Azure.
   * Cards already posted with the same content are left alone. A management-group filter needs
   * the ancestry a pass reads; before one has, those cards come with the next pass.
   */
  async postStored(conversationId: string): Promise<{ posted: number; updated: number }> {
    const conv = await this.deps.store.conversations.get(conversationId);
    if (!conv?.subscribed || conv.unreachable) return { posted: 0, updated: 0 };
    if (hasManagementGroupScope(conv) && !this.ancestryRead) return { posted: 0, updated: 0 };
    const current = new Map<string, Recommendation>();
    for (const r of await this.deps.store.recommendations.list()) if (r.status !== 'resolved') current.set(r.key, r);
    const counts = await this.enqueueCards([conv], current, new Map(), this.deps.clock.now());
    return { posted: counts.posted, updated: counts.updated };
  }

  /** Subscription display names (id in lower case → name) learned so far, for every card render. */
  subscriptionNames(): ReadonlyMap<string, string> {
    return this.names;
  }

  /** Management-group ancestry from the last pass (subscription id, lower case → MG names), for the summary command. */
  ancestry(): Ancestry {
    return this.lastAncestry;
  }

  private async pass(): Promise<SyncReport> {
    const { azure, store, clock, logger } = this.deps;
    const started = Date.now();
    const writesBefore = store.status().writes;
    // Read before the pages: rows equal to a stored resource keep the stored object (see RecommendationAccumulator).
    const previous = await store.recommendations.list();
    const prevByKey = new Map(previous.map((p) => [p.key, p]));
    const acc = new RecommendationAccumulator((key) => prevByKey.get(key));
    const startedAt = clock.now().getTime();
    const full = this.lastFullParseAt === undefined || startedAt - this.lastFullParseAt >= FULL_PARSE_EVERY_MS;
    const known = full ? RowFingerprints.empty() : (this.fingerprints ?? RowFingerprints.empty());
    // A snapshot stored differently since (another process, a resolve) makes its rows unknown.
    if (!full) known.validate((key) => prevByKey.get(key));
    // Dropped now: a pass that fails or is incomplete leaves none, so the next one parses everything.
    this.fingerprints = undefined;
    const recorder = new FingerprintRecorder();
    let knownRows = 0;
    const summary = await azure.queryUnhealthyAssessments(this.deps.scopes, {
      fingerprints: known,
      onPage: (rows, info) => {
        if (info.page === 1) recorder.reserve(info.totalRecords);
        acc.add(rows);
        const prints = info.fingerprints;
        if (prints && prints.length === rows.length * 2) {
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!;
            if (r.status === 'Unhealthy')
              recorder.addParsed(prints[2 * i]!, prints[2 * i + 1]!, recommendationKeyOf(r.assessmentKey), r.resourceId, r.severity);
          }
        }
        const k = info.known;
        if (!k) return;
        for (let i = 0; i < k.length; i += 3) {
          const entry = k[i]!;
          const prev = prevByKey.get(known.recommendationKey(entry));
          const position = known.position(entry);
          const resource = prev?.resources[position];
          // validate() vouched for both; a stub that invents entries gets nothing.
          if (!prev || !resource) continue;
          acc.addKnown(prev, position, known.severity(entry));
          recorder.addKnown(k[i + 1]!, k[i + 2]!, known, entry, resource.resourceId);
          knownRows++;
        }
      },
    });
    const now = clock.now();

    let conversations = await store.conversations.list({ subscribed: true, reachable: true });
    const needsAncestry = conversations.some(hasManagementGroupScope);
    // Ancestry costs a Resource Graph call against a shared quota; only MG-scoped filters need it.
    if (needsAncestry) {
      try {
        this.lastAncestry = normaliseAncestry(await azure.getSubscriptionAncestry(acc.subscriptionIds()));
        this.ancestryRead = true;
      } catch (err) {
        // MG-filtered cards follow the last known ancestry; with none yet, they would all look
        // resolved, so those conversations wait for a pass that can read it. Everyone else goes on.
        logger.warn({ err, lastKnown: this.ancestryRead }, 'could not read management-group ancestry; using the last known one');
        if (!this.ancestryRead) conversations = conversations.filter((c) => !hasManagementGroupScope(c));
      }
    }
    await this.learnSubscriptionNames(acc.subscriptionIds());

    let next = acc.snapshots((key) => prevByKey.get(key), now);
    const vanishing = previous.filter((p) => p.status === 'unhealthy' && !next.has(p.key));
    const incomplete = await this.incompleteBecause(summary, vanishing, previous);
    if (incomplete) {
      logger.warn(
        { reason: incomplete, wouldResolve: vanishing.length, pages: summary.pages, rows: summary.rows, totalRecords: summary.totalRecords },
        'sync pass incomplete: no recommendation is resolved and no resource is taken off a card in this pass',
      );
      next = keepMissing(previous, next);
    }
    const diff = diffRecommendations(previous, next, now, { resolveMissing: !incomplete });

    const toPersist = [...diff.added, ...diff.changed, ...diff.resolved];
    // One call, one write; none at all when nothing changed.
    if (toPersist.length > 0) await store.recommendations.upsertMany(toPersist);
    if (!incomplete) {
      this.fingerprints = recorder.finish(
        (key) => next.get(key),
        (key) => next.get(key) === prevByKey.get(key),
      );
      if (full) this.lastFullParseAt = startedAt;
    }

    // Resolved ones from earlier passes are included so a failed update is retried later.
    const resolvedNow = new Map(diff.resolved.map((r) => [r.key, r]));
    for (const p of previous) if (p.status === 'resolved' && !next.has(p.key) && !resolvedNow.has(p.key)) resolvedNow.set(p.key, p);
    const cards = await this.enqueueCards(conversations, next, resolvedNow, now);
    const report: SyncReport = {
      recommendations: next.size,
      resources: acc.rows,
      new: diff.added.length,
      changed: diff.changed.length,
      resolved: diff.resolved.length,
      unchanged: diff.unchanged.length,
      cardsPosted: cards.posted,
      cardsUpdated: cards.updated,
      cardsDeferred: cards.deferred,
      storeWrites: store.status().writes - writesBefore,
      pages: summary.pages,
      skippedRows: summary.skipped,
      knownRows,
      ...(incomplete ? { incomplete } : {}),
      heldBack: incomplete ? vanishing.length : 0,
      durationMs: Date.now() - started,
    };
    logger.info({ sync: report }, 'sync pass done');
    return report;
  }

  /**
   * Why this pass must not resolve anything, or undefined when it may. Resolving is irreversible
   * in effect (cards say "Resolved", and the resolution job closes tickets), so a pass resolves
   * only on a complete answer: Resource Graph's own fields say whether it delivered every row
   * (see PagingCheck), no row was dropped as malformed, and a mass resolution (isMassResolution:
   * at least MASS_RESOLUTION_FLOOR recommendations and more than half of the unhealthy ones) is
   * confirmed by Defender's assessments API for a sample of them: each sampled resource must be
   * Healthy, NotApplicable or gone (404). One still Unhealthy, or a failed read, holds the whole
   * pass; the next pass decides again, so a real mass fix is resolved one cycle later at worst.
   */
  private async incompleteBecause(
    summary: { skipped: number; complete?: boolean; incomplete?: string },
    vanishing: readonly Recommendation[],
    previous: readonly Recommendation[],
  ): Promise<string | undefined> {
    if (summary.complete === false) return `Resource Graph's answer was incomplete: ${summary.incomplete ?? 'unknown reason'}`;
    if (summary.skipped > 0) return `${summary.skipped} malformed row(s) were skipped`;
    const unhealthyBefore = previous.filter((p) => p.status === 'unhealthy').length;
    if (!isMassResolution(vanishing.length, unhealthyBefore)) return undefined;
    const claim = `Resource Graph's answer would resolve ${vanishing.length} of ${unhealthyBefore} unhealthy recommendations`;
    const get = this.deps.azure.getAssessment;
    if (!get) return `${claim}, and it cannot be confirmed without the assessments API`;
    for (const { recommendation, resource } of massResolutionSample(vanishing)) {
      const parts = splitAssessmentId(resource.assessmentId) ?? { resourceId: resource.resourceId, assessmentKey: recommendation.key };
      let code: string | undefined;
      try {
        code = (await get.call(this.deps.azure, parts.resourceId, parts.assessmentKey))?.properties.status.code;
      } catch (err) {
        return `${claim}, and the assessments API could not confirm it (${err instanceof Error ? err.message : String(err)})`;
      }
      if (code === 'Unhealthy') return `${claim}, but the assessments API still reports "${recommendation.displayName}" unhealthy on ${resource.name}`;
    }
    this.deps.logger.info({ resolving: vanishing.length, unhealthyBefore }, 'mass resolution confirmed by the assessments API');
    return undefined;
  }

  /** Names are cosmetic: a failed lookup is logged and retried next pass, and cards show ids meanwhile. */
  private async learnSubscriptionNames(subscriptionIds: readonly string[]): Promise<void> {
    const lookup = this.deps.azure.getSubscriptionNames;
    if (!lookup) return;
    const missing = [...new Set(subscriptionIds.map((s) => s.toLowerCase()))].filter((s) => !this.names.has(s) && !this.unnamed.has(s));
    if (missing.length === 0) return;
    try {
      const found = await lookup.call(this.deps.azure, missing);
      for (const [id, name] of found) this.names.set(id.toLowerCase(), name);
      for (const id of missing) if (!this.names.has(id)) this.unnamed.add(id);
    } catch (err) {
      this.deps.logger.warn({ err, subscriptions: missing.length }, 'could not read subscription names; cards show subscription ids');
    }
  }

  private async enqueueCards(
    conversations: Conversation[],
    current: ReadonlyMap<string, Recommendation>,
    resolved: ReadonlyMap<string, Recommendation>,
    now: Date,
  ) {
    const { store } = this.deps;
    const counts = { posted: 0, updated: 0, deferred: 0 };
    if (conversations.length === 0) return counts;
    const posted = new Map<string, PostedCard>();
    for (const c of await store.recommendations.listCards()) posted.set(cardKey(c.conversationId, c.recommendationKey), c);
    for (const k of this.justPosted.keys()) if (posted.has(k)) this.justPosted.delete(k);
    const assignmentsByKey = new Map<string, CardAssignment[]>();
    for (const a of await store.assignments.list({ statuses: LIVE_ASSIGNMENT_STATUSES, hasTicket: true })) {
      const k = recommendationKeyOf(a.recommendationKey);
      const list = assignmentsByKey.get(k) ?? [];
      list.push(toCardAssignment(a, this.deps.clock.now(), this.deps.timeZone ?? 'UTC'));
      assignmentsByKey.set(k, list);
    }

    const consider = (conv: Conversation, rec: Recommendation, view: Recommendation | undefined) => {
      const key = cardKey(conv.id, rec.key);
      // A card delivered between reading the posted cards and now (postStored next to a pass).
      const existing = posted.get(key) ?? this.justPosted.get(key);
      if (!view) return;
      // A digest conversation gets no new card per recommendation; cards opened from it stay current.
      if (!existing && conv.mode === 'digest') return;
      // Out of this conversation's scope and never posted: nothing to tell it.
      if (!existing && view.status === 'resolved') return;
      if (existing && existing.contentHash === view.contentHash) return;
      if (this.inFlight.has(key)) {
        counts.deferred++;
        return;
      }
      if (existing) counts.updated++;
      else counts.posted++;
      if (this.deps.postCards === false) return;
      // Rendered when its send comes up, not now: the queue drains at Teams' pace, and thousands of
      // rendered cards held until then were most of the pass's memory (see DeferredMessage).
      const assignments = assignmentsByKey.get(rec.key) ?? [];
      const names = this.names;
      const message = (): OutgoingMessage => ({
        card: renderRecommendationFor(conv.channelId, view, 1, assignments, names),
        summary: `${view.severity}: ${view.displayName}`,
      });
      this.track(key, this.deliverMessage(conv, view.key, view.contentHash, message, existing, now));
    };

    for (const conv of conversations) {
      for (const rec of current.values()) consider(conv, rec, viewForConversation(rec, conv, this.lastAncestry));
      if (conv.mode === 'digest') {
        const digestKey = cardKey(conv.id, DIGEST_KEY);
        this.considerDigest(conv, current, posted.get(digestKey) ?? this.justPosted.get(digestKey), counts);
      }
    }
    // Resolved cards are updated wherever they were posted, whatever the filters say now.
    const subscribed = new Map(conversations.map((c) => [c.id, c]));
    for (const card of posted.values()) {
      const rec = resolved.get(card.recommendationKey);
      const conv = subscribed.get(card.conversationId);
      if (rec && conv) consider(conv, rec, rec);
    }
    return counts;
  }

  /** The digest card of a conversation: posted once, then updated only when what it shows changed. */
  private considerDigest(
    conv: Conversation,
    current: ReadonlyMap<string, Recommendation>,
    existing: PostedCard | undefined,
    counts: { posted: number; updated: number; deferred: number },
  ): void {
    const key = cardKey(conv.id, DIGEST_KEY);
    const { model, contentHash } = digestFor(conv, current.values(), this.lastAncestry, this.names);
    if (existing?.contentHash === contentHash) return;
    if (this.inFlight.has(key)) {
      counts.deferred++;
      return;
    }
    let card: AdaptiveCard;
    try {
      card = channelDigestCard(model, { channelId: conv.channelId });
    } catch (err) {
      this.deps.logger.error({ err, conversationId: conv.id }, 'digest card could not be rendered');
      counts.deferred++;
      return;
    }
    if (existing) counts.updated++;
    else counts.posted++;
    if (this.deps.postCards === false) return;
    this.track(key, this.deliverMessage(conv, DIGEST_KEY, contentHash, { card, summary: model.headline }, existing, this.deps.clock.now()));
  }

  private track(key: string, delivery: Promise<void>): void {
    this.inFlight.add(key);
    const tracked = delivery.finally(() => {
      this.inFlight.delete(key);
      this.deliveries.delete(tracked);
    });
    this.deliveries.add(tracked);
  }

  /** Never rejects: one conversation's failure must not stop or poison the others. */
  private async deliverMessage(
    conv: Conversation,
    recommendationKey: string,
    contentHash: string,
    message: MessageSource,
    existing: PostedCard | undefined,
    now: Date,
  ): Promise<void> {
    const { store, logger } = this.deps;
    const locks = this.deps.locks;
    if (!existing && locks) {
      // Another process may have posted it since this one read the posted cards: re-read under the lock.
      return locks
        .withLock(`card:${conv.id}:${recommendationKey}`, async () => {
          const stored = await store.recommendations.getCard(conv.id, recommendationKey);
          if (stored?.contentHash === contentHash) return;
          await this.sendAndStore(conv, recommendationKey, contentHash, message, stored, now);
        })
        .catch((err: unknown) => {
          this.delivery.failed++;
          logger.warn({ err, conversationId: conv.id, recommendationKey }, 'card could not be posted; the next sync tries again');
        });
    }
    return this.sendAndStore(conv, recommendationKey, contentHash, message, existing, now);
  }

  private async sendAndStore(
    conv: Conversation,
    recommendationKey: string,
    contentHash: string,
    message: MessageSource,
    existing: PostedCard | undefined,
    now: Date,
  ): Promise<void> {
    const { store, logger, clock } = this.deps;
    const messenger = this.deps.messenger!;
    try {
      let activityId: string | undefined;
      if (existing) {
        await messenger.update(conv.id, existing.activityId, message);
        activityId = existing.activityId;
      } else {
        activityId = await messenger.send(conv.id, message);
        if (!activityId) throw new Error('Teams returned no activity id for the posted card');
      }
      const at = clock.now().toISOString();
      const postedCard: PostedCard = {
        conversationId: conv.id,
        recommendationKey,
        activityId,
        contentHash,
        postedAt: existing?.postedAt ?? at,
        updatedAt: at,
      };
      await store.recommendations.upsertCard(postedCard);
      this.justPosted.set(cardKey(conv.id, recommendationKey), postedCard);
      if (existing) this.delivery.updated++;
      else this.delivery.posted++;
    } catch (err) {
      this.delivery.failed++;
      const gone = (err as { gone?: unknown })?.gone === true;
      // A removed conversation was logged once by the messenger; one line per card would flood the log.
      logger[sendFailureLevel(err)](
        { err, conversationId: conv.id, recommendationKey, gone, at: now.toISOString() },
        existing ? 'recommendation card update failed' : 'recommendation card post failed',
      );
    }
  }
}
