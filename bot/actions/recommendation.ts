import { z } from 'zod';
import type { RecommendationCards } from '../../app/recommendationCards.js';
import { MAX_SELECTED_ACROSS_PAGES } from '../../cards/recommendationCards.js';
import { defineAction, type ActionHandler } from '../actionRouter.js';

/** Card inputs arrive as strings; a page number may come as "2". */
const pageSchema = z.coerce.number().int().min(1).max(10_000).default(1);

/**
 * The ticked resources (the card's choice set: this page's and those carried from other pages),
 * comma-separated. Bounded: an ARM resource id is at most a few hundred characters, and more than
 * MAX_SELECTED_ACROSS_PAGES are not carried anyway.
 */
const selectionSchema = z
  .string()
  .max(40_000)
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('/'))
      .slice(0, MAX_SELECTED_ACROSS_PAGES + 25),
  );

/** The card's own refresh and paging, as this conversation's filters show it (app/recommendationCards.ts). */
export function recommendationActions(deps: { cards: Pick<RecommendationCards, 'view' | 'digest'> }): ActionHandler[] {
  return [
    defineAction({
      verb: 'openRecommendation',
      schema: z.object({ recommendationKey: z.string().min(1).max(200) }),
      // From the digest: the card comes as a reply (in a channel, in the digest's thread), the digest stays.
      handle: async (ctx, data) => {
        const view = await deps.cards.view(ctx.conversationId, ctx.channelId, data.recommendationKey, 1);
        return view.kind === 'card' ? { kind: 'reply', card: view.card } : { kind: 'message', text: view.text };
      },
    }),
    defineAction({
      verb: 'refreshDigest',
      schema: z.object({}),
      handle: async (ctx) => {
        const view = await deps.cards.digest(ctx.conversationId, ctx.channelId);
        return view.kind === 'card' ? { kind: 'replace', card: view.card } : { kind: 'message', text: view.text };
      },
    }),
    defineAction({
      verb: 'refreshRecommendation',
      schema: z.object({ recommendationKey: z.string().min(1).max(200), page: pageSchema, resourceIds: selectionSchema }),
      handle: async (ctx, data) => {
        // Next, Previous and Refresh keep what was ticked, so one assignment can span pages.
        const view = await deps.cards.view(ctx.conversationId, ctx.channelId, data.recommendationKey, data.page, data.resourceIds);
        return view.kind === 'card' ? { kind: 'replace', card: view.card } : { kind: 'message', text: view.text };
      },
    }),
  ];
}
