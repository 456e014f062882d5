/**
 * Recommendation cards: what one conversation's card of a recommendation shows (its filters, the
 * tickets of its live assignments, subscription names), and refreshing every posted card of a
 * recommendation after its tickets changed. The sync pass posts and updates cards on its own
 * (app/syncRecommendations.ts) with the same views.
 */
import { dueStateText } from '../core/assignments.js';
import type { Clock } from '../core/clock.js';
import { LIVE_ASSIGNMENT_STATUSES } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import { createHash } from 'node:crypto';
import { recommendationKeyOf, summarizeRecommendations, viewForFilters, type Ancestry } from '../core/recommendations.js';
import { describeFilters } from '../core/subscriptionFilters.js';
import { channelDigestCard, channelDigestModel, type ChannelDigestModel } from '../cards/channelDigestCards.js';
import { parseScope } from '../core/scope.js';
import type { Assignment, Conversation, Recommendation } from '../core/model.js';
import { renderRecommendation, type CardAssignment } from '../cards/recommendationCards.js';
import type { AdaptiveCard } from '../cards/render.js';
import { sendFailureLevel, type Messenger, type Store } from './ports.js';

/** Tickets to show on a recommendation's card, from the stored assignments, with their due state at `now` in `timeZone`. */
export async function cardAssignmentsFor(store: Store, recommendationKey: string, now: Date, timeZone: string): Promise<CardAssignment[]> {
  const live = await store.assignments.list({ statuses: LIVE_ASSIGNMENT_STATUSES, hasTicket: true, recommendationKey: recommendationKeyOf(recommendationKey) });
  return live.map((a) => toCardAssignment(a, now, timeZone));
}

export function toCardAssignment(a: Assignment, now: Date, timeZone: string): CardAssignment {
  return {
    resourceId: a.resourceId,
    ticketNumber: a.ticket!.number,
    ticketLink: a.ticket!.link,
    owner: a.owner,
    dueDate: a.dueDate,
    state: dueStateText(a, now, timeZone),
    byRule: a.byRule ? ` · by rule ${a.byRule.name}` : '',
  };
}

/**
 * The card of one recommendation as a conversation sees it, at a page. Used by the sync job and
 * by the `refreshRecommendation` action, so both render the same thing.
 */
export function renderRecommendationFor(
  conversationChannelId: string,
  recommendation: Recommendation,
  page = 1,
  assignments: readonly CardAssignment[] = [],
  subscriptionNames?: ReadonlyMap<string, string>,
  selected?: readonly string[],
): AdaptiveCard {
  return renderRecommendation(
    recommendation,
    { channelId: conversationChannelId },
    {
      page,
      assignments,
      ...(selected ? { selected } : {}),
      ...(subscriptionNames ? { subscriptionName: (id: string) => subscriptionNames.get(id.toLowerCase()) ?? subscriptionNames.get(id) } : {}),
    },
  );
}

export interface CardRefreshDeps {
  store: Store;
  messenger: Messenger;
  logger: Logger;
  now: Date;
  /** Time zone of due dates (REMINDER_TIMEZONE) for the tickets' due states; default UTC. */
  timeZone?: string;
  /** Management-group ancestry for MG-scoped filters (SyncJob.ancestry()); empty matches subscription scopes only. */
  ancestry?: Ancestry;
  subscriptionNames?: ReadonlyMap<string, string>;
}

export interface CardRefreshReport {
  updated: number;
  failed: number;
  /** Cards of conversations that are gone or whose filters no longer let the recommendation through. */
  skipped: number;
}

/** Filters by management group need the ancestry, which only the sync pass reads. */
export function hasManagementGroupScope(conv: Conversation): boolean {
  return conv.filters.scopes.some((s) => parseScope(s)?.kind === 'managementGroup');
}

/**
 * The view of a recommendation one conversation's card shows, exactly as the sync job decides it:
 * resolved cards are shown whatever the filters say now; otherwise the filtered view (resolved
 * when none of its resources is in scope), or undefined when the severity filter excludes it.
 */
export function viewForConversation(rec: Recommendation, conv: Conversation, ancestry: Ancestry): Recommendation | undefined {
  return rec.status === 'resolved' ? rec : viewForFilters(rec, conv.filters, ancestry);
}

