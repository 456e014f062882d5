/**
 * The one write-back of an assignment to Defender's governance assignment: under the
 * assignment's lock, re-read the row, GET Defender's copy (unless our fields cover every writable
 * property), merge ours over it with the one rule (core/governance.ts#mergeGovernance), PUT, and
 * record the outcome on the row. Ticket creation, the resolution job and the due-date and
 * more-time workflows all call it, so they agree on the fields and never overwrite each other's
 * newer values.
 */
import type { Clock } from '../core/clock.js';
import { mergeGovernance, mergeIgnoresCurrent } from '../core/governance.js';
import { governanceDeleted, governanceFailed, governanceSynced } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Assignment } from '../core/model.js';
import type { AssignmentSession, AssignmentWriter, AuditNote, Change } from './assignmentWriter.js';
import { reasonOf, type DefenderPort } from './ports.js';

export type GovernanceDefender = Pick<DefenderPort, 'getGovernanceAssignment' | 'putGovernanceAssignment' | 'deleteGovernanceAssignment'>;

/** What a write-back did, in words for the card that reports it. */
export interface GovernanceOutcome {
  ok: boolean;
  text: string;
  /** The row after the outcome was recorded (or as it was). */
  assignment?: Assignment;
}

export interface WriteBackOptions {
  /**
   * 'create': a governance assignment that does not exist is created (ticket creation, the
   * resolution job: the assignment is ours to mirror). 'report': it is not re-created behind
   * an admin's back (a due-date change); the outcome says it is gone.
   */
  ifMissing: 'create' | 'report';
  /** The owner's request for more time was answered: the remediation ETA goes too. */
  clearEta?: boolean;
  /** Also write an audit entry (governance.put / governance.put-failed) under this actor. */
  auditActor?: string;
}

export interface GovernanceDeps {
  /** Absent: Defender is not connected, nothing is written back. */
  defender?: GovernanceDefender;
  writer: AssignmentWriter;
  clock: Clock;
  logger: Logger;
}

export class GovernanceWriteBack {
  constructor(private readonly deps: GovernanceDeps) {}

  get connected(): boolean {
    return this.deps.defender !== undefined;
  }

  /** Takes the assignment's lock for the write-back. */
  sync(id: string, opts: WriteBackOptions): Promise<GovernanceOutcome> {
    return this.deps.writer.withLock(id, (s) => this.syncIn(s, id, opts));
  }

  /**
   * The write-back inside a step that already holds the assignment's lock. Never throws for
   * Defender's failures: they are logged, recorded on an open assignment (status failed, so the
   * cycle retries it) and reported.
   */
  async syncIn(session: AssignmentSession, id: string, opts: WriteBackOptions): Promise<GovernanceOutcome> {
    const { defender, logger, clock } = this.deps;
    const a = await session.get(id);
    if (!a) return { ok: false, text: 'not updated: the assignment no longer exists' };
    if (!defender) return { ok: true, text: 'not connected: nothing to update', assignment: a };
    // Re-created in 'create' mode (a reopened assignment gets its governance assignment back).
    if (opts.ifMissing === 'report' && (!a.governance || a.governance.status === 'deleted')) {
      return { ok: true, text: 'no governance assignment for this item', assignment: a };
    }
    const key = a.governance?.key ?? a.id;
    // Only an open assignment's record follows the outcome: before its ticket there is nothing to mirror yet.
    const record = a.status === 'open';
    try {
      // The read is for mergeGovernance (a portal value where we have none) and, in 'report'
      // mode, for telling a deleted resource. When our fields cover every writable property, the
      // PUT is the same whatever the answer, and 'create' writes a missing one anyway: one
      // request fewer with the same guarantee (the API has no If-Match that would let a write
      // skip the read in the other cases).
      const current =
        opts.ifMissing === 'create' && mergeIgnoresCurrent(a, opts)
          ? undefined
          : await defender.getGovernanceAssignment(a.resourceId, a.recommendationKey, key);
      if (!current && opts.ifMissing === 'report')
        return { ok: false, text: 'not updated: the governance assignment no longer exists in Defender', assignment: a };
      await defender.putGovernanceAssignment(a.resourceId, a.recommendationKey, key, { properties: mergeGovernance(current?.properties, a, opts) });
      const next = record
        ? await session.apply(
            id,
            (x) => governanceSynced(x, key, clock.now()),
            opts.auditActor ? { actor: opts.auditActor, action: 'governance.put', details: { owner: a.owner } } : undefined,
          )
        : a;
      return {
        ok: true,
        text: a.eta && !opts.clearEta ? `remediation ETA set to ${a.eta.date}` : `remediation due date set to ${a.dueDate}`,
        assignment: next,
      };
    } catch (err) {
      const reason = reasonOf(err);
      logger.warn({ err, assignmentId: a.id }, 'governance write-back failed; the cycle retries it');
      const next = record
        ? await session.apply(
            id,
            (x) => governanceFailed(x, key, reason.slice(0, 300), clock.now()),
            opts.auditActor ? { actor: opts.auditActor, action: 'governance.put-failed', details: { error: reason } } : undefined,
          )
        : a;
      return { ok: false, text: `not updated: ${oneLine(reason)}`, assignment: next };
    }
  }

  /**
   * Deletes Defender's governance assignment of an assignment that no longer needs it (resolved,
   * removed, awaiting manual closure), inside a step holding its lock. A failure is logged and
   * recorded (the next resolution pass retries it), never thrown.
   */
  async deleteIn(session: AssignmentSession, id: string, auditActor: string): Promise<'deleted' | 'failed' | 'nothing'> {
    const a = await session.get(id);
    if (!a) return 'nothing';
    const { outcome, record } = await this.deleteRemote(a, auditActor);
    if (record) await session.apply(id, record.change, record.audit);
    return outcome;
  }

  /**
   * The DELETE of deleteIn without writing its outcome: `record` is the change and audit entry to
   * write, for a step that writes them with its own outcome in one unit (the resolution job
   * deletes while ServiceNow resolves the ticket). Never throws for Defender's failures.
   */
  async deleteRemote(a: Assignment, auditActor: string): Promise<{ outcome: 'deleted' | 'failed' | 'nothing'; record?: { change: Change; audit: AuditNote } }> {
    const { defender, logger, clock } = this.deps;
    if (!a.governance || a.governance.status === 'deleted' || !defender) return { outcome: 'nothing' };
    const key = a.governance.key;
    try {
      await defender.deleteGovernanceAssignment(a.resourceId, a.recommendationKey, key);
    } catch (err) {
      const reason = reasonOf(err);
      logger.warn({ assignmentId: a.id, err: reason }, 'could not delete the governance assignment; retrying next pass');
      return {
        outcome: 'failed',
        record: {
          change: (x) => governanceFailed(x, key, reason, clock.now()),
          audit: { actor: auditActor, action: 'governance.delete-failed', details: { error: reason } },
        },
      };
    }
    return { outcome: 'deleted', record: { change: (x) => governanceDeleted(x, clock.now()), audit: { actor: auditActor, action: 'governance.delete' } } };
  }
}

export function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
