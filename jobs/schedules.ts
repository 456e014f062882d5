/**
 * Which use case runs when: the sync cycle on SYNC_CRON, the full reconcile on FULL_SYNC_CRON, the
 * reminder pass on REMINDER_CRON in REMINDER_TIMEZONE. Overlap policy (jobs/schedule.ts): a tick
 * while the previous run is busy is skipped and logged; each use case also joins a run already in
 * progress when called directly (the `sync` command during a scheduled pass).
 */
import type { ScheduledTask } from 'node-cron';
import type { Logger } from '../core/logger.js';
import { scheduleJob, type OncePerTick } from './schedule.js';

export interface Scheduled {
  /** The sync cycle (app/syncCycle.ts); absent without Defender. */
  cycle?: { runOnce(): Promise<unknown> };
  /** The resolution job (app/resolution.ts), for the daily full reconcile; absent without Defender. */
  resolution?: { runOnce(opts: { full: boolean }): Promise<unknown> };
  /** The reminder pass (app/reminders.ts). */
  reminders: { runOnce(): Promise<unknown> };
}

export interface ScheduleSettings {
  SYNC_CRON: string;
  FULL_SYNC_CRON: string;
  REMINDER_CRON: string;
  REMINDER_TIMEZONE: string;
}

/**
 * Starts every schedule; stop them with `task.destroy()`. With `once`, each tick runs on one of
 * the processes sharing the store (JobRuns); without it, on this process.
 */
export function startSchedules(jobs: Scheduled, settings: ScheduleSettings, logger: Logger, once?: OncePerTick): ScheduledTask[] {
  const tasks = [scheduleReminders(jobs.reminders, settings.REMINDER_CRON, settings.REMINDER_TIMEZONE, logger.child({ job: 'reminders' }), once)];
  if (jobs.cycle) tasks.push(scheduleSync(jobs.cycle, settings.SYNC_CRON, logger.child({ job: 'sync' }), once));
  // The daily full reconcile heals any change an incremental pass missed.
  const resolution = jobs.resolution;
  if (resolution) tasks.push(scheduleJob('full-reconcile', settings.FULL_SYNC_CRON, () => resolution.runOnce({ full: true }), logger, undefined, once));
  return tasks;
}

/** Runs the sync cycle on its schedule. */
export function scheduleSync(job: { runOnce(): Promise<unknown> }, cronExpr: string, logger: Logger, once?: OncePerTick): ScheduledTask {
  return scheduleJob('sync', cronExpr, () => job.runOnce(), logger, undefined, once);
}

/** Runs the reminder pass on its schedule, in the reminders' timezone. */
export function scheduleReminders(job: { runOnce(): Promise<unknown> }, cronExpr: string, timezone: string, logger: Logger, once?: OncePerTick): ScheduledTask {
  return scheduleJob('reminders', cronExpr, () => job.runOnce(), logger, timezone, once);
}
