/**
 * Who may open the dashboard and what it shows, through the real server in production mode:
 * real RS256 tokens signed by a local fake Entra (JWKS over HTTP), roles from the Defender
 * simulator's RBAC behind the real Azure client.
 */
import { allowedTenants } from '../../bot/index.js';
import { ROOT_MANAGEMENT_GROUP, userObjectId } from '../../sandbox/defender/dataset.js';
import { dashboardDataSchema } from '../../core/dashboard.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { startHarness, type Harness } from '../defender/helpers.js';
import { seededAssignments, SUBS } from './fixtures.js';
import { APP_ID, OTHER_TENANT, ssoClaims, startFakeEntra, TENANT, type FakeEntra } from './tokens.js';

const ROOT_SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
const ERIN = userObjectId('erin.walsh@contoso.com'); // Reader on every subscription
const BOB = userObjectId('bob.martinez@contoso.com'); // Contributor on Production (SUBS[0]) and Shared Services
const GRACE = userObjectId('grace.lee@contoso.com'); // no role
const [PRD, DEV] = SUBS as [string, string];

describe('dashboard access in production', () => {
  let entra: FakeEntra;
  let defender: Harness;
  let bot: BotHarness | undefined;

  beforeAll(async () => {
    entra = await startFakeEntra();
    defender = await startHarness();
  });
  afterAll(async () => {
    await defender.sim.close();
    await entra.close();
  });
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
  });

  async function start(env: Record<string, string> = {}): Promise<BotHarness> {
    bot = await startBot({
      clock: defender.clock,
      env: {
        BOT_MODE: 'production',
        MicrosoftAppId: APP_ID,
        MicrosoftAppPassword: 'not-used-by-these-tests',
        SECRET_KEY: 'ab'.repeat(32),
        PUBLIC_URL: 'https://bot.contoso.com',
        ENTRA_JWKS_URL: entra.jwksUrl,
        DEFENDER_SCOPES: ROOT_SCOPE,
        ...env,
      },
      app: { azure: defender.client },
    });
    await bot.store.assignments.upsertMany(seededAssignments());
    return bot;
  }
  const nowSec = () => Math.floor(defender.clock.now().getTime() / 1000);
  const tokenFor = (over: Record<string, unknown>) => entra.token(ssoClaims(nowSec(), over));
  const foreign = { tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` };
  const get = async (b: BotHarness, token: string) => {
    const res = await fetch(`${b.url}/api/dashboard`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it("with ALLOWED_TENANT_IDS unset, only the bot's own tenant (MicrosoftAppTenantId) gets in", async () => {
    const b = await start({ MicrosoftAppTenantId: TENANT });
    const own = await get(b, tokenFor({ oid: ERIN }));
    expect(own.status).toBe(200);
    expect(dashboardDataSchema.parse(own.body).rows).toHaveLength(30);
    const other = await get(b, tokenFor({ ...foreign, oid: ERIN }));
    expect(other).toEqual({ status: 401, body: { code: 'Unauthorized', message: 'Open the dashboard from Microsoft Teams to sign in.' } });
    expect(b.logs.join('\n')).toContain('tenant not allowed');
  });

  it('a MultiTenant bot with no tenant configured refuses every tenant until ALLOWED_TENANT_IDS lists it', async () => {
    const b = await start();
    expect((await get(b, tokenFor({ oid: ERIN }))).status).toBe(401);
    expect((await get(b, tokenFor({ ...foreign, oid: ERIN }))).status).toBe(401);
    expect(b.logs.join('\n')).toContain('set ALLOWED_TENANT_IDS or MicrosoftAppTenantId');
    await b.stop();
    const listed = await start({ ALLOWED_TENANT_IDS: OTHER_TENANT });
    bot = listed;
    expect((await get(listed, tokenFor({ ...foreign, oid: ERIN }))).status).toBe(200);
    expect((await get(listed, tokenFor({ oid: ERIN }))).status).toBe(401);
  });

  it("shows only the subscriptions the token's user may read", async () => {
    const b = await start({ MicrosoftAppTenantId: TENANT });
    const res = await get(b, tokenFor({ oid: BOB }));
    expect(res.status).toBe(200);
    const data = dashboardDataSchema.parse(res.body);
    expect(data.rows.length).toBeGreaterThan(0);
    expect(new Set(data.rows.map((r) => r.subscriptionId))).toEqual(new Set([PRD]));
    expect(data.counts.total).toBe(data.rows.length);
    expect(JSON.stringify(res.body)).not.toContain(DEV);
  });

  it('someone with no role gets a clear 403, or only their own assignments when they own some', async () => {
    const b = await start({ MicrosoftAppTenantId: TENANT });
    const none = await get(b, tokenFor({ oid: GRACE }));
    expect(none.status).toBe(403);
    expect(none.body.code).toBe('Forbidden');
    expect(none.body.message).toContain('Owner, Contributor, Security Admin, Security Reader or Reader');
    expect(JSON.stringify(none.body)).not.toContain('vm-');

    // A v1 token's upn (the directory's own value) names the owner; preferred_username does not count.
    const own = await get(b, tokenFor({ oid: GRACE, upn: 'bea@contoso.com', preferred_username: 'bea@contoso.com' }));
    expect(own.status).toBe(200);
    const rows = dashboardDataSchema.parse(own.body).rows;
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.owner))).toEqual(new Set(['bea@contoso.com']));
    expect((await get(b, tokenFor({ oid: GRACE, preferred_username: 'bea@contoso.com' }))).status).toBe(403);
  });

  it('a token without a user object id (an app) reads nothing', async () => {
    const b = await start({ MicrosoftAppTenantId: TENANT });
    const claims = ssoClaims(nowSec());
    delete claims.oid;
    expect((await get(b, entra.token(claims))).status).toBe(401);
  });

  it('allowedTenants: ALLOWED_TENANT_IDS, else MicrosoftAppTenantId, else a GUID AZURE_TENANT_ID, else none', () => {
    expect(allowedTenants({ ALLOWED_TENANT_IDS: [OTHER_TENANT], MicrosoftAppTenantId: TENANT, AZURE_TENANT_ID: undefined })).toEqual([OTHER_TENANT]);
    expect(allowedTenants({ ALLOWED_TENANT_IDS: [], MicrosoftAppTenantId: TENANT, AZURE_TENANT_ID: OTHER_TENANT })).toEqual([TENANT]);
    expect(allowedTenants({ ALLOWED_TENANT_IDS: [], MicrosoftAppTenantId: undefined, AZURE_TENANT_ID: OTHER_TENANT })).toEqual([OTHER_TENANT]);
    expect(allowedTenants({ ALLOWED_TENANT_IDS: [], MicrosoftAppTenantId: undefined, AZURE_TENANT_ID: 'contoso.onmicrosoft.com' })).toEqual([]);
    expect(allowedTenants({ ALLOWED_TENANT_IDS: [], MicrosoftAppTenantId: undefined, AZURE_TENANT_ID: undefined })).toEqual([]);
  });
});
