import { simulateReplyText, syncReplyModel, type SyncCounts } from '../../cards/syncCards.js';

const report: SyncCounts = { recommendations: 40, resources: 618, new: 0, changed: 6, resolved: 0, cardsPosted: 40, cardsUpdated: 6, heldBack: 0 };
const facts = (m: ReturnType<typeof syncReplyModel>) => Object.fromEntries(m.facts.map((f) => [f.title, f.value]));

describe('sync and simulate replies: every count says what it counts', () => {
  it('names recommendations and tickets apart, and calls cards queued, not posted', () => {
    const m = syncReplyModel({ ...report, tickets: { resolved: 1, reopened: 0 } });
    expect(m.title).toBe('Sync finished');
    expect(facts(m)).toEqual({
      'New recommendations': '0',
      'Changed recommendations': '6',
      'Recommendations resolved': '0',
      'Tickets resolved automatically': '1',
      'Cards queued to post': '40',
      'Card updates queued': '6',
    });
    expect(m.text).toContain('40 unhealthy recommendations with 618 unhealthy findings (resource × recommendation).');
    expect(m.text).toContain('being delivered');
    expect(JSON.stringify(m)).not.toMatch(/Cards posted|"Resolved"/);
  });

  it('says nothing about tickets when no resolution pass ran, and nothing about delivery when nothing was queued', () => {
    const m = syncReplyModel({ ...report, cardsPosted: 0, cardsUpdated: 0 });
    expect(Object.keys(facts(m)).filter((k) => k.startsWith('Tickets'))).toEqual([]);
    expect(m.text).not.toContain('delivered');
  });

  it('an incomplete pass says what it held back', () => {
    const m = syncReplyModel({ ...report, incomplete: 'the answer was truncated', heldBack: 3 });
    expect(m.title).toBe('Sync incomplete: nothing was resolved');
    expect(facts(m)['Recommendations held back (pass incomplete)']).toBe('3');
    expect(m.text).toContain('618 unhealthy findings were received');
  });

  it('simulate: "0 recommendations resolved" next to the ticket the fix resolved', () => {
    expect(simulateReplyText(15, 'vm-prd-api-19', 'fix', { ...report, tickets: { resolved: 1, reopened: 0 } })).toBe(
      'Simulated: 15 assessments of vm-prd-api-19 are now Healthy. Sync: 6 recommendations changed, 0 recommendations resolved (no unhealthy resource left); tickets: 1 resolved automatically.',
    );
    expect(simulateReplyText(1, 'vm-1', 'break', { ...report, changed: 1, tickets: { resolved: 0, reopened: 1 } })).toBe(
      'Simulated: 1 assessment of vm-1 is now Unhealthy. Sync: 1 recommendation changed, 0 recommendations resolved (no unhealthy resource left); tickets: 0 resolved automatically, 1 reopened.',
    );
  });
});
