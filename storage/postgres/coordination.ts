/**
 * JobRuns and SendPacing (app/ports.ts) on PostgreSQL, shared by every process on the database
 * (tables job_runs and send_pacing, storage/postgres/migrations.ts). The rules are those of the
 * in-process versions (storage/coordination.ts); the same contract suite runs against both.
 *
 * - A job's claims run one at a time across processes under a transaction-scoped advisory lock on
 *   the job name: "this tick is unclaimed and no earlier tick is running" and the insert of the
 *   claim are one atomic step. The (job, tick_at) primary key keeps a tick claimed once even so.
 * - A holder is alive while its presence lock is held: a session advisory lock on
 *   (JOB_PRESENCE_LOCK_NAMESPACE, hashtext(holder)), taken on a connection of its own before its
 *   first claim and kept until close. A process that dies (SIGKILL, OOM kill, a deleted pod) loses
 *   that connection and PostgreSQL releases the lock at once, so the tick after it is claimed by
 *   another replica without waiting for the dead run's lease (JOB_LEASE_SECONDS). The lease still
 *   ends a run whose holder is alive but does not renew (a blocked event loop), and one whose
 *   connection PostgreSQL has not seen close (a machine gone without a FIN: TCP keepalive, then
 *   the lease). A presence connection that breaks while its process lives makes that process look
 *   dead: its running tick may then run a second time elsewhere, as with PostgresLocks.
 * - A conversation's slots are booked under its row lock (SELECT … FOR UPDATE): two processes
 *   booking at once get successive slots, computed from the same history.
 * Times come from the store's clock, as the work queue's leases do.
 */
import type pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { Clock } from '../../core/clock.js';
import { TEAMS_SEND_LIMITS } from '../../core/rateLimit.js';
import type { JobRun, JobRuns, SendPacing } from '../../app/ports.js';
import { bookSendSlot, checkClaim, type SendLimits } from '../coordination.js';
import { checkout } from './checkout.js';

/** First half of the advisory lock ids of job claims (LOCK_NAMESPACE + 1; see storage/postgres/locks.ts). */
export const JOB_RUNS_LOCK_NAMESPACE = 0x44_53_4e_02;
/** First half of the advisory lock ids of holders' presence (LOCK_NAMESPACE + 2). */
export const JOB_PRESENCE_LOCK_NAMESPACE = 0x44_53_4e_03;

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

export interface PostgresJobRunsOptions {
  /** A new, unconnected client for a holder's presence connection (its own, outside the pools). */
  connect: () => pg.Client;
  logger?: Logger;
}

export class PostgresJobRuns implements JobRuns {
  /** Each holder of this process: its presence connection, holding its presence lock. */
  private readonly present = new Map<string, Promise<pg.Client>>();
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock,
    private readonly options: PostgresJobRunsOptions,
  ) {
    this.log = options.logger ?? silentLogger;
  }

  /** Takes `holder`'s presence lock on a connection of its own, once; a broken one is replaced by the next claim. */
  private presence(holder: string): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('the job runs are closed'));
    const held = this.present.get(holder);
    if (held) return held;
    const client = this.options.connect();
    const forget = () => {
      if (this.present.get(holder) === taking) this.present.delete(holder);
    };
    const taking = (async () => {
      client.on('error', (err: Error) => {
        forget();
        this.log.warn({ err, holder }, "the presence connection of the job runs broke: other replicas may take over this process's running ticks");
      });
      client.on('end', forget);
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked', [
        JOB_PRESENCE_LOCK_NAMESPACE,
        holder,
      ]);
      if (!rows[0]?.locked) throw new Error(`another session holds the presence lock of job-run holder ${holder}`);
      return client;
    })();
    this.present.set(holder, taking);
    taking.catch(() => {
      forget();
      client.end().catch(() => undefined);
    });
    return taking;
  }

  async claim(job: string, tickAt: Date, holder: string, leaseMs: number): Promise<boolean> {
    checkClaim(holder, leaseMs);
    // Before the claim is visible: from then on, its run counts as alive while this process is.
    await this.presence(holder);
    return inTransaction(this.pool, async (client) => {
      const now = this.clock.now();
      await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [JOB_RUNS_LOCK_NAMESPACE, job]);
      const { rows } = await client.query<{ holder: string; finished: boolean }>(
        'SELECT holder, finished_at IS NOT NULL AS finished FROM job_runs WHERE job = $1 AND tick_at = $2',
        [job, tickAt.toISOString()],
      );
      if (rows[0]) return rows[0].holder === holder && !rows[0].finished;
      const running = await client.query<{ tick_at: Date; holder: string }>(
        'SELECT tick_at, holder FROM job_runs WHERE job = $1 AND finished_at IS NULL AND lease_until > $2',
        [job, now.toISOString()],
      );
      for (const run of running.rows) {
        // Free only when its holder's session is gone; held until this transaction ends, which is enough for this check.
        const probe = await client.query<{ free: boolean }>('SELECT pg_try_advisory_xact_lock($1::int, hashtext($2)) AS free', [
          JOB_PRESENCE_LOCK_NAMESPACE,
          run.holder,
        ]);
        if (!probe.rows[0]?.free) return false;
        // Its holder died: the lease ends now, so a holder that only lost its connection cannot renew it.
        await client.query('UPDATE job_runs SET lease_until = $3 WHERE job = $1 AND tick_at = $2', [job, run.tick_at, now.toISOString()]);
      }
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

  /** Ends the presence connections: this process's running ticks are free for others from here on. */
  async close(): Promise<void> {
    this.closed = true;
    const held = [...this.present.values()];
    this.present.clear();
    await Promise.all(
      held.map((p) =>
        p
          .then(
            (c) => c.end(),
            () => undefined,
          )
          .catch(() => undefined),
      ),
    );
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
