/**
 * Issue #16 figure 4 rewrote the planner for speed (counts kept while bucketing, one ordering of
 * owners, nudges looked for only where some are due), then made the plan lazy (messages hold their
 * rows; digestOf and the others build the items when a message is sent): materialised, it must
 * plan exactly what the previous one did. The data set mixes what changes a plan: owner spellings, statuses, flags, unreadable and
 * far-off due dates, ties, conversations the bot cannot post to, keys already sent.
 */
import { addDays } from '../../core/calendar.js';
import { assignmentSchema, type Assignment, type AssignmentStatus, type Severity } from '../../core/model.js';
import { materialisePlan, planReminders, type PlanInput } from '../../core/reminders.js';
import { generateAssignments } from '../../bench/reminders.js';
import { previousPlanReminders } from './previousPlan.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STATUSES: AssignmentStatus[] = ['open', 'open', 'open', 'awaiting-manual-close', 'pending', 'resolved', 'failed'];
const SEVERITIES: Severity[] = ['High', 'Medium', 'Low'];

function generated(count: number, seed: number): Assignment[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const base = generateAssignments(1, 1)[0]!;
  return Array.from({ length: count }, (_, i) => {
    const o = Math.floor(rand() * 40);
    // Several spellings of one owner, some of which only escalate.
    const owner = pick([`owner${o}@contoso.com`, `Owner${o}@Contoso.com`, `OWNER${o}@CONTOSO.COM`]);
    const r = rand();
    const dueDate = r < 0.02 ? '0099-01-01' : r < 0.04 ? '2026-13-45' : addDays('2026-11-30', Math.floor(rand() * 40) - 20);
    return assignmentSchema.parse({
      ...base,
      id: `asg-${i}`,
      key: `k-${i}`,
      owner,
      status: pick(STATUSES),
      severity: pick(SEVERITIES),
      // Few names and resources: many items tie on due date and severity.
      recommendationKey: `rec-${i % 5}`,
      recommendationName: `Recommendation ${Math.floor(rand() * 4)}`,
      resourceName: `vm-${Math.floor(rand() * 3)}`,
      dueDate,
      notifyOwner: rand() < 0.7,
      notifyManager: rand() < 0.4,
      gracePeriod: rand() < 0.5,
      conversationId: rand() < 0.1 ? undefined : `19:channel-${i % 6}@thread.tacv2`,
      ticket: rand() < 0.2 ? undefined : base.ticket,
      eta: rand() < 0.1 ? { date: addDays('2026-11-30', 10), justification: 'later', requestedBy: owner, at: '2026-11-29T09:00:00.000Z' } : undefined,
    });
  });
}

describe('reminder planning: the faster planner plans what the previous one did', () => {
  const assignments = generated(4000, 7);
  const sentRand = rng(11);
  // About a third of every kind of key was sent by earlier passes.
  const sent = new Set<string>();
  const wasSent = (k: string) => {
    if (!sent.has(`asked:${k}`)) {
      sent.add(`asked:${k}`);
      if (sentRand() < 0.33) sent.add(k);
    }
    return sent.has(k);
  };
  const cases: Array<[string, Omit<PlanInput, 'assignments'>]> = [
    [
      'a Monday morning, some keys sent',
      {
        now: new Date('2026-11-30T09:00:00Z'),
        timezone: 'Europe/Dublin',
        settings: { remindDaysBefore: 3 },
        wasSent,
        conversations: new Set(['19:channel-1@thread.tacv2', '19:channel-2@thread.tacv2', '19:channel-3@thread.tacv2']),
      },
    ],
    [
      'nothing sent, no conversation list, a 10-day window',
      { now: new Date('2026-12-02T23:30:00Z'), timezone: 'Australia/Sydney', settings: { remindDaysBefore: 10 }, wasSent: () => false },
    ],
    [
      'some digests sent, nudges off',
      { now: new Date('2026-11-30T09:00:00Z'), timezone: 'UTC', settings: { remindDaysBefore: 0 }, wasSent: (k) => k.startsWith('digest:owner1') },
    ],
    [
      'every digest sent, a 5-day window',
      { now: new Date('2026-11-30T09:00:00Z'), timezone: 'UTC', settings: { remindDaysBefore: 5 }, wasSent: (k) => k.startsWith('digest:') || k.endsWith('3') },
    ],
  ];

  it.each(cases)('%s', (_, input) => {
    const before = previousPlanReminders({ ...input, assignments });
    const after = materialisePlan(planReminders({ ...input, assignments }));
    // The data set reaches every part of a plan, so equality is not two empty plans.
    expect(before.digests.length + before.nudges.length).toBeGreaterThan(10);
    expect(before.escalations.length).toBeGreaterThan(10);
    expect(before.graceEnded.length).toBeGreaterThan(0);
    expect(after).toStrictEqual(before);
  });

  it('the bench data set plans the same', () => {
    const bench = generateAssignments(20_000, 1_000);
    const input = {
      now: new Date('2026-11-30T09:00:00Z'),
      timezone: 'Europe/Dublin',
      settings: { remindDaysBefore: 3 },
      wasSent: (k: string) => k.endsWith('7'),
    };
    const before = previousPlanReminders({ ...input, assignments: bench });
    expect(before.digests.length).toBeGreaterThan(500);
    expect(materialisePlan(planReminders({ ...input, assignments: bench }))).toStrictEqual(before);
  });
});
