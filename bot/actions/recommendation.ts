import { z } from 'zod';
import { viewForFilters } from '../../core/recommendations.js';
import { cardAssignmentsFor, renderRecommendationFor, type SyncJob } from '../../jobs/sync.js';
import type { Store } from '../../app/ports.js';
import type { Clock } from '../../core/clock.js';
import { defineAction, type ActionHandler } from '../actionRouter.js';

/** Card inputs arrive as strings; a page number may come as "2". */
const pageSchema = z.coerce.number().int().min(1).max(10_000).default(1);

/** `timeZone`: REMINDER_TIMEZONE, where the tickets' due dates are judged; default UTC. */
export function recommendationActions(deps: { store: Store; sync?: SyncJob; clock: Clock; timeZone?: string }): ActionHandler[] {
  return [
    defineAction({
      verb: 'refreshRecommendation',
      schema: z.object({ recommendationKey: z.string().min(1).max(200), page: pageSchema }),
      handle: async (ctx, data) => {
        const key = data.recommendationKey.toLowerCase();
        const rec = await deps.store.recommendations.get(key);
        if (!rec) return { kind: 'message', text: 'This recommendation is no longer tracked; type **recommendations** for the current list.' };
        const filters = (await deps.store.conversations.get(ctx.conversationId))?.filters ?? { severities: [], scopes: [] };
        const view = rec.status === 'resolved' ? rec : viewForFilters(rec, filters, deps.sync?.ancestry() ?? new Map());
        // The unfiltered card would show resources this conversation chose not to see.
        if (!view)
          return { kind: 'message', text: "This recommendation is outside this conversation's filters; type **recommendations** for the ones shown here." };
        return {
          kind: 'replace',
          card: renderRecommendationFor(
            ctx.channelId,
            view,
            data.page,
            await cardAssignmentsFor(deps.store, key, deps.clock.now(), deps.timeZone ?? 'UTC'),
            deps.sync?.subscriptionNames(),
          ),
        };
      },
    }),
  ];
}
