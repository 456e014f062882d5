import type { SyncReport } from '../../app/syncRecommendations.js';
import { simulateReplyText } from '../../cards/syncCards.js';
import type { TrackedRecommendationsQuery } from '../../app/queries/trackedRecommendations.js';
import type { Command } from '../commandRouter.js';

/**
 * What `simulate` needs from the sandbox's Defender simulator. Declared here, not imported: the
 * bot never depends on sandbox/, which passes its simulator's control in at start.
 */
export interface DefenderSimulatorControl {
  /** Each returns how many assessments changed. */
  markHealthy(target: { resourceName: string; assessmentKey: string }): number;
  markUnhealthy(target: { resourceName: string; assessmentKey: string }): number;
}

/** Sandbox only: flip a resource healthy/unhealthy in the Defender simulator, then sync. */
export function simulateCommand(control: DefenderSimulatorControl, tracked: TrackedRecommendationsQuery, runCycle: () => Promise<SyncReport>): Command {
  return {
    name: 'simulate',
    usage: 'simulate fix|break <resource name>',
    description: 'Sandbox: mark every assessment of a resource Healthy (fix) or Unhealthy (break) in the simulator, then run a sync cycle.',
    handle: async (ctx) => {
      const [action, name] = ctx.args.split(/\s+/);
      if ((action !== 'fix' && action !== 'break') || !name) {
        await ctx.reply({ text: 'Usage: **simulate fix <resource name>** or **simulate break <resource name>**' });
        return;
      }
      const keys = await tracked.keys();
      let changed = 0;
      for (const assessmentKey of keys) {
        const target = { resourceName: name, assessmentKey };
        changed += action === 'fix' ? control.markHealthy(target) : control.markUnhealthy(target);
      }
      if (changed === 0) {
        await ctx.reply({ text: `No tracked assessment of a resource named "${name}" changed. Resource names are on the recommendation cards.` });
        return;
      }
      // The whole cycle, so linked tickets follow (resolved, reopened) and it is announced.
      const report = await runCycle();
      await ctx.reply({ text: simulateReplyText(changed, name, action, report) });
    },
  };
}
