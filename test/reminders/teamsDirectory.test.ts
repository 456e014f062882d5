import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../cli/index.js';
import { ManualClock } from '../../core/clock.js';
import { message, TENANT } from '../harness/activities.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { assignment, seed } from './fixtures.js';

const MONDAY = '2026-11-30T09:00:00Z';
const BOB = { id: '29:bob', name: 'Bob Martinez', aadObjectId: 'b0b00000-0000-4000-8000-000000000001', userPrincipalName: 'bob.martinez@contoso.com' };

describe('reaching owners in Teams by UPN', () => {
  let bot: BotHarness;
  beforeEach(async () => {
    bot = await startBot({ clock: new ManualClock(MONDAY), env: { BOT_MODE: 'sandbox' } });
    // The bot is installed in a team channel; its roster knows Bob.
    await bot.send(message('subscribe', { serviceUrl: bot.connector.url, conversationType: 'channel' }));
    bot.connector.roster.push(BOB);
    bot.connector.reset();
  });
  afterEach(() => bot.stop());

  it('finds the owner in a roster, creates the 1:1 chat with the tenant id, remembers it, and delivers the digest', async () => {
    await seed(bot.store, assignment({ owner: 'bob.martinez@contoso.com', dueDate: '2026-12-03' }));
    const report = await bot.app.reminders.runOnce();
    await bot.app.messenger.drain();
    expect(report.digests).toBe(1);
    const lookup = bot.connector.calls.find((c) => c.method === 'GET' && c.path.includes('/members/'));
    expect(decodeURIComponent(lookup!.path)).toContain('/members/bob.martinez@contoso.com');
    const create = bot.connector.calls.find((c) => c.method === 'POST' && c.path === '/v3/conversations');
    expect(create!.body).toMatchObject({ isGroup: false, members: [{ id: '29:bob' }], tenantId: TENANT });
    const chat = (await bot.store.conversations.list()).find((c) => c.userUpn === 'bob.martinez@contoso.com');
    expect(chat).toMatchObject({ kind: 'personal', channelId: 'msteams', tenantId: TENANT });
    const digest = bot.connector.activities().find((a) => a.conversationId === chat!.id);
    expect(JSON.stringify(digest!.body)).toContain('Hi Bob');

    // Next time the stored chat is used: no second lookup or creation.
    bot.connector.reset();
    bot.clock.set('2026-12-07T09:00:00Z');
    await bot.app.reminders.runOnce();
    await bot.app.messenger.drain();
    expect(bot.connector.calls.filter((c) => c.path === '/v3/conversations')).toHaveLength(0);
  });

  it('reports an owner it cannot reach once to the channel where the assignment was made', async () => {
    await seed(
      bot.store,
      assignment({ owner: 'grace.lee@contoso.com', dueDate: '2026-12-03' }),
      assignment({ owner: 'grace.lee@contoso.com', dueDate: '2026-12-05' }),
    );
    const report = await bot.app.reminders.runOnce();
    await bot.app.messenger.drain();
    expect(report.unreachable).toEqual(['grace.lee@contoso.com']);
    const notes = bot.connector
      .activities()
      .filter((a) => a.conversationId === '19:channel-1@thread.tacv2' && JSON.stringify(a.body).includes('grace.lee@contoso.com'));
    expect(notes).toHaveLength(1);
  });

  it('learns the UPN of a 1:1 chat from the roster when the user writes to the bot', async () => {
    bot.connector.roster.push({
      id: '29:user-1',
      name: 'Ada Admin',
      aadObjectId: '00000000-0000-0000-0000-0000000000a1',
      userPrincipalName: 'ada.admin@contoso.com',
    });
    await bot.send(message('help', { serviceUrl: bot.connector.url }));
    expect(await bot.store.conversations.get('a:personal-1')).toMatchObject({
      userUpn: 'ada.admin@contoso.com',
      userAadObjectId: '00000000-0000-0000-0000-0000000000a1',
    });
  });

  it('asks the roster once per 1:1 chat and stores nothing for later messages, until the chat moves to another service URL', async () => {
    bot.connector.roster.push({
      id: '29:user-1',
      name: 'Ada Admin',
      aadObjectId: '00000000-0000-0000-0000-0000000000a1',
      userPrincipalName: 'ada.admin@contoso.com',
    });
    const lookups = () => bot.connector.calls.filter((c) => c.method === 'GET' && c.path.includes('/members/')).length;
    await bot.send(message('help', { serviceUrl: bot.connector.url }));
    const first = await bot.store.conversations.get('a:personal-1');
    const writes = bot.store.status().writes;
    for (let i = 0; i < 3; i++) expect((await bot.send(message('help', { serviceUrl: bot.connector.url }))).status).toBe(200);
    expect(lookups()).toBe(1);
    expect(bot.store.status().writes).toBe(writes);
    expect(await bot.store.conversations.get('a:personal-1')).toEqual(first);

    // Same host, another path: a service URL Teams moved the chat to is stored, the known UPN kept, no new look-up.
    const moved = `${bot.connector.url}/moved`;
    await bot.send(message('help', { serviceUrl: moved }));
    expect(await bot.store.conversations.get('a:personal-1')).toMatchObject({ serviceUrl: moved, userUpn: 'ada.admin@contoso.com' });
    expect(lookups()).toBe(1);
  });
});

describe('npm run cli -- remind', () => {
  it('sends one pass through the Bot Framework without the bot running', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'remind-cli-'));
    const clock = new ManualClock(MONDAY);
    // A bot run leaves the conversation (an Emulator-style chat) and an assignment behind.
    const bot = await startBot({ clock, dataDir, env: { SANDBOX_REMINDER_INBOX: 'emu-inbox' } });
    await bot.send(message('hello', { serviceUrl: bot.connector.url, channelId: 'emulator', conversationId: 'emu-inbox', from: { id: 'u' } }));
    await seed(bot.store, assignment({ owner: 'bob.martinez@contoso.com', dueDate: '2026-12-03' }));
    await bot.app.stop();
    await bot.store.close();

    const out: string[] = [];
    const err: string[] = [];
    const env = { DATA_DIR: dataDir, SECRET_KEY: Buffer.alloc(32, 7).toString('hex'), SANDBOX_REMINDER_INBOX: 'emu-inbox' };
    const code = await runCli(['remind'], env, { out: (l) => out.push(l), err: (l) => err.push(l) }, clock);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^Reminders sent: 1 digests/);
    expect(bot.connector.activities().some((a) => a.conversationId === 'emu-inbox' && JSON.stringify(a.body).includes('Hi'))).toBe(true);
    await bot.connector.close();
  });
});
