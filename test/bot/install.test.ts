/**
 * Installing the bot is subscribing: it happens only when the installer may subscribe (Owner,
 * Contributor or Security Admin), the same rule as the `subscribe` command. End to end over
 * HTTP: the real bot, the fake Bot Connector and the Defender simulator's RBAC.
 */
import manifest from '../../appPackage/manifest.json';
import { MANIFEST_BOT_NAME } from '../../bot/commands/subscribe.js';
import { userObjectId } from '../../sandbox/defender/dataset.js';
import { botAdded, BOT, installationUpdate, message, type ActivityOptions } from '../harness/activities.js';
import { SANDBOX_ADMIN, SANDBOX_READER, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';

const CHANNEL_ID = '19:channel-1@thread.tacv2';
/** In the simulator's directory, with no Azure role at all. */
const GRACE = { id: '29:grace', name: 'Grace Lee', aadObjectId: userObjectId('grace.lee@contoso.com') };
/** Contributor on two of the three subscriptions. */
const BOB = { id: '29:bob', name: 'Bob Martinez', aadObjectId: userObjectId('bob.martinez@contoso.com') };

describe('installing the bot', () => {
  let h: SandboxHarness;
  afterEach(() => h.stop());

  const where = (o: Partial<ActivityOptions> = {}): ActivityOptions => ({ serviceUrl: h.bot.connector.url, conversationType: 'channel', ...o });
  /** Teams sends both for one install. */
  const install = async (o: ActivityOptions) => {
    expect((await h.bot.send(botAdded(o))).status).toBe(200);
    expect((await h.bot.send(installationUpdate('add', o))).status).toBe(200);
  };
  const cardsIn = (conversationId: string) =>
    h.bot.connector
      .activities()
      .filter((c) => c.conversationId === conversationId && c.method === 'POST' && c.body.attachments?.length)
      .map((c) => c.body.attachments[0].content);
  const syncAndDeliver = async () => {
    await h.bot.app.sync!.runOnce();
    await h.bot.app.sync!.delivered();
  };

  describe('after the first sync (Defender data is known)', () => {
    beforeEach(async () => {
      h = await startSandboxBot({ subscribe: false });
      await syncAndDeliver();
      expect((await h.bot.store.recommendations.list()).length).toBeGreaterThan(10);
      h.bot.connector.reset();
    });

    it('by someone with no Azure role: stores the channel unsubscribed, posts no recommendation, says an admin must @mention the bot', async () => {
      await install(where({ from: GRACE }));
      const stored = await h.bot.store.conversations.get(CHANNEL_ID);
      expect(stored).toMatchObject({ subscribed: false, kind: 'channel', serviceUrl: h.bot.connector.url });
      const cards = cardsIn(CHANNEL_ID);
      // One welcome for both install events.
      expect(cards).toHaveLength(1);
      const text = JSON.stringify(cards[0]);
      expect(cards[0].body[0].text).toBe('Installed in this channel (Security): not subscribed yet');
      expect(text).toContain(`**@${BOT.name} subscribe**`);
      expect(text).toContain('Owner, Contributor or Security Admin');
      expect(text).not.toContain('Subscribed:');

      await syncAndDeliver();
      expect(cardsIn(CHANNEL_ID)).toHaveLength(1);
      expect((await h.bot.store.recommendations.listCards()).filter((c) => c.conversationId === CHANNEL_ID)).toHaveLength(0);
    });

    it('by a Reader or by someone with a managing role on only some subscriptions: not subscribed either', async () => {
      await install(where({ from: SANDBOX_READER }));
      expect((await h.bot.store.conversations.get(CHANNEL_ID))?.subscribed).toBe(false);
      await install(where({ from: BOB, conversationId: '19:other@thread.tacv2' }));
      expect((await h.bot.store.conversations.get('19:other@thread.tacv2'))?.subscribed).toBe(false);
    });

    // Issue 13 (6): the cards come from the last sync at once, after the welcome, not with the next sync.
    it("by a security admin: subscribes, welcomes, then posts the last sync's recommendations there at once", async () => {
      await install(where({ from: SANDBOX_ADMIN }));
      expect((await h.bot.store.conversations.get(CHANNEL_ID))?.subscribed).toBe(true);
      await h.bot.app.sync!.delivered();
      const cards = cardsIn(CHANNEL_ID);
      expect(cards[0].body[0].text).toBe('Subscribed: this channel (Security)');
      expect(cards.length).toBeGreaterThan(10);
      await syncAndDeliver();
      expect(cardsIn(CHANNEL_ID)).toHaveLength(cards.length);
    });

    it('in a channel the welcome says "@<bot name> help" (a message without a mention never reaches the bot); in a 1:1 chat "help"', async () => {
      await install(where({ from: SANDBOX_ADMIN }));
      const channel = JSON.stringify(cardsIn(CHANNEL_ID)[0]);
      expect(channel).toContain(`Type **@${BOT.name} help** for the commands, **@${BOT.name} unsubscribe** to stop.`);
      expect(channel).toContain(`only see messages that @mention me: type @${BOT.name}`);
      expect(channel).not.toContain('Type **help**');

      await install(where({ from: SANDBOX_ADMIN, conversationType: 'personal', conversationId: 'a:admin' }));
      const personal = JSON.stringify(cardsIn('a:admin')[0]);
      expect(personal).toContain('Type **help** for the commands, **unsubscribe** to stop.');
      expect(personal).not.toContain('@mention');
    });

    it('when the activity does not name the bot, the channel welcome uses the app package name', async () => {
      const o = where({ from: SANDBOX_ADMIN });
      await h.bot.send({ ...botAdded(o), recipient: { id: BOT.id } });
      const text = JSON.stringify(cardsIn(CHANNEL_ID)[0]);
      expect(text).toContain(`**@${manifest.name.short} help**`);
      expect(MANIFEST_BOT_NAME).toBe(manifest.name.short);
    });

    it('after an unprivileged install, an admin typing "@bot subscribe" subscribes the channel; the installer typing it is refused', async () => {
      await install(where({ from: GRACE }));
      await h.bot.send(message(`<at>${BOT.name}</at> subscribe`, where({ from: GRACE })));
      expect((await h.bot.store.conversations.get(CHANNEL_ID))?.subscribed).toBe(false);
      expect(JSON.stringify(cardsIn(CHANNEL_ID).at(-1))).toContain('Not allowed');
      await h.bot.send(message(`<at>${BOT.name}</at> subscribe`, where({ from: SANDBOX_ADMIN })));
      expect((await h.bot.store.conversations.get(CHANNEL_ID))?.subscribed).toBe(true);
      expect(cardsIn(CHANNEL_ID).at(-1).body[0].text).toBe('Subscribed: this channel (Security)');
    });

    it('in a group chat the hint also names the bot; in a 1:1 chat it points at the commands that need no role', async () => {
      await install(where({ from: GRACE, conversationType: 'groupChat', conversationId: '19:group@thread.v2' }));
      expect(JSON.stringify(cardsIn('19:group@thread.v2')[0])).toContain(`**@${BOT.name} subscribe**`);
      await install(where({ from: GRACE, conversationType: 'personal', conversationId: 'a:grace' }));
      const personal = cardsIn('a:grace');
      expect(personal).toHaveLength(1);
      expect(JSON.stringify(personal[0])).toContain('**assignments mine**');
      expect(await h.bot.store.conversations.get('a:grace')).toMatchObject({ subscribed: false, kind: 'personal' });
    });

    it('the sandbox Emulator user (no Entra identity) is the sandbox admin: the install subscribes', async () => {
      const emulator = {
        serviceUrl: h.bot.connector.url,
        channelId: 'emulator' as const,
        conversationId: 'emu-1',
        from: { id: 'emulator-user', name: 'User' },
      };
      await h.bot.send(botAdded(emulator));
      expect((await h.bot.store.conversations.get('emu-1'))?.subscribed).toBe(true);
      expect(cardsIn('emu-1')[0].body[0].text).toBe('Subscribed: this chat');
    });
  });

  it('before any sync, the role is checked on the scopes the bot reads: an installer with no role does not subscribe', async () => {
    h = await startSandboxBot({ subscribe: false });
    expect(await h.bot.store.recommendations.list()).toHaveLength(0);
    await install(where({ from: GRACE }));
    expect((await h.bot.store.conversations.get(CHANNEL_ID))?.subscribed).toBe(false);
    await syncAndDeliver();
    expect(cardsIn(CHANNEL_ID)).toHaveLength(1);

    await install(where({ from: SANDBOX_ADMIN, conversationId: '19:admins@thread.tacv2' }));
    expect((await h.bot.store.conversations.get('19:admins@thread.tacv2'))?.subscribed).toBe(true);
  });
});
