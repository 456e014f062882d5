import { helpCard } from '../../cards/index.js';
import type { HelpModel } from '../../cards/models.js';
import type { Command, CommandRouter } from '../commandRouter.js';

const models = new WeakMap<CommandRouter, { count: number; sandbox: boolean; model: HelpModel }>();

/**
 * The help card's model, made once per set of registered commands and frozen, so the rendered
 * card is found by identity (cards/render.ts#rememberCards) instead of by writing the model out
 * on every request. Commands are only ever added, so their count tells a changed set.
 */
export function helpModel(router: CommandRouter, sandbox: boolean): HelpModel {
  const list = router.list();
  const known = models.get(router);
  if (known && known.count === list.length && known.sandbox === sandbox) return known.model;
  const commands = list.map((c) => Object.freeze({ name: c.name, usage: c.usage, description: c.description }));
  const model = Object.freeze({ commands: Object.freeze(commands) as HelpModel['commands'], sandbox });
  models.set(router, { count: list.length, sandbox, model });
  return model;
}

export function helpCommand(router: CommandRouter, sandbox: boolean): Command {
  return {
    name: 'help',
    aliases: ['?', 'hi', 'hello'],
    usage: 'help',
    description: 'Show this list of commands.',
    handle: async (ctx) => {
      await ctx.reply({ card: helpCard(helpModel(router, sandbox), ctx), summary: 'Commands' });
    },
  };
}
