import { cardText } from '../../cards/render.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { botAdded, execute, installationUpdate, message, submit, TENANT, USER } from '../harness/activities.js';
import { startFakeConnector } from '../harness/fakeConnector.js';

describe('bot over HTTP (restify + CloudAdapter, fake Bot Connector)', () => {
  let bot: BotHarness;
  beforeEach(async () => {
    bot = await startBot();
  });
  afterEach(async () => {
    await bot.stop();
  });

  it('answers "help" from the Emulator with a help card listing every command', async () => {
    const res = await bot.send(message('help', { serviceUrl: bot.connector.url, channelId: 'emulator' }));
    expect(res.status).toBe(200);
    const [reply] = bot.connector.activities();
    expect(reply.method).toBe('POST');
    expect(reply.path).toMatch(/^\/v3\/conversations\/a%3Apersonal-1\/activities\//);
    const card = reply.body.attachments[0].content;
    expect(card.type).toBe('AdaptiveCard');
    expect(card.version).toBe('1.5');
    const text = JSON.stringify(card);
    // Usages as typed, with their <placeholders> escaped so the renderer does not take them for HTML tags.
    for (const c of bot.app.commands.list()) expect(text).toContain(cardText(c.usage));
    expect(text).not.toMatch(/<id>|<resource/);
    expect(text).toContain('Sandbox mode');
    // The Emulator cannot do Action.Execute, so no card it gets may carry one.
    expect(text).not.toContain('Action.Execute');
  });

  it('strips the @mention and ignores case in a Teams channel', async () => {
    await bot.send(message('<at>Defender bot</at> HELP ', { serviceUrl: bot.connector.url, conversationType: 'channel' }));
    expect(bot.connector.cards()[0].body[0].text).toBe('Defender → ServiceNow bot');
  });

  it('answers unknown text with a hint pointing at help', async () => {
    await bot.send(message('make me a sandwich', { serviceUrl: bot.connector.url }));
    expect(bot.connector.activities()[0].body.text).toMatch(/Type \*\*help\*\*/);
  });

  it('greets once when Teams sends both conversationUpdate and installationUpdate for one install', async () => {
    const o = { serviceUrl: bot.connector.url, conversationType: 'channel' as const };
    await bot.send(botAdded(o));
    await bot.send(installationUpdate('add', o));
    const cards = bot.connector.cards();
    expect(cards).toHaveLength(1);
    expect(cards[0].body[0].text).toBe('Subscribed: this channel (Security)');
    const stored = await bot.store.conversations.get('19:channel-1@thread.tacv2');
    expect(stored).toMatchObject({ subscribed: true, kind: 'channel', tenantId: TENANT, serviceUrl: bot.connector.url });
  });

  it('forgets the conversation when the bot is uninstalled', async () => {
    const o = { serviceUrl: bot.connector.url, conversationType: 'channel' as const };
    await bot.send(installationUpdate('add', o));
    expect(await bot.store.conversations.get('19:channel-1@thread.tacv2')).toBeDefined();
    await bot.send(installationUpdate('remove', o));
    expect(await bot.store.conversations.get('19:channel-1@thread.tacv2')).toBeUndefined();
  });

  it('routes Action.Submit (Emulator) and Action.Execute (Teams) to the same handler', async () => {
    const viaSubmit = await bot.send(submit({ verb: 'help' }, { serviceUrl: bot.connector.url, channelId: 'emulator' }));
    expect(viaSubmit.status).toBe(200);
    const submitCard = bot.connector.cards()[0];

    const viaExecute = await bot.send(execute('help', {}, { serviceUrl: bot.connector.url }));
    expect(viaExecute.status).toBe(200);
    // Teams gets the answer in the invoke response (here a message, plus the card as a reply).
    expect(viaExecute.body.statusCode).toBe(200);
    const executeCard = bot.connector.cards()[1];
    expect(executeCard.body[0].text).toBe(submitCard.body[0].text);
    // The same card, except colours Teams cannot show readably (cards/render.ts READABLE_COLORS).
    const noColor = (body: unknown) => JSON.parse(JSON.stringify(body, (k, v: unknown) => (k === 'color' ? undefined : v))) as unknown;
    expect(noColor(executeCard.body)).toEqual(noColor(submitCard.body));
    expect(JSON.stringify(executeCard.body)).not.toContain('"Warning"');
  });

  it('answers an unknown verb or bad action data with an error card, and keeps serving', async () => {
    await bot.send(submit({ verb: 'launchMissiles' }, { serviceUrl: bot.connector.url, channelId: 'emulator' }));
    const invoke = await bot.send(execute('launchMissiles', { x: 1 }, { serviceUrl: bot.connector.url }));
    expect(invoke.status).toBe(200);
    const cards = bot.connector.cards();
    expect(cards).toHaveLength(2);
    for (const c of cards) expect(JSON.stringify(c)).toContain('Unknown action');
    const help = await bot.send(message('help', { serviceUrl: bot.connector.url }));
    expect(help.status).toBe(200);
  });

  it('refuses a malformed JSON body with 400 and an oversize body with 413, then still serves', async () => {
    const bad = await fetch(`${bot.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type": "message",' });
    expect(bad.status).toBe(400);
    const big = await fetch(`${bot.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', text: 'x'.repeat(1_100_000) }),
    });
    expect(big.status).toBe(413);
    const ok = await bot.send(message('help', { serviceUrl: bot.connector.url }));
    expect(ok.status).toBe(200);
  });

  it('reports health with version, mode and store status', async () => {
    const res = await fetch(`${bot.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', version: 'test', mode: 'sandbox', store: { kind: 'lowdb', ok: true } });
  });

  it('tells the user when a turn fails, without internals, and logs the context', async () => {
    bot.app.commands.register({
      name: 'explode',
      usage: 'explode',
      description: 'test only',
      handle: async () => {
        throw new Error('database password=hunter2 at /srv/secret');
      },
    });
    const res = await bot.send(message('explode', { serviceUrl: bot.connector.url }));
    expect(res.status).toBe(200);
    const apology = bot.connector.activities().find((a) => /something went wrong/.test(a.body.text ?? ''));
    expect(apology).toBeDefined();
    expect(apology!.body.text).not.toMatch(/hunter2|secret|Error/);
    expect(apology!.body.text).toMatch(/reference [0-9a-f]{8}/);
    const logged = bot.logs.find((l) => l.includes('unhandled error in turn'));
    expect(JSON.parse(logged!)).toMatchObject({
      activityType: 'message',
      channelId: 'msteams',
      conversationId: 'a:personal-1',
      err: { message: expect.stringContaining('database') },
    });
  });
});

describe('subscriptions', () => {
  it('persists a subscription across a restart, with its filters', async () => {
    const connector = await startFakeConnector();
    const first = await startBot({ connector });
    const o = { serviceUrl: connector.url, conversationType: 'groupChat' as const, conversationId: '19:group@thread.v2' };
    await first.send(message('subscribe severity=high,Medium', o));
    expect(connector.cards()[0].body[0].text).toBe('Subscribed: this group chat');
    const second = await first.restart();
    const stored = await second.store.conversations.get('19:group@thread.v2');
    expect(stored).toMatchObject({ subscribed: true, kind: 'groupChat', filters: { severities: ['High', 'Medium'], scopes: [] } });
    expect(stored!.reference).toMatchObject({ serviceUrl: connector.url, conversation: { id: '19:group@thread.v2' } });

    await second.send(message('unsubscribe', o));
    expect((await second.store.conversations.get('19:group@thread.v2'))!.subscribed).toBe(false);
    const third = await second.restart();
    expect((await third.store.conversations.get('19:group@thread.v2'))!.subscribed).toBe(false);
    await third.stop();
    await connector.close();
  });

  it('rejects an invalid filter with the reason and subscribes nothing', async () => {
    const bot = await startBot();
    await bot.send(message('subscribe severity=critical color=red', { serviceUrl: bot.connector.url }));
    const text = JSON.stringify(bot.connector.cards()[0]);
    expect(text).toContain('severity \\"critical\\" is not one of High, Medium, Low');
    expect(text).toContain('unknown filter \\"color\\"');
    expect((await bot.store.conversations.get('a:personal-1'))?.subscribed ?? false).toBe(false);
    await bot.stop();
  });
});

describe('access control', () => {
  it('answers 401 to an unsigned request when an app id is configured', async () => {
    const bot = await startBot({
      env: { BOT_MODE: 'sandbox', MicrosoftAppId: '11111111-2222-3333-4444-555555555555', MicrosoftAppPassword: 'not-a-real-secret' },
    });
    const res = await bot.send(message('help', { serviceUrl: bot.connector.url }));
    expect(res.status).toBe(401);
    expect(bot.connector.calls).toHaveLength(0);
    await bot.stop();
  });

  it('refuses activities from a tenant outside ALLOWED_TENANT_IDS', async () => {
    const bot = await startBot({ env: { ALLOWED_TENANT_IDS: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' } });
    const res = await bot.send(message('help', { serviceUrl: bot.connector.url, tenantId: TENANT }));
    expect(res.status).toBe(403);
    expect(bot.connector.calls).toHaveLength(0);
    const allowed = await bot.send(message('help', { serviceUrl: bot.connector.url, tenantId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', from: USER }));
    expect(allowed.status).toBe(200);
    await bot.stop();
  });
});
