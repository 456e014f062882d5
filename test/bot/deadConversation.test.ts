/**
 * A conversation the bot was removed from: Teams answers 403/404 to every send. The bot must stop
 * after a confirmed removal (REMOVAL_CODES at once, REMOVAL_STRIKES refusals without a code),
 * unsubscribe it but keep its record, log it once, count it in /healthz, and take it back when
 * the app is installed again. Everything runs over HTTP: the real server, the fake Bot Connector
 * answering with Teams' error bodies, the real sync and reminder jobs against the simulators.
 */
import { REMOVAL_STRIKES } from '../../bot/messenger.js';
import { botAdded, message } from '../harness/activities.js';
import { SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { assignment, conversation } from '../reminders/fixtures.js';

const CHANNEL = '19:channel-1@thread.tacv2';
const BOB = 'bob.martinez@contoso.com';
const BOB_CHAT = 'a:bob-personal';
const WEEK = 7 * 86_400_000;

/** Log lines at warn level or above that mention the conversation. */
function warningsAbout(logs: readonly string[], conversationId: string): Array<{ level: number; msg: string }> {
  return logs
    .filter((l) => l.includes(conversationId))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => l.level >= 40);
}

async function healthz(h: SandboxHarness): Promise<{ conversations: { subscribed: number; unreachable: number } }> {
  const res = await fetch(`${h.bot.url}/healthz`);
  expect(res.status).toBe(200);
  return (await res.json()) as { conversations: { subscribed: number; unreachable: number } };
}

/** Flips one unhealthy resource so the next sync pass has card updates to send. */
function changeSomething(h: SandboxHarness, n: number): void {
  const unhealthy = h.defender.control.listAssessments({ code: 'Unhealthy' });
  const a = unhealthy[n % unhealthy.length]!;
  h.defender.control.markHealthy({ resourceId: a.resourceId, assessmentKey: a.assessmentKey });
}

