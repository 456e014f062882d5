import type { UnhealthyResource } from '../../core/defender-model.js';
import {
  contentHashOf,
  diffRecommendations,
  groupRecommendations,
  htmlToCardText,
  isMassResolution,
  keepMissing,
  MASS_RESOLUTION_FLOOR,
  massResolutionSample,
  matchesFilters,
  pageOf,
  RecommendationAccumulator,
  summarizeRecommendations,
  viewForFilters,
} from '../../core/recommendations.js';

const SUB_A = '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const SUB_B = 'c5e1a3b7-9f2d-4c06-b8e4-6d0f2a9c1e73';
const KEY = 'AB12CD34-0000-4000-8000-000000000001';
const T0 = new Date('2025-06-01T00:00:00Z');
const T1 = new Date('2025-06-01T00:05:00Z');

function row(name: string, over: Partial<UnhealthyResource> = {}): UnhealthyResource {
  const sub = over.subscriptionId ?? SUB_A;
  const resourceId = `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;
  const key = over.assessmentKey ?? KEY;
  return {
    assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
    assessmentKey: key,
    resourceId,
    resourceName: name,
    resourceType: 'Microsoft.Compute/virtualMachines',
    subscriptionId: sub,
    resourceGroup: 'rg-app',
    severity: 'Medium',
    status: 'Unhealthy',
    statusChangeDate: '2025-05-01T00:00:00.000Z',
    displayName: 'Machines should have vulnerability findings resolved',
    description: 'Fix <b>findings</b>.',
    remediationSteps: '<ol><li>Open the machine</li><li>Apply &amp; verify</li></ol>',
    portalLink: 'https://portal.azure.com/#x',
    ...over,
  };
}

describe('grouping', () => {
  it('groups rows by lower-cased assessment key, keeps the highest severity and ignores healthy rows', () => {
    const recs = groupRecommendations(
      [
        row('vm-1'),
        row('vm-2', { assessmentKey: KEY.toLowerCase(), severity: 'High' }),
        row('vm-3', { status: 'Healthy' }),
        row('vm-9', { assessmentKey: 'other-key', severity: 'Low' }),
      ],
      T0,
    );
    expect([...recs.keys()].sort()).toEqual([KEY.toLowerCase(), 'other-key']);
    const rec = recs.get(KEY.toLowerCase())!;
    expect(rec.severity).toBe('High');
    expect(rec.resources.map((r) => r.name)).toEqual(['vm-1', 'vm-2']);
    expect(rec.status).toBe('unhealthy');
    expect(rec.remediation).toBe('• Open the machine\n• Apply & verify');
    expect(rec.description).toBe('Fix findings.');
    expect(rec.firstSeenAt).toBe(T0.toISOString());
  });

  it('folds pages incrementally to the same result as all rows at once, and dedupes a resource seen twice', () => {
    const rows = Array.from({ length: 30 }, (_, i) => row(`vm-${String(i).padStart(2, '0')}`));
    const acc = new RecommendationAccumulator();
    acc.add(rows.slice(0, 10));
    acc.add(rows.slice(10));
    acc.add([rows[3]!]);
    const paged = acc.snapshots(() => undefined, T0);
    const whole = groupRecommendations(rows, T0);
    expect(paged.get(KEY.toLowerCase())!.contentHash).toBe(whole.get(KEY.toLowerCase())!.contentHash);
    expect(paged.get(KEY.toLowerCase())!.resources).toHaveLength(30);
    expect(acc.subscriptionIds()).toEqual([SUB_A]);
  });
});

describe('content hash', () => {
  it('is independent of row order and of timestamps, and changes with what the card shows', () => {
    const a = groupRecommendations([row('vm-1'), row('vm-2')], T0).get(KEY.toLowerCase())!;
    const b = groupRecommendations([row('vm-2', { statusChangeDate: '2025-06-01T00:00:00.000Z' }), row('vm-1')], T1).get(KEY.toLowerCase())!;
    expect(b.contentHash).toBe(a.contentHash);
    const c = groupRecommendations([row('vm-1')], T0).get(KEY.toLowerCase())!;
    expect(c.contentHash).not.toBe(a.contentHash);
    const d = groupRecommendations([row('vm-1'), row('vm-2', { severity: 'High' })], T0).get(KEY.toLowerCase())!;
    expect(d.contentHash).not.toBe(a.contentHash);
    expect(contentHashOf({ ...a, status: 'resolved' })).not.toBe(a.contentHash);
  });

  it('keeps the stored snapshot object when nothing shown changed, so it is not rewritten', () => {
    const first = groupRecommendations([row('vm-1')], T0);
    const stored = first.get(KEY.toLowerCase())!;
    const again = groupRecommendations([row('vm-1', { statusChangeDate: '2025-06-01T00:04:00.000Z' })], T1, (k) => first.get(k));
    expect(again.get(KEY.toLowerCase())).toBe(stored);
    const changed = groupRecommendations([row('vm-1'), row('vm-2')], T1, (k) => first.get(k)).get(KEY.toLowerCase())!;
    expect(changed.firstSeenAt).toBe(T0.toISOString());
    expect(changed.updatedAt).toBe(T1.toISOString());
  });
});

describe('diff', () => {
  it('sorts a pass into new, changed, resolved and unchanged', () => {
    const prev = groupRecommendations([row('vm-1'), row('vm-1', { assessmentKey: 'k-same' }), row('vm-1', { assessmentKey: 'k-gone' })], T0);
    const next = groupRecommendations([row('vm-1'), row('vm-2'), row('vm-1', { assessmentKey: 'k-same' }), row('vm-5', { assessmentKey: 'k-new' })], T1, (k) =>
      prev.get(k),
    );
    const diff = diffRecommendations(prev.values(), next, T1);
    expect(diff.added.map((r) => r.key)).toEqual(['k-new']);
    expect(diff.changed.map((r) => r.key)).toEqual([KEY.toLowerCase()]);
    expect(diff.unchanged.map((r) => r.key)).toEqual(['k-same']);
    expect(diff.resolved.map((r) => r.key)).toEqual(['k-gone']);
    expect(diff.resolved[0]).toMatchObject({ status: 'resolved', resources: [], updatedAt: T1.toISOString() });
    expect(diff.resolved[0]!.contentHash).not.toBe(prev.get('k-gone')!.contentHash);
  });

  it('does not resolve again one already resolved, treats a comeback as changed, and can defer resolution', () => {
    const prev = groupRecommendations([row('vm-1')], T0);
    const first = diffRecommendations(prev.values(), new Map(), T1);
    const stored = first.resolved;
    expect(diffRecommendations(stored, new Map(), T1).resolved).toEqual([]);
    const back = groupRecommendations([row('vm-1')], T1, (k) => stored.find((s) => s.key === k));
    expect(diffRecommendations(stored, back, T1).changed).toHaveLength(1);
    expect(diffRecommendations(prev.values(), new Map(), T1, { resolveMissing: false }).resolved).toEqual([]);
  });
});

describe('partial passes and mass resolutions', () => {
  it('keepMissing adds what arrived and takes nothing away', () => {
    const prev = groupRecommendations([row('vm-1'), row('vm-2'), row('vm-1', { assessmentKey: 'k-gone' })], T0);
    // A partial pass: vm-2 and the whole of k-gone missing, vm-3 new.
    const partial = groupRecommendations([row('vm-1'), row('vm-3')], T1, (k) => prev.get(k));
    const kept = keepMissing(prev.values(), partial);
    expect(kept.get('k-gone')).toBe(prev.get('k-gone'));
    expect(kept.get(KEY.toLowerCase())!.resources.map((r) => r.name)).toEqual(['vm-1', 'vm-2', 'vm-3']);
    const diff = diffRecommendations(prev.values(), kept, T1, { resolveMissing: false });
    expect(diff.resolved).toEqual([]);
    expect(diff.changed.map((r) => r.key)).toEqual([KEY.toLowerCase()]);
    // Nothing new either: the stored snapshot itself, so the card is not touched.
    const same = keepMissing(
      prev.values(),
      groupRecommendations([row('vm-1')], T1, (k) => prev.get(k)),
    );
    expect(same.get(KEY.toLowerCase())).toBe(prev.get(KEY.toLowerCase()));
    expect(diffRecommendations(prev.values(), same, T1, { resolveMissing: false }).unchanged).toHaveLength(2);
  });

  it('a mass resolution is at least the floor and more than half of the unhealthy ones', () => {
    expect(MASS_RESOLUTION_FLOOR).toBe(5);
    expect(isMassResolution(4, 4)).toBe(false);
    expect(isMassResolution(5, 9)).toBe(true);
    expect(isMassResolution(5, 10)).toBe(false);
    expect(isMassResolution(40, 40)).toBe(true);
    expect(isMassResolution(1999, 4000)).toBe(false);
    expect(isMassResolution(2001, 4000)).toBe(true);
  });

  it('samples up to five vanished recommendations spread over the list, one resource each', () => {
    const recs = [
      ...groupRecommendations(
        Array.from({ length: 20 }, (_, i) => row(`vm-${i}`, { assessmentKey: `k-${String(i).padStart(2, '0')}` })),
        T0,
      ).values(),
    ];
    const sample = massResolutionSample(recs);
    expect(sample.map((s) => s.recommendation.key)).toEqual(['k-00', 'k-04', 'k-08', 'k-12', 'k-16']);
    expect(sample.every((s) => s.recommendation.resources.includes(s.resource))).toBe(true);
    expect(massResolutionSample(recs.slice(0, 2))).toHaveLength(2);
  });
});

describe('filters', () => {
  const rec = groupRecommendations([row('vm-a1'), row('vm-b1', { subscriptionId: SUB_B })], T0).get(KEY.toLowerCase())!;
  const ancestry = new Map([
    [SUB_A, ['mg-contoso-prod', 'mg-contoso']],
    [SUB_B, ['mg-contoso']],
  ]);
  const f = (severities: Array<'High' | 'Medium' | 'Low'>, scopes: string[]) => ({ severities, scopes });

  it('matches on severity', () => {
    expect(matchesFilters(rec, f([], []), ancestry)).toBe(true);
    expect(matchesFilters(rec, f(['High'], []), ancestry)).toBe(false);
    expect(matchesFilters(rec, f(['High', 'Medium'], []), ancestry)).toBe(true);
  });

  it('matches subscription and management-group scopes through the ancestry', () => {
    expect(matchesFilters(rec, f([], [`/subscriptions/${SUB_B.toUpperCase()}`]), ancestry)).toBe(true);
    expect(matchesFilters(rec, f([], ['/subscriptions/00000000-0000-0000-0000-000000000000']), ancestry)).toBe(false);
    expect(matchesFilters(rec, f([], ['/providers/Microsoft.Management/managementGroups/mg-contoso-prod']), ancestry)).toBe(true);
    expect(matchesFilters(rec, f([], ['/providers/Microsoft.Management/managementGroups/mg-other']), ancestry)).toBe(false);
    // Without ancestry a management group cannot be matched.
    expect(matchesFilters(rec, f([], ['/providers/Microsoft.Management/managementGroups/mg-contoso-prod']), new Map())).toBe(false);
  });

  it('shows a scoped conversation only its resources, with its own hash, and resolved when none are left', () => {
    const prodOnly = viewForFilters(rec, f([], ['/providers/Microsoft.Management/managementGroups/mg-contoso-prod']), ancestry)!;
    expect(prodOnly.resources.map((r) => r.name)).toEqual(['vm-a1']);
    expect(prodOnly.contentHash).not.toBe(rec.contentHash);
    expect(viewForFilters(rec, f([], ['/providers/Microsoft.Management/managementGroups/mg-contoso']), ancestry)).toBe(rec);
    expect(viewForFilters(rec, f(['Low'], []), ancestry)).toBeUndefined();
    const none = viewForFilters(rec, f([], ['/subscriptions/00000000-0000-0000-0000-000000000000']), ancestry)!;
    expect(none).toMatchObject({ status: 'resolved', resources: [] });
  });
});

describe('HTML remediation → card text', () => {
  it('strips tags, keeps list items as bullets, decodes entities and collapses whitespace', () => {
    const html =
      '<p>To fix:</p>\n<ol>\n  <li>Go to <a href="https://x">the   portal</a>;</li>\n<li><b>Enable</b>&nbsp;TLS&nbsp;1.2 &gt;= &#39;on&#39; &#x2713;</li></ol><br/>Done.<script>alert(1)</script>';
    expect(htmlToCardText(html)).toBe("To fix:\n• Go to the portal;\n• Enable TLS 1.2 >= 'on' ✓\nDone.");
  });

  it('keeps encoded markup as visible text and caps the length at a word boundary', () => {
    expect(htmlToCardText('Use &lt;b&gt; tags')).toBe('Use <b> tags');
    const long = htmlToCardText(`<p>${'word '.repeat(500)}</p>`, 100);
    expect(long.length).toBeLessThanOrEqual(100);
    expect(long.endsWith('word…')).toBe(true);
    expect(htmlToCardText('')).toBe('');
  });
});

describe('paging', () => {
  it('pages 1-based and clamps out-of-range pages', () => {
    const items = Array.from({ length: 53 }, (_, i) => i);
    expect(pageOf(items, 1, 25)).toMatchObject({ page: 1, pages: 3, total: 53, items: items.slice(0, 25) });
    expect(pageOf(items, 3, 25).items).toEqual([50, 51, 52]);
    expect(pageOf(items, 9, 25).page).toBe(3);
    expect(pageOf(items, 0, 25).page).toBe(1);
    expect(pageOf([], 2, 25)).toMatchObject({ page: 1, pages: 1, items: [] });
  });
});

describe('summary', () => {
  it('counts by severity and subscription (findings and distinct resources) and ranks by severity, then unhealthy resources', () => {
    const recs = groupRecommendations(
      [
        row('vm-1'),
        row('vm-2'),
        row('vm-3', { subscriptionId: SUB_B }),
        row('vm-1', { assessmentKey: 'k-high', severity: 'High' }),
        row('vm-1', { assessmentKey: 'k-low', severity: 'Low', status: 'Healthy' }),
      ],
      T0,
    );
    const s = summarizeRecommendations(recs.values());
    // 4 findings (recommendation × resource) on 3 distinct resources: vm-1 fails two recommendations.
    expect(s).toMatchObject({ recommendations: 2, resources: 4, distinctResources: 3 });
    expect(s.bySeverity).toEqual([
      { severity: 'High', recommendations: 1, resources: 1, distinctResources: 1 },
      { severity: 'Medium', recommendations: 1, resources: 3, distinctResources: 3 },
    ]);
    expect(s.bySubscription).toEqual([
      { subscriptionId: SUB_A, recommendations: 2, resources: 3, distinctResources: 2 },
      { subscriptionId: SUB_B, recommendations: 1, resources: 1, distinctResources: 1 },
    ]);
    // Most severe first (issue 13): the High one with 1 resource before the Medium one with 3.
    expect(s.top.map((t) => t.key)).toEqual(['k-high', KEY.toLowerCase()]);
    expect(summarizeRecommendations(recs.values(), { severities: ['High'], scopes: [] }).recommendations).toBe(1);
  });
});
