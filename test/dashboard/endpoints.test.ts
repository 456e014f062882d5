import { rmSync } from 'node:fs';
import * as restify from 'restify';
import { registerDashboard } from '../../bot/dashboard.js';
import { closeServer, listen } from '../../bot/server.js';
import { ManualClock } from '../../core/clock.js';
import { dashboardDataSchema } from '../../core/dashboard.js';
import type { Logger } from '../../core/logger.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import type { Store } from '../../app/ports.js';
import { buildTab } from '../browser/buildTab.js';
import { seededAssignments } from './fixtures.js';
import { APP_ID, APP_ID_URI, OTHER_TENANT, ssoClaims, startFakeEntra, TENANT, type FakeEntra } from './tokens.js';
import { cachedAncestry, RbacAuthorizer, ReadPolicy } from '../../app/authorization.js';
import type { AzureClient } from '../../connectors/defender/azureClient.js';
import { ROOT_MANAGEMENT_GROUP, userObjectId } from '../../sandbox/defender/dataset.js';
import { startHarness, type Harness } from '../defender/helpers.js';

const ROOT_SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
/** Reader on all three subscriptions of the Defender simulator. */
const ERIN = userObjectId('erin.walsh@contoso.com');

const NOW = new Date('2026-11-26T09:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);

function capturingLogger(lines: string[]): Logger {
  const log = (level: string) => (a: unknown, b?: string) => lines.push(`${level} ${JSON.stringify(a)} ${b ?? ''}`);
  const l: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => l };
  return l;
}

interface Running {
  url: string;
  server: restify.Server;
  logs: string[];
}

async function start(store: Store, webRoot: string, config: Parameters<typeof registerDashboard>[1]['config'], azure?: AzureClient): Promise<Running> {
  const server = restify.createServer();
  const logs: string[] = [];
  const logger = capturingLogger(logs);
  // Roles come from the Defender simulator's RBAC, as in production from ARM.
  const authorizer = new RbacAuthorizer(azure?.roles, {
    sandbox: config.sandbox,
    logger,
    scopes: [ROOT_SCOPE],
    ancestry: azure ? cachedAncestry({ known: () => new Map(), fetch: (ids) => azure.getSubscriptionAncestry(ids), now: () => NOW.getTime() }) : undefined,
    now: () => NOW.getTime(),
  });
  registerDashboard(server, { store, clock: new ManualClock(NOW), logger, config, webRoot, readPolicy: new ReadPolicy({ store, authorizer, logger }) });
  const url = await listen(server, 0, '127.0.0.1');
  return { url, server, logs };
}

describe('dashboard HTTP endpoints', () => {
  let webRoot: string;
  let store: Store;
  let entra: FakeEntra;
  let sandbox: Running;
  let production: Running;
  let defender: Harness;

  beforeAll(async () => {
    webRoot = await buildTab();
    store = await openMemoryStore();
    await store.assignments.upsertMany(seededAssignments());
    entra = await startFakeEntra();
    defender = await startHarness();
    sandbox = await start(store, webRoot, { sandbox: true, allowedTenantIds: [] });
    production = await start(
      store,
      webRoot,
      { sandbox: false, allowedTenantIds: [TENANT], appId: APP_ID, appIdUri: APP_ID_URI, jwksUrl: entra.jwksUrl },
      defender.client,
    );
  });
  afterAll(async () => {
    await closeServer(sandbox.server);
    await closeServer(production.server);
    await defender.sim.close();
    await entra.close();
    rmSync(webRoot, { recursive: true, force: true });
  });

  it('serves the tab page, config page and bundle with the right content types', async () => {
    const tab = await fetch(`${sandbox.url}/tab`);
    expect(tab.status).toBe(200);
    expect(tab.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(tab.headers.get('content-security-policy')).toContain('frame-ancestors');
    expect(tab.headers.get('content-security-policy')).toContain('https://teams.microsoft.com');
    expect(await tab.text()).toContain('<script src="/tab/tab.js">');
    const config = await fetch(`${sandbox.url}/tab/config`);
    expect(await config.text()).toContain('/tab/config.js');
    const js = await fetch(`${sandbox.url}/tab/tab.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await js.text()).length).toBeGreaterThan(10_000);
  });

  it.each([
    '/tab/..%2f..%2fpackage.json',
    '/tab/%2e%2e%2fbot%2fdashboard.ts',
    '/tab/.env',
    '/tab/missing.js',
    '/tab/index.html.bak',
    '/tab/..%5c..%5cpackage.json',
  ])('does not serve %s', async (p) => {
    const res = await fetch(`${sandbox.url}${p}`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('"name"');
  });

  it('sandbox mode: open to localhost, validated JSON', async () => {
    const res = await fetch(`${sandbox.url}/api/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const data = dashboardDataSchema.parse(await res.json());
    expect(data.counts.total).toBe(30);
    expect(data.today).toBe('2026-11-26');
  });

  it('sandbox mode: a request forwarded by a proxy or tunnel still needs a token', async () => {
    const res = await fetch(`${sandbox.url}/api/dashboard`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(res.status).toBe(401);
  });

  it('production: a valid Teams SSO token of a Reader on every subscription gets all the data', async () => {
    const res = await fetch(`${production.url}/api/dashboard`, { headers: { authorization: `Bearer ${entra.token(ssoClaims(nowSec, { oid: ERIN }))}` } });
    expect(res.status).toBe(200);
    expect(dashboardDataSchema.parse(await res.json()).rows).toHaveLength(30);
  });

  it('production: no token, bad token, expired, wrong audience, other tenant → the same bare 401', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['no token', {}],
      ['not bearer', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['garbage', { authorization: 'Bearer not.a.token' }],
      ['expired', { authorization: `Bearer ${entra.token(ssoClaims(nowSec, { exp: nowSec - 3600 }))}` }],
      ['wrong audience', { authorization: `Bearer ${entra.token(ssoClaims(nowSec, { aud: 'api://other/123' }))}` }],
      [
        'other tenant',
        { authorization: `Bearer ${entra.token(ssoClaims(nowSec, { tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` }))}` },
      ],
    ];
    for (const [name, headers] of cases) {
      const res = await fetch(`${production.url}/api/dashboard`, { headers });
      expect([name, res.status]).toEqual([name, 401]);
      expect([name, await res.json()]).toEqual([name, { code: 'Unauthorized', message: 'Open the dashboard from Microsoft Teams to sign in.' }]);
    }
    // Reasons are logged for the operator, without the token.
    expect(production.logs.join('\n')).toMatch(/tenant not allowed/);
    expect(production.logs.join('\n')).toMatch(/wrong audience/);
    expect(production.logs.join('\n')).not.toMatch(/eyJ/);
  });

  it('production: localhost gets no free pass', async () => {
    const res = await fetch(`${production.url}/api/dashboard`);
    expect(res.status).toBe(401);
  });
});
