import {
  daysText,
  digestKey,
  graceEndedKey,
  inQuietHours,
  isoWeek,
  localTime,
  nudgeKey,
  ownerDigest,
  parseQuietHours,
  materialisePlan,
  planReminders,
  summaryLine,
  type PlanInput,
} from '../../core/reminders.js';
import { renderGraceEnded, renderManagerDigest, renderNudge, renderOwnerDigest, moreTimeFormCard } from '../../cards/reminderCards.js';
import { cardProblems } from '../cards/validate.js';
import { assignment } from './fixtures.js';

// Monday 30 November 2026, 09:00 UTC (ISO week 2026-W49).
const NOW = new Date('2026-11-30T09:00:00Z');
const plan = (over: Partial<PlanInput> & Pick<PlanInput, 'assignments'>) =>
  materialisePlan(planReminders({ now: NOW, timezone: 'UTC', settings: { remindDaysBefore: 3 }, wasSent: () => false, ...over }));

describe('reminder planning', () => {
  it("groups an owner's items into overdue / due this week / later with days left or overdue", () => {
    const items = [
      assignment({ owner: 'Bob.Martinez@contoso.com', dueDate: '2026-12-25' }),
      assignment({ owner: 'bob.martinez@contoso.com', dueDate: '2026-11-27', severity: 'Low' }),
      assignment({ owner: 'bob.martinez@contoso.com', dueDate: '2026-12-06' }),
      assignment({ owner: 'bob.martinez@contoso.com', dueDate: '2026-11-30' }),
      assignment({ owner: 'bob.martinez@contoso.com', dueDate: '2026-12-07' }),
    ];
    const p = plan({ assignments: items });
    expect(p).toMatchObject({ today: '2026-11-30', week: '2026-W49', quiet: false });
    expect(p.digests).toHaveLength(1);
    const d = p.digests[0]!;
    expect(d.key).toBe('digest:bob.martinez@contoso.com:2026-W49');
    expect(d.items.map((i) => [i.dueDate, i.daysLeft, i.group])).toEqual([
      ['2026-11-27', -3, 'overdue'],
      ['2026-11-30', 0, 'thisWeek'],
      ['2026-12-06', 6, 'thisWeek'],
      ['2026-12-07', 7, 'later'],
      ['2026-12-25', 25, 'later'],
    ]);
    expect(d.counts).toEqual({ open: 5, overdue: 1, thisWeek: 2, later: 2 });
    expect(summaryLine(d.counts)).toBe('5 open, 1 overdue, 2 due this week');
    expect(d.items.map((i) => daysText(i.daysLeft))).toEqual(['3 days overdue', 'due today', '6 days left', '7 days left', '25 days left']);
    expect(d.items[0]).toMatchObject({
      ticketNumber: expect.stringMatching(/^INC/),
      ticketLink: expect.stringContaining('sys_id='),
      defenderLink: expect.stringContaining('assessmentKey/'),
    });
  });

  it('shows the grace state: in grace before the due date, ended after it, none without a grace period', () => {
    const p = plan({
      assignments: [
        assignment({ owner: 'a@contoso.com', dueDate: '2026-11-30', gracePeriod: true }),
        assignment({ owner: 'a@contoso.com', dueDate: '2026-11-29', gracePeriod: true }),
        assignment({ owner: 'a@contoso.com', dueDate: '2026-11-29', gracePeriod: false }),
      ],
    });
    expect(p.digests[0]!.items.map((i) => [i.dueDate, i.grace])).toEqual([
      ['2026-11-29', 'grace-ended'],
      ['2026-11-29', 'none'],
      ['2026-11-30', 'in-grace'],
    ]);
  });

  it('plans only live items of owners with notifyOwner, and nothing already sent this week', () => {
    const on = assignment({ owner: 'on@contoso.com', dueDate: '2026-12-20' });
    const off = assignment({ owner: 'off@contoso.com', dueDate: '2026-12-20', notifyOwner: false });
    const done = assignment({ owner: 'done@contoso.com', dueDate: '2026-12-20', status: 'resolved' });
    const healthy = assignment({ owner: 'done@contoso.com', dueDate: '2026-12-20', status: 'awaiting-manual-close' });
    expect(plan({ assignments: [on, off, done, healthy] }).digests.map((d) => d.owner)).toEqual(['on@contoso.com']);
    const sent = new Set([digestKey('on@contoso.com', '2026-W49')]);
    expect(plan({ assignments: [on], wasSent: (k) => sent.has(k) }).digests).toEqual([]);
    // Next week is a new period.
    expect(plan({ assignments: [on], wasSent: (k) => sent.has(k), now: new Date('2026-12-07T09:00:00Z') }).digests).toHaveLength(1);
  });

  it('escalates only overdue items with notifyManager, grouped per report', () => {
    const p = plan({
      assignments: [
        assignment({ owner: 'bob@contoso.com', dueDate: '2026-11-20', notifyManager: true }),
        assignment({ owner: 'bob@contoso.com', dueDate: '2026-12-20', notifyManager: true }),
        assignment({ owner: 'bob@contoso.com', dueDate: '2026-11-20', notifyManager: false }),
        assignment({ owner: 'dave@contoso.com', dueDate: '2026-11-25', notifyManager: true, notifyOwner: false }),
      ],
    });
    expect(p.escalations.map((e) => [e.owner, e.items.map((i) => i.dueDate)])).toEqual([
      ['bob@contoso.com', ['2026-11-20']],
      ['dave@contoso.com', ['2026-11-25']],
    ]);
    expect(p.digests.map((d) => d.owner)).toEqual(['bob@contoso.com']);
  });

  it('announces a grace period end once per assignment, grouped per conversation, only where the bot can post', () => {
    const a = assignment({ owner: 'a@contoso.com', dueDate: '2026-11-29', gracePeriod: true, conversationId: 'c1' });
    const b = assignment({ owner: 'b@contoso.com', dueDate: '2026-11-28', gracePeriod: true, conversationId: 'c1' });
    const notYet = assignment({ owner: 'a@contoso.com', dueDate: '2026-11-30', gracePeriod: true, conversationId: 'c1' });
    const gone = assignment({ owner: 'a@contoso.com', dueDate: '2026-11-29', gracePeriod: true, conversationId: 'c-gone' });
    const p = plan({ assignments: [a, b, notYet, gone], conversations: new Set(['c1']) });
    expect(p.graceEnded).toHaveLength(1);
    expect(p.graceEnded[0]!.conversationId).toBe('c1');
    expect(p.graceEnded[0]!.items.map((i) => i.key)).toEqual([graceEndedKey(b.id), graceEndedKey(a.id)]);
    const sent = new Set([graceEndedKey(a.id), graceEndedKey(b.id)]);
    expect(plan({ assignments: [a, b], wasSent: (k) => sent.has(k), conversations: new Set(['c1']) }).graceEnded).toEqual([]);
  });

  it('plans a conversation whose first overdue rows were announced, and builds only the rest of its announcement', () => {
    const rows = ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23'].map((dueDate) =>
      assignment({ owner: 'a@contoso.com', dueDate, gracePeriod: true, conversationId: 'c1' }),
    );
    const allSent = assignment({ owner: 'a@contoso.com', dueDate: '2026-11-20', gracePeriod: true, conversationId: 'c2' });
    // The first and the third were announced in earlier passes; so was c2's only one.
    const sent = new Set([graceEndedKey(rows[0]!.id), graceEndedKey(rows[2]!.id), graceEndedKey(allSent.id)]);
    const lazy = planReminders({ now: NOW, timezone: 'UTC', settings: { remindDaysBefore: 3 }, wasSent: (k) => sent.has(k), assignments: [...rows, allSent] });
    expect(lazy.graceEnded.map((g) => g.conversationId)).toEqual(['c1']);
    expect(materialisePlan(lazy).graceEnded[0]!.items.map((i) => i.key)).toEqual([graceEndedKey(rows[1]!.id), graceEndedKey(rows[3]!.id)]);
  });

  it('nudges items due within remindDaysBefore once, folded into a digest sent in the same pass', () => {
    const soon = assignment({ owner: 'a@contoso.com', dueDate: '2026-12-02' });
    const far = assignment({ owner: 'a@contoso.com', dueDate: '2026-12-04' });
    const first = plan({ assignments: [soon, far] });
    expect(first.nudges).toEqual([]);
    expect(first.digests[0]!.nudgeKeys).toEqual([nudgeKey(soon.id, '2026-12-02')]);

    // Later in the week the digest is out; a daily pass nudges the next item that comes due.
    const sent = new Set([digestKey('a@contoso.com', '2026-W49'), nudgeKey(soon.id, '2026-12-02')]);
    const tuesday = plan({ assignments: [soon, far], wasSent: (k) => sent.has(k), now: new Date('2026-12-01T09:00:00Z') });
    expect(tuesday.digests).toEqual([]);
    expect(tuesday.nudges.map((n) => n.items.map((i) => i.key))).toEqual([[nudgeKey(far.id, '2026-12-04')]]);
    expect(plan({ assignments: [soon], wasSent: (k) => sent.has(k), settings: { remindDaysBefore: 0 }, now: new Date('2026-12-01T09:00:00Z') }).nudges).toEqual(
      [],
    );
  });

  it('uses the reminder timezone for today, the week and days left', () => {
    // 23:30 UTC on Sunday 29 Nov is already Monday 30 Nov in Auckland, still Sunday in New York.
    const at = new Date('2026-11-29T23:30:00Z');
    expect(localTime(at, 'Pacific/Auckland')).toEqual({ date: '2026-11-30', time: '12:30' });
    expect(localTime(at, 'America/New_York')).toEqual({ date: '2026-11-29', time: '18:30' });
    const a = assignment({ owner: 'a@contoso.com', dueDate: '2026-11-29' });
    const akl = plan({ assignments: [a], now: at, timezone: 'Pacific/Auckland' });
    const nyc = plan({ assignments: [a], now: at, timezone: 'America/New_York' });
    expect([akl.week, akl.digests[0]!.items[0]!.daysLeft]).toEqual(['2026-W49', -1]);
    expect([nyc.week, nyc.digests[0]!.items[0]!.daysLeft]).toEqual(['2026-W48', 0]);
  });

  it('honours quiet hours, also across midnight and in the timezone', () => {
    const q = parseQuietHours('20:00-07:00')!;
    expect(q).toEqual({ start: '20:00', end: '07:00' });
    expect(['20:00', '23:59', '00:00', '06:59'].map((t) => inQuietHours(t, q))).toEqual([true, true, true, true]);
    expect(['07:00', '12:00', '19:59'].map((t) => inQuietHours(t, q))).toEqual([false, false, false]);
    const day = parseQuietHours('12:00-13:00')!;
    expect(['11:59', '12:00', '12:59', '13:00'].map((t) => inQuietHours(t, day))).toEqual([false, true, true, false]);
    expect(parseQuietHours('25:00-07:00')).toBeUndefined();
    expect(parseQuietHours('07:00-07:00')).toBeUndefined();

    const a = assignment({ owner: 'a@contoso.com', dueDate: '2026-11-20' });
    const settings = { remindDaysBefore: 3, quietHours: q };
    // 02:00 UTC = 21:00 in New York: quiet there, not in UTC.
    const at = new Date('2026-11-30T02:00:00Z');
    expect(plan({ assignments: [a], now: at, timezone: 'America/New_York', settings })).toMatchObject({
      quiet: true,
      digests: [],
      escalations: [],
      graceEnded: [],
    });
    expect(plan({ assignments: [a], now: at, timezone: 'Europe/Berlin', settings }).quiet).toBe(true);
    expect(plan({ assignments: [a], now: new Date('2026-11-30T09:00:00Z'), timezone: 'Europe/Berlin', settings }).digests).toHaveLength(1);
  });

  it('computes ISO weeks across year ends', () => {
    expect(isoWeek('2026-12-31')).toBe('2026-W53');
    expect(isoWeek('2027-01-01')).toBe('2026-W53');
    expect(isoWeek('2027-01-04')).toBe('2027-W01');
    expect(isoWeek('2024-12-30')).toBe('2025-W01');
  });

  it('builds the on-demand digest of one owner whatever their notification setting', () => {
    const mine = assignment({ owner: 'alice.owner@contoso.com', dueDate: '2026-12-20', notifyOwner: false });
    const other = assignment({ owner: 'bob@contoso.com', dueDate: '2026-12-20' });
    const d = ownerDigest([mine, other], 'ALICE.owner@contoso.com', NOW, 'UTC');
    expect(d.items.map((i) => i.assignmentId)).toEqual([mine.id]);
  });
});

