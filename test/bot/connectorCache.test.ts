import type { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import { ConnectorCache, UserTokenClientCache, type Authenticated } from '../../bot/adapter.js';
import { message } from '../harness/activities.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { startFakeConnector, type FakeConnector } from '../harness/fakeConnector.js';

/** An authentication result as botbuilder returns it, with a factory that counts the clients it builds. */
function authResult(claims: Record<string, string>, made: string[], fail = false): Authenticated {
  return {
    audience: 'https://api.botframework.com',
    callerId: undefined,
    claimsIdentity: { getClaimValue: (type: string) => claims[type] ?? null },
    connectorFactory: {
      create: async (serviceUrl: string, audience?: string) => {
        made.push(`${serviceUrl} ${audience ?? ''}`);
        if (fail) throw new Error('no credentials');
        return { serviceUrl, audience, claims } as never;
      },
    },
  } as unknown as Authenticated;
}

describe('Bot Connector clients kept across turns', () => {
  it('one client per app id, service URL and audience; different identities never share one', async () => {
    const cache = new ConnectorCache();
    const made: string[] = [];
    const a = cache.wrap(authResult({ aud: 'bot-a' }, made));
    const first = await a.connectorFactory!.create('https://smba.example/emea/', 'aud-1');
    expect(await cache.wrap(authResult({ aud: 'bot-a' }, made)).connectorFactory!.create('https://smba.example/emea/', 'aud-1')).toBe(first);
    expect(made).toHaveLength(1);
    // Another service URL, audience, or identity (either claim botbuilder reads the app id from): its own client.
    await a.connectorFactory!.create('https://smba.example/amer/', 'aud-1');
    await a.connectorFactory!.create('https://smba.example/emea/', 'aud-2');
    const other = await cache.wrap(authResult({ aud: 'bot-b' }, made)).connectorFactory!.create('https://smba.example/emea/', 'aud-1');
    const emulator = await cache.wrap(authResult({ appid: 'bot-a' }, made)).connectorFactory!.create('https://smba.example/emea/', 'aud-1');
    expect(made).toHaveLength(5);
    expect(other).not.toBe(first);
    expect(emulator).not.toBe(first);
    expect((other as unknown as { claims: unknown }).claims).toEqual({ aud: 'bot-b' });
  });

  it('does not keep a failed creation, and keeps at most `limit` clients', async () => {
    const cache = new ConnectorCache(2);
    const made: string[] = [];
    await expect(cache.wrap(authResult({ aud: 'x' }, made, true)).connectorFactory!.create('https://a.example/')).rejects.toThrow('no credentials');
    await Promise.resolve();
    expect(cache.size()).toBe(0);
    await cache.wrap(authResult({ aud: 'x' }, made)).connectorFactory!.create('https://a.example/');
    expect(made).toHaveLength(2);
    for (const url of ['https://b.example/', 'https://c.example/', 'https://d.example/'])
      await cache.wrap(authResult({ aud: 'x' }, made)).connectorFactory!.create(url);
    expect(cache.size()).toBe(2);
  });

  it('one user-token client per identity; failures are not kept; the rest of the authentication is the original', async () => {
    const made: string[] = [];
    let fail = false;
    const original = {
      marker: 'original',
      async createUserTokenClient(identity: Authenticated['claimsIdentity']) {
        const who = `${identity.getClaimValue('aud') ?? ''}/${identity.getClaimValue('appid') ?? ''}`;
        made.push(who);
        if (fail) throw new Error('no credentials');
        return { who } as never;
      },
    } as unknown as ConfigurationBotFrameworkAuthentication;
    const cache = new UserTokenClientCache(2);
    const wrapped = cache.around(original);
    const identity = (claims: Record<string, string>) =>
      ({ getClaimValue: (type: string) => claims[type] ?? null }) as unknown as Authenticated['claimsIdentity'];
    const first = await wrapped.createUserTokenClient(identity({ aud: 'bot-a' }));
    expect(await wrapped.createUserTokenClient(identity({ aud: 'bot-a' }))).toBe(first);
    expect(await wrapped.createUserTokenClient(identity({ appid: 'bot-a' }))).not.toBe(first);
    expect(made).toEqual(['bot-a/', '/bot-a']);
    expect((wrapped as unknown as { marker: string }).marker).toBe('original');

    fail = true;
    await expect(wrapped.createUserTokenClient(identity({ aud: 'bot-b' }))).rejects.toThrow('no credentials');
    await Promise.resolve();
    expect(cache.size()).toBe(1);
    fail = false;
    await wrapped.createUserTokenClient(identity({ aud: 'bot-b' }));
    await wrapped.createUserTokenClient(identity({ aud: 'bot-c' }));
    expect(cache.size()).toBe(2);
  });

  describe('over HTTP', () => {
    let bot: BotHarness;
    let second: FakeConnector;
    beforeEach(async () => {
      bot = await startBot();
      second = await startFakeConnector();
    });
    afterEach(async () => {
      await bot.stop();
      await second.close();
    });

    it('turns from two service URLs each answer on their own connector, with one client per URL', async () => {
      for (const url of [bot.connector.url, second.url, bot.connector.url, second.url, bot.connector.url]) {
        expect((await bot.send(message('help', { serviceUrl: url }))).status).toBe(200);
      }
      expect(bot.connector.activities().filter((a) => a.method === 'POST')).toHaveLength(3);
      expect(second.activities().filter((a) => a.method === 'POST')).toHaveLength(2);
      expect(bot.app.adapter.connectors.size()).toBe(2);
      // Every turn asked for a user-token client; one identity, so one was built.
      expect(bot.app.adapter.userTokens.size()).toBe(1);
    });

    it('proactive sends share one client per conversation service URL instead of building one per send', async () => {
      expect((await bot.send(message('subscribe', { serviceUrl: bot.connector.url, conversationType: 'channel' }))).status).toBe(200);
      const afterTurn = bot.app.adapter.connectors.size();
      for (const text of ['one', 'two', 'three']) await bot.app.messenger.send('19:channel-1@thread.tacv2', { text });
      expect(bot.connector.activities().filter((a) => a.method === 'POST' && a.conversationId === '19:channel-1@thread.tacv2')).toHaveLength(4);
      // A proactive send has its own identity and audience: one more client for all three.
      expect(bot.app.adapter.connectors.size()).toBe(afterTurn + 1);
    });
  });
});
