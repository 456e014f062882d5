import { ACTIVITY_LIMITS, checkActivity } from '../../bot/activity.js';
import { botAdded, botRemoved, execute, installationUpdate, message, submit } from '../harness/activities.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';

const SERVICE_URL = 'https://smba.trafficmanager.net/emea/';
const asJson = (a: object) => JSON.parse(JSON.stringify(a)) as Record<string, any>;
const base = () => asJson(message('help', { serviceUrl: SERVICE_URL, conversationType: 'channel' }));
const long = (n: number) => 'x'.repeat(n);

describe('the incoming activity schema', () => {
  it('accepts what Teams and the Emulator send', () => {
    for (const channelId of ['msteams', 'emulator'] as const) {
      for (const conversationType of ['personal', 'channel', 'groupChat'] as const) {
        const o = { serviceUrl: SERVICE_URL, channelId, conversationType, replyToId: '1700000000000' };
        for (const a of [
          message('help', o),
          submit({ verb: 'help' }, o),
          execute('help', { x: 1 }, o),
          botAdded(o),
          botRemoved(o),
          installationUpdate('add', o),
        ]) {
          expect(checkActivity(asJson(a))).toMatchObject({ ok: true });
        }
      }
    }
  });

  it('accepts every field at its limit', () => {
    const a = base();
    a.conversation.id = long(ACTIVITY_LIMITS.id);
    a.from = { id: long(ACTIVITY_LIMITS.id), name: long(ACTIVITY_LIMITS.name), aadObjectId: long(ACTIVITY_LIMITS.id) };
    a.text = long(ACTIVITY_LIMITS.text);
    a.value = { verb: long(ACTIVITY_LIMITS.verb), resourceIds: long(200_000) };
    expect(checkActivity(a).ok).toBe(true);
  });

  const refusals: Array<[string, (a: Record<string, any>) => void, string]> = [
    ['no sender', (a) => delete a.from, 'from'],
    ['no conversation', (a) => delete a.conversation, 'conversation'],
    ['no recipient', (a) => delete a.recipient, 'recipient'],
    ['no type', (a) => delete a.type, 'type'],
    ['no serviceUrl', (a) => delete a.serviceUrl, 'serviceUrl'],
    ['a sender without id', (a) => (a.from = { name: 'Ada' }), 'from.id'],
    ['a numeric sender id', (a) => (a.from.id = 42), 'from.id'],
    ['an empty conversation id', (a) => (a.conversation.id = ''), 'conversation.id'],
    ['a 300,000-character conversation id', (a) => (a.conversation.id = long(300_000)), 'conversation.id'],
    ['a long sender id', (a) => (a.from.id = long(ACTIVITY_LIMITS.id + 1)), 'from.id'],
    ['a long recipient id', (a) => (a.recipient.id = long(ACTIVITY_LIMITS.id + 1)), 'recipient.id'],
    ['a long activity id', (a) => (a.id = long(ACTIVITY_LIMITS.id + 1)), 'id'],
    ['a long replyToId', (a) => (a.replyToId = long(ACTIVITY_LIMITS.id + 1)), 'replyToId'],
    ['a long channelId', (a) => (a.channelId = long(65)), 'channelId'],
    ['a long serviceUrl', (a) => (a.serviceUrl = `https://x.example/${long(ACTIVITY_LIMITS.url)}`), 'serviceUrl'],
    ['a serviceUrl that is not http(s)', (a) => (a.serviceUrl = 'javascript:alert(1)'), 'serviceUrl'],
    ['a long tenant id in channelData', (a) => (a.channelData.tenant.id = long(ACTIVITY_LIMITS.id + 1)), 'channelData.tenant.id'],
    ['a long tenant id on the conversation', (a) => (a.conversation.tenantId = long(ACTIVITY_LIMITS.id + 1)), 'conversation.tenantId'],
    ['a long aadObjectId', (a) => (a.from.aadObjectId = long(ACTIVITY_LIMITS.id + 1)), 'from.aadObjectId'],
    ['a long sender name', (a) => (a.from.name = long(ACTIVITY_LIMITS.name + 1)), 'from.name'],
    ['a long conversation name', (a) => (a.conversation.name = long(ACTIVITY_LIMITS.name + 1)), 'conversation.name'],
    ['a long channel name', (a) => (a.channelData.channel.name = long(ACTIVITY_LIMITS.name + 1)), 'channelData.channel.name'],
    ['a long team name', (a) => (a.channelData.team.name = long(ACTIVITY_LIMITS.name + 1)), 'channelData.team.name'],
    ['text over the limit', (a) => (a.text = long(ACTIVITY_LIMITS.text + 1)), 'text'],
    ['a card value over the limit', (a) => (a.value = { verb: 'help', blob: long(ACTIVITY_LIMITS.valueJson) }), 'value'],
    ['a long Action.Submit verb', (a) => (a.value = { verb: long(ACTIVITY_LIMITS.verb + 1) }), 'value'],
    ['a long Action.Execute verb', (a) => (a.value = { action: { type: 'Action.Execute', verb: long(ACTIVITY_LIMITS.verb + 1) } }), 'value'],
    ['a control character in an id', (a) => (a.from.id = '29:user\n{"level":60}'), 'from.id'],
    ['a non-ASCII conversation id (botbuilder sends it in an HTTP header)', (a) => (a.conversation.id = '19:ünïcødé@thread.tacv2'), 'conversation.id'],
    ['card data with an own toString key', (a) => (a.value = { verb: 'submitAssignment', shortDescription: { toString: { x: 1 } } }), 'value'],
    ['card data with a constructor key', (a) => (a.value = { action: { verb: 'help', data: { constructor: 'x' } } }), 'value'],
    ['an unparsable timestamp', (a) => (a.timestamp = 'yesterday-ish'), 'timestamp'],
    ['channelData that is not an object', (a) => (a.channelData = 'teams'), 'channelData'],
    [
      'a card invoke without value.action (botbuilder would throw reading its type)',
      (a) => Object.assign(a, { type: 'invoke', name: 'adaptiveCard/action', value: [] }),
      'value.action',
    ],
  ];

  it.each(refusals)('refuses an activity with %s, naming the field but not echoing its value', (_what, mutate, path) => {
    const a = base();
    mutate(a);
    const result = checkActivity(a);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.some((p) => p.startsWith(`${path}:`))).toBe(true);
    expect(result.problems.join(' ')).not.toContain('xxxxxxxxxx');
  });

  it('reports at most five problems however many there are', () => {
    const result = checkActivity({ type: 1, id: 2, channelId: 3, serviceUrl: 4, from: 5, recipient: 6, conversation: 7, text: 8, replyToId: 9 });
    expect(result).toMatchObject({ ok: false });
    expect(!result.ok && result.problems).toHaveLength(5);
  });

  it('drops unknown keys of from, recipient and conversation (they are copied into stored references)', () => {
    const a = base();
    a.from.padding = long(500_000);
    a.conversation.padding = long(10);
    const result = checkActivity(a);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.activity.from).not.toHaveProperty('padding');
    expect(result.activity.conversation).not.toHaveProperty('padding');
    // Everything else botbuilder reads passes through.
    expect((result.activity as Record<string, any>).channelData.team).toEqual(a.channelData.team);
  });
});

