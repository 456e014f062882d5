import {
  awaitingManualClose,
  backToOpen,
  creationFailed,
  dueDateChanged,
  ENDED_ASSIGNMENT_STATUSES,
  etaDeclined,
  etaRequested,
  governanceDeleted,
  governanceFailed,
  governanceSynced,
  healthyPassCounted,
  isLive,
  isRemindable,
  LIVE_ASSIGNMENT_STATUSES,
  ownerChanged,
  pendingAssignment,
  removed,
  reopened,
  reopenedAsNew,
  resolved,
  resolvedBeforeTicket,
  retryRequested,
  ticketCreated,
  ticketStateSeen,
  TransitionError,
  type AssignmentInit,
} from '../../core/lifecycle.js';
import { MAX_AUTOMATIC_ATTEMPTS } from '../../core/assignmentRetry.js';
import { assignmentSchema, assignmentStatusSchema, type Assignment, type AssignmentStatus } from '../../core/model.js';

const T0 = new Date('2026-11-26T09:00:00Z');
const T1 = new Date('2026-11-27T09:00:00Z');
const TICKET = { table: 'incident' as const, sysId: 'a'.repeat(32), number: 'INC0010001', link: 'https://x.service-now.com/incident.do?sys_id=a', state: '1' };

const init: AssignmentInit = {
  id: 'a-1',
  key: 'k-1',
  batchId: 'b-1',
  recommendationKey: 'rec',
  recommendationName: 'Rec',
  severity: 'High',
  assessmentId: '/subscriptions/s/providers/Microsoft.Security/assessments/rec',
  resourceId: '/subscriptions/s/resourceGroups/g/providers/X/y/vm1',
  resourceName: 'vm1',
  subscriptionId: 's',
  integrationId: 'i-1',
  ticketType: 'incident',
  owner: 'bob@contoso.com',
  caller: 'alice@contoso.com',
  dueDate: '2026-12-10',
  gracePeriod: false,
  notifyOwner: true,
  notifyManager: false,
  customFields: {},
  ticketGrouping: 'perResource',
  shortDescription: 's',
  description: 'd',
  conversationId: 'c-1',
  createdBy: { id: 'u' },
};

const pending = () => pendingAssignment(init, T0);
const open = () => ticketCreated(pending(), TICKET, T1);
const inStatus = (status: AssignmentStatus): Assignment => {
  const a = { ...open(), status };
  if (status === 'pending' || status === 'failed') delete (a as Partial<Assignment>).ticket;
  return a;
};
const refused = (fn: () => unknown, change: string) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TransitionError);
    expect((err as TransitionError).change).toBe(change);
    return;
  }
  throw new Error(`${change} was not refused`);
};

