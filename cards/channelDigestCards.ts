import type { RecommendationSummary } from '../core/recommendations.js';
import channelDigestTemplate from './channelDigest.json';
import { recommendationSummaryModel, type RecommendationSummaryModel } from './recommendationCards.js';
import { defineCard } from './render.js';

/**
 * A subscribed conversation's digest (`subscribe mode=digest`): one summary card, updated in
 * place when it changes, instead of one card per recommendation. Each top item opens that
 * recommendation's card (`openRecommendation`), in the thread of the digest or the 1:1 chat.
 */
export interface ChannelDigestModel extends Omit<RecommendationSummaryModel, 'top'> {
  top: Array<RecommendationSummaryModel['top'][number] & { key: string }>;
  /** Which mode this is and how to change it. */
  modeNote: string;
}

export const channelDigestCard = defineCard<ChannelDigestModel>(channelDigestTemplate);

export function channelDigestModel(
  summary: RecommendationSummary,
  opts: { filtersText?: string; subscriptionName?: (subscriptionId: string) => string | undefined; botName: string },
): ChannelDigestModel {
  const base = recommendationSummaryModel(summary, opts);
  return {
    ...base,
    top: base.top.map((t, i) => ({ ...t, key: summary.top[i].key })),
    modeNote: `Digest mode: this card is updated in place after each sync that changes it. Open a recommendation for its card with resources and Create assignment. For one card per recommendation: @${opts.botName} subscribe mode=cards.`,
  };
}
