import { renderOwnerDigest } from '../../cards/reminderCards.js';
import type { Directory } from '../../app/ports.js';
import type { OwnerDigestQuery } from '../../app/queries/ownerDigest.js';
import type { Command } from '../commandRouter.js';
import { callerOf } from '../turn.js';

export interface DigestCommandDeps {
  digests: OwnerDigestQuery;
  directory: Pick<Directory, 'upnOf'>;
}

export function digestCommand(deps: DigestCommandDeps): Command {
  return {
    name: 'digest',
    aliases: ['reminders'],
    usage: 'digest',
    description: 'Show your open security assignments now: overdue, due this week and later.',
    handle: async (ctx) => {
      const upn = await deps.directory.upnOf(callerOf(ctx));
      if (!upn) {
        await ctx.reply({
          text: 'I could not tell which account you use, so I cannot find your assignments. Send me a message in a 1:1 chat first, then try **digest** again.',
        });
        return;
      }
      const plan = await deps.digests.of(upn);
      if (plan.items.length === 0) {
        await ctx.reply({ text: `You (${upn}) have no open security assignments. Nothing to do.` });
        return;
      }
      await ctx.reply({
        card: renderOwnerDigest(plan, ctx, { onDemand: true }),
        summary: `Your security assignments: ${plan.counts.open} open, ${plan.counts.overdue} overdue`,
      });
    },
  };
}
