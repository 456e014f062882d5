/**
 * Teams' documented per-bot, per-conversation limits for sending: 7 in 1 s, 8 in 2 s, 60 in 30 s,
 * 1800 in an hour. A sender that stays inside all four windows is never throttled.
 */
export const TEAMS_SEND_LIMITS: readonly { windowMs: number; max: number }[] = [
  { windowMs: 1_000, max: 7 },
  { windowMs: 2_000, max: 8 },
  { windowMs: 30_000, max: 60 },
  { windowMs: 3_600_000, max: 1_800 },
];

/**
 * How long to wait before the next send, given the times of earlier sends (ascending, ms).
 * 0 means now. Pure: the caller keeps the history and the clock.
 */
export function delayBeforeNextSend(history: readonly number[], now: number, limits = TEAMS_SEND_LIMITS): number {
  let wait = 0;
  for (const { windowMs, max } of limits) {
    if (history.length < max) continue;
    // The send that must leave the window before another fits in it.
    const blocking = history[history.length - max];
    wait = Math.max(wait, blocking + windowMs - now);
  }
  return Math.max(0, wait);
}

/** Drops history older than the longest window, so it stays bounded. */
export function pruneHistory(history: number[], now: number, limits = TEAMS_SEND_LIMITS): void {
  const longest = Math.max(...limits.map((l) => l.windowMs));
  let drop = 0;
  while (drop < history.length && history[drop] <= now - longest) drop++;
  if (drop) history.splice(0, drop);
}

/** Exponential backoff with full jitter, capped; `random` is injectable for tests. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Retry-After (RFC 9110 §10.2.3) in ms: delta-seconds, or an HTTP date measured from `now`.
 * Undefined when absent or unreadable, so the caller falls back to its own backoff. Fractional
 * seconds are read too (some gateways send them).
 */
export function parseRetryAfter(value: string | undefined | null, now: Date): number | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // A date has letters (a weekday, a month); a bare "-5" or "1.2.3" must not parse as one.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