describe('assignment lifecycle (core/lifecycle.ts)', () => {
  it('the live and ended sets split the statuses; reminders are for live ones that still need the owner', () => {
    const all = assignmentStatusSchema.options;
    expect([...LIVE_ASSIGNMENT_STATUSES, ...ENDED_ASSIGNMENT_STATUSES].sort()).toEqual([...all].sort());
    expect(LIVE_ASSIGNMENT_STATUSES.filter((s) => ENDED_ASSIGNMENT_STATUSES.includes(s))).toEqual([]);
    expect(all.filter((s) => isLive({ status: s }))).toEqual(['pending', 'open', 'failed', 'awaiting-manual-close']);
    expect(all.filter((s) => isRemindable({ status: s }))).toEqual(['pending', 'open', 'failed']);
  });

  it('creation: pending with a governance key, then open with the ticket; every row is valid and new (the input is not changed)', () => {
    const p = pending();
    expect(p).toMatchObject({ status: 'pending', governance: { key: 'a-1', status: 'pending' }, attempts: 0, healthyPasses: 0, createdAt: T0.toISOString() });
    const o = ticketCreated(p, TICKET, T1);
    expect(o).toMatchObject({ status: 'open', ticket: TICKET, attempts: 0, updatedAt: T1.toISOString() });
    expect(p.status).toBe('pending');
    for (const a of [p, o]) expect(assignmentSchema.safeParse(a).success).toBe(true);
  });

  it('a resubmission replaces an unticketed live assignment of the same key (same id and governance key), never one with a ticket', () => {
    const failed = creationFailed(pending(), 'ServiceNow down', T0);
    const again = pendingAssignment({ ...init, id: 'a-2', batchId: 'b-2' }, T1, failed);
    expect(again).toMatchObject({ id: 'a-1', batchId: 'b-2', status: 'pending', governance: { key: 'a-1' }, attempts: 0, createdAt: T0.toISOString() });
    expect(again.lastError).toBeUndefined();
    refused(() => pendingAssignment({ ...init, id: 'a-2' }, T1, open()), 'resubmit');
  });

  it('failed attempts count up and set the next attempt; a ticket clears them; Retry starts the count over', () => {
    let a = pending();
    for (let i = 1; i <= MAX_AUTOMATIC_ATTEMPTS; i++) a = creationFailed(a, `down ${i}`, T0);
    expect(a).toMatchObject({ status: 'failed', lastError: `down ${MAX_AUTOMATIC_ATTEMPTS}`, attempts: MAX_AUTOMATIC_ATTEMPTS });
    expect(a.nextAttemptAt).toBeDefined();
    const retry = retryRequested(a, T1);
    expect(retry.attempts).toBe(0);
    expect('nextAttemptAt' in retry).toBe(false);
    const o = ticketCreated(a, TICKET, T1);
    expect('lastError' in o || 'nextAttemptAt' in o).toBe(false);
    refused(() => ticketCreated(o, TICKET, T1), 'ticketCreated');
    refused(() => creationFailed(o, 'x', T1), 'creationFailed');
    refused(() => retryRequested(o, T1), 'retryRequested');
  });

  it('governance: synced only while open, deleted only once the finding no longer needs it, failed from anywhere', () => {
    expect(governanceSynced(open(), 'a-1', T1).governance).toEqual({ key: 'a-1', status: 'synced' });
    for (const s of ['pending', 'failed', 'awaiting-manual-close', 'resolved', 'removed'] as const) {
      refused(() => governanceSynced(inStatus(s), 'a-1', T1), 'governanceSynced');
    }
    for (const s of ['awaiting-manual-close', 'resolved', 'removed'] as const) expect(governanceDeleted(inStatus(s), T1).governance?.status).toBe('deleted');
    refused(() => governanceDeleted(open(), T1), 'governanceDeleted');
    expect(governanceFailed(inStatus('resolved'), 'a-1', 'ARM 500', T1).governance).toEqual({ key: 'a-1', status: 'failed', lastError: 'ARM 500' });
  });

  it('resolution: debounce, resolved, needs manual closure, back to open, closed after manual closure', () => {
    const waiting = healthyPassCounted(open(), 1, T1);
    expect(waiting).toMatchObject({ status: 'open', healthyPasses: 1 });
    const done = resolved({ ...waiting, lastError: 'old' }, { closeReason: 'auto', healthyPasses: 2, ticketState: '6' }, T1);
    expect(done).toMatchObject({ status: 'resolved', resolvedAt: T1.toISOString(), closeReason: 'auto', healthyPasses: 2, ticket: { state: '6' } });
    expect('lastError' in done).toBe(false);
    const manual = awaitingManualClose(open(), { healthyPasses: 1, reason: 'needs approval', ticketState: '-5' }, T1);
    expect(manual).toMatchObject({ status: 'awaiting-manual-close', lastError: 'needs approval', ticket: { state: '-5' } });
    expect(backToOpen(manual, T1)).toMatchObject({ status: 'open', healthyPasses: 0 });
    expect(resolved(manual, { closeReason: 'closed after healthy' }, T1).status).toBe('resolved');
    refused(() => backToOpen(open(), T1), 'backToOpen');
    refused(() => resolved(pending(), { closeReason: 'x' }, T1), 'resolved');
    refused(() => resolved(done, { closeReason: 'x' }, T1), 'resolved');
    refused(() => awaitingManualClose(manual, { healthyPasses: 1, ticketState: '1' }, T1), 'awaitingManualClose');
    refused(() => healthyPassCounted(done, 1, T1), 'healthyPassCounted');
  });

  it('an unticketed assignment whose resource got healthy is resolved as is, keeping why it had no ticket', () => {
    const failed = creationFailed(pending(), 'ServiceNow down', T0);
    const done = resolvedBeforeTicket(failed, { closeReason: 'healthy before ticket', healthyPasses: 1 }, T1);
    expect(done).toMatchObject({ status: 'resolved', lastError: 'ServiceNow down', closeReason: 'healthy before ticket' });
    expect('nextAttemptAt' in done).toBe(false);
    refused(() => resolvedBeforeTicket(open(), { closeReason: 'x', healthyPasses: 1 }, T1), 'resolvedBeforeTicket');
  });

  it('removed from any live status, never twice; owner and ticket state follow ServiceNow', () => {
    for (const s of LIVE_ASSIGNMENT_STATUSES) expect(removed(inStatus(s), { closeReason: 'integration removed' }, T1).status).toBe('removed');
    const gone = removed(open(), { closeReason: 'closed in ServiceNow', ticketState: '7' }, T1);
    expect(gone.ticket?.state).toBe('7');
    refused(() => removed(gone, { closeReason: 'x' }, T1), 'removed');
    expect(ownerChanged(open(), ' Carol@Contoso.com ', T1, '2')).toMatchObject({ owner: 'carol@contoso.com', ticket: { state: '2' } });
    refused(() => ownerChanged(gone, 'carol@contoso.com', T1), 'ownerChanged');
    refused(() => ownerChanged(pending(), 'carol@contoso.com', T1), 'ownerChanged');
    expect(ticketStateSeen(gone, '3', T1).ticket?.state).toBe('3');
    refused(() => ticketStateSeen(pending(), '3', T1), 'ticketStateSeen');
  });

  it('regression: a resolved assignment reopens (same or follow-up ticket); nothing else can be reopened', () => {
    const done = resolved(open(), { closeReason: 'auto', healthyPasses: 1 }, T1);
    const again = reopened(done, T1, '2');
    expect(again).toMatchObject({ status: 'open', healthyPasses: 0, ticket: { state: '2' } });
    expect('resolvedAt' in again || 'closeReason' in again).toBe(false);
    const follow = reopenedAsNew(done, { ...TICKET, sysId: 'b'.repeat(32), number: 'INC0010002' }, T1);
    expect(follow).toMatchObject({ status: 'open', ticket: { number: 'INC0010002' }, previousTicket: { number: 'INC0010001', sysId: TICKET.sysId } });
    expect(follow.previousTicket).not.toHaveProperty('state');
    refused(() => reopened(open(), T1), 'reopened');
    refused(() => reopenedAsNew(removed(open(), { closeReason: 'x' }, T1), TICKET, T1), 'reopenedAsNew');
  });

  it('due dates and requests for more time: live only; an ETA only while the owner still has something to do', () => {
    const eta = { date: '2026-12-20', justification: 'waiting for a vendor patch', requestedBy: 'bob@contoso.com', at: T0.toISOString() };
    const asked = etaRequested(open(), eta, T1);
    expect(asked.eta).toEqual(eta);
    expect(dueDateChanged(asked, '2026-12-20', { clearEta: true }, T1)).toMatchObject({ dueDate: '2026-12-20' });
    expect('eta' in dueDateChanged(asked, '2026-12-20', { clearEta: true }, T1)).toBe(false);
    expect(dueDateChanged(asked, '2026-12-15', { clearEta: false }, T1).eta).toEqual(eta);
    expect('eta' in etaDeclined(asked, T1)).toBe(false);
    refused(() => etaDeclined(open(), T1), 'etaDeclined');
    refused(() => etaRequested(inStatus('awaiting-manual-close'), eta, T1), 'etaRequested');
    refused(() => dueDateChanged(inStatus('resolved'), '2026-12-20', { clearEta: false }, T1), 'dueDateChanged');
  });
});
