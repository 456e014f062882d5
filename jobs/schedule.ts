import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/logger.js';
import type { JobRuns } from '../app/ports.js';

/**
 * Each cron tick of a job on one process of those sharing a store (JobRuns): every replica's
 * timer fires, the one whose claim of the tick wins runs it, the others skip it. The lease is
 * renewed while the run lasts, so only a replica that died stops holding the job; its lease runs
 * out and the next tick is taken over by whoever claims it first.
 */
export interface OncePerTick {
  jobRuns: JobRuns;
  /** This process (jobs/replica.ts replicaId). */
  holder: string;
  /** How long a claim holds without a renewal; default 5 minutes. */
  leaseMs?: number;
  /** Ticks scheduled longer ago than this are forgotten when a tick is claimed (WORK_RETENTION_DAYS); default 30 days. */
  retentionMs?: number;
}

export const DEFAULT_JOB_LEASE_MS = 5 * 60_000;
export const DEFAULT_JOB_RUN_RETENTION_MS = 30 * 86_400_000;

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
export function scheduleJob(name: string, cronExpr: string, run: () => Promise<unknown>, logger: Logger, timezone?: string, once?: OncePerTick): ScheduledTask {
  const task = cron.createTask(
    cronExpr,
    // node-cron hands over the cron slot (ctx.date), the same on every replica, not the moment the timer fired.
    async (ctx) => (once ? runClaimed(name, ctx.date, run, logger, once) : runLogged(name, run, logger)),
    { noOverlap: true, name, logger: cronLogger(logger, name), ...(timezone ? { timezone } : {}) },
  );
  task.on('execution:overlap', (ctx) => {
    logger.warn({ job: name, skippedRun: ctx.date.toISOString() }, `${name}: run skipped, the previous run is still busy`);
  });
  const started = task.start();
  if (started instanceof Promise) started.catch((err: unknown) => logger.error({ err, job: name }, `${name} schedule could not start`));
  return task;
}

async function runLogged(name: string, run: () => Promise<unknown>, logger: Logger): Promise<unknown> {
  try {
    return await run();
  } catch (err) {
    logger.error({ err, job: name }, `${name} run failed`);
    return undefined;
  }
}

/** One tick under a JobRuns claim: skipped when another process holds it, renewed while it runs, released in any case. */
export async function runClaimed(name: string, tickAt: Date, run: () => Promise<unknown>, logger: Logger, once: OncePerTick): Promise<unknown> {
  const { jobRuns, holder } = once;
  const leaseMs = once.leaseMs ?? DEFAULT_JOB_LEASE_MS;
  const tick = tickAt.toISOString();
  let claimed: boolean;
  try {
    claimed = await jobRuns.claim(name, tickAt, holder, leaseMs);
  } catch (err) {
    // Fail closed: a tick nobody could claim is run by the next one.
    logger.error({ err, job: name, tickAt: tick }, `${name}: could not claim the tick; skipped`);
    return undefined;
  }
  if (!claimed) {
    logger.debug({ job: name, tickAt: tick }, `${name}: tick runs on another process`);
    return undefined;
  }
  logger.info({ job: name, tickAt: tick, holder }, `${name}: tick claimed`);
  const renewal = setInterval(
    () => {
      jobRuns.renew(name, tickAt, holder, leaseMs).then(
        (kept) => {
          if (!kept) logger.warn({ job: name, tickAt: tick }, `${name}: lease ran out during the run; another process may run the job now`);
        },
        (err: unknown) => logger.warn({ err, job: name, tickAt: tick }, `${name}: could not renew the lease`),
      );
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  renewal.unref();
  try {
    // Under the lease's renewal: a slow DELETE does not let the tick go to another replica.
    await forgetOldTicks(name, tickAt, logger, once);
    return await runLogged(name, run, logger);
  } finally {
    clearInterval(renewal);
    await jobRuns.release(name, tickAt, holder).catch((err: unknown) => logger.warn({ err, job: name, tickAt: tick }, `${name}: could not release the tick`));
  }
}

/**
 * Every tick leaves a row (job_runs): the claimer of each tick forgets the old ones, so it is done
 * once per tick across replicas, and costs one indexed DELETE (job_runs_tick) when there is
 * nothing to forget. Never rejects: a failure only delays it to the next tick.
 */
async function forgetOldTicks(name: string, tickAt: Date, logger: Logger, once: OncePerTick): Promise<void> {
  const before = new Date(tickAt.getTime() - (once.retentionMs ?? DEFAULT_JOB_RUN_RETENTION_MS));
  try {
    const removed = await once.jobRuns.prune(before);
    if (removed > 0) logger.info({ job: name, removed, tickBefore: before.toISOString() }, `${name}: forgot old ticks`);
  } catch (err) {
    logger.warn({ err, job: name }, `${name}: could not forget old ticks`);
  }
}
