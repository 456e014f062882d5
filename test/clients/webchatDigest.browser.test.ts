import { announcementIntent } from '../../app/announcements.js';
import { announcements } from '../../core/resolution.js';
import { startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { artifactDir, launchBrowser, type ClientBrowser } from './browser.js';
import { startDirectLineShim, type DirectLineShim } from './directLineShim.js';
import { WebChatDriver } from './webChatDriver.js';

/**
 * A resolution digest (app/announcements.ts) as a client renders it: Web Chat's markdown, the same
 * subset Teams renders for a text message. The outcomes are queued as the resolution job queues
 * them (work items) and delivered by the bot's Announcements; screenshot in
 * test/artifacts/clients/webchat-digest/.
 */
describe('Web Chat shows a resolution digest as one message with a list', () => {
  let world: SandboxHarness;
  let shim: DirectLineShim;
  let launching: Promise<ClientBrowser> | undefined;
  let wc: WebChatDriver;

  beforeAll(async () => {
    launching = launchBrowser();
    world = await startSandboxBot({ subscribe: false });
    shim = await startDirectLineShim({ botEndpoint: `${world.bot.url}/api/messages`, channelId: 'webchat' });
    wc = await WebChatDriver.open(await launching, shim, artifactDir('webchat-digest'));
  }, 30_000);

  afterAll(async () => {
    await (await launching?.catch(() => undefined))?.close();
    await shim?.close();
    await world?.stop();
  });

  it('three outcomes of one pass: one bubble, a heading and three list items, each naming its ticket', async () => {
    await wc.send('subscribe');
    const conversationId = wc.conversationId;
    const a = { recommendationName: 'Machines should be configured securely', resourceName: 'vm-web-01' };
    const b = { recommendationName: 'Storage accounts should restrict network access', resourceName: 'stcontosologs' };
    const texts = [
      announcements.resolved(a, { kind: 'Healthy', statusChangeDate: '' }, 'INC0010001'),
      announcements.ownerChanged(b, 'INC0010002', 'carol.nguyen@contoso.com'),
      announcements.reopened(a, 'INC0010003'),
    ];
    await world.bot.store.work.enqueue(texts.map((t, i) => announcementIntent(conversationId, `announce:webchat-digest:${i}`, t)!));
    const before = shim.records.length;
    expect(await world.bot.app.services.announcements.deliverPending(world.clock.now(), 'test')).toEqual({ announced: 3, messages: 1 });
    expect(shim.records.slice(before).filter((r) => r.direction === 'fromBot')).toHaveLength(1);

    const bubble = wc.message('3 updates from the resolution job');
    await bubble.waitFor();
    const items = bubble.locator('li');
    expect(await items.count()).toBe(3);
    const shown = await items.allInnerTexts();
    ['INC0010001', 'INC0010002', 'INC0010003'].forEach((n, i) => expect(shown[i]).toContain(n));
    // The *…* of the texts render as emphasis, not as asterisks.
    expect(shown.join('\n')).not.toContain('*');
    await wc.screenshot('digest', bubble);
  });
});