describe('activities that fail the schema, over HTTP', () => {
  let bot: BotHarness;
  beforeEach(async () => {
    bot = await startBot();
  });
  afterEach(async () => {
    await bot.stop();
  });

  const o = () => ({ serviceUrl: bot.connector.url, conversationType: 'channel' as const });
  const cases: Array<[string, () => Record<string, any>]> = [
    [
      'no sender',
      () => {
        const a = asJson(message('subscribe', o()));
        delete a.from;
        return a;
      },
    ],
    [
      'no conversation',
      () => {
        const a = asJson(message('subscribe', o()));
        delete a.conversation;
        return a;
      },
    ],
    ['a 300,000-character conversation id', () => asJson(message('subscribe', { ...o(), conversationId: `19:${long(300_000)}@thread.tacv2` }))],
    ['a 300,000-character conversation id on install', () => asJson(installationUpdate('add', { ...o(), conversationId: `19:${long(300_000)}@thread.tacv2` }))],
    // Found by the fuzz suite: the turn failed when botbuilder put the id in an HTTP header.
    ['a non-ASCII conversation id on install', () => asJson(installationUpdate('add', { ...o(), conversationId: '19:канал@thread.tacv2' }))],
  ];

  it.each(cases)('answers an activity with %s with 400, stores nothing and logs one short line', async (_what, make) => {
    const before = bot.logs.length;
    const res = await bot.send(make());
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BadRequest');
    expect(bot.connector.calls).toHaveLength(0);
    expect(await bot.store.conversations.list()).toEqual([]);
    const lines = bot.logs.slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(1024);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'activity refused: invalid', status: 400 });
  });

  it('keeps every log line short for an activity with ids at their limits whose replies fail', async () => {
    const conversationId = `19:${long(ACTIVITY_LIMITS.id - 20)}@thread.tacv2`;
    const from = { id: `29:${long(ACTIVITY_LIMITS.id - 3)}`, name: long(ACTIVITY_LIMITS.name), aadObjectId: long(ACTIVITY_LIMITS.id) };
    bot.connector.failNext(20, 403);
    const before = bot.logs.length;
    const res = await bot.send(message('subscribe', { ...o(), conversationId, from }));
    expect(res.status).toBe(200);
    const lines = bot.logs.slice(before);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.length).toBeLessThan(4 * 1024);
    // A stored id is the bounded one.
    for (const c of await bot.store.conversations.list()) expect(c.id.length).toBeLessThanOrEqual(ACTIVITY_LIMITS.id);
  });
});
