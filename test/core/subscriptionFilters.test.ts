import { describeFilters, parseSubscriptionFilters } from '../../core/subscriptionFilters.js';

describe('subscription filters', () => {
  it('parses severities case-insensitively and scopes', () => {
    const r = parseSubscriptionFilters(
      'severity=high,LOW scope=/subscriptions/0a1b2c3d-0000-4000-8000-000000000001,/providers/Microsoft.Management/managementGroups/contoso-root',
    );
    expect(r).toEqual({
      ok: true,
      filters: {
        severities: ['High', 'Low'],
        scopes: ['/subscriptions/0a1b2c3d-0000-4000-8000-000000000001', '/providers/Microsoft.Management/managementGroups/contoso-root'],
      },
    });
  });
  it('no arguments means everything', () => {
    expect(parseSubscriptionFilters('')).toEqual({ ok: true, filters: { severities: [], scopes: [] } });
    expect(describeFilters({ severities: [], scopes: [] })).toBe('all recommendations');
  });
  it('reports every bad token', () => {
    const r = parseSubscriptionFilters('severity=urgent scope=/subscriptions/nope foo');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toHaveLength(3);
  });
});
