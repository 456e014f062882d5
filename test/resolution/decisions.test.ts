import {
  announcementKey,
  decideLive,
  decideRegression,
  decideTicket,
  isClosedInServiceNow,
  regressionCorrelationId,
  CLOSE_REASON,
} from '../../core/resolution.js';

const NOW = new Date('2026-11-26T09:00:00Z');
const day = (n: number) => new Date(NOW.getTime() - n * 86_400_000).toISOString();

describe('resolution decisions (pure)', () => {
  it('debounces healthy passes and resets on a flap', () => {
    const healthy = { kind: 'Healthy', statusChangeDate: day(0) } as const;
    const unhealthy = { kind: 'Unhealthy', statusChangeDate: day(0) } as const;
    expect(decideLive({ status: 'open', healthyPasses: 0 }, healthy, 1)).toEqual({ kind: 'resolve', healthyPasses: 1 });
    expect(decideLive({ status: 'open', healthyPasses: 0 }, healthy, 2)).toEqual({ kind: 'wait', healthyPasses: 1 });
    expect(decideLive({ status: 'open', healthyPasses: 1 }, { kind: 'gone' }, 2)).toEqual({ kind: 'resolve', healthyPasses: 2 });
    expect(decideLive({ status: 'open', healthyPasses: 1 }, unhealthy, 2)).toEqual({ kind: 'reset', healthyPasses: 0 });
    expect(decideLive({ status: 'open', healthyPasses: 0 }, unhealthy, 2)).toEqual({ kind: 'none' });
    expect(decideLive({ status: 'awaiting-manual-close', healthyPasses: 1 }, unhealthy, 1)).toEqual({ kind: 'back-to-open' });
    expect(decideLive({ status: 'open', healthyPasses: 0 }, { kind: 'NotApplicable', statusChangeDate: day(0) }, 1).kind).toBe('resolve');
  });

  it('reopens only automatic resolutions, only inside the window, only for a later unhealthy status', () => {
    const resolved = { status: 'resolved' as const, closeReason: CLOSE_REASON.autoResolved, resolvedAt: day(3) };
    const unhealthyNow = { kind: 'Unhealthy', statusChangeDate: day(0) } as const;
    expect(decideRegression(resolved, unhealthyNow, NOW, 14)).toEqual({ kind: 'reopen' });
    expect(decideRegression({ ...resolved, resolvedAt: day(15) }, unhealthyNow, NOW, 14)).toEqual({ kind: 'forget' });
    expect(decideRegression({ ...resolved, closeReason: CLOSE_REASON.closedInServiceNow }, unhealthyNow, NOW, 14)).toEqual({ kind: 'none' });
    expect(decideRegression(resolved, { kind: 'Unhealthy', statusChangeDate: day(10) }, NOW, 14)).toEqual({ kind: 'none' });
    expect(decideRegression(resolved, { kind: 'Healthy', statusChangeDate: day(0) }, NOW, 14)).toEqual({ kind: 'none' });
  });

  it('ticket states from ServiceNow', () => {
    const open = { status: 'open' as const, owner: 'Alice@contoso.com', ticketType: 'incident' as const };
    expect(isClosedInServiceNow('incident', '8')).toBe(true);
    expect(isClosedInServiceNow('change_request', '4')).toBe(true);
    expect(isClosedInServiceNow('problem', '104')).toBe(false);
    expect(decideTicket(open, { state: '7' }, true)).toEqual({ kind: 'remove' });
    expect(decideTicket(open, { state: '7' }, false)).toEqual({ kind: 'none' });
    expect(decideTicket(open, { state: '2', assignee: 'alice@contoso.com' }, true)).toEqual({ kind: 'none' });
    expect(decideTicket(open, { state: '2', assignee: 'carol@contoso.com' }, true)).toEqual({ kind: 'owner', owner: 'carol@contoso.com' });
    expect(decideTicket({ ...open, status: 'awaiting-manual-close', ticketType: 'problem' }, { state: '107' }, false)).toEqual({ kind: 'close-awaiting' });
    expect(decideTicket({ ...open, status: 'resolved' }, { state: '1' }, true)).toEqual({ kind: 'none' });
  });

  it('follow-up correlation ids differ from the original and stay within 100 characters', () => {
    const key = `mdc-${'a'.repeat(40)}`;
    const id = regressionCorrelationId(key, 'PRB0040001');
    expect(id).toBe(`${key}-r-PRB0040001`);
    expect(regressionCorrelationId('x'.repeat(100), 'PRB0040001').length).toBe(100);
    expect(announcementKey('a1', 'resolved', '2026-11-26T09:00:00.000Z')).toBe('announce:a1:resolved:2026-11-26T09:00:00.000Z');
  });
});
