/** The `digest` command's query: one owner's open assignments, planned as the owner digest (overdue, this week, later). */
import type { Clock } from '../../core/clock.js';
import { ownerDigest, type OwnerDigestPlan } from '../../core/reminders.js';
import type { Store } from '../ports.js';

export interface OwnerDigestDeps {
  store: Store;
  clock: Clock;
  /** REMINDER_TIMEZONE: the days of the plan. */
  timezone: string;
}

export class OwnerDigestQuery {
  constructor(private readonly deps: OwnerDigestDeps) {}

  async of(upn: string): Promise<OwnerDigestPlan> {
    return ownerDigest(await this.deps.store.assignments.list({ owner: upn }), upn, this.deps.clock.now(), this.deps.timezone);
  }
}
