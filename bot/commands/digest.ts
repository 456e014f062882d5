import type { Clock } from '../../core/clock.js';
import { ownerDigest } from '../../core/reminders.js';
import { renderOwnerDigest } from '../../cards/reminderCards.js';
import type { Store } from '../../app/ports.js';
import type { Command } from '../commandRouter.js';
import type { TurnInfo } from '../turn.js';

export interface CallerIdentityOptions {
  /** Sandbox only: the Emulator has no UPN, so its user is taken to be SANDBOX_EMULATOR_UPN. */
  emulatorUpn?: string;
  /** Teams roster look-up (TeamsInfo.getMember) for callers whose UPN is not stored yet. */
  lookupUpn?: (turn: TurnInfo) => Promise<string | undefined>;
}

/**
 * The caller's UPN: from the stored 1:1 conversation, from any stored 1:1 conversation of the
 * same Entra user, from the roster, or in the Emulator the configured sandbox identity.
 */
export async function callerUpn(store: Store, turn: TurnInfo, opts: CallerIdentityOptions = {}): Promise<string | undefined> {
  const here = await store.conversations.get(turn.conversationId);
  if (here?.kind === 'personal' && here.userUpn) return here.userUpn;
  const aad = turn.actor.aadObjectId;
  if (aad) {
    const mine = (await store.conversations.list({ kinds: ['personal'], userAadObjectId: aad })).find((c) => c.userUpn);
    if (mine?.userUpn) return mine.userUpn;
  }
  const looked = await opts.lookupUpn?.(turn).catch(() => undefined);
  if (looked) return looked;
  if (turn.channelId !== 'msteams') return opts.emulatorUpn;
  return undefined;
}

export interface DigestCommandDeps extends CallerIdentityOptions {
  store: Store;
  clock: Clock;
  timezone: string;
}

export function digestCommand(deps: DigestCommandDeps): Command {
  return {
    name: 'digest',
    aliases: ['reminders'],
    usage: 'digest',
    description: 'Show your open security assignments now: overdue, due this week and later.',
    handle: async (ctx) => {
      const upn = await callerUpn(deps.store, ctx, deps);
      if (!upn) {
        await ctx.reply({
          text: 'I could not tell which account you use, so I cannot find your assignments. Send me a message in a 1:1 chat first, then try **digest** again.',
        });
        return;
      }
      const plan = ownerDigest(await deps.store.assignments.list({ owner: upn }), upn, deps.clock.now(), deps.timezone);
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
