import type { Command } from '../commandRouter.js';
import type { ManageIntegrations } from '../../app/manageIntegrations.js';
import { renderIntegrationList } from '../actions/integrations.js';

/** The integrations list card; its buttons (add, test, remove) are handled in actions/integrations.ts. */
export function integrationsCommand(manage: Pick<ManageIntegrations, 'visible'>): Command {
  return {
    name: 'integrations',
    usage: 'integrations',
    description: 'ServiceNow integrations: name, scope, field set, last successful call and last error; add, test or remove one.',
    handle: async (ctx) => {
      await ctx.reply({ card: await renderIntegrationList(manage, ctx), summary: 'ServiceNow integrations' });
    },
  };
}
