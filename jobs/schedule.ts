import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/logger.js';

/** node-cron 4.6's own text for a skipped tick; the `execution:overlap` event reports it instead. */
const OVERLAP_WARNING = 'task still running, new execution blocked by overlap prevention!';

/**
 * node-cron's messages through our logger: by default it prints coloured text with console.*,
 * which lands raw in the JSON log.
 */
function cronLogger(logger: Logger, job: string): CronLogger {
  const fields = (err?: unknown) => ({ job, source: 'node-cron', ...(err !== undefined && err !== '' ? { err } : {}) });
  const withError = (log: Logger['error']) => (message: string | Error, err?: Error) =>
    message instanceof Error ? log(fields(message), message.message) : log(fields(err), message);
  return {
    info: (message) => logger.info(fields(), message),
    warn: (message) => {
      if (message !== OVERLAP_WARNING) logger.warn(fields(), message);
    },
    error: withError(logger.error),
    debug: withError(logger.debug),
  };
}

/**
 * Runs a job on a cron schedule. node-cron's noOverlap skips a tick while the last run is still
 * busy, and each skipped tick is one structured log line. Errors are logged here because
 * node-cron would only emit them as events, and one failed run must not stop the schedule.
 */
export function scheduleJob(name: string, cronExpr: string, run: () => Promise<unknown>, logger: Logger, timezone?: string): ScheduledTask {
  const task = cron.createTask(
    cronExpr,
    async () => {
      try {
        return await run();
      } catch (err) {
        logger.error({ err, job: name }, `${name} run failed`);
        return undefined;
      }
    },
    { noOverlap: true, name, logger: cronLogger(logger, name), ...(timezone ? { timezone } : {}) },
  );
  task.on('execution:overlap', (ctx) => {
    logger.warn({ job: name, skippedRun: ctx.date.toISOString() }, `${name}: run skipped, the previous run is still busy`);
  });
  const started = task.start();
  if (started instanceof Promise) started.catch((err: unknown) => logger.error({ err, job: name }, `${name} schedule could not start`));
  return task;
}
