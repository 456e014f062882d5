/**
 * The contract of JobRuns and SendPacing (app/ports.ts), one suite run against the in-process
 * versions (the embedded stores) and PostgreSQL's. A shared implementation also runs it across
 * processes: a peer (its own connections) stands for another replica.
 */
import { ManualClock, MINUTE_MS } from '../../core/clock.js';
import { TEAMS_SEND_LIMITS } from '../../core/rateLimit.js';
import type { JobRuns, SendPacing } from '../../app/ports.js';

export interface Coordination {
  jobRuns: JobRuns;
  sendPacing: SendPacing;
}

export interface CoordinationHandle extends Coordination {
  /** Shared implementations: another process on the same data, on the same clock. */
  openPeer?: () => Promise<Coordination>;
  close?: () => Promise<void>;
}

const T0 = '2026-11-26T09:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms);
const SECOND = 1_000;

/** The limits held: no window of any of Teams' limits holds more sends than it allows. */
export function windowsBroken(slots: readonly Date[], limits = TEAMS_SEND_LIMITS): string[] {
  const ms = slots.map((d) => d.getTime()).sort((a, b) => a - b);
  const broken: string[] = [];
  for (const { windowMs, max } of limits) {
    for (let i = 0; i + max < ms.length; i++) {
      if (ms[i + max]! - ms[i]! < windowMs) {
        broken.push(`${max + 1} sends within ${ms[i + max]! - ms[i]!} ms (at most ${max} in ${windowMs} ms)`);
        break;
      }
    }
  }
  return broken;
}

