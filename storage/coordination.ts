/**
 * Coordination of processes that share a store, for the embedded stores: JobRuns and SendPacing
 * (app/ports.ts) inside the one process that owns the data folder (storage/dataDirLock.ts). The
 * rules are the PostgreSQL ones (storage/postgres/coordination.ts), so the same contract suite
 * runs against both; nothing needs to outlive the process (a restarted process is the only one).
 */
import type { Clock } from '../core/clock.js';
import { delayBeforeNextSend, pruneHistory, TEAMS_SEND_LIMITS } from '../core/rateLimit.js';
import type { JobRun, JobRuns, SendPacing } from '../app/ports.js';

export type SendLimits = typeof TEAMS_SEND_LIMITS;

/**
 * The slot a send may go at: the earliest time, not before `now`, the last slot handed out or a
 * hold, at which every window of `limits` has room. Later than every earlier slot, so the history
 * stays sorted and each window is checked against the sends that precede it.
 */
export function nextSendSlot(history: readonly number[], now: number, holdUntil: number | undefined, limits: SendLimits = TEAMS_SEND_LIMITS): number {
  const last = history.length > 0 ? history[history.length - 1]! : -Infinity;
  return Math.max(now + delayBeforeNextSend(history, now, limits), last, holdUntil ?? -Infinity);
}

/** Book a slot in `history` (ascending ms, changed in place): returns it, history pruned to what later slots depend on. */
export function bookSendSlot(history: number[], now: number, holdUntil: number | undefined, limits: SendLimits = TEAMS_SEND_LIMITS): number {
  pruneHistory(history, now, limits);
  const slot = nextSendSlot(history, now, holdUntil, limits);
  history.push(slot);
  return slot;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class InProcessJobRuns implements JobRuns {
  /** Per job, its ticks by tickAt (ms). */
  private readonly jobs = new Map<string, Map<number, JobRun>>();

  constructor(private readonly clock: Clock) {}

  async claim(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean> {
    checkClaim(holder, leaseMs);
    const now = this.clock.now().getTime();
    const ticks = this.jobs.get(job) ?? new Map<number, JobRun>();
    const existing = ticks.get(tickAt.getTime());
    if (existing) return existing.holder === holder && existing.finishedAt === undefined;
    for (const run of ticks.values()) if (run.finishedAt === undefined && Date.parse(run.leaseUntil) > now) return false;
    ticks.set(tickAt.getTime(), { job, tickAt: tickAt.toISOString(), holder, claimedAt: iso(now), leaseUntil: iso(now + leaseMs) });
    this.jobs.set(job, ticks);
    return true;
  }

  async renew(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean> {
    checkClaim(holder, leaseMs);
    const now = this.clock.now().getTime();
    const run = this.jobs.get(job)?.get(tickAt.getTime());
    if (!run || run.holder !== holder || run.finishedAt !== undefined || Date.parse(run.leaseUntil) <= now) return false;
    run.leaseUntil = iso(now + leaseMs);
    return true;
  }

  async release(job: string, tickAt: Date, holder: string): Promise<boolean> {
    const run = this.jobs.get(job)?.get(tickAt.getTime());
    if (!run || run.holder !== holder || run.finishedAt !== undefined) return false;
    run.finishedAt = this.clock.now().toISOString();
    return true;
  }

  async list(job: string, limit = 100): Promise<JobRun[]> {
    const runs = [...(this.jobs.get(job)?.values() ?? [])].sort((a, b) => Date.parse(b.tickAt) - Date.parse(a.tickAt));
    return runs.slice(0, Math.max(0, limit)).map((r) => ({ ...r }));
  }

  async prune(tickBefore: Date): Promise<number> {
    let dropped = 0;
    for (const [job, ticks] of this.jobs) {
      for (const at of ticks.keys()) {
        if (at < tickBefore.getTime()) {
          ticks.delete(at);
          dropped++;
        }
      }
      if (ticks.size === 0) this.jobs.delete(job);
    }
    return dropped;
  }
}

export function checkClaim(holder: string, leaseMs: number): void {
  if (!holder) throw new Error('a job run needs a holder');
  if (!(leaseMs > 0)) throw new Error('a job run needs a positive lease');
}

export class InProcessSendPacing implements SendPacing {
  private readonly conversations = new Map<string, { history: number[]; holdUntil?: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: SendLimits = TEAMS_SEND_LIMITS,
  ) {}

  async reserve(conversationId: string): Promise<Date> {
    const state = this.conversations.get(conversationId) ?? { history: [] };
    this.conversations.set(conversationId, state);
    return new Date(bookSendSlot(state.history, this.clock.now().getTime(), state.holdUntil, this.limits));
  }

  async holdUntil(conversationId: string, until: Date): Promise<void> {
    const state = this.conversations.get(conversationId) ?? { history: [] };
    state.holdUntil = Math.max(state.holdUntil ?? -Infinity, until.getTime());
    this.conversations.set(conversationId, state);
  }
}
