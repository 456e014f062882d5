import { materialisePlan, plannedKeys, planReminders } from '../../core/reminders.js';
import type { AssignmentStatus } from '../../core/model.js';
import { assignment } from './fixtures.js';

// Monday 30 November 2026, 09:00 UTC (ISO week 2026-W49).
const NOW = new Date('2026-11-30T09:00:00Z');
const STATUSES: AssignmentStatus[] = ['pending', 'open', 'failed', 'awaiting-manual-close', 'resolved', 'removed'];
const DUE = ['2026-11-20', '2026-11-29', '2026-11-30', '2026-12-01', '2026-12-03', '2026-12-20'];

/** Every combination of the fields the planner branches on. */
function mix() {
  const out = [];
  let i = 0;
  for (const status of STATUSES)
    for (const dueDate of DUE)
      for (const notifyOwner of [true, false])
        for (const gracePeriod of [true, false])
          out.push(
            assignment({
              owner: `owner${i++ % 3}@contoso.com`,
              dueDate,
              status,
              notifyOwner,
              gracePeriod,
              notifyManager: i % 2 === 0,
              conversationId: i % 4 === 0 ? undefined : '19:channel-1@thread.tacv2',
            }),
          );
  return out;
}

describe('plannedKeys', () => {
  it('names every key the planner and building its messages ask about, so the job can read them from the store in one go', () => {
    const assignments = mix();
    const planned = new Set(plannedKeys(assignments, NOW, 'Pacific/Auckland'));
    for (const sent of [() => false, () => true, (k: string) => k.length % 2 === 0]) {
      const asked: string[] = [];
      materialisePlan(
        planReminders({
          assignments,
          now: NOW,
          timezone: 'Pacific/Auckland',
          settings: { remindDaysBefore: 5 },
          wasSent: (k) => {
            asked.push(k);
            return sent(k);
          },
        }),
      );
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.filter((k) => !planned.has(k))).toEqual([]);
    }
  });
});
