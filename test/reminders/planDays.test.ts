/**
 * The planner reads due dates digit by digit (core/reminders.ts dayNumberOf) instead of through
 * Date: the days left must be exactly what daysBetween says, across leap years, centuries and the
 * turn of the year, and owners must still group case-insensitively when one spelling only escalates.
 */
import { addDays, daysBetween } from '../../core/calendar.js';
import { materialisePlan, planReminders } from '../../core/reminders.js';
import { assignment } from './fixtures.js';

const NOW = new Date('2026-11-30T09:00:00Z');

describe('reminder planning: days left', () => {
  it('equals daysBetween for due dates from 1899 to 2401 (leap days, centuries, year ends)', () => {
    const dues: string[] = [];
    for (let d = '1899-12-25'; d < '2401-01-10'; d = addDays(d, 97)) dues.push(d);
    dues.push('1900-02-28', '1900-03-01', '2000-02-29', '2000-03-01', '2100-02-28', '2100-03-01', '2026-12-31', '2027-01-01', '2400-02-29');
    const assignments = dues.map((dueDate) => assignment({ owner: 'ada@contoso.com', dueDate }));
    const { digests } = materialisePlan(planReminders({ assignments, now: NOW, timezone: 'UTC', settings: { remindDaysBefore: 0 }, wasSent: () => false }));
    const got = new Map(digests[0]!.items.map((i) => [i.dueDate, i.daysLeft]));
    expect(got.size).toBe(dues.length);
    for (const d of dues) expect([d, got.get(d)]).toEqual([d, daysBetween('2026-11-30', d)]);
  });

  it('an owner spelled one way for escalations and another for the digest is one owner', () => {
    const assignments = [
      assignment({ owner: 'Bob@Contoso.com', dueDate: '2026-11-20', notifyOwner: false, notifyManager: true }),
      assignment({ owner: 'bob@contoso.com', dueDate: '2026-12-02' }),
      assignment({ owner: 'carol@contoso.com', dueDate: '2026-11-21', notifyOwner: false, notifyManager: true }),
    ];
    const plan = materialisePlan(planReminders({ assignments, now: NOW, timezone: 'UTC', settings: { remindDaysBefore: 3 }, wasSent: () => false }));
    expect(plan.digests.map((d) => [d.owner, d.items.length])).toEqual([['bob@contoso.com', 1]]);
    expect(plan.escalations.map((e) => [e.owner, e.items.length])).toEqual([
      ['Bob@Contoso.com', 1],
      ['carol@contoso.com', 1],
    ]);
  });
});
