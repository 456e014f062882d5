import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/logger.js';

/**
 * Runs a job on a cron schedule. node-cron's noOverlap skips a tick while the last run is still
 * busy; errors are logged here because node-cron would only emit them as events, and one failed
 * run must not stop the schedule.
 */
export function scheduleJob(name: string, cronExpr: string, run: () => Promise<unknown>, logger: Logger, timezone?: string): ScheduledTask {
  return cron.schedule(
    cronExpr,
    async () => {
      try {
        return await run();
      } catch (err) {
        logger.error({ err, job: name }, `${name} run failed`);
        return undefined;
      }
    },
    { noOverlap: true, name, ...(timezone ? { timezone } : {}) },
  );
}
