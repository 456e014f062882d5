/**
 * Every write of an assignment goes through here. A change takes the assignment's lock (Locks
 * port, key = the assignment id), re-reads the row, applies a lifecycle transition
 * (core/lifecycle.ts) and writes the row and its audit entry in one store transaction. A workflow
 * that must call out between reading and writing (a due-date change telling Defender, the
 * resolution job closing a ticket) holds the lock for the whole step, so no other writer of the
 * same assignment interleaves with it.
 */
import type { Clock } from '../core/clock.js';
import type { Assignment, AuditEntry } from '../core/model.js';
import type { Locks, Store, StoreTx, WorkRequest } from './ports.js';

/** What a change leaves in the audit log (target: the assignment, unless said otherwise). */
export interface AuditNote {
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

/** One audit entry, or several for a unit that records several things at once (in that order). */
export type Audits = AuditNote | readonly AuditNote[];

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
  /**
   * Applies a change to the current row and writes it (with the audit entry) in one transaction.
   * `work`, given the changed row, names work items enqueued in that same transaction (what must
   * follow the change even after a crash, such as its announcement).
   */
  apply(id: string, change: Change, audit?: Audits, work?: (next: Assignment) => readonly WorkRequest[]): Promise<Assignment>;
  /** Writes rows computed from current ones (several at once: one transaction, its audit entries, the work items enqueued). */
  write(rows: readonly Assignment[], audit?: Audits, work?: readonly WorkRequest[]): Promise<void>;
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
  withLock<T>(id: string, fn: (session: AssignmentSession) => Promise<T>, group?: CommitGroup): Promise<T> {
    return this.withLocks([id], fn, group);
  }

  /** A group whose steps' writes are committed together (see CommitGroup); `slots` steps run at once. */
  commitGroup(slots: number): CommitGroup {
    return new CommitGroup(this.deps.store, this.deps.clock, slots);
  }

  /**
   * Holds the locks of several assignments (a batch sharing one ticket, a new batch). They are
   * taken in id order, so two steps over overlapping sets never wait for each other.
   */
  withLocks<T>(ids: readonly string[], fn: (session: AssignmentSession) => Promise<T>, group?: CommitGroup): Promise<T> {
    const held = [...new Set(ids)].sort();
    const session = this.session(new Set(held), group);
    const { locks } = this.deps;
    // The locks first, then the group's slot: a step waiting for a lock (held by a step of the same
    // group that waits for the group's commit, or for a free connection of PostgreSQL's lock pool,
    // all held by such steps) must not hold a slot, or the group never reaches "no step running"
    // and never commits.
    const inner = (): Promise<T> => (group ? group.run(() => fn(session)) : fn(session));
    if (locks.withLocks && held.length > 1) return locks.withLocks(held, inner);
    const nest = (i: number): Promise<T> => (i === held.length ? inner() : locks.withLock(held[i]!, () => nest(i + 1)));
    return nest(0);
  }

  private session(held: ReadonlySet<string>, group: CommitGroup | undefined): AssignmentSession {
    const { store, clock } = this.deps;
    const write = async (rows: readonly Assignment[], audit?: Audits, work?: readonly WorkRequest[]) => {
      for (const r of rows) if (!held.has(r.id)) throw new Error(`assignment ${r.id} is written without its lock`);
      const audits = audit === undefined ? [] : isAuditList(audit) ? audit : [audit];
      if (rows.length === 0 && audits.length === 0 && !work?.length) return;
      const entry = { rows, ...(audits.length ? { audits: audits.map((n) => auditEntry(n, rows, clock)) } : {}), ...(work?.length ? { work } : {}) };
      if (group) return group.commit(entry);
      await store.transaction((tx) => writeEntries(tx, [entry]));
    };
    return {
      get: (id) => store.assignments.get(id),
      write,
      apply: async (id, change, audit, work) => {
        const current = await store.assignments.get(id);
        if (!current) throw new AssignmentGoneError(id);
        const next = change(current);
        if (next.id !== id) throw new Error(`a change of assignment ${id} returned assignment ${next.id}`);
        await write([next], audit, work?.(next));
        return next;
      },
    };
  }
}

