/**
 * The assignment lifecycle: which statuses are live, and every change an assignment can go
 * through, as a pure function that refuses a change the lifecycle does not allow (TransitionError)
 * and returns the next row. Nothing else builds a status change: writers apply one of these through
 * app/assignmentWriter.ts, under the assignment's lock.
 *
 *   pending ──ticketCreated──▶ open ──resolved──────────────▶ resolved ──reopened / reopenedAsNew──▶ open
 *     │  ▲                      │  └─awaitingManualClose─▶ awaiting-manual-close ─resolved─▶ resolved
 *     │  └─creationFailed─ failed  (backToOpen: awaiting-manual-close → open)
 *     └─ any live status ──removed──▶ removed;  pending/failed ──resolvedBeforeTicket──▶ resolved
 *
 * Browser-safe (core/dashboard.ts, bundled into the tab, uses the live set): types and pure code only.
 */
import { failedAttempt } from './assignmentRetry.js';
import { LIVE_ASSIGNMENT_STATUSES, type Assignment, type AssignmentStatus } from './model.js';

/**
 * The live set: statuses of an assignment that still tracks its finding (at most one per key, which
 * the store enforces like a unique index). Declared beside the status enum in core/model.ts because
 * the store's constraint needs it there; every other rule about live assignments starts here.
 */
export { LIVE_ASSIGNMENT_STATUSES };
/** Statuses of an assignment that is over: its governance assignment is deleted, nothing reminds about it. */
export const ENDED_ASSIGNMENT_STATUSES: readonly AssignmentStatus[] = ['resolved', 'removed'];
/**
 * Statuses that still need the owner: a ticket is open, or it is about to be (pending) or could
 * not be created (failed). awaiting-manual-close means Defender already sees the resource
 * healthy, so there is nothing left to remind about, escalate or extend.
 */
export const REMINDABLE_STATUSES: readonly AssignmentStatus[] = ['pending', 'open', 'failed'];
/** Statuses whose ticket is still to be created (or could not be). */
export const UNTICKETED_STATUSES: readonly AssignmentStatus[] = ['pending', 'failed'];

const LIVE: ReadonlySet<AssignmentStatus> = new Set(LIVE_ASSIGNMENT_STATUSES);
const REMINDABLE: ReadonlySet<AssignmentStatus> = new Set(REMINDABLE_STATUSES);

export function isLive(a: Pick<Assignment, 'status'>): boolean {
  return LIVE.has(a.status);
}

export function isRemindable(a: Pick<Assignment, 'status'>): boolean {
  return REMINDABLE.has(a.status);
}

/** A change the lifecycle does not allow from the assignment's current state; nothing was changed. */
export class TransitionError extends Error {
  constructor(
    readonly change: string,
    readonly from: AssignmentStatus,
    why: string,
  ) {
    super(`assignment change "${change}" refused from status ${from}: ${why}`);
    this.name = 'TransitionError';
  }
}

type Ticket = NonNullable<Assignment['ticket']>;
type OptionalKey = 'ticket' | 'governance' | 'lastError' | 'eta' | 'resolvedAt' | 'closeReason' | 'previousTicket' | 'nextAttemptAt' | 'conversationId';

/** The next row: `set` over `a`, the `drop`ped optional fields removed (not left as undefined), updatedAt = now. */
function next(a: Assignment, now: Date, set: Partial<Assignment>, drop: readonly OptionalKey[] = []): Assignment {
  const out: Assignment = { ...a, ...set, updatedAt: now.toISOString() };
  for (const k of drop) delete out[k];
  for (const [k, v] of Object.entries(set)) if (v === undefined) delete out[k as keyof Assignment];
  return out;
}

function allow(a: Assignment, change: string, statuses: readonly AssignmentStatus[], extra?: { ok: boolean; why: string }): void {
  if (!statuses.includes(a.status)) throw new TransitionError(change, a.status, `allowed only from ${statuses.join(', ')}`);
  if (extra && !extra.ok) throw new TransitionError(change, a.status, extra.why);
}

const ticketState = (t: Ticket, state: string | undefined): Ticket => (state === undefined ? t : { ...t, state });

// ------------------------------------------------------------------ creation

/** What an admin's submission decides about one assignment; the lifecycle adds status, counters and dates. */
export type AssignmentInit = Omit<
  Assignment,
  | 'status'
  | 'ticket'
  | 'governance'
  | 'lastError'
  | 'createdAt'
  | 'updatedAt'
  | 'eta'
  | 'healthyPasses'
  | 'resolvedAt'
  | 'closeReason'
  | 'previousTicket'
  | 'attempts'
  | 'nextAttemptAt'
