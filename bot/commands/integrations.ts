import type { Command } from '../commandRouter.js';
import type { IntegrationService } from '../integrations.js';
import { renderIntegrationList } from '../actions/integrations.js';
import type { ReadPolicy } from '../readPolicy.js';

/** The integrations list card; its buttons (add, test, remove) are handled in actions/integrations.ts. */
export function integrationsCommand(integrations: IntegrationService, readPolicy: Pick<ReadPolicy, 'integrations'>): Command {
  return {
    name: 'integrations',
    usage: 'integrations',
    description: 'ServiceNow integrations: name, scope, field set, last successful call and last error; add, test or remove one.',
    handle: async (ctx) => {
      await ctx.reply({ card: await renderIntegrationList(integrations, readPolicy, ctx), summary: 'ServiceNow integrations' });
    },
  };
}
