import { Writable } from 'node:stream';
import { createLogger } from '../../compose/logger.js';
import { scheduleJob } from '../../jobs/schedule.js';

describe('scheduleJob: a tick that comes while the last run is still busy', () => {
  const consoleCalls: unknown[][] = [];
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-03-02T09:00:00.000Z') });
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const)
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleCalls.push([method, ...args]));
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
    consoleCalls.length = 0;
  });

  it('is skipped with exactly one structured log line per skipped tick, and nothing on the console', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(...chunk.toString().split('\n').filter(Boolean));
          cb();
        },
      }),
    });
    let runs = 0;
    let finish: () => void = () => undefined;
    const task = scheduleJob(
      'sync',
      '* * * * * *',
      () => {
        runs++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
      logger,
    );
    try {
      await jest.advanceTimersByTimeAsync(1000);
      expect(runs).toBe(1);
      expect(lines).toEqual([]);

      // Three ticks while the first run is busy: three skips, one line each, as they happen.
      for (let skipped = 1; skipped <= 3; skipped++) {
        await jest.advanceTimersByTimeAsync(1000);
        expect(runs).toBe(1);
        expect(lines).toHaveLength(skipped);
      }
      const entries = lines.map((l) => JSON.parse(l));
      expect(entries).toEqual([1, 2, 3].map((n) => expect.objectContaining({ level: 40, job: 'sync', skippedRun: `2026-03-02T09:00:0${n + 1}.000Z` })));
      expect(entries.map((e) => e.msg)).toEqual(Array(3).fill('sync: run skipped, the previous run is still busy'));
      expect(lines.join('')).not.toContain('\u001b[');

      // Once the run is done, the next tick runs again and logs nothing.
      finish();
      await jest.advanceTimersByTimeAsync(1000);
      expect(runs).toBe(2);
      expect(lines).toHaveLength(3);
      expect(consoleCalls).toEqual([]);
    } finally {
      finish();
      await task.destroy();
    }
  });
});