>;

/**
 * A new pending assignment (stored before its ticket is created). `replacing`: the live assignment
 * of the same key that never got a ticket (a failed or unfinished creation submitted again): its id,
 * creation date and governance key are kept, so there is still one assignment per finding.
 */
export function pendingAssignment(init: AssignmentInit, now: Date, replacing?: Assignment): Assignment {
  if (replacing) {
    allow(replacing, 'resubmit', UNTICKETED_STATUSES, { ok: !replacing.ticket && replacing.key === init.key, why: 'it already has a ticket' });
  }
  const id = replacing?.id ?? init.id;
  const stamp = now.toISOString();
  return {
    ...init,
    id,
    status: 'pending',
    governance: { key: replacing?.governance?.key || id, status: 'pending' },
    createdAt: replacing?.createdAt ?? stamp,
    updatedAt: stamp,
    healthyPasses: 0,
    attempts: 0,
  };
}

/** The ticket exists: the assignment is open, and the automatic retries start over. */
export function ticketCreated(a: Assignment, ticket: Ticket, now: Date): Assignment {
  allow(a, 'ticketCreated', UNTICKETED_STATUSES, { ok: !a.ticket, why: 'it already has a ticket' });
  return next(a, now, { status: 'open', ticket: { ...ticket }, attempts: 0 }, ['lastError', 'nextAttemptAt']);
}

/** Creating the ticket failed: one more attempt counted, and when the next automatic one may run. */
export function creationFailed(a: Assignment, reason: string, now: Date): Assignment {
  allow(a, 'creationFailed', UNTICKETED_STATUSES, { ok: !a.ticket, why: 'it already has a ticket' });
  return next(a, now, { status: 'failed', lastError: reason, ...failedAttempt(a, now) });
}

/** A person pressed Retry: the automatic attempts start over. */
export function retryRequested(a: Assignment, now: Date): Assignment {
  allow(a, 'retryRequested', ['failed']);
  return next(a, now, { attempts: 0 }, ['nextAttemptAt']);
}

// ------------------------------------------------------------------ governance (Defender's copy)

/** Defender's governance assignment shows what the bot stores. */
export function governanceSynced(a: Assignment, key: string, now: Date): Assignment {
  allow(a, 'governanceSynced', ['open']);
  return next(a, now, { governance: { key, status: 'synced' } });
}

/** Writing or deleting Defender's governance assignment failed; the cycle tries again. */
export function governanceFailed(a: Assignment, key: string, error: string, now: Date): Assignment {
  return next(a, now, { governance: { key, status: 'failed', lastError: error } });
}

/** Defender's governance assignment is gone: the finding is healthy or no longer tracked. */
export function governanceDeleted(a: Assignment, now: Date): Assignment {
  allow(a, 'governanceDeleted', ['awaiting-manual-close', ...ENDED_ASSIGNMENT_STATUSES], { ok: !!a.governance, why: 'it has no governance assignment' });
  return next(a, now, { governance: { key: a.governance!.key, status: 'deleted' } });
}

// ------------------------------------------------------------------ resolution

/** One more (or no) consecutive healthy pass (the debounce before resolving). */
export function healthyPassCounted(a: Assignment, healthyPasses: number, now: Date): Assignment {
  allow(a, 'healthyPassCounted', REMINDABLE_STATUSES);
  return next(a, now, { healthyPasses });
}

/** The ticket is closed because the resource is healthy (automatically, or in ServiceNow after it was). */
export function resolved(a: Assignment, change: { closeReason: string; healthyPasses?: number; ticketState?: string }, now: Date): Assignment {
  allow(a, 'resolved', ['open', 'awaiting-manual-close'], { ok: !!a.ticket, why: 'it has no ticket' });
  return next(
    a,
    now,
    {
      status: 'resolved',
      resolvedAt: now.toISOString(),
      closeReason: change.closeReason,
      ticket: ticketState(a.ticket!, change.ticketState),
      ...(change.healthyPasses === undefined ? {} : { healthyPasses: change.healthyPasses }),
    },
    ['lastError'],
  );
}

/** The resource got healthy before its ticket existed: nothing needs a ticket any more. The last error stays as history. */
export function resolvedBeforeTicket(a: Assignment, change: { closeReason: string; healthyPasses: number }, now: Date): Assignment {
  allow(a, 'resolvedBeforeTicket', UNTICKETED_STATUSES, { ok: !a.ticket, why: 'it has a ticket' });
  return next(a, now, { status: 'resolved', resolvedAt: now.toISOString(), closeReason: change.closeReason, healthyPasses: change.healthyPasses }, [
    'nextAttemptAt',
  ]);
}

