/**
 * The one retry policy of the outside-system clients (ServiceNow, Azure): cockatiel runs the
 * attempts and decides what is retried and how often; the wait between attempts goes through the
 * caller's `sleep`, so tests and virtual time control it (cockatiel's own timer is kept at 0).
 * Retry-After parsing and the backoff formula are pure and live in core/rateLimit.ts, where the
 * Teams messenger's pacer uses them too.
 */
import { DelegateBackoff, handleType, retry, type IRetryBackoffContext } from 'cockatiel';
import { backoffDelay } from '../core/rateLimit.js';

export type Sleep = (ms: number) => Promise<void>;

export interface RetrySchedule {
  /** Retries after the first attempt (so maxRetries + 1 attempts at most). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Jitter source in [0, 1): half of each wait is fixed, half random. Absent: plain doubling. */
  random?: () => number;
}

/**
 * Thrown by an attempt that is worth repeating. `waitMs` is the server's word (Retry-After,
 * quota reset) and replaces the backoff; anything else an attempt throws ends the run at once.
 */
export class RetryableFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly waitMs?: number,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
    this.name = 'RetryableFailure';
  }
}

/** The wait before retry number `retry` (0-based) when the server named none. */
export function backoffFor(schedule: RetrySchedule, retry: number): number {
  return schedule.random
    ? backoffDelay(retry, schedule.baseDelayMs, schedule.maxDelayMs, schedule.random)
    : Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** retry);
}

/**
 * Network failures that another attempt cannot fix: the name does not exist in DNS (ENOTFOUND;
 * EAI_AGAIN, a resolver that could not answer now, stays transient).
 */
const PERMANENT_NETWORK_CODES: ReadonlySet<string> = new Set(['ENOTFOUND']);

export function isPermanentNetworkCode(code: string | undefined): boolean {
  return code !== undefined && PERMANENT_NETWORK_CODES.has(code);
}

export interface RetryHooks {
  sleep: Sleep;
  /** Called before each wait, e.g. to log it. `attempt` is the attempt that failed (0-based). */
  onRetry?: (info: { attempt: number; waitMs: number; failure: unknown }) => void;
}

/**
 * Runs `attempt` (given its 0-based number) until it returns, throws anything but a
 * RetryableFailure, or the schedule is spent; then the last RetryableFailure is thrown, for the
 * caller to turn into its own error.
 */
export async function withRetries<T>(schedule: RetrySchedule, hooks: RetryHooks, attempt: (n: number) => Promise<T>): Promise<T> {
  let wait = 0;
  let last: RetryableFailure | undefined;
  const policy = retry(handleType(RetryableFailure), {
    maxAttempts: schedule.maxRetries,
    backoff: new DelegateBackoff((context: IRetryBackoffContext<unknown>) => {
      last = 'error' in context.result ? (context.result.error as RetryableFailure) : undefined;
      wait = last?.waitMs ?? backoffFor(schedule, context.attempt - 1);
      return 0;
    }),
  });
  return policy.execute(async ({ attempt: n }) => {
    if (n > 0) {
      hooks.onRetry?.({ attempt: n - 1, waitMs: wait, failure: last?.failure });
      await hooks.sleep(wait);
    }
    return attempt(n);
  });
}
