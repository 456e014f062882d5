import { noticeCard } from '../../cards/index.js';
import type { Command } from '../commandRouter.js';
import type { IntegrationService } from '../integrations.js';

export function integrationsCommand(integrations: IntegrationService): Command {
  return {
    name: 'integrations',
    usage: 'integrations',
    description: 'ServiceNow integrations: name, scope, field set, last successful call and last error.',
    handle: async (ctx) => {
      const list = integrations.list();
      const facts = list.map((i) => {
        const failing = i.lastError && (!i.lastSuccessAt || i.lastError.at > i.lastSuccessAt);
        return {
          title: i.name,
          value: `${i.scope} · ${i.instanceUrl} · ${i.fieldMode} fields · ${failing ? `⚠️ last error ${i.lastError!.at}: ${i.lastError!.message}` : `last success ${i.lastSuccessAt ?? 'never'}`}`,
        };
      });
      await ctx.reply({
        card: noticeCard(
          {
            title: 'ServiceNow integrations',
            text: list.length ? '' : 'No integration yet. Add one with `npm run cli -- integration add …` (see README).',
            facts,
          },
          ctx,
        ),
      });
    },
  };
}
