import type { UnhealthyResource } from '../../core/defender-model.js';
import { CHILD_MANAGEMENT_GROUP, ROOT_MANAGEMENT_GROUP, BUILTIN_SUBSCRIPTIONS, TENANT_ID, generateDataset } from '../../sandbox/defender/dataset.js';
import { scopesToRequest } from '../../connectors/defender/resourceGraph.js';
import { startHarness, type Harness } from './helpers.js';

const [PRD, SHD, DEV] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];
const ALL = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);

async function collect(h: Harness, scopes: string[]): Promise<UnhealthyResource[]> {
  const rows: UnhealthyResource[] = [];
  await h.client.queryUnhealthyAssessments(scopes, { onPage: (page) => void rows.push(...page) });
  return rows;
}

describe('Resource Graph: unhealthy assessments', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ pageSize: 50 });
  });
  afterEach(async () => {
    await h.sim.close();
  });

  it('pages through all unhealthy rows in id order with $skipToken', async () => {
    const expected = h.sim.control.listAssessments({ code: 'Unhealthy' });
    const pages: number[] = [];
    const rows: UnhealthyResource[] = [];
    const summary = await h.client.queryUnhealthyAssessments(ALL, {
      onPage: (page) => {
        pages.push(page.length);
        rows.push(...page);
      },
    });
    expect(expected.length).toBeGreaterThan(150);
    expect(pages.length).toBe(Math.ceil(expected.length / 50));
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.slice(0, -1).every((n) => n === 50)).toBe(true);
    expect(summary).toMatchObject({ pages: pages.length, rows: expected.length, skipped: 0, totalRecords: expected.length });
    expect(rows.map((r) => r.assessmentId)).toEqual(expected.map((a) => a.id));
    expect(new Set(rows.map((r) => r.assessmentId)).size).toBe(rows.length);
    expect(rows.every((r) => r.status === 'Unhealthy')).toBe(true);
    const later = h.sim.control
      .requests()
      .filter((r) => r.kind === 'resourceGraph')
      .slice(1);
    expect(later.every((r) => typeof (r.body as { options?: { $skipToken?: string } }).options?.$skipToken === 'string')).toBe(true);
  });

  it('maps rows to the domain shape', async () => {
    const rows = await collect(h, [`/subscriptions/${PRD}`]);
    const vm = rows.find((r) => r.resourceType === 'Microsoft.Compute/virtualMachines')!;
    expect(vm).toBeDefined();
    expect(vm.resourceId).toMatch(new RegExp(`^/subscriptions/${PRD}/resourceGroups/rg-prd-[a-z]+/providers/Microsoft.Compute/virtualMachines/vm-prd-`));
    expect(vm.assessmentId).toBe(`${vm.resourceId}/providers/Microsoft.Security/assessments/${vm.assessmentKey}`);
    expect(vm.resourceName).toBe(vm.resourceId.split('/').pop());
    expect(vm.resourceGroup).toMatch(/^rg-prd-/);
    expect(vm.subscriptionId).toBe(PRD);
    expect(vm.tenantId).toBe(TENANT_ID);
    expect(['High', 'Medium', 'Low']).toContain(vm.severity);
    expect(vm.remediationSteps).toContain('<ol>');
    expect(vm.portalLink).toMatch(/^https:\/\/portal\.azure\.com\/.*assessmentKey\//);
    const subLevel = rows.find((r) => r.resourceType === 'Microsoft.Resources/subscriptions');
    expect(subLevel?.resourceGroup).toBeUndefined();
    expect(new Set(rows.map((r) => r.severity))).toEqual(new Set(['High', 'Medium', 'Low']));
  });

  it('streams: the next page is on its way while onPage runs, and never more than one page ahead', async () => {
    const seen: Array<{ page: number; last: number; requestsSoFar: number }> = [];
    const count = () => h.sim.control.requestCount({ kind: 'resourceGraph' });
    await h.client.queryUnhealthyAssessments(ALL, {
      onPage: async (_rows, info) => {
        const last = Math.ceil(info.totalRecords / 50);
        const expected = Math.min(info.page + 1, last);
        // Wait for the prefetched request to reach the simulator (a condition, with a deadline).
        const deadline = Date.now() + 5000;
        while (count() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        // Then give a runaway loop every chance to ask for more before this page is done.
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        seen.push({ page: info.page, last, requestsSoFar: count() });
      },
    });
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const s of seen) expect(s.requestsSoFar).toBe(Math.min(s.page + 1, s.last));
  });

  it('filters by subscription and by management group scope', async () => {
    const prd = await collect(h, [`/subscriptions/${PRD}`]);
    const shd = await collect(h, [`/subscriptions/${SHD}`]);
    const dev = await collect(h, [`/subscriptions/${DEV}`]);
    expect(prd.every((r) => r.subscriptionId === PRD)).toBe(true);
    expect(dev.every((r) => r.subscriptionId === DEV)).toBe(true);
    const child = await collect(h, [`/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`]);
    expect(child.length).toBe(prd.length + shd.length);
    expect(new Set(child.map((r) => r.subscriptionId))).toEqual(new Set([PRD, SHD]));
    const root = await collect(h, [`/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`]);
    expect(root.length).toBe(prd.length + shd.length + dev.length);
    const body = h.sim.control
      .requests()
      .filter((r) => r.kind === 'resourceGraph')
      .pop()!.body as Record<string, unknown>;
    expect(body['managementGroups']).toEqual([ROOT_MANAGEMENT_GROUP]);
    expect(body['subscriptions']).toBeUndefined();
  });

  it('a Healthy flip disappears from the unhealthy query and shows in the by-id query', async () => {
    const before = await collect(h, [`/subscriptions/${PRD}`]);
    const target = before[3]!;
    h.clock.advance(60_000);
    expect(h.sim.control.markHealthy({ resourceId: target.resourceId, assessmentKey: target.assessmentKey })).toBe(1);
    const after = await collect(h, [`/subscriptions/${PRD}`]);
    expect(after.length).toBe(before.length - 1);
    expect(after.find((r) => r.assessmentId === target.assessmentId)).toBeUndefined();
    const [checked] = await h.client.queryAssessmentsByIds([target.assessmentId.toUpperCase()]);
    expect(checked).toMatchObject({ assessmentId: target.assessmentId, status: 'Healthy', statusChangeDate: h.clock.now().toISOString() });
  });

  it('flips by resource name and reports changes since a watermark', async () => {
    const rows = await collect(h, ALL);
    const watermark = h.clock.now();
    h.clock.advance(5 * 60_000);
    const a = rows[0]!;
    const b = rows[10]!;
    expect(h.sim.control.markHealthy({ resourceName: a.resourceName, assessmentKey: a.assessmentKey })).toBe(1);
    h.sim.control.markHealthy({ resourceId: b.resourceId, assessmentKey: b.assessmentKey });
    const changed: UnhealthyResource[] = [];
    const summary = await h.client.queryChangedSince(ALL, watermark, { onPage: (p) => void changed.push(...p) });
    expect(changed.map((r) => r.assessmentId).sort()).toEqual([a.assessmentId, b.assessmentId].sort());
    expect(changed.every((r) => r.status === 'Healthy')).toBe(true);
    expect(summary.latestStatusChange).toBe(h.clock.now().toISOString());
  });

  it('queries by id in batches; deleted resources are absent', async () => {
    const rows = await collect(h, ALL);
    const picked = rows.slice(0, 5);
    h.sim.control.deleteResource(picked[4]!.resourceId);
    const client = h.makeClient({ idBatchSize: 2 });
    h.sim.control.resetRequestLog();
    const found = await client.queryAssessmentsByIds(picked.map((r) => r.assessmentId));
    expect(h.sim.control.requestCount({ kind: 'resourceGraph' })).toBe(3);
    expect(found.map((r) => r.assessmentId).sort()).toEqual(
      picked
        .slice(0, 4)
        .map((r) => r.assessmentId)
        .sort(),
    );
  });

  it('returns the management-group ancestry of subscriptions', async () => {
    const map = await h.client.getSubscriptionAncestry([PRD, DEV]);
    expect(map.get(PRD)!.map((g) => g.name)).toEqual([CHILD_MANAGEMENT_GROUP, ROOT_MANAGEMENT_GROUP, TENANT_ID]);
    expect(map.get(DEV)!.map((g) => g.name)).toEqual([ROOT_MANAGEMENT_GROUP, TENANT_ID]);
    expect(map.get(PRD)![0]!.displayName).toBe('Contoso Production');
    expect(map.has(SHD)).toBe(false);
  });

  it('skips and logs a malformed row instead of failing the sync', async () => {
    const resourceId = `/subscriptions/${PRD}/resourceGroups/rg-prd-web/providers/Microsoft.Web/sites/app-prd-orphan`;
    // No assessment metadata exists for this key, so the row has no severity.
    h.sim.control.addUnhealthyAssessments([{ resourceId, assessmentKey: '00000000-1111-2222-3333-444444444444' }]);
    const rows: UnhealthyResource[] = [];
    const summary = await h.client.queryUnhealthyAssessments([`/subscriptions/${PRD}`], { onPage: (p) => void rows.push(...p) });
    expect(summary.skipped).toBe(1);
    expect(rows.find((r) => r.resourceId === resourceId)).toBeUndefined();
    expect(h.logs.some((l) => l.level === 'warn' && /malformed/.test(l.msg ?? ''))).toBe(true);
  });

  it('rejects scopes it cannot map', () => {
    expect(scopesToRequest([`/subscriptions/${PRD}`, '/providers/Microsoft.Management/managementGroups/mg1'])).toEqual({
      subscriptions: [PRD],
      managementGroups: ['mg1'],
    });
    expect(() => scopesToRequest(['/subscriptions/x/resourceGroups/rg'])).toThrow(/unsupported/);
  });
});

describe('Resource Graph: benchmark-sized dataset', () => {
  it('streams 50,000 generated rows page by page', async () => {
    const h = await startHarness({ dataset: generateDataset({ recommendations: 2000, assessments: 50_000 }) });
    try {
      let rows = 0;
      let biggest = 0;
      const summary = await h.client.queryUnhealthyAssessments([], {
        onPage: (page) => {
          rows += page.length;
          biggest = Math.max(biggest, page.length);
        },
      });
      expect(rows).toBe(50_000);
      expect(summary.pages).toBe(50);
      expect(biggest).toBe(1000);
    } finally {
      await h.sim.close();
    }
  });
});
