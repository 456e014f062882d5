import { helpCard } from '../../cards/index.js';
import type { Command, CommandRouter } from '../commandRouter.js';

export function helpCommand(router: CommandRouter, sandbox: boolean): Command {
  return {
    name: 'help',
    aliases: ['?', 'hi', 'hello'],
    usage: 'help',
    description: 'Show this list of commands.',
    handle: async (ctx) => {
      const commands = router.list().map((c) => ({ name: c.name, usage: c.usage, description: c.description }));
      await ctx.reply({ card: helpCard({ commands, sandbox }, ctx), summary: 'Commands' });
    },
  };
}
