import { noticeCard, errorCard } from '../../cards/index.js';
import { syncReplyModel } from '../../cards/syncCards.js';
import { recommendationSummaryCard, recommendationSummaryModel } from '../../cards/recommendationCards.js';
import { describeFilters } from '../../core/subscriptionFilters.js';
import type { SyncJob, SyncReport } from '../../app/syncRecommendations.js';
import type { RecommendationSummaryQuery } from '../../app/queries/recommendationSummary.js';
import type { TrackedRecommendationsQuery } from '../../app/queries/trackedRecommendations.js';
import type { Command } from '../commandRouter.js';
import type { Authorizer } from '../../app/authorization.js';

export function recommendationCommands(deps: {
  summaries: RecommendationSummaryQuery;
  tracked: TrackedRecommendationsQuery;
  sync?: SyncJob;
  runCycle?: () => Promise<SyncReport>;
  authorizer: Authorizer;
}): Command[] {
  const { sync } = deps;
  return [
    {
      name: 'recommendations',
      aliases: ['recs'],
      usage: 'recommendations',
      description: 'Summary of unhealthy recommendations: counts by severity and subscription, the top 10.',
      handle: async (ctx) => {
        const found = await deps.summaries.summary(ctx.actor, ctx.conversationId);
        if (found.kind === 'refused') {
          await ctx.reply({ card: errorCard({ title: 'Not allowed', message: found.reason, details: [] }, ctx) });
          return;
        }
        const { summary, filters } = found;
        const partial = found.partial ? ` · only the ${found.partial.readable} of ${found.partial.known} subscriptions you may read` : '';
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
        const subscriptions = await deps.tracked.subscriptions();
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
