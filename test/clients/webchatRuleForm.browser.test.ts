import { startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { artifactDir, launchBrowser, type ClientBrowser } from './browser.js';
import { startDirectLineShim, type DirectLineShim } from './directLineShim.js';
import { WebChatDriver } from './webChatDriver.js';

/**
 * The Add rule form in Bot Framework Web Chat (Action.Submit, no replyToId), clicked for real:
 * each click finds its card by the key the posted card carries (bot/cardIds.ts), so the list, the
 * form, its preview and the saved list are one message updated in place, never copies.
 * Screenshots go to test/artifacts/clients/webchat-rules/.
 */
describe('Web Chat: the Add rule form updates its own message', () => {
  let world: SandboxHarness;
  let shim: DirectLineShim;
  let launching: Promise<ClientBrowser> | undefined;
  let wc: WebChatDriver;

  beforeAll(async () => {
    launching = launchBrowser();
    world = await startSandboxBot({ subscribe: false });
    // As the sandbox does at start: a first sync, so roles on the rule's scope can be checked.
    await world.bot.app.sync!.runOnce();
    shim = await startDirectLineShim({ botEndpoint: `${world.bot.url}/api/messages`, channelId: 'webchat' });
    wc = await WebChatDriver.open(await launching, shim, artifactDir('webchat-rules'));
  }, 30_000);

  afterAll(async () => {
    await (await launching?.catch(() => undefined))?.close();
    await shim?.close();
    await world?.stop();
  });

  it('rules → Add rule → Preview → Add rule → Edit → Cancel: one message, updated each time', async () => {
    const fromBot = (op: string) => shim.records.filter((r) => r.direction === 'fromBot' && r.op === op && r.conversationId === wc.conversationId);
    await wc.send('rules');
    const list = await wc.card('Governance rules').waitFor();
    const posted = [...fromBot('post'), ...fromBot('reply')];
    expect(posted).toHaveLength(1);
    const messageId = posted[0]!.activityId;
    await wc.screenshot('1-rules', list);

    await wc.act(() => list.click('Add rule'), 'Add rule on the list');
    const form = await wc.card('Add a governance rule').waitFor();
    expect(fromBot('update').map((r) => r.activityId)).toEqual([messageId]);
    await form.fill('ruleName', 'Storage from Web Chat');
    await form.pick('One e-mail address');
    await form.fill('ownerEmail', 'bob.martinez@contoso.com');
    // Web Chat's Adaptive Cards renderer refuses to submit an empty Input.Number that has a min
    // (NaN < min), so the optional cap must be filled here (cards/ruleForm.json; Teams accepts it).
    await form.fill('maxTicketsPerSync', '50');
    await wc.screenshot('2-form-filled', form);

    await wc.act(() => form.click('Preview'), 'Preview');
    await form.waitForText(/Now it would assign \d+ finding/);
    expect(fromBot('update').map((r) => r.activityId)).toEqual([messageId, messageId]);
    // What was typed is still there after the update.
    expect(await form.value('ruleName')).toBe('Storage from Web Chat');
    await wc.screenshot('3-preview', form);

    await wc.act(() => form.click('Add rule'), 'Add rule on the form');
    const saved = wc.card('Governance rules');
    // Web Chat's markdown turns the quotes typographic.
    await saved.waitForText(/Added rule .Storage from Web Chat./);
    expect(await world.bot.store.rules.list()).toEqual([
      expect.objectContaining({ name: 'Storage from Web Chat', owner: { kind: 'fixed', email: 'bob.martinez@contoso.com' } }),
    ]);
    await wc.screenshot('4-saved', saved);

    // Edit opens the saved rule prefilled (in place), Cancel puts the list back. On a fresh Add
    // form Web Chat would not send Cancel: it validates the required inputs first (the card's
    // Cancel has no associatedInputs: none), so an empty Name blocks it.
    await wc.act(() => saved.click('Edit'), 'Edit on the saved list');
    const edit = await wc.card('Edit rule Storage from Web Chat').waitFor();
    expect(await edit.value('ownerEmail')).toBe('bob.martinez@contoso.com');
    await wc.act(() => edit.click('Cancel'), 'Cancel');
    await wc.card('Governance rules').waitForText('Storage from Web Chat');
    await wc.screenshot('5-cancelled', wc.card('Governance rules'));

    // Every answer updated the one message `rules` posted; Web Chat shows one card.
    expect(fromBot('update').map((r) => r.activityId)).toEqual(Array(5).fill(messageId));
    expect([...fromBot('post'), ...fromBot('reply')]).toHaveLength(1);
    expect(await wc.allCards().count()).toBe(1);
  }, 90_000);
});
