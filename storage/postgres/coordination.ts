/**
 * JobRuns and SendPacing (app/ports.ts) on PostgreSQL, shared by every process on the database
 * (tables job_runs and send_pacing, storage/postgres/migrations.ts). The rules are those of the
 * in-process versions (storage/coordination.ts); the same contract suite runs against both.
 *
 * - A job's claims run one at a time across processes under a transaction-scoped advisory lock on
 *   the job name: "this tick is unclaimed and no earlier tick is running" and the insert of the
 *   claim are one atomic step. The (job, tick_at) primary key keeps a tick claimed once even so.
 * - A conversation's slots are booked under its row lock (SELECT … FOR UPDATE): two processes
 *   booking at once get successive slots, computed from the same history.
 * Times come from the store's clock, as the work queue's leases do.
 */
import type { Pool, PoolClient } from 'pg';
import type { Clock } from '../../core/clock.js';
import { TEAMS_SEND_LIMITS } from '../../core/rateLimit.js';
import type { JobRun, JobRuns, SendPacing } from '../../app/ports.js';
import { bookSendSlot, checkClaim, type SendLimits } from '../coordination.js';
import { checkout } from './checkout.js';

/** First half of the advisory lock ids of job claims (LOCK_NAMESPACE + 1; see storage/postgres/locks.ts). */
export const JOB_RUNS_LOCK_NAMESPACE = 0x44_53_4e_02;

async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    }
  } finally {
    release(broken);
  }
}

interface JobRunRow {
  job: string;
  tick_at: Date;
  holder: string;
  claimed_at: Date;
  lease_until: Date;
  finished_at: Date | null;
}

const toRun = (r: JobRunRow): JobRun => ({
  job: r.job,
  tickAt: r.tick_at.toISOString(),
  holder: r.holder,
  claimedAt: r.claimed_at.toISOString(),
  leaseUntil: r.lease_until.toISOString(),
  ...(r.finished_at ? { finishedAt: r.finished_at.toISOString() } : {}),
});

export class PostgresJobRuns implements JobRuns {
  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock,
  ) {}

  async claim(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean> {
    checkClaim(holder, leaseMs);
    return inTransaction(this.pool, async (client) => {
      const now = this.clock.now();
      await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [JOB_RUNS_LOCK_NAMESPACE, job]);
      const { rows } = await client.query<{ holder: string; finished: boolean }>(
        'SELECT holder, finished_at IS NOT NULL AS finished FROM job_runs WHERE job = $1 AND tick_at = $2',
        [job, tickAt.toISOString()],
      );
      if (rows[0]) return rows[0].holder === holder && !rows[0].finished;
      const running = await client.query('SELECT 1 FROM job_runs WHERE job = $1 AND finished_at IS NULL AND lease_until > $2 LIMIT 1', [
        job,
        now.toISOString(),
      ]);
      if ((running.rowCount ?? 0) > 0) return false;
      await client.query('INSERT INTO job_runs (job, tick_at, holder, claimed_at, lease_until) VALUES ($1, $2, $3, $4, $5)', [
        job,
        tickAt.toISOString(),
        holder,
        now.toISOString(),
        new Date(now.getTime() + leaseMs).toISOString(),
      ]);
      return true;
    });
  }

  async renew(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean> {
    checkClaim(holder, leaseMs);
    const now = this.clock.now();
    const { rowCount } = await this.pool.query(
      `UPDATE job_runs SET lease_until = $5
       WHERE job = $1 AND tick_at = $2 AND holder = $3 AND finished_at IS NULL AND lease_until > $4`,
      [job, tickAt.toISOString(), holder, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString()],
    );
    return (rowCount ?? 0) > 0;
  }

  async release(job: string, tickAt: Date, holder: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE job_runs SET finished_at = $4 WHERE job = $1 AND tick_at = $2 AND holder = $3 AND finished_at IS NULL', [
      job,
      tickAt.toISOString(),
      holder,
      this.clock.now().toISOString(),
    ]);
    return (rowCount ?? 0) > 0;
  }

  async list(job: string, limit = 100): Promise<JobRun[]> {
    if (!(limit > 0)) return [];
    const { rows } = await this.pool.query<JobRunRow>('SELECT * FROM job_runs WHERE job = $1 ORDER BY tick_at DESC LIMIT $2', [job, Math.floor(limit)]);
    return rows.map(toRun);
  }

  async prune(tickBefore: Date): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM job_runs WHERE tick_at < $1', [tickBefore.toISOString()]);
    return rowCount ?? 0;
  }
}

export class PostgresSendPacing implements SendPacing {
  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock,
    private readonly limits: SendLimits = TEAMS_SEND_LIMITS,
  ) {}

  reserve(conversationId: string): Promise<Date> {
    return inTransaction(this.pool, async (client) => {
      await client.query(`INSERT INTO send_pacing (conversation_id) VALUES ($1) ON CONFLICT (conversation_id) DO NOTHING`, [conversationId]);
      const { rows } = await client.query<{ slots: string[]; hold_until: string | null }>(
        'SELECT slots, hold_until FROM send_pacing WHERE conversation_id = $1 FOR UPDATE',
        [conversationId],
      );
      const history = rows[0]!.slots.map(Number);
      const hold = rows[0]!.hold_until === null ? undefined : Number(rows[0]!.hold_until);
      // The clock is read under the row lock: a later booking never sees an earlier "now".
      const slot = bookSendSlot(history, this.clock.now().getTime(), hold, this.limits);
      await client.query('UPDATE send_pacing SET slots = $2 WHERE conversation_id = $1', [conversationId, history]);
      return new Date(slot);
    });
  }

  async holdUntil(conversationId: string, until: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO send_pacing AS p (conversation_id, hold_until) VALUES ($1, $2)
       ON CONFLICT (conversation_id) DO UPDATE SET hold_until = GREATEST(p.hold_until, EXCLUDED.hold_until)`,
      [conversationId, until.getTime()],
    );
  }
}