interface CommitEntry {
  rows: readonly Assignment[];
  audits?: readonly AuditEntry[];
  work?: readonly WorkRequest[];
}

function isAuditList(audit: Audits): audit is readonly AuditNote[] {
  return Array.isArray(audit);
}

function auditEntry(audit: AuditNote, rows: readonly Assignment[], clock: Clock): AuditEntry {
  const target = audit.target ?? rows[0]?.id;
  return {
    at: clock.now().toISOString(),
    actor: audit.actor,
    action: audit.action,
    ...(target !== undefined ? { target } : {}),
    details: stripUndefined(audit.details ?? {}),
  };
}

async function writeEntries(tx: StoreTx, entries: readonly CommitEntry[]): Promise<void> {
  // One row per id (upsertMany refuses an id twice): the later write of an id wins, as it would one by one.
  const rows = new Map<string, Assignment>();
  for (const e of entries) for (const r of e.rows) rows.set(r.id, r);
  if (rows.size) await tx.assignments.upsertMany([...rows.values()]);
  for (const e of entries) for (const audit of e.audits ?? []) await tx.audit.append(audit);
  // One request per (kind, key), as the queue keeps one item per pair: the first one wins, as it would one by one.
  const work = new Map<string, WorkRequest>();
  for (const e of entries) for (const w of e.work ?? []) if (!work.has(`${w.kind}\u0000${w.key}`)) work.set(`${w.kind}\u0000${w.key}`, w);
  if (work.size) await tx.work.enqueue([...work.values()]);
}

/**
 * Many steps (each under its own locks) whose writes share one store transaction. With lowdb each
 * write rewrites the whole file, so a pass stepping a hundred assignments one write each costs a
 * hundred rewrites of a file that grows with the open assignments; grouped, it costs one per
 * round of the steps, however many there are.
 *
 * At most `slots` steps run at once (their slow calls overlap, bounded). A step's write still
 * resolves only once it is durable, so a step persists before it calls out exactly as alone: while
 * it waits, it gives its slot to another step; when no step is running any more (each has written
 * or finished), the waiting writes are committed in one transaction and the steps go on. A
 * transaction that fails is retried entry by entry, so one refused row fails only its own step.
 */
export class CommitGroup {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private pending: Array<{ entry: CommitEntry; done: (err?: unknown) => void }> = [];
  private scheduled = false;
  /** Transactions committed so far (for tests and reports). */
  commits = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly slots: number,
  ) {}

  /** Runs `fn` in a slot (waiting for one when all are taken). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Called by a session of the group inside run(): durable when it resolves. */
  async commit(entry: CommitEntry): Promise<void> {
    const durable = new Promise<void>((resolve, reject) => this.pending.push({ entry, done: (err) => (err === undefined ? resolve() : reject(err)) }));
    this.release();
    try {
      await durable;
    } finally {
      await this.acquire();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < Math.max(1, this.slots)) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) return next(); // the slot passes on: running stays the same
    this.running--;
    if (this.running === 0 && this.pending.length > 0 && !this.scheduled) {
      this.scheduled = true;
      // After what this turn of the event loop starts (the next step of a lane takes a slot at once).
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  private async flush(): Promise<void> {
    if (this.running > 0 || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.commits++;
    try {
      await this.store.transaction((tx) =>
        writeEntries(
          tx,
          batch.map((p) => p.entry),
        ),
      );
      for (const p of batch) p.done();
      return;
    } catch (err) {
      if (batch.length === 1) return batch[0]!.done(err ?? new Error('commit failed'));
    }
    for (const p of batch) {
      try {
        await this.store.transaction((tx) => writeEntries(tx, [p.entry]));
        p.done();
      } catch (err) {
        p.done(err ?? new Error('commit failed'));
      }
    }
  }
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
