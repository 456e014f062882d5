/**
 * The `recommendations` command's query: the unhealthy recommendations a user may read, summed
 * up under the conversation's subscription filters. The Teams adapter renders the answer.
 */
import { summarizeRecommendations, type Ancestry, type RecommendationSummary } from '../../core/recommendations.js';
import type { SubscriptionFilters } from '../../core/model.js';
import { readableRecommendations, type ReadPolicy } from '../authorization.js';
import type { Actor, Store } from '../ports.js';

export type RecommendationSummaryResult =
  | { kind: 'refused'; reason: string }
  | {
      kind: 'summary';
      summary: RecommendationSummary;
      filters: SubscriptionFilters;
      /** Set when the user may read only some of the subscriptions. */
      partial?: { readable: number; known: number };
    };

export interface RecommendationSummaryDeps {
  store: Store;
  readPolicy: Pick<ReadPolicy, 'subscriptions'>;
  /** Management-group ancestry from the last sync pass (scope filters by management group). */
  ancestry?: () => Ancestry;
}

export class RecommendationSummaryQuery {
  constructor(private readonly deps: RecommendationSummaryDeps) {}

  async summary(actor: Actor, conversationId: string): Promise<RecommendationSummaryResult> {
    const view = await this.deps.readPolicy.subscriptions(actor);
    if (view.refusal) return { kind: 'refused', reason: view.refusal };
    const { store } = this.deps;
    const filters = (await store.conversations.get(conversationId))?.filters ?? { severities: [], scopes: [] };
    const summary = summarizeRecommendations(readableRecommendations(await store.recommendations.list(), view.readable), filters, this.deps.ancestry?.());
    return { kind: 'summary', summary, filters, ...(view.readable.size < view.known ? { partial: { readable: view.readable.size, known: view.known } } : {}) };
  }
}
