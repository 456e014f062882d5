import { z } from 'zod';
import type { RecommendationCards } from '../../app/recommendationCards.js';
import { defineAction, type ActionHandler } from '../actionRouter.js';

/** Card inputs arrive as strings; a page number may come as "2". */
const pageSchema = z.coerce.number().int().min(1).max(10_000).default(1);

/** The card's own refresh and paging, as this conversation's filters show it (app/recommendationCards.ts). */
export function recommendationActions(deps: { cards: Pick<RecommendationCards, 'view'> }): ActionHandler[] {
  return [
    defineAction({
      verb: 'refreshRecommendation',
      schema: z.object({ recommendationKey: z.string().min(1).max(200), page: pageSchema }),
      handle: async (ctx, data) => {
        const view = await deps.cards.view(ctx.conversationId, ctx.channelId, data.recommendationKey, data.page);
        return view.kind === 'card' ? { kind: 'replace', card: view.card } : { kind: 'message', text: view.text };
      },
    }),
  ];
}