/**
 * Re-renders every posted card of a recommendation (after its tickets changed) through each
 * conversation's filters, and stores the view's hash so the next sync pass sees the card as
 * current and sends nothing. One conversation's failure is logged and does not stop the others.
 */
export async function refreshPostedCards(deps: CardRefreshDeps, recommendationKey: string, except?: ShownElsewhere): Promise<CardRefreshReport> {
  const { store, messenger, logger, now } = deps;
  const report: CardRefreshReport = { updated: 0, failed: 0, skipped: 0 };
  const key = recommendationKeyOf(recommendationKey);
  const rec = await store.recommendations.get(key);
  if (!rec) return report;
  const ancestry = deps.ancestry ?? new Map<string, string[]>();
  const assignments = await cardAssignmentsFor(store, key, now, deps.timeZone ?? 'UTC');
  for (const posted of await store.recommendations.listCards({ recommendationKey: key })) {
    const conv = await store.conversations.get(posted.conversationId);
    // Before the sync job has read any ancestry, an MG filter would hide every resource and mark
    // the card resolved; such cards are left to the next sync pass.
    const unknownScope = conv !== undefined && ancestry.size === 0 && hasManagementGroupScope(conv);
    const view = conv && !unknownScope ? viewForConversation(rec, conv, ancestry) : undefined;
    // The bot was removed from it: nothing can be updated there (see bot/messenger.ts).
    if (!conv || !view || conv.unreachable) {
      report.skipped++;
      continue;
    }
    try {
      // The clicked card answers with its own outcome (one update per click, Teams' invoke response).
      const clicked = except?.conversationId === conv.id && except.activityId === posted.activityId;
      const card = renderRecommendationFor(conv.channelId, view, 1, assignments, deps.subscriptionNames);
      if (!clicked) await messenger.update(conv.id, posted.activityId, { card, summary: `${view.severity}: ${view.displayName}` });
      // Re-read: a sync delivery may have stored a newer PostedCard meanwhile; keep its ids and dates.
      const latest = (await store.recommendations.getCard(conv.id, key)) ?? posted;
      await store.recommendations.upsertCard({ ...latest, contentHash: view.contentHash, updatedAt: now.toISOString() });
      report.updated++;
    } catch (err) {
      report.failed++;
      logger[sendFailureLevel(err)]({ err, conversationId: conv.id, recommendationKey: key }, 'recommendation card could not be updated');
    }
  }
  return report;
}

export interface RecommendationCardsDeps {
  store: Store;
  messenger: Messenger;
  logger: Logger;
  clock: Clock;
  /** Time zone of due dates (REMINDER_TIMEZONE) for the tickets' due states; default UTC. */
  timeZone?: string;
  /** Management-group ancestry learned by the sync pass (SyncJob.ancestry()). */
  ancestry?: () => Ancestry;
  /** Subscription display names learned by the sync pass (SyncJob.subscriptionNames()). */
  subscriptionNames?: () => ReadonlyMap<string, string>;
}

export type CardView = { kind: 'card'; card: AdaptiveCard } | { kind: 'message'; text: string };

/** A posted card that shows something else now (the outcome of a click on it): refresh leaves it alone. */
export interface ShownElsewhere {
  conversationId: string;
  activityId?: string;
}

/** The recommendation cards of every conversation, as the use cases refresh and show them. */
export class RecommendationCards {
  constructor(private readonly deps: RecommendationCardsDeps) {}

  /** Re-renders every posted card of a recommendation (after its tickets changed). */
  refresh(recommendationKey: string, except?: ShownElsewhere): Promise<CardRefreshReport> {
    const { store, messenger, logger, clock } = this.deps;
    return refreshPostedCards(
      {
        store,
        messenger,
        logger,
        now: clock.now(),
        timeZone: this.deps.timeZone,
        ancestry: this.deps.ancestry?.(),
        subscriptionNames: this.deps.subscriptionNames?.(),
      },
      recommendationKey,
      except,
    );
  }

