import { z } from 'zod';
import type { RecommendationCards } from '../../app/recommendationCards.js';
import { noticeCard } from '../../cards/index.js';
import { MAX_SELECTED_ACROSS_PAGES } from '../../cards/recommendationCards.js';
import type { AdaptiveCard } from '../../cards/render.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import { channelKnowsClickedCard } from '../cardIds.js';

type Cards = Pick<RecommendationCards, 'view' | 'digest' | 'trackedActivityId' | 'showOnTracked' | 'retrack'>;

/**
 * Outside Teams a click may come from a copy of the card that is not the tracked one (posted where
 * a card could not be updated, or by a version of the bot whose cards did not carry their id).
 * Its answer goes to the tracked card, and the copy says so instead of going live again; when the
 * tracked card cannot be updated, the message showing this answer becomes the tracked card. Teams
 * (Action.Execute with replyToId) answers on the clicked card as before.
 */
async function answerOnTrackedCard(
  cards: Cards,
  ctx: ActionContext,
  data: { recommendationKey: string; page: number; origin?: 'card' },
  card: AdaptiveCard,
): Promise<ActionResult | undefined> {
  if (channelKnowsClickedCard(ctx.channelId)) return undefined;
  const tracked = await cards.trackedActivityId(ctx.conversationId, data.recommendationKey);
  if (!tracked || tracked === ctx.replyToId) return undefined;
  if (!(await cards.showOnTracked(ctx.conversationId, tracked, card))) {
    return { kind: 'replace', card, afterSend: (id) => void cards.retrack(ctx.conversationId, data.recommendationKey, id).catch(() => undefined) };
  }
  // "Back to the recommendation" on an outcome or a Cancel: that card stays, the tracked one shows the page.
  if (data.origin !== 'card') return { kind: 'message', text: `The card of this recommendation, further up, now shows page ${data.page}.` };
  const text = `This is an older copy. The current card of this recommendation, further up, now shows page ${data.page}: use that one.`;
  if (!ctx.replyToId) return { kind: 'message', text };
  return { kind: 'replace', card: noticeCard({ title: 'Older copy of a recommendation card', text, facts: [] }, { channelId: ctx.channelId }) };
}

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
export function recommendationActions(deps: { cards: Cards }): ActionHandler[] {
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
      schema: z.object({
        recommendationKey: z.string().min(1).max(200),
        page: pageSchema,
        resourceIds: selectionSchema,
        /** Sent by the recommendation card's own Refresh/Previous/Next (not by Back or Cancel on other cards). */
        origin: z.literal('card').optional().catch(undefined),
      }),
      handle: async (ctx, data) => {
        // Next, Previous and Refresh keep what was ticked, so one assignment can span pages.
        const view = await deps.cards.view(ctx.conversationId, ctx.channelId, data.recommendationKey, data.page, data.resourceIds);
        if (view.kind !== 'card') return { kind: 'message', text: view.text };
        return (await answerOnTrackedCard(deps.cards, ctx, data, view.card)) ?? { kind: 'replace', card: view.card };
      },
    }),
  ];
}
