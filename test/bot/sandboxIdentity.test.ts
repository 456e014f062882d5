import { execute, message } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { loadConfig, sandboxIdentity } from '../../compose/config.js';
import { createServices } from '../../compose/services.js';
import { PRODUCTION_ENV } from '../harness/modes.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openMemoryStore } from '../../storage/memoryStore.js';
import { SecretBox } from '../../storage/secrets.js';
import { SANDBOX_SCOPE } from '../../sandbox/index.js';
import { BUILTIN_SUBSCRIPTIONS, userObjectId } from '../../sandbox/defender/dataset.js';

const [PRD, , DEV] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];

const CHANNEL = { conversationType: 'channel' as const };
/** The Agents Playground's default user: an Entra object id the simulated directory does not know. */
const PLAYGROUND_USER = { id: '29:alex', name: 'Alex Wilber', aadObjectId: '00000000-0000-0000-0000-0000000000aa' };

async function subscribeAndCreate(h: SandboxHarness, from: typeof PLAYGROUND_USER) {
  await h.bot.send(message('subscribe', { serviceUrl: h.bot.connector.url, ...CHANNEL, from }));
  const subscribed = (await h.bot.store.conversations.get('19:channel-1@thread.tacv2'))?.subscribed ?? false;
  await h.bot.app.sync!.runOnce();
  await h.bot.app.sync!.delivered();
  const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length <= 10)!;
  await h.bot.send(
    execute(
      'submitAssignment',
      { recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId, ...assignmentFormValues(h.integrationId) },
      { serviceUrl: h.bot.connector.url, ...CHANNEL, from },
    ),
  );
  return { subscribed, tickets: h.servicenow.control.records('incident').length, lastCard: JSON.stringify(h.bot.connector.cards().pop()) };
}

describe('sandbox identity (SANDBOX_IDENTITY)', () => {
  let h: SandboxHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('by default the local user is the sandbox admin, whatever Entra id its client sends (the Agents Playground)', async () => {
    // Empty = unset: the documented default applies.
    h = await startSandboxBot({ subscribe: false, env: { SANDBOX_IDENTITY: '' } });
    const { subscribed, tickets } = await subscribeAndCreate(h, PLAYGROUND_USER);
    expect(subscribed).toBe(true);
    expect(tickets).toBe(1);
  });

  it('SANDBOX_IDENTITY=reader makes everyone the sandbox reader, so even the Owner sees the refusals', async () => {
    h = await startSandboxBot({ subscribe: false, env: { SANDBOX_IDENTITY: 'reader' } });
    const { subscribed, tickets, lastCard } = await subscribeAndCreate(h, SANDBOX_ADMIN);
    expect(subscribed).toBe(false);
    expect(tickets).toBe(0);
    expect(lastCard).toContain('Owner, Contributor or Security Admin');
  });

  it('SANDBOX_IDENTITY=roles checks each user in the simulated directory: an unknown Entra id is refused', async () => {
    h = await startSandboxBot({ subscribe: false, env: { SANDBOX_IDENTITY: 'roles' } });
    const { subscribed, tickets } = await subscribeAndCreate(h, PLAYGROUND_USER);
    expect(subscribed).toBe(false);
    expect(tickets).toBe(0);
  });

  it("a sandbox user named by e-mail acts with that user's roles; an unknown one is allowed nothing", async () => {
    h = await startSandboxBot({ subscribe: false });
    const as = (identity: string) =>
      createServices({ ...portsFor(loadConfig({ SANDBOX_IDENTITY: identity })), azure: h!.azure, defenderScopes: [SANDBOX_SCOPE] }).authorizer;
    // Bob is Contributor on Production and Shared Services only.
    const bob = await as('bob.martinez@contoso.com').access(PLAYGROUND_USER, [PRD, DEV]);
    expect([...bob.manage]).toEqual([PRD]);
    expect((await as('admin').access(PLAYGROUND_USER, [PRD, DEV])).manage).toEqual(new Set([PRD, DEV]));
    const refused = await as('nobody@contoso.com').canManage(PLAYGROUND_USER, [PRD]);
    expect(refused).toEqual({ allowed: false, reason: expect.stringContaining('nobody@contoso.com is not a user of the sandbox directory') });
  });
});

function portsFor(config: ReturnType<typeof loadConfig>) {
  return {
    config,
    store: openMemoryStore(),
    clock: systemClock,
    logger: silentLogger,
    secrets: new SecretBox(Buffer.alloc(32, 7)),
    messenger: { send: async () => undefined, update: async () => undefined, pending: () => 0, drain: async () => undefined },
    directory: { personalConversationOf: async () => undefined, upnOf: async () => undefined, objectIdOf: async () => undefined },
  };
}

describe('the sandbox identity never applies outside the sandbox on localhost', () => {
  let h: SandboxHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('config: admin by default, reader is the sandbox reader, roles off localhost, none in production', () => {
    expect(sandboxIdentity(loadConfig({}))).toBe('admin');
    expect(sandboxIdentity(loadConfig({ SANDBOX_IDENTITY: 'reader' }))).toEqual({ upn: 'erin.walsh@contoso.com' });
    expect(sandboxIdentity(loadConfig({ SANDBOX_IDENTITY: 'Dave.Kim@contoso.com' }))).toEqual({ upn: 'dave.kim@contoso.com' });
    expect(sandboxIdentity(loadConfig({ HOST: '127.0.0.1' }))).toBe('admin');
    expect(sandboxIdentity(loadConfig({ HOST: '0.0.0.0' }))).toBe('roles');
    expect(sandboxIdentity(loadConfig({ ...PRODUCTION_ENV, SANDBOX_IDENTITY: 'admin' }))).toBeUndefined();
    expect(() => loadConfig({ SANDBOX_IDENTITY: 'root' })).toThrow(/SANDBOX_IDENTITY: must be admin, reader, roles or the e-mail of a sandbox user/);
  });

  it("production mode checks the user's own Azure roles even with SANDBOX_IDENTITY=admin", async () => {
    h = await startSandboxBot({ subscribe: false });
    const production = createServices({
      ...portsFor(loadConfig({ ...PRODUCTION_ENV, DEFENDER_SCOPES: SANDBOX_SCOPE, SANDBOX_IDENTITY: 'admin' })),
      azure: h.azure,
      defenderScopes: [SANDBOX_SCOPE],
    });
    expect((await production.authorizer.canManage(PLAYGROUND_USER, [])).allowed).toBe(false);
    expect((await production.authorizer.canManage({ id: '29:erin', aadObjectId: userObjectId('erin.walsh@contoso.com') }, [])).allowed).toBe(false);
    expect((await production.authorizer.canManage(SANDBOX_ADMIN, [])).allowed).toBe(true);
    expect((await production.authorizer.canManage({ id: '29:emulator' }, [])).allowed).toBe(false);
  });
});