/** The resource is healthy but ServiceNow would not close the ticket (it needs a person). */
export function awaitingManualClose(a: Assignment, change: { healthyPasses: number; reason?: string; ticketState: string }, now: Date): Assignment {
  allow(a, 'awaitingManualClose', ['open'], { ok: !!a.ticket, why: 'it has no ticket' });
  return next(a, now, {
    status: 'awaiting-manual-close',
    healthyPasses: change.healthyPasses,
    lastError: change.reason,
    ticket: ticketState(a.ticket!, change.ticketState),
  });
}

/** Unhealthy again before anyone closed the ticket. */
export function backToOpen(a: Assignment, now: Date): Assignment {
  allow(a, 'backToOpen', ['awaiting-manual-close']);
  return next(a, now, { status: 'open', healthyPasses: 0 }, ['lastError']);
}

/** No longer tracked: closed in ServiceNow while still unhealthy, or its integration was removed. */
export function removed(a: Assignment, change: { closeReason: string; ticketState?: string }, now: Date): Assignment {
  allow(a, 'removed', LIVE_ASSIGNMENT_STATUSES);
  return next(a, now, { status: 'removed', closeReason: change.closeReason, ...(a.ticket ? { ticket: ticketState(a.ticket, change.ticketState) } : {}) });
}

/** Reassigned in ServiceNow: the owner follows the ticket. */
export function ownerChanged(a: Assignment, owner: string, now: Date, seenTicketState?: string): Assignment {
  allow(a, 'ownerChanged', LIVE_ASSIGNMENT_STATUSES, { ok: !!a.ticket && owner.trim() !== '', why: 'it needs a ticket and an owner' });
  return next(a, now, { owner: owner.trim().toLowerCase(), ticket: ticketState(a.ticket!, seenTicketState) });
}

/** What ServiceNow says the ticket's state is now. */
export function ticketStateSeen(a: Assignment, state: string, now: Date): Assignment {
  if (!a.ticket) throw new TransitionError('ticketStateSeen', a.status, 'it has no ticket');
  return next(a, now, { ticket: ticketState(a.ticket, state) });
}

/** The resource regressed inside the reopen window and its ticket was reopened. */
export function reopened(a: Assignment, now: Date, seenTicketState?: string): Assignment {
  allow(a, 'reopened', ['resolved'], { ok: !!a.ticket, why: 'it has no ticket' });
  return next(a, now, { status: 'open', healthyPasses: 0, ticket: ticketState(a.ticket!, seenTicketState) }, ['resolvedAt', 'closeReason', 'lastError']);
}

/** The resource regressed but its ticket could not be reopened: a follow-up ticket references the old one. */
export function reopenedAsNew(a: Assignment, ticket: Ticket, now: Date): Assignment {
  allow(a, 'reopenedAsNew', ['resolved'], { ok: !!a.ticket, why: 'it has no ticket' });
  const old = a.ticket!;
  return next(
    a,
    now,
    {
      status: 'open',
      healthyPasses: 0,
      ticket: { ...ticket },
      previousTicket: { table: old.table, sysId: old.sysId, number: old.number, link: old.link },
    },
    ['resolvedAt', 'closeReason', 'lastError'],
  );
}

// ------------------------------------------------------------------ due dates

/** A security admin set the due date; `clearEta`: the change answers the owner's request for more time. */
export function dueDateChanged(a: Assignment, dueDate: string, change: { clearEta: boolean }, now: Date): Assignment {
  allow(a, 'dueDateChanged', LIVE_ASSIGNMENT_STATUSES);
  return next(a, now, { dueDate }, change.clearEta ? ['eta'] : []);
}

/** The owner asks for more time: a proposed date (ETA) with a reason; the due date itself stays. */
export function etaRequested(a: Assignment, eta: NonNullable<Assignment['eta']>, now: Date): Assignment {
  allow(a, 'etaRequested', REMINDABLE_STATUSES);
  return next(a, now, { eta: { ...eta } });
}

/** A security admin declined the request for more time. */
export function etaDeclined(a: Assignment, now: Date): Assignment {
  allow(a, 'etaDeclined', LIVE_ASSIGNMENT_STATUSES, { ok: !!a.eta, why: 'there is no request for more time' });
  return next(a, now, {}, ['eta']);
}