describe('reminder cards', () => {
  const long = 'x'.repeat(120);
  const items = (n: number) =>
    plan({
      assignments: Array.from({ length: n }, (_, i) =>
        assignment({
          owner: 'alice.owner@contoso.com',
          dueDate: `2026-${i % 2 ? '11' : '12'}-${String(10 + (i % 15)).padStart(2, '0')}`,
          recommendationName: `${long} ${i}`,
          gracePeriod: i % 3 === 0,
          notifyManager: true,
        }),
      ),
    });

  it('renders every reminder card as valid Adaptive Card 1.5 in Teams and the Emulator', () => {
    const p = items(5);
    const d = p.digests[0]!;
    for (const channelId of ['msteams', 'emulator']) {
      const cards = [
        renderOwnerDigest(d, { channelId }),
        renderNudge(d.items.slice(0, 2), { channelId }),
        renderManagerDigest({ upn: 'carol@contoso.com', displayName: 'Carol Nguyen' }, [{ owner: 'alice.owner@contoso.com', items: p.escalations[0]!.items }], {
          channelId,
        }),
        renderGraceEnded(d.items.slice(0, 2), { channelId }),
        moreTimeFormCard(
          {
            assignmentId: 'a1',
            title: 't',
            resource: 'r',
            dueText: 'd',
            etaText: '',
            minDate: '2026-12-01',
            maxDate: '2027-11-30',
            suggestedDate: '2026-12-07',
          },
          { channelId },
        ),
      ];
      for (const card of cards) {
        expect(cardProblems(card)).toEqual([]);
        expect(JSON.stringify(card)).not.toContain('${');
      }
    }
  });

  it('reads like a reminder email: greeting, summary, groups in order, facts and buttons per item', () => {
    const d = plan({
      assignments: ['2026-11-20', '2026-12-02', '2026-12-20'].map((dueDate, i) =>
        assignment({ owner: 'alice.owner@contoso.com', dueDate, gracePeriod: i > 0 }),
      ),
    }).digests[0]!;
    const card = renderOwnerDigest(d, { channelId: 'msteams' });
    const text = JSON.stringify(card);
    expect((card.body[0] as any).text).toBe('Hi Alice,');
    expect((card.body[1] as any).text).toContain('3 open, 1 overdue');
    const groups = (card.body as any[]).filter((b) => b.type === 'Container').map((c) => c.items[0].text);
    expect(groups).toEqual(['Overdue (1)', 'Due this week (1)', 'Later (1)']);
    expect(text).toContain('in grace period (not affecting secure score)');
    const actions = (card.body as any[])
      .filter((b) => b.type === 'Container')
      .flatMap((c) => c.items.slice(1))
      .flatMap((i: any) => i.items.find((x: any) => x.type === 'ActionSet').actions);
    expect(actions.filter((a: any) => a.title === 'Open ticket').every((a: any) => a.type === 'Action.OpenUrl' && a.url.includes('sys_id='))).toBe(true);
    expect(actions.filter((a: any) => a.title === 'Open in Defender')).toHaveLength(3);
    expect(actions.filter((a: any) => a.type === 'Action.Execute' && a.verb === 'requestMoreTime').map((a: any) => a.data.assignmentId)).toEqual(
      d.items.map((i) => i.assignmentId),
    );
  });

  it('keeps a long digest under the card size limit and says how many items are not shown', () => {
    const d = items(40).digests[0]!;
    const card = renderOwnerDigest(d, { channelId: 'msteams' });
    expect(Buffer.byteLength(JSON.stringify(card))).toBeLessThan(28 * 1024);
    expect(JSON.stringify(card)).toMatch(/more items? due later, not shown/);
    expect((card.body[1] as any).text).toContain('40 open');
  });
});
