/**
 * Every write of an assignment goes through here. A change takes the assignment's lock (Locks
 * port, key = the assignment id), re-reads the row, applies a lifecycle transition
 * (core/lifecycle.ts) and writes the row and its audit entry in one store transaction. A workflow
 * that must call out between reading and writing (a due-date change telling Defender, the
 * resolution job closing a ticket) holds the lock for the whole step, so no other writer of the
 * same assignment interleaves with it.
 */
import type { Clock } from '../core/clock.js';
import type { Assignment } from '../core/model.js';
import type { Locks, Store } from './ports.js';

/** What a change leaves in the audit log (target: the assignment, unless said otherwise). */
export interface AuditNote {
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

/** A lifecycle transition applied to the current row. */
export type Change = (current: Assignment) => Assignment;

/** The assignment named does not exist (any more). */
export class AssignmentGoneError extends Error {
  constructor(readonly id: string) {
    super(`assignment ${id} does not exist`);
    this.name = 'AssignmentGoneError';
  }
}

/**
 * Inside the locks of some assignments: read them and change them without taking a lock again.
 * Only the assignments whose locks are held can be written.
 */
export interface AssignmentSession {
  /** The stored row now (undefined when it is gone). */
  get(id: string): Promise<Assignment | undefined>;
  /** Applies a change to the current row and writes it (with the audit entry) in one transaction. */
  apply(id: string, change: Change, audit?: AuditNote): Promise<Assignment>;
  /** Writes rows computed from current ones (several at once: one transaction, one audit entry). */
  write(rows: readonly Assignment[], audit?: AuditNote): Promise<void>;
}

export interface AssignmentWriterDeps {
  store: Store;
  locks: Locks;
  clock: Clock;
}

export class AssignmentWriter {
  constructor(private readonly deps: AssignmentWriterDeps) {}

  /** Lock, re-read, transition, write (row + audit entry, one transaction). undefined when the assignment is gone. */
  update(id: string, change: Change, audit?: AuditNote): Promise<Assignment | undefined> {
    return this.withLock(id, async (s) => ((await s.get(id)) ? s.apply(id, change, audit) : undefined));
  }

  /** Holds one assignment's lock for a whole step (check, write, call out). */
  withLock<T>(id: string, fn: (session: AssignmentSession) => Promise<T>): Promise<T> {
    return this.withLocks([id], fn);
  }

  /**
   * Holds the locks of several assignments (a batch sharing one ticket, a new batch). They are
   * taken in id order, so two steps over overlapping sets never wait for each other.
   */
  withLocks<T>(ids: readonly string[], fn: (session: AssignmentSession) => Promise<T>): Promise<T> {
    const held = [...new Set(ids)].sort();
    const session = this.session(new Set(held));
    const { locks } = this.deps;
    if (locks.withLocks && held.length > 1) return locks.withLocks(held, () => fn(session));
    const nest = (i: number): Promise<T> => (i === held.length ? fn(session) : locks.withLock(held[i]!, () => nest(i + 1)));
    return nest(0);
  }

  private session(held: ReadonlySet<string>): AssignmentSession {
    const { store, clock } = this.deps;
    const write = async (rows: readonly Assignment[], audit?: AuditNote) => {
      for (const r of rows) if (!held.has(r.id)) throw new Error(`assignment ${r.id} is written without its lock`);
      if (rows.length === 0 && !audit) return;
      await store.transaction(async (tx) => {
        if (rows.length) await tx.assignments.upsertMany(rows);
        if (audit) {
          await tx.audit.append({
            at: clock.now().toISOString(),
            actor: audit.actor,
            action: audit.action,
            target: audit.target ?? rows[0]?.id,
            details: stripUndefined(audit.details ?? {}),
          });
        }
      });
    };
    return {
      get: (id) => store.assignments.get(id),
      write,
      apply: async (id, change, audit) => {
        const current = await store.assignments.get(id);
        if (!current) throw new AssignmentGoneError(id);
        const next = change(current);
        if (next.id !== id) throw new Error(`a change of assignment ${id} returned assignment ${next.id}`);
        await write([next], audit);
        return next;
      },
    };
  }
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
