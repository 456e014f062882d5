/**
 * The `assignments` command's query: the live assignments a user may see (their own always,
 * everyone else's with a reading role on the subscription), optionally only theirs or only the
 * overdue ones, soonest due first. The Teams adapter renders the answer.
 */
import { isOverdue } from '../../core/assignments.js';
import type { Clock } from '../../core/clock.js';
import { LIVE_ASSIGNMENT_STATUSES, type Assignment } from '../../core/model.js';
import { readableAssignments, type ReadPolicy } from '../authorization.js';
import type { Actor, Store } from '../ports.js';

export type AssignmentListMode = 'all' | 'mine' | 'overdue';

export type AssignmentList =
  | { kind: 'refused'; reason: string }
  | {
      kind: 'list';
      /** Sorted by due date, then resource name. */
      assignments: Assignment[];
      overdue: number;
      /** Set when the user may read only some of the subscriptions (the list says so). */
      partial?: { readable: number; known: number };
    };

export interface AssignmentListDeps {
  store: Store;
  readPolicy: Pick<ReadPolicy, 'subscriptions'>;
  clock: Clock;
  /** REMINDER_TIMEZONE: where due dates (and so "overdue") are judged; default UTC. */
  timeZone?: string;
}

export class AssignmentListQuery {
  constructor(private readonly deps: AssignmentListDeps) {}

  /** `me`: the user's lower-case UPN when known ('mine' needs it). */
  async list(actor: Actor, me: string | undefined, mode: AssignmentListMode): Promise<AssignmentList> {
    const now = this.deps.clock.now();
    const timeZone = this.deps.timeZone ?? 'UTC';
    const live = await this.deps.store.assignments.list({ statuses: LIVE_ASSIGNMENT_STATUSES });
    // Your own assignments are always yours to see; everyone else's need a reading role on their subscription.
    let visible = live.filter((a) => a.owner.toLowerCase() === me);
    let partial: { readable: number; known: number } | undefined;
    if (mode !== 'mine') {
      const view = await this.deps.readPolicy.subscriptions(actor);
      if (view.refusal) return { kind: 'refused', reason: view.refusal };
      visible = readableAssignments(live, view.readable, me);
      if (view.readable.size < view.known) partial = { readable: view.readable.size, known: view.known };
    }
    const assignments = visible
      .filter((a) => (mode === 'overdue' ? isOverdue(a, now, timeZone) : true))
      .sort((a, b) => a.dueDate.localeCompare(b.dueDate) || a.resourceName.localeCompare(b.resourceName));
    const overdue = assignments.filter((a) => isOverdue(a, now, timeZone)).length;
    return { kind: 'list', assignments, overdue, ...(partial ? { partial } : {}) };
  }
}
