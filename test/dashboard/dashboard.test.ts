import { buildDashboard, dashboardDataSchema } from '../../core/dashboard.js';
import { assignment, recommendation, seededAssignments, SUBS } from './fixtures.js';

const NOW = new Date('2026-11-26T15:00:00Z');

describe('buildDashboard', () => {
  it('counts open, overdue, in-grace and resolved by the definitions', () => {
    const data = buildDashboard(
      [
        assignment({ id: 'overdue-open', dueDate: '2026-11-25', status: 'open' }),
        assignment({ id: 'overdue-failed', dueDate: '2026-11-01', status: 'failed' }),
        assignment({ id: 'overdue-grace', dueDate: '2026-11-01', status: 'awaiting-manual-close', gracePeriod: true }),
        assignment({ id: 'due-today', dueDate: '2026-11-26', status: 'pending', gracePeriod: true }),
        assignment({ id: 'future-grace', dueDate: '2026-12-20', status: 'open', gracePeriod: true }),
        assignment({ id: 'resolved-late', dueDate: '2026-11-01', status: 'resolved', gracePeriod: true }),
        assignment({ id: 'removed', dueDate: '2026-11-01', status: 'removed' }),
      ],
      [],
      NOW,
      'UTC',
    );
    expect(data.today).toBe('2026-11-26');
    expect(data.counts).toEqual({ total: 7, open: 5, overdue: 3, inGrace: 2, resolved: 1 });
    const byId = Object.fromEntries(data.rows.map((r) => [r.id, r]));
    expect(byId['due-today']).toMatchObject({ overdue: false, inGrace: true });
    expect(byId['overdue-grace']).toMatchObject({ overdue: true, inGrace: false });
    expect(byId['resolved-late']).toMatchObject({ overdue: false, inGrace: false });
    expect(data.rows.slice(0, 3).map((r) => r.id)).toEqual(['overdue-failed', 'overdue-grace', 'overdue-open']);
  });

  it('breaks assignments down by severity and status', () => {
    const data = buildDashboard(
      [
        assignment({ id: '1', severity: 'High', status: 'open' }),
        assignment({ id: '2', severity: 'High', status: 'open' }),
        assignment({ id: '3', severity: 'Low', status: 'resolved' }),
        assignment({ id: '4', severity: 'Medium', status: 'failed' }),
      ],
      [],
      NOW,
      'UTC',
    );
    expect(data.bySeverityStatus.map((s) => s.severity)).toEqual(['High', 'Medium', 'Low']);
    expect(data.bySeverityStatus[0]!.counts).toMatchObject({ open: 2, resolved: 0, failed: 0 });
    expect(data.bySeverityStatus[1]!.counts.failed).toBe(1);
    expect(data.bySeverityStatus[2]!.counts.resolved).toBe(1);
  });

  it('puts live, not overdue assignments into the week they come due, four weeks from today', () => {
    const data = buildDashboard(
      [
        assignment({ id: 'today', dueDate: '2026-11-26' }),
        assignment({ id: 'end-w1', dueDate: '2026-12-02', severity: 'Low' }),
        assignment({ id: 'start-w2', dueDate: '2026-12-03' }),
        assignment({ id: 'w4', dueDate: '2026-12-23', severity: 'Medium' }),
        assignment({ id: 'beyond', dueDate: '2026-12-24' }),
        assignment({ id: 'overdue', dueDate: '2026-11-20' }),
        assignment({ id: 'resolved', dueDate: '2026-11-27', status: 'resolved' }),
      ],
      [],
      NOW,
      'UTC',
    );
    expect(data.timeline.map((w) => [w.start, w.end, w.total])).toEqual([
      ['2026-11-26', '2026-12-02', 2],
      ['2026-12-03', '2026-12-09', 1],
      ['2026-12-10', '2026-12-16', 0],
      ['2026-12-17', '2026-12-23', 1],
    ]);
    expect(data.timeline[0]!.bySeverity).toEqual({ High: 1, Medium: 0, Low: 1 });
    expect(data.timeline[3]!.bySeverity.Medium).toBe(1);
  });

  it('ranks owners by overdue items, merging e-mail casing, top five only', () => {
    const overdue = (id: string, owner: string, dueDate = '2026-11-01') => assignment({ id, owner, dueDate });
    const data = buildDashboard(
      [
        overdue('1', 'bea@contoso.com'),
        overdue('2', 'Bea@Contoso.com', '2026-10-01'),
        overdue('3', 'alex@contoso.com'),
        overdue('4', 'chen@contoso.com', '2026-09-01'),
        overdue('5', 'dana@contoso.com'),
        overdue('6', 'eve@contoso.com'),
        overdue('7', 'finn@contoso.com'),
        assignment({ id: 'ok', owner: 'zed@contoso.com', dueDate: '2026-12-30' }),
      ],
      [],
      NOW,
      'UTC',
    );
    expect(data.topOverdueOwners).toHaveLength(5);
    expect(data.topOverdueOwners[0]).toEqual({ owner: 'bea@contoso.com', overdue: 2, oldestDueDate: '2026-10-01' });
    expect(data.topOverdueOwners[1]!.owner).toBe('chen@contoso.com');
    expect(data.topOverdueOwners.map((o) => o.owner)).not.toContain('zed@contoso.com');
  });

  it('links tickets and Defender safely: portal link from the recommendation, scheme added, no javascript: links', () => {
    const data = buildDashboard(
      [
        assignment({
          id: 't',
          recommendationKey: 'rec-a',
          ticket: { table: 'incident', sysId: 's', number: 'INC0001', link: 'https://x.service-now.com/incident.do?sys_id=s' },
        }),
        assignment({ id: 'evil', recommendationKey: 'rec-b', ticket: { table: 'incident', sysId: 's', number: 'INC0002', link: 'javascript:alert(1)' } }),
      ],
      [recommendation('rec-a', 'High', 'portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/rec-a')],
      NOW,
      'UTC',
    );
    const [t, evil] = [data.rows.find((r) => r.id === 't')!, data.rows.find((r) => r.id === 'evil')!];
    expect(t).toMatchObject({ ticketNumber: 'INC0001', ticketLink: 'https://x.service-now.com/incident.do?sys_id=s' });
    expect(t.defenderLink).toBe('https://portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/rec-a');
    expect(evil.ticketNumber).toBe('INC0002');
    expect(evil.ticketLink).toBeUndefined();
    expect(evil.defenderLink).toMatch(/^https:\/\/portal\.azure\.com\/.*assessmentKey\/rec-b$/);
  });

  it('produces data its own schema accepts (the tab validates with it) and the schema rejects tampering', () => {
    const data = buildDashboard(seededAssignments(), [], NOW, 'UTC');
    expect(dashboardDataSchema.parse(JSON.parse(JSON.stringify(data)))).toEqual(data);
    expect(data.counts.total).toBe(30);
    expect(new Set(data.rows.map((r) => r.subscriptionId))).toEqual(new Set(SUBS));
    const bad = structuredClone(data);
    bad.rows[0]!.defenderLink = 'javascript:alert(1)';
    expect(dashboardDataSchema.safeParse(bad).success).toBe(false);
  });

  it('judges "overdue" by the day in the due dates\' time zone, not in UTC', () => {
    // Sunday 23:00 UTC is Monday 10:00 in Sydney: Sunday's due date has passed there, Monday's has not.
    const sundayNightUtc = new Date('2026-11-29T23:00:00Z');
    const rows = [
      assignment({ id: 'due-saturday', dueDate: '2026-11-28', status: 'open' }),
      assignment({ id: 'due-sunday', dueDate: '2026-11-29', status: 'open', gracePeriod: true }),
      assignment({ id: 'due-monday', dueDate: '2026-11-30', status: 'open', gracePeriod: true }),
    ];
    const sydney = buildDashboard(rows, [], sundayNightUtc, 'Australia/Sydney');
    expect(sydney.today).toBe('2026-11-30');
    expect(sydney.counts).toMatchObject({ open: 3, overdue: 2, inGrace: 1 });
    expect(sydney.rows.filter((r) => r.overdue).map((r) => r.id)).toEqual(['due-saturday', 'due-sunday']);
    expect(sydney.topOverdueOwners).toEqual([{ owner: 'alex@contoso.com', overdue: 2, oldestDueDate: '2026-11-28' }]);
    expect(sydney.timeline[0]).toMatchObject({ start: '2026-11-30', end: '2026-12-06', total: 1 });

    const utc = buildDashboard(rows, [], sundayNightUtc, 'UTC');
    expect(utc.today).toBe('2026-11-29');
    expect(utc.counts).toMatchObject({ overdue: 1, inGrace: 2 });
  });

  it('is empty but well-formed without assignments', () => {
    const data = buildDashboard([], [], NOW, 'UTC');
    expect(data.counts).toEqual({ total: 0, open: 0, overdue: 0, inGrace: 0, resolved: 0 });
    expect(data.timeline).toHaveLength(4);
    expect(data.topOverdueOwners).toEqual([]);
  });
});
