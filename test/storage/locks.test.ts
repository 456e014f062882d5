import { InProcessLocks } from '../../storage/locks.js';

describe('in-process locks', () => {
  it('runs tasks for one key one at a time, in order, and other keys in parallel', async () => {
    const lock = new InProcessLocks();
    const events: string[] = [];
    let releaseA!: () => void;
    const gateA = new Promise<void>((r) => (releaseA = r));
    const a1 = lock.withLock('a', async () => {
      events.push('a1 start');
      await gateA;
      events.push('a1 end');
    });
    const a2 = lock.withLock('a', async () => void events.push('a2'));
    const b1 = lock.withLock('b', async () => void events.push('b1'));
    await b1;
    expect(events).toEqual(['a1 start', 'b1']);
    releaseA();
    await Promise.all([a1, a2]);
    expect(events).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
    await new Promise((r) => setImmediate(r));
    expect(lock.size()).toBe(0);
  });

  it('keeps going after a failed task and hands the error to its caller only', async () => {
    const lock = new InProcessLocks();
    const failed = lock.withLock('k', async () => {
      throw new Error('boom');
    });
    const next = lock.withLock('k', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
