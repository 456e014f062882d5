import { noticeCard, errorCard } from '../../cards/index.js';
import { syncReplyModel } from '../../cards/syncCards.js';
import { recommendationSummaryCard, recommendationSummaryModel } from '../../cards/recommendationCards.js';
import { summarizeRecommendations } from '../../core/recommendations.js';
import { describeFilters } from '../../core/subscriptionFilters.js';
import type { SyncJob, SyncReport } from '../../app/syncRecommendations.js';
import type { Store } from '../../app/ports.js';
import type { Command } from '../commandRouter.js';
import { readableRecommendations, type Authorizer, type ReadPolicy } from '../../app/authorization.js';

export function recommendationCommands(deps: {
  store: Store;
  sync?: SyncJob;
  runCycle?: () => Promise<SyncReport>;
  authorizer: Authorizer;
  readPolicy: Pick<ReadPolicy, 'subscriptions'>;
}): Command[] {
  const { store, sync } = deps;
  return [
    {
      name: 'recommendations',
      aliases: ['recs'],
      usage: 'recommendations',
      description: 'Summary of unhealthy recommendations: counts by severity and subscription, the top 10.',
      handle: async (ctx) => {
        const view = await deps.readPolicy.subscriptions(ctx.actor);
        if (view.refusal) {
          await ctx.reply({ card: errorCard({ title: 'Not allowed', message: view.refusal, details: [] }, ctx) });
          return;
        }
        const filters = (await store.conversations.get(ctx.conversationId))?.filters ?? { severities: [], scopes: [] };
        const summary = summarizeRecommendations(readableRecommendations(await store.recommendations.list(), view.readable), filters, sync?.ancestry());
        const partial = view.readable.size < view.known ? ` · only the ${view.readable.size} of ${view.known} subscriptions you may read` : '';
        await ctx.reply({
          card: recommendationSummaryCard(
            recommendationSummaryModel(summary, {
              filtersText: describeFilters(filters) + partial,
              subscriptionName: (id) => sync?.subscriptionNames().get(id.toLowerCase()),
            }),
            ctx,
          ),
          summary: 'Recommendations',
        });
      },
    },
    {
      name: 'sync',
      usage: 'sync',
      description: 'Fetch Defender for Cloud recommendations now and update the cards (security admins).',
      handle: async (ctx) => {
        if (!sync) {
          await ctx.reply({ text: 'Defender for Cloud is not configured (set DEFENDER_SOURCE and DEFENDER_SCOPES).' });
          return;
        }
        const subscriptions = [...new Set((await store.recommendations.list()).flatMap((r) => r.resources.map((x) => x.subscriptionId)))];
        const decision = await deps.authorizer.canManage(ctx.actor, subscriptions);
        if (!decision.allowed) {
          await ctx.reply({ card: errorCard({ title: 'Not allowed', message: decision.reason, details: [] }, ctx) });
          return;
        }
        // The whole cycle, so tickets of healthy resources are resolved too.
        const r = await (deps.runCycle ?? (() => sync.runOnce()))();
        await ctx.reply({ card: noticeCard(syncReplyModel(r), ctx) });
      },
    },
  ];
}