export function describeCoordinationContract(name: string, open: (clock: ManualClock) => Promise<CoordinationHandle>, options: { shared: boolean }): void {
  describe(`coordination contract: ${name}`, () => {
    let clock: ManualClock;
    let handle: CoordinationHandle;
    let runs: JobRuns;
    let pacing: SendPacing;
    const peers: Coordination[] = [];

    beforeEach(async () => {
      clock = new ManualClock(T0);
      handle = await open(clock);
      runs = handle.jobRuns;
      pacing = handle.sendPacing;
    });
    afterEach(async () => {
      peers.length = 0;
      await handle.close?.();
    });

    describe('job runs', () => {
      it('a tick is claimed once: the holder gets true (again too), anyone else false, and after release nobody', async () => {
        expect(await runs.claim('sync', at(0), 'replica-a', MINUTE_MS)).toBe(true);
        expect(await runs.claim('sync', at(0), 'replica-b', MINUTE_MS)).toBe(false);
        expect(await runs.claim('sync', at(0), 'replica-a', MINUTE_MS)).toBe(true);
        clock.advance(5 * SECOND);
        expect(await runs.release('sync', at(0), 'replica-b')).toBe(false);
        expect(await runs.release('sync', at(0), 'replica-a')).toBe(true);
        expect(await runs.release('sync', at(0), 'replica-a')).toBe(false);
        // A replica whose timer fires late does not run the tick again, nor does the holder.
        expect(await runs.claim('sync', at(0), 'replica-b', MINUTE_MS)).toBe(false);
        expect(await runs.claim('sync', at(0), 'replica-a', MINUTE_MS)).toBe(false);
        expect(await runs.list('sync')).toEqual([
          {
            job: 'sync',
            tickAt: at(0).toISOString(),
            holder: 'replica-a',
            claimedAt: T0,
            leaseUntil: at(MINUTE_MS).toISOString(),
            finishedAt: at(5 * SECOND).toISOString(),
          },
        ]);
      });

      it('the next tick waits while the previous one runs under a live lease, and goes once it is released', async () => {
        expect(await runs.claim('sync', at(0), 'replica-a', MINUTE_MS)).toBe(true);
        clock.advance(30 * SECOND);
        expect(await runs.claim('sync', at(30 * SECOND), 'replica-b', MINUTE_MS)).toBe(false);
        expect(await runs.claim('sync', at(30 * SECOND), 'replica-a', MINUTE_MS)).toBe(false);
        // Another job is not held up.
        expect(await runs.claim('reminders', at(30 * SECOND), 'replica-b', MINUTE_MS)).toBe(true);
        expect(await runs.release('sync', at(0), 'replica-a')).toBe(true);
        clock.advance(30 * SECOND);
        expect(await runs.claim('sync', at(MINUTE_MS), 'replica-b', MINUTE_MS)).toBe(true);
        expect((await runs.list('sync')).map((r) => [r.tickAt, r.holder, r.finishedAt !== undefined])).toEqual([
          [at(MINUTE_MS).toISOString(), 'replica-b', false],
          [T0, 'replica-a', true],
        ]);
      });

      it('a holder that died is taken over on the first tick after its lease ran out; its renewal then fails', async () => {
        expect(await runs.claim('full-reconcile', at(0), 'replica-a', MINUTE_MS)).toBe(true);
        clock.advance(MINUTE_MS - 1);
        expect(await runs.claim('full-reconcile', at(MINUTE_MS - 1), 'replica-b', MINUTE_MS)).toBe(false);
        clock.advance(1);
        expect(await runs.claim('full-reconcile', at(MINUTE_MS), 'replica-b', MINUTE_MS)).toBe(true);
        expect(await runs.renew('full-reconcile', at(0), 'replica-a', MINUTE_MS)).toBe(false);
        // The dead tick is not run again by anyone.
        expect(await runs.claim('full-reconcile', at(0), 'replica-c', MINUTE_MS)).toBe(false);
      });

      it('renew keeps a long run its own; only the holder renews, and not after release', async () => {
        expect(await runs.claim('sync', at(0), 'replica-a', 10 * SECOND)).toBe(true);
        clock.advance(8 * SECOND);
        expect(await runs.renew('sync', at(0), 'replica-b', 10 * SECOND)).toBe(false);
        expect(await runs.renew('sync', at(0), 'replica-a', 10 * SECOND)).toBe(true);
        clock.advance(9 * SECOND);
        expect(await runs.claim('sync', at(17 * SECOND), 'replica-b', 10 * SECOND)).toBe(false);
        clock.advance(1 * SECOND);
        expect(await runs.claim('sync', at(18 * SECOND), 'replica-b', 10 * SECOND)).toBe(true);
        expect(await runs.release('sync', at(18 * SECOND), 'replica-b')).toBe(true);
        expect(await runs.renew('sync', at(18 * SECOND), 'replica-b', 10 * SECOND)).toBe(false);
      });

      it('list is newest first with a limit; prune forgets ticks scheduled before a time; bad arguments are refused', async () => {
        for (let i = 0; i < 4; i++) {
          expect(await runs.claim('sync', at(i * MINUTE_MS), 'replica-a', SECOND)).toBe(true);
          expect(await runs.release('sync', at(i * MINUTE_MS), 'replica-a')).toBe(true);
        }
        expect(await runs.claim('reminders', at(0), 'replica-a', SECOND)).toBe(true);
        expect((await runs.list('sync', 2)).map((r) => r.tickAt)).toEqual([at(3 * MINUTE_MS).toISOString(), at(2 * MINUTE_MS).toISOString()]);
        expect(await runs.list('nothing')).toEqual([]);
        expect(await runs.prune(at(2 * MINUTE_MS))).toBe(3);
        expect((await runs.list('sync')).map((r) => r.tickAt)).toEqual([at(3 * MINUTE_MS).toISOString(), at(2 * MINUTE_MS).toISOString()]);
        expect(await runs.list('reminders')).toEqual([]);
        await expect(runs.claim('sync', at(9 * MINUTE_MS), '', SECOND)).rejects.toThrow(/holder/);
        await expect(runs.claim('sync', at(9 * MINUTE_MS), 'replica-a', 0)).rejects.toThrow(/lease/);
      });
    });

    describe('send pacing', () => {
      it("hands out slots inside every one of Teams' windows: 7 now, then one a second, and the 30 s and hour windows hold too", async () => {
        const slots: Date[] = [];
        for (let i = 0; i < 9; i++) slots.push(await pacing.reserve('chat-1'));
        expect(slots.map((d) => d.getTime() - Date.parse(T0))).toEqual([0, 0, 0, 0, 0, 0, 0, 1_000, 2_000]);
        for (let i = 0; i < 120; i++) {
          slots.push(await pacing.reserve('chat-1'));
          clock.advance(100);
        }
        expect(windowsBroken(slots)).toEqual([]);
        const ms = slots.map((d) => d.getTime());
        expect(ms).toEqual([...ms].sort((a, b) => a - b));
        // 129 sends need more than two 30 s windows of 60.
        expect(ms[ms.length - 1]! - ms[0]!).toBeGreaterThanOrEqual(60_000);
        // Another conversation has its own windows.
        expect(await pacing.reserve('chat-2')).toEqual(clock.now());
      });

      it('a conversation held (429 Retry-After) gets no slot before the hold ends; an earlier hold changes nothing', async () => {
        await pacing.holdUntil('chat-1', at(5 * SECOND));
        await pacing.holdUntil('chat-1', at(2 * SECOND));
        expect(await pacing.reserve('chat-1')).toEqual(at(5 * SECOND));
        expect(await pacing.reserve('chat-2')).toEqual(at(0));
        clock.advance(10 * SECOND);
        expect(await pacing.reserve('chat-1')).toEqual(at(10 * SECOND));
      });

      it('a slot long past does not hold up new sends', async () => {
        for (let i = 0; i < 8; i++) await pacing.reserve('chat-1');
        clock.advance(2 * 3_600_000);
        expect(await pacing.reserve('chat-1')).toEqual(clock.now());
      });
    });

    if (!options.shared) return;

    describe('across processes', () => {
      it('two processes claiming the same ticks at once: exactly one wins each tick', async () => {
        const peer = await handle.openPeer!();
        peers.push(peer);
        for (let tick = 0; tick < 20; tick++) {
          const claims = await Promise.all([
            runs.claim('sync', at(tick * MINUTE_MS), 'replica-a', SECOND),
            peer.jobRuns.claim('sync', at(tick * MINUTE_MS), 'replica-b', SECOND),
          ]);
          expect([tick, claims.filter(Boolean).length]).toEqual([tick, 1]);
          const winner = claims[0] ? 'replica-a' : 'replica-b';
          expect(await (claims[0] ? runs : peer.jobRuns).release('sync', at(tick * MINUTE_MS), winner)).toBe(true);
          clock.advance(MINUTE_MS);
        }
        expect(await runs.list('sync')).toHaveLength(20);
      });

      it('two processes booking one conversation at once stay inside the windows together', async () => {
        const peer = await handle.openPeer!();
        peers.push(peer);
        const slots: Date[] = [];
        for (let round = 0; round < 10; round++) {
          slots.push(...(await Promise.all([...Array(5)].flatMap(() => [pacing.reserve('chat-1'), peer.sendPacing.reserve('chat-1')]))));
          clock.advance(300);
        }
        expect(slots).toHaveLength(100);
        expect(windowsBroken(slots)).toEqual([]);
        // Alone, either would have sent 7 at once; together they still send 7 in the first second.
        expect(slots.filter((d) => d.getTime() < Date.parse(T0) + SECOND)).toHaveLength(7);
      });
    });
  });
}
