import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as restify from 'restify';
import { RbacAuthorizer, ReadPolicy } from '../../app/authorization.js';
import { registerDashboard } from '../../bot/dashboard.js';
import { closeServer, listen } from '../../bot/server.js';
import { ManualClock } from '../../core/clock.js';
import { dashboardDataSchema, type DashboardData } from '../../core/dashboard.js';
import { silentLogger } from '../../core/logger.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import { recommendation, seededAssignments } from '../dashboard/fixtures.js';
import { CHROMIUM, renderCardsToPng } from '../render/renderCards.js';
import { buildTab, REPO } from './buildTab.js';
import { CARD_SAMPLES } from './cardSamples.js';

const ARTIFACTS = path.join(REPO, 'test/artifacts');

// CI installs Debian's chromium; a missing browser is a failure with a clear message, never a skip.
if (!existsSync(CHROMIUM)) {
  throw new Error(`Chromium not found at ${CHROMIUM}. Install it (apt-get install -y chromium) or set CHROMIUM_PATH; browser tests do not skip.`);
}

describe('in a real browser', () => {
  let browser: Browser;
  let server: restify.Server;
  let url: string;
  let webRoot: string;
  let api: DashboardData;

  beforeAll(async () => {
    webRoot = await buildTab();
    const store = openMemoryStore();
    await store.assignments.upsertMany(seededAssignments());
    await store.recommendations.upsertMany([
      recommendation('rec-0', 'High', 'https://portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/rec-0'),
    ]);
    server = restify.createServer();
    registerDashboard(server, {
      store,
      clock: new ManualClock('2026-11-26T09:00:00Z'),
      logger: silentLogger,
      config: { sandbox: true, allowedTenantIds: [] },
      // Localhost in the sandbox is the sandbox admin: every row is shown.
      readPolicy: new ReadPolicy({ store, authorizer: new RbacAuthorizer(undefined, { sandbox: true, logger: silentLogger }), logger: silentLogger }),
      webRoot,
    });
    url = await listen(server, 0, '127.0.0.1');
    api = dashboardDataSchema.parse(await (await fetch(`${url}/api/dashboard`)).json());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    mkdirSync(path.join(ARTIFACTS, 'cards'), { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await closeServer(server);
    rmSync(webRoot, { recursive: true, force: true });
  });

  async function openTab(query = ''): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // teams-js prefetches its list of valid origins from its CDN on load; offline that fails harmlessly.
      if (m.type() === 'error' && !m.location().url.startsWith('https://res.cdn.office.net/teams-js/')) errors.push(`${m.text()} (${m.location().url})`);
    });
    await page.goto(`${url}/tab${query}`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 5000 });
    return { page, errors };
  }

  it('shows standalone the same numbers and rows as /api/dashboard, and filters the table', async () => {
    const { page, errors } = await openTab();
    expect(await page.getAttribute('body', 'data-state')).toBe('ready');
    expect(await page.getAttribute('body', 'data-host')).toBe('standalone');
    expect(await page.textContent('#context')).toContain('Standalone');

    for (const key of ['open', 'overdue', 'inGrace', 'resolved'] as const) {
      expect([key, await page.textContent(`#kpi-${key}`)]).toEqual([key, String(api.counts[key])]);
    }
    // Sanity on the seed: every KPI is non-trivial, so a wrong mapping would show.
    expect(new Set(Object.values(api.counts)).size).toBeGreaterThan(3);

    const rowIds = await page.$$eval('#rows tr', (trs) => trs.map((tr) => tr.getAttribute('data-id')));
    expect(rowIds).toEqual(api.rows.map((r) => r.id));
    expect(await page.textContent('#row-count')).toBe(`Showing ${api.rows.length} of ${api.rows.length} assignments`);

    // Chart segments carry the counts they draw.
    const segs = await page.$$eval('#chart-severity rect[data-status]', (rs) =>
      rs.map((r) => [r.getAttribute('data-severity'), r.getAttribute('data-status'), Number(r.getAttribute('data-count'))]),
    );
    const expectedSegs = api.bySeverityStatus.flatMap((s) =>
      Object.entries(s.counts)
        .filter(([, n]) => n > 0)
        .map(([st, n]) => [s.severity, st, n]),
    );
    expect(segs.sort()).toEqual(expectedSegs.sort());
    const weekTotals = await page.$$eval('#chart-timeline [data-week-total]', (ts) => ts.map((t) => Number(t.textContent)));
    expect(weekTotals).toEqual(api.timeline.map((w) => w.total));
    const owners = await page.$$eval('#owners li', (lis) => lis.map((li) => [li.getAttribute('data-owner'), Number(li.querySelector('.count')?.textContent)]));
    expect(owners).toEqual(api.topOverdueOwners.map((o) => [o.owner, o.overdue]));

    // Links: ticket and Defender hrefs are the API's.
    const first = api.rows.find((r) => r.ticketLink)!;
    expect(await page.getAttribute(`#rows tr[data-id="${first.id}"] [data-col="ticket"] a`, 'href')).toBe(first.ticketLink);
    expect(await page.getAttribute(`#rows tr[data-id="${first.id}"] [data-col="defender"] a`, 'href')).toBe(first.defenderLink);

    // Filters are labelled controls; filter by owner + severity, then by the derived "overdue" status.
    const owner = api.topOverdueOwners[0]!.owner;
    await page.getByLabel('Owner', { exact: true }).selectOption(owner);
    await page.getByLabel('Severity', { exact: true }).selectOption('High');
    const expectedIds = api.rows.filter((r) => r.owner === owner && r.severity === 'High').map((r) => r.id);
    expect(expectedIds.length).toBeGreaterThan(0);
    expect(await page.$$eval('#rows tr', (trs) => trs.map((tr) => tr.getAttribute('data-id')))).toEqual(expectedIds);
    expect(await page.textContent('#row-count')).toBe(`Showing ${expectedIds.length} of ${api.rows.length} assignments`);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Status', { exact: true }).selectOption('overdue');
    const overdueIds = await page.$$eval('#rows tr', (trs) => trs.map((tr) => tr.getAttribute('data-id')));
    expect(overdueIds).toEqual(api.rows.filter((r) => r.overdue).map((r) => r.id));
    expect(overdueIds.length).toBe(api.counts.overdue);
    await page.getByLabel('Subscription', { exact: true }).selectOption(api.rows[0]!.subscriptionId);
    expect(await page.$$eval('#rows tr', (trs) => trs.map((tr) => tr.getAttribute('data-id')))).toEqual(
      api.rows.filter((r) => r.overdue && r.subscriptionId === api.rows[0]!.subscriptionId).map((r) => r.id),
    );

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('#rows tr').length === n, api.rows.length);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('uses the dark theme through CSS variables', async () => {
    const { page } = await openTab('?theme=dark');
    expect(await page.getAttribute('html', 'data-theme')).toBe('dark');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(31, 31, 31)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dark.png'), fullPage: true });
    await page.close();
  });

  it('tells the user clearly when the data cannot be loaded', async () => {
    const page = await browser.newPage();
    await page.route('**/api/dashboard', (route) =>
      route.fulfill({ status: 401, contentType: 'application/json', body: '{"code":"Unauthorized","message":"x"}' }),
    );
    await page.goto(`${url}/tab`);
    await page.waitForSelector('body[data-state="error"]', { timeout: 5000 });
    expect(await page.textContent('#error')).toBe('You are not signed in. Open the dashboard from Microsoft Teams.');
    // No reading role: the bot's refusal is shown as it is, as text.
    await page.route('**/api/dashboard', (route) =>
      route.fulfill({ status: 403, contentType: 'application/json', body: '{"code":"Forbidden","message":"Reading needs the <b>Reader</b> role."}' }),
    );
    await page.reload();
    await page.waitForSelector('body[data-state="error"]', { timeout: 5000 });
    expect(await page.textContent('#error')).toBe('Reading needs the <b>Reader</b> role.');
    await page.route('**/api/dashboard', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"rows":"nope"}' }));
    await page.reload();
    await page.waitForSelector('body[data-state="error"]', { timeout: 5000 });
    expect(await page.textContent('#error')).toMatch(/unexpected shape/);
    await page.close();
  });

  it('renders every card template with the official Adaptive Cards renderer without warnings', async () => {
    const templates = readdirSync(path.join(REPO, 'cards'))
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(templates.filter((t) => !CARD_SAMPLES[t])).toEqual([]); // every template has a sample
    const cards = templates.map((t) => CARD_SAMPLES[t]!());
    const rendered = await renderCardsToPng(cards, browser);
    const problems: string[] = [];
    rendered.forEach((r, i) => {
      writeFileSync(path.join(ARTIFACTS, 'cards', templates[i]!.replace(/\.json$/, '.png')), r.png);
      for (const w of r.warnings) problems.push(`${templates[i]}: ${w}`);
      // A real picture, not an empty box.
      expect([templates[i], r.png.length > 2000]).toEqual([templates[i], true]);
    });
    expect(problems).toEqual([]);
  });
});
