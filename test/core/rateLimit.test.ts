import { backoffDelay, delayBeforeNextSend, parseRetryAfter, pruneHistory } from '../../core/rateLimit.js';

describe('Teams send rate limits', () => {
  it('lets 7 sends through in a second, then waits for the first to leave the window', () => {
    const history: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      expect(delayBeforeNextSend(history, now)).toBe(0);
      history.push(now);
      now += 10;
    }
    expect(delayBeforeNextSend(history, now)).toBe(1000 - 70);
  });

  it('respects the 60-per-30-seconds window over a long burst', () => {
    const history: number[] = [];
    let now = 0;
    for (let i = 0; i < 200; i++) {
      now += delayBeforeNextSend(history, now);
      history.push(now);
      pruneHistory(history, now);
    }
    // No 30 s window may hold more than 60 sends.
    for (let i = 60; i < history.length; i++) expect(history[i] - history[i - 60]).toBeGreaterThanOrEqual(30_000);
    for (let i = 7; i < history.length; i++) expect(history[i] - history[i - 7]).toBeGreaterThanOrEqual(1_000);
  });

  it('backs off exponentially within bounds', () => {
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 0)).toBe(400);
    expect(backoffDelay(20, 100, 10_000, () => 1)).toBe(10_000);
  });
});

describe('Retry-After (the one parser of the ServiceNow, Azure and Teams clients)', () => {
  const now = new Date('2025-06-01T00:00:00Z');
  it('reads delta-seconds, fractional seconds and HTTP dates', () => {
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
    expect(parseRetryAfter('Sun, 01 Jun 2025 00:00:30 GMT', now)).toBe(30_000);
    // A date in the past means now, never a negative wait.
    expect(parseRetryAfter('Sat, 31 May 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('gives up on anything else, so the caller falls back to its backoff', () => {
    for (const junk of [undefined, null, '', '  ', '-5', '1.2.3', '5s', 'soon', '1e3']) expect([junk, parseRetryAfter(junk, now)]).toEqual([junk, undefined]);
  });
});
