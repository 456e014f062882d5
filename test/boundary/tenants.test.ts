/**
 * Which tenants may talk to the bot: a registered (production) bot defaults to its own tenant,
 * the local sandbox to anyone, and ALLOWED_TENANT_IDS overrides both.
 */
import { botConnectorToken, localBotFrameworkAuth, startOpenIdServer, type OpenIdServer } from '../harness/botFrameworkTokens.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';

const APP_ID = '11111111-2222-3333-4444-555555555555';
const OWN = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const PRODUCTION = {
  BOT_MODE: 'production',
  MicrosoftAppId: APP_ID,
  MicrosoftAppPassword: 'not-a-real-secret',
  SECRET_KEY: 'ab'.repeat(32),
  DEFENDER_SCOPES: '/subscriptions/00000000-0000-0000-0000-000000000001',
};

/** An activity that needs no reply (someone else joined), so an accepted one gets a plain 200. */
function memberJoined(serviceUrl: string, tenantId?: string) {
  return {
    type: 'conversationUpdate',
    id: 'act-1',
    channelId: 'msteams',
    serviceUrl,
    from: { id: '29:user-1' },
    recipient: { id: `28:${APP_ID}` },
    conversation: { id: '19:channel-1@thread.tacv2', conversationType: 'channel', ...(tenantId ? { tenantId } : {}) },
    ...(tenantId ? { channelData: { tenant: { id: tenantId } } } : {}),
    membersAdded: [{ id: '29:someone-else' }],
  };
}

describe('tenants allowed to talk to the bot', () => {
  let openId: OpenIdServer;
  let bot: BotHarness | undefined;
  beforeAll(async () => {
    openId = await startOpenIdServer();
  });
  afterAll(() => openId.close());
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
  });

  const start = async (env: Record<string, string>) => {
    bot = await startBot({ env, app: { botFrameworkAuth: localBotFrameworkAuth(openId.metadataUrl) } });
    return bot;
  };
  const post = (b: BotHarness, tenantId?: string) =>
    b.send(memberJoined(b.connector.url, tenantId), {
      authorization: `Bearer ${botConnectorToken({ appId: APP_ID, serviceUrl: b.connector.url, key: openId.privateKey })}`,
    });

  it("production with ALLOWED_TENANT_IDS unset: only the bot's own tenant (MicrosoftAppTenantId)", async () => {
    const b = await start({ ...PRODUCTION, MicrosoftAppTenantId: OWN, MicrosoftAppType: 'SingleTenant' });
    expect((await post(b, OWN)).status).toBe(200);
    const other = await post(b, OTHER);
    expect(other.status).toBe(403);
    expect(other.body).toEqual({ code: 'Forbidden', message: 'This tenant is not allowed to use this bot.' });
    expect((await post(b)).status).toBe(403);
    expect(await b.store.conversations.list()).toEqual([]);
  });

  it('production with ALLOWED_TENANT_IDS set: exactly those tenants', async () => {
    const b = await start({ ...PRODUCTION, MicrosoftAppTenantId: OWN, MicrosoftAppType: 'SingleTenant', ALLOWED_TENANT_IDS: OTHER });
    expect((await post(b, OTHER)).status).toBe(200);
    expect((await post(b, OWN)).status).toBe(403);
  });

  it('production with no tenant configured at all: any tenant, and a warning at start', async () => {
    const b = await start(PRODUCTION);
    expect((await post(b, OTHER)).status).toBe(200);
    expect(b.logs.some((l) => l.includes('chat accepts activities from any tenant'))).toBe(true);
  });
});
