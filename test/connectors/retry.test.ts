import { backoffFor, isPermanentNetworkCode, RetryableFailure, withRetries, type RetrySchedule } from '../../connectors/retry.js';

const schedule: RetrySchedule = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 250 };

function recorder() {
  const waits: number[] = [];
  const retried: number[] = [];
  return {
    waits,
    retried,
    hooks: { sleep: async (ms: number) => void waits.push(ms), onRetry: ({ attempt }: { attempt: number }) => void retried.push(attempt) },
  };
}

describe('the shared retry policy (cockatiel, waits on the injected sleep)', () => {
  it('retries a RetryableFailure with capped doubling, or with the wait the server named', async () => {
    const r = recorder();
    const attempts: number[] = [];
    const value = await withRetries(schedule, r.hooks, async (n) => {
      attempts.push(n);
      if (n === 1) throw new RetryableFailure(new Error('429'), 7_000);
      if (n < 3) throw new RetryableFailure(new Error('503'));
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(attempts).toEqual([0, 1, 2, 3]);
    expect(r.waits).toEqual([100, 7_000, 250]);
    expect(r.retried).toEqual([0, 1, 2]);
  });

  it('stops at maxRetries and throws the last RetryableFailure', async () => {
    const r = recorder();
    let n = 0;
    const err = await withRetries(schedule, r.hooks, async () => {
      throw new RetryableFailure(new Error(`failure ${n++}`));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableFailure);
    expect((err as RetryableFailure).failure).toEqual(new Error('failure 3'));
    expect(r.waits).toHaveLength(3);
  });

  it('does not retry anything else', async () => {
    const r = recorder();
    await expect(
      withRetries(schedule, r.hooks, async () => {
        throw new Error('bad request');
      }),
    ).rejects.toThrow('bad request');
    expect(r.waits).toEqual([]);
  });

  it('jitters half of each wait when given a random source', () => {
    expect([0, 1, 2].map((n) => backoffFor({ ...schedule, random: () => 0.5 }, n))).toEqual([75, 150, 188]);
    expect([0, 1, 2].map((n) => backoffFor(schedule, n))).toEqual([100, 200, 250]);
  });

  it('treats a name that does not resolve as permanent and a resolver hiccup as transient', () => {
    expect(isPermanentNetworkCode('ENOTFOUND')).toBe(true);
    expect(isPermanentNetworkCode('EAI_AGAIN')).toBe(false);
    expect(isPermanentNetworkCode('ECONNRESET')).toBe(false);
    expect(isPermanentNetworkCode(undefined)).toBe(false);
  });
});