  /**
   * One page of a recommendation's card as a conversation sees it (the card's own refresh and
   * paging), with the resources ticked so far still ticked.
   */
  async view(conversationId: string, channelId: string, recommendationKey: string, page: number, selected?: readonly string[]): Promise<CardView> {
    const { store, clock } = this.deps;
    const key = recommendationKey.toLowerCase();
    const rec = await store.recommendations.get(key);
    if (!rec) return { kind: 'message', text: 'This recommendation is no longer tracked; type **recommendations** for the current list.' };
    const filters = (await store.conversations.get(conversationId))?.filters ?? { severities: [], scopes: [] };
    const view = rec.status === 'resolved' ? rec : viewForFilters(rec, filters, this.deps.ancestry?.() ?? new Map());
    // The unfiltered card would show resources this conversation chose not to see.
    if (!view)
      return { kind: 'message', text: "This recommendation is outside this conversation's filters; type **recommendations** for the ones shown here." };
    return {
      kind: 'card',
      card: renderRecommendationFor(
        channelId,
        view,
        page,
        await cardAssignmentsFor(store, key, clock.now(), this.deps.timeZone ?? 'UTC'),
        this.deps.subscriptionNames?.(),
        selected,
      ),
    };
  }

  /**
   * The message that is this conversation's card of a recommendation: the one the sync pass and
   * ticket changes keep current. Other copies (posted where a click could not update its card) are not.
   */
  async trackedActivityId(conversationId: string, recommendationKey: string): Promise<string | undefined> {
    return (await this.deps.store.recommendations.getCard(conversationId, recommendationKeyOf(recommendationKey)))?.activityId;
  }

  /** Shows `card` on the tracked message; false when the channel refused the update (logged). */
  async showOnTracked(conversationId: string, activityId: string, card: AdaptiveCard): Promise<boolean> {
    try {
      await this.deps.messenger.update(conversationId, activityId, { card });
      return true;
    } catch (err) {
      this.deps.logger[sendFailureLevel(err)]({ err, conversationId }, 'the tracked recommendation card could not be updated');
      return false;
    }
  }

  /** The tracked card could not be updated: the message that now shows the card takes its place. */
  async retrack(conversationId: string, recommendationKey: string, activityId: string | undefined): Promise<void> {
    if (!activityId) return;
    const key = recommendationKeyOf(recommendationKey);
    const posted = await this.deps.store.recommendations.getCard(conversationId, key);
    if (!posted || posted.activityId === activityId) return;
    await this.deps.store.recommendations.upsertCard({ ...posted, activityId, updatedAt: this.deps.clock.now().toISOString() });
  }

  /** The digest card of a conversation as the last sync would show it (its Refresh button). */
  async digest(conversationId: string, channelId: string): Promise<CardView> {
    const conv = await this.deps.store.conversations.get(conversationId);
    if (!conv?.subscribed) return { kind: 'message', text: 'This conversation is not subscribed; type **subscribe** to get recommendations here.' };
    const { model } = digestFor(
      conv,
      await this.deps.store.recommendations.list(),
      this.deps.ancestry?.() ?? new Map(),
      this.deps.subscriptionNames?.() ?? new Map(),
    );
    return { kind: 'card', card: channelDigestCard(model, { channelId }) };
  }
}

/** The name users @mention, as the stored conversation reference names the bot. */
function botNameOf(conv: Conversation): string {
  const bot = (conv.reference as { bot?: { name?: unknown } }).bot;
  return typeof bot?.name === 'string' && bot.name.trim() ? bot.name.trim() : 'Defender Remediation';
}

/** A conversation's digest model and its hash (an unchanged digest is not updated). */
export function digestFor(
  conv: Conversation,
  recommendations: Iterable<Recommendation>,
  ancestry: Ancestry,
  subscriptionNames: ReadonlyMap<string, string>,
): { model: ChannelDigestModel; contentHash: string } {
  const summary = summarizeRecommendations(recommendations, conv.filters, ancestry);
  const model = channelDigestModel(summary, {
    filtersText: describeFilters(conv.filters),
    subscriptionName: (id) => subscriptionNames.get(id.toLowerCase()),
    botName: botNameOf(conv),
  });
  return { model, contentHash: createHash('sha256').update(JSON.stringify(model)).digest('hex') };
}