describe('a conversation the bot was removed from', () => {
  let h: SandboxHarness;

  beforeEach(async () => {
    h = await startSandboxBot({ subscribe: false });
    const res = await h.bot.send(message('subscribe', { serviceUrl: h.bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN }));
    expect(res.status).toBe(200);
    expect((await h.bot.store.conversations.get(CHANNEL))?.subscribed).toBe(true);
  });
  afterEach(() => h.stop());

  it('Teams says BotNotInConversationRoster: one send reaches Teams across sync passes and reminder runs, one warning, healthz counts it, a reinstall brings it back', async () => {
    const { bot } = h;
    // Grace periods that ended in this channel: the reminder job announces them there.
    await bot.store.assignments.upsertMany([
      assignment({ owner: BOB, dueDate: '2026-11-20', gracePeriod: true, conversationId: CHANNEL }),
      assignment({ owner: BOB, dueDate: '2026-11-21', gracePeriod: true, conversationId: CHANNEL }),
    ]);
    bot.connector.removeBot(CHANNEL);
    bot.connector.reset();

    const first = await bot.app.sync!.runOnce();
    expect(first.cardsPosted).toBeGreaterThan(30);
    expect(await bot.app.sync!.delivered()).toMatchObject({ posted: 0, failed: first.cardsPosted });
    for (let pass = 1; pass <= 3; pass++) {
      changeSomething(h, pass);
      h.clock.advance(5 * 60_000);
      await bot.app.sync!.runOnce();
      await bot.app.sync!.delivered();
      await bot.app.reminders.runOnce();
      h.clock.advance(WEEK);
    }
    await bot.app.messenger.drain();

    // The first card of the first pass found out; the other queued cards and every later send failed fast.
    expect(bot.connector.refusedCalls(CHANNEL)).toHaveLength(1);
    expect(bot.connector.calls.filter((c) => c.conversationId === CHANNEL)).toHaveLength(1);
    const warnings = warningsAbout(bot.logs, CHANNEL);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/removed from this conversation/);
    expect(await healthz(h)).toMatchObject({ conversations: { subscribed: 0, unreachable: 1 } });
    expect(JSON.stringify(await healthz(h))).not.toContain(CHANNEL);
    // The record stays, unsubscribed, with its filters, for an admin to see.
    expect(await bot.store.conversations.get(CHANNEL)).toMatchObject({
      subscribed: false,
      unreachable: { status: 403, code: 'BotNotInConversationRoster' },
      name: 'Security',
    });

    // Reinstalled: Teams sends conversationUpdate with the bot among membersAdded.
    bot.connector.restoreBot(CHANNEL);
    const added = await bot.send(botAdded({ serviceUrl: bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN }));
    expect(added.status).toBe(200);
    expect(await bot.store.conversations.get(CHANNEL)).toMatchObject({ subscribed: true });
    expect((await bot.store.conversations.get(CHANNEL))!.unreachable).toBeUndefined();
    expect(await healthz(h)).toMatchObject({ conversations: { subscribed: 1, unreachable: 0 } });
    // The reinstall's welcome is followed at once by the cards from the last sync (issue 13, item 6); the next pass adds none.
    const reinstalled = await bot.app.sync!.delivered();
    expect(reinstalled).toMatchObject({ failed: 0 });
    expect(reinstalled.posted).toBeGreaterThan(30);
    const cardsBack = bot.connector.activities().filter((c) => c.conversationId === CHANNEL && JSON.stringify(c.body).includes('"id":"resourceIds"'));
    expect(cardsBack).toHaveLength(reinstalled.posted);
    bot.connector.reset();
    const back = await bot.app.sync!.runOnce();
    expect(await bot.app.sync!.delivered()).toMatchObject({ posted: 0, failed: 0 });
    expect(back.cardsPosted).toBe(0);
  });

  it(`403/404 without a removal code: ${REMOVAL_STRIKES} refusals in a row confirm it; reminders then report the owner unreachable instead of sending`, async () => {
    const { bot } = h;
    await bot.store.conversations.upsert(conversation(BOB_CHAT, bot.connector.url, { userUpn: BOB }));
    await bot.store.assignments.upsertMany([assignment({ owner: BOB, dueDate: '2027-03-01', conversationId: CHANNEL })]);
    bot.connector.removeBot(BOB_CHAT, { status: 404, code: null });
    bot.connector.reset();

    const reports = [];
    for (let week = 0; week < 5; week++) {
      reports.push(await bot.app.reminders.runOnce());
      h.clock.advance(WEEK);
    }
    await bot.app.messenger.drain();

    expect(bot.connector.refusedCalls(BOB_CHAT)).toHaveLength(REMOVAL_STRIKES);
    expect(bot.connector.calls.filter((c) => c.conversationId === BOB_CHAT)).toHaveLength(REMOVAL_STRIKES);
    expect(reports.map((r) => r.failed)).toEqual([1, 1, 0, 0, 0]);
    // Once confirmed, the owner is reported in the channel instead of being sent to.
    expect(reports.slice(2).map((r) => r.unreachable)).toEqual([[BOB], [BOB], [BOB]]);
    expect(bot.connector.activities().filter((c) => c.conversationId === CHANNEL && /could not send reminders/.test(c.body.text ?? ''))).toHaveLength(3);
    const warnings = warningsAbout(bot.logs, BOB_CHAT);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/removed from this conversation/);
    expect(await healthz(h)).toMatchObject({ conversations: { subscribed: 1, unreachable: 1 } });
    expect(await bot.store.conversations.get(BOB_CHAT)).toMatchObject({ userUpn: BOB, unreachable: { status: 404 } });

    // Bob installs the app again: the personal chat is stored afresh and reminders reach him.
    bot.connector.restoreBot(BOB_CHAT);
    const bobFrom = { id: `29:${BOB}`, name: 'Bob Martinez' };
    await bot.send(botAdded({ serviceUrl: bot.connector.url, conversationType: 'personal', conversationId: BOB_CHAT, from: bobFrom }));
    expect((await bot.store.conversations.get(BOB_CHAT))!.unreachable).toBeUndefined();
    expect(await healthz(h)).toMatchObject({ conversations: { unreachable: 0 } });
    bot.connector.reset();
    const after = await bot.app.reminders.runOnce();
    expect(after).toMatchObject({ digests: 1, failed: 0, unreachable: [] });
    expect(bot.connector.activities().filter((c) => c.conversationId === BOB_CHAT)).toHaveLength(1);
  });

  it('one refusal followed by a successful send is not a removal', async () => {
    const { bot } = h;
    await bot.store.conversations.upsert(conversation(BOB_CHAT, bot.connector.url, { userUpn: BOB }));
    bot.connector.removeBot(BOB_CHAT, { status: 403, code: null });
    await expect(bot.app.messenger.send(BOB_CHAT, { text: 'one' })).rejects.toMatchObject({ status: 403, gone: true, unreachable: false });
    bot.connector.restoreBot(BOB_CHAT);
    await expect(bot.app.messenger.send(BOB_CHAT, { text: 'two' })).resolves.toBeDefined();
    bot.connector.removeBot(BOB_CHAT, { status: 403, code: null });
    await expect(bot.app.messenger.send(BOB_CHAT, { text: 'three' })).rejects.toMatchObject({ unreachable: false });
    expect((await bot.store.conversations.get(BOB_CHAT))!.unreachable).toBeUndefined();
    // A deleted message (404 on update, no ConversationNotFound) says nothing about the conversation.
    bot.connector.restoreBot(BOB_CHAT);
    const id = await bot.app.messenger.send(BOB_CHAT, { text: 'four' });
    bot.connector.removeBot(BOB_CHAT, { status: 404, code: 'NotFound' });
    for (let i = 0; i < 3; i++) await expect(bot.app.messenger.update(BOB_CHAT, id!, { text: 'edit' })).rejects.toMatchObject({ status: 404 });
    expect((await bot.store.conversations.get(BOB_CHAT))!.unreachable).toBeUndefined();
    expect(await healthz(h)).toMatchObject({ conversations: { unreachable: 0 } });
  });
});
