import { assignmentFormSchema, daysUntil, defaultDueDate, dueStateText, formErrors, isOverdue } from '../../core/assignments.js';
import { localDay } from '../../core/calendar.js';
import { DEFAULT_REMINDER_SETTINGS, materialisePlan, planReminders } from '../../core/reminders.js';
import { assignment } from '../dashboard/fixtures.js';

const SYDNEY = 'Australia/Sydney';
/** Sunday 23:00 UTC is already Monday 10:00 in Sydney (AEDT, UTC+11). */
const SUNDAY_NIGHT_UTC = new Date('2026-11-29T23:00:00Z');
const MONDAY = '2026-11-30';
const TUESDAY = '2026-12-01';

const form = {
  recommendationKey: 'k',
  resourceIds: '/a',
  integrationId: 'i',
  ticketType: 'incident',
  assignedTo: 'o@x.com',
  caller: 'c@x.com',
  shortDescription: 's',
  description: 'd',
};

describe('due dates are calendar days in REMINDER_TIMEZONE', () => {
  it('localDay gives the date in the zone, not the UTC one', () => {
    expect(localDay(SUNDAY_NIGHT_UTC, SYDNEY)).toBe(MONDAY);
    expect(localDay(SUNDAY_NIGHT_UTC, 'UTC')).toBe('2026-11-29');
    expect(localDay(new Date('2026-11-30T04:59:00Z'), 'America/New_York')).toBe('2026-11-29');
  });

  it('the form accepts Tuesday but not Monday when it is already Monday in Sydney', () => {
    const schema = assignmentFormSchema(SUNDAY_NIGHT_UTC, SYDNEY);
    expect(schema.safeParse({ ...form, dueDate: TUESDAY }).success).toBe(true);
    const monday = schema.safeParse({ ...form, dueDate: MONDAY });
    expect(monday.success).toBe(false);
    if (!monday.success) expect(formErrors(monday.error).dueDate).toBe('must be after today');
    // A year is counted from the Sydney day too.
    expect(schema.safeParse({ ...form, dueDate: '2027-12-01' }).success).toBe(true);
    expect(schema.safeParse({ ...form, dueDate: '2027-12-02' }).success).toBe(false);
  });

  it('the default due date counts from the Sydney day', () => {
    expect(defaultDueDate('High', SUNDAY_NIGHT_UTC, SYDNEY)).toBe('2026-12-07');
    expect(defaultDueDate('High', SUNDAY_NIGHT_UTC, 'UTC')).toBe('2026-12-06');
  });

  it('daysUntil, dueStateText and isOverdue agree with the reminder planner for the same instant', () => {
    const dues = ['2026-11-28', '2026-11-29', MONDAY, TUESDAY, '2026-12-07'];
    const assignments = dues.map((dueDate, i) => assignment({ id: `a${i}`, dueDate, status: 'open' }));
    const plan = materialisePlan(
      planReminders({ assignments, now: SUNDAY_NIGHT_UTC, timezone: SYDNEY, settings: DEFAULT_REMINDER_SETTINGS, wasSent: () => false }),
    );
    const planned = new Map(plan.digests.flatMap((d) => d.items).map((i) => [i.dueDate, i]));
    expect(planned.size).toBe(dues.length);
    for (const a of assignments) {
      const item = planned.get(a.dueDate)!;
      expect(daysUntil(a.dueDate, SUNDAY_NIGHT_UTC, SYDNEY)).toBe(item.daysLeft);
      expect(isOverdue(a, SUNDAY_NIGHT_UTC, SYDNEY)).toBe(item.group === 'overdue');
    }
    // Monday: the digest says "due today", so the card must not call it overdue or a day away.
    expect(planned.get(MONDAY)!.daysLeft).toBe(0);
    expect(daysUntil(MONDAY, SUNDAY_NIGHT_UTC, SYDNEY)).toBe(0);
    // Sunday is yesterday in Sydney: overdue by one day on cards and in the digest alike.
    expect(planned.get('2026-11-29')!.daysLeft).toBe(-1);
    expect(dueStateText({ dueDate: '2026-11-29', gracePeriod: true }, SUNDAY_NIGHT_UTC, SYDNEY)).toBe(
      ' · 1 day(s) overdue, grace period ended (affects secure score)',
    );
    expect(dueStateText({ dueDate: MONDAY, gracePeriod: true }, SUNDAY_NIGHT_UTC, SYDNEY)).toBe(' · in grace period (not affecting secure score)');
  });
});
