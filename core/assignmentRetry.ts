/**
 * Automatic retries of assignments whose ticket could not be created: every cycle retries the
 * ones that are due, backing off so an outage is not hammered, and gives up after a bounded number
 * of attempts (the assignments list shows the reason; the Retry button starts over).
 */
import { HOUR_MS, MINUTE_MS } from './clock.js';
import type { Assignment } from './model.js';

export const MAX_AUTOMATIC_ATTEMPTS = 8;
const BASE_DELAY_MS = 5 * MINUTE_MS;
const MAX_DELAY_MS = 6 * HOUR_MS;

/** When the next automatic attempt may run after `attempts` failures: now + min(2^attempts × 5 min, 6 h). */
export function nextAttemptAfter(attempts: number, now: Date): Date {
  const delay = Math.min(2 ** Math.max(0, attempts) * BASE_DELAY_MS, MAX_DELAY_MS);
  return new Date(now.getTime() + delay);
}

/** The record after one more failed attempt to create its ticket. */
export function failedAttempt<A extends Pick<Assignment, 'attempts'>>(a: A, now: Date): { attempts: number; nextAttemptAt: string } {
  const attempts = (a.attempts ?? 0) + 1;
  return { attempts, nextAttemptAt: nextAttemptAfter(attempts, now).toISOString() };
}

/** Whether a cycle's automatic retry should try this failed assignment now. */
export function dueForAutomaticRetry(a: Pick<Assignment, 'status' | 'attempts' | 'nextAttemptAt'>, now: Date): boolean {
  if (a.status !== 'failed') return false;
  if ((a.attempts ?? 0) >= MAX_AUTOMATIC_ATTEMPTS) return false;
  return a.nextAttemptAt === undefined || Date.parse(a.nextAttemptAt) <= now.getTime();
}
