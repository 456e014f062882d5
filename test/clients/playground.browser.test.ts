import { startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { artifactDir, launchBrowser, type ClientBrowser } from './browser.js';
import { cardOf, cardTitle } from './cards.js';
import { Findings } from './findings.js';
import { contosoUser, startPlayground, TEAM, type Playground } from './playground.js';
import { PlaygroundDriver } from './playgroundDriver.js';
import type { Exchange } from './recordingProxy.js';
import { holdsWithin } from './wait.js';

/**
 * Issue 13's flow in the Microsoft 365 Agents Playground (Teams emulation: a team channel,
 * @mentions, Action.Execute invokes), which is itself the bot's Bot Connector, against the real
 * sandbox bot. The user is Alice from the Defender simulator's directory (Owner of the root
 * management group), so RBAC checks pass as they would for her in Teams; the playground's default
 * user ("Alex Wilber", an aadObjectId no tenant knows) acts as the sandbox admin too (problem 1).
 * Steps that do not yet behave as the issue asks are recorded in
 * test/artifacts/clients/playground/findings.md, not asserted.
 */

const REC = 'Machines should be configured securely';
const OWNER = 'bob.martinez@contoso.com';
const REASSIGN_TO = 'frank.osei@contoso.com';
const CREATE_TICKETS = /^\s*Create tickets?\s*$/;

const nameOf = (choiceLabel: string) => choiceLabel.split(' · ')[0]!.trim();
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

// The playground's UI loads Segoe UI from Microsoft's CDN (offline a system font is used) and has no favicon.
const harmless = (text: string, url: string) =>
  url.startsWith('https://res-1.cdn.office.net/') || url.endsWith('/favicon.ico') || /ERR_NAME_NOT_RESOLVED/.test(text);

describe('Microsoft 365 Agents Playground (Teams) drives the sandbox bot', () => {
  let world: SandboxHarness;
  let pg: Playground;
  let pgDefault: Playground;
  /** Whether recommendation cards reached the channel within 5 s of the install (problem 6). */
  let cardsSoon: Promise<boolean>;
  let installAt = 0;
  let launching: Promise<ClientBrowser> | undefined;
  let browser: ClientBrowser;
  let ui: PlaygroundDriver;
  let findings: Findings;
  const picked: { a: string; b: string; c?: string } = { a: '', b: '' };

  const incidents = () => world.servicenow.control.records('incident');
  /** What the bot did to the conversation after an exchange: posts, and updates of which activity. */
  const botCallsSince = (at: number) =>
    pg.fromBot.exchanges
      .filter((e) => e.at >= at && decodeURIComponent(e.path).startsWith(`/v3/conversations/${TEAM.channelId}`))
      .map((e) => ({ ...e, op: e.method === 'PUT' ? 'update' : 'post' }));
  /** The invoke's answer as Teams gets it: a card that replaces the clicked one, or a message. */
  const invokeAnswer = (e: Exchange) => {
    const v = e.responseBody;
    const type: string | undefined = v?.type ?? v?.body?.type;
    return type === 'application/vnd.microsoft.card.adaptive'
      ? 'card'
      : type === 'application/vnd.microsoft.activity.message'
        ? 'message'
        : String(type ?? e.status);
  };

  // Opening the playground's UI takes ~11 s on a quiet machine (two playgrounds, a Chromium, the
  // sandbox bot); in a full parallel `npm test` on 2 cores it measured over 40 s.
  beforeAll(async () => {
    // Closed in afterAll also when something else fails to start.
    launching = launchBrowser({ ignoreConsoleError: harmless });
    // The sandbox's own default identity (SANDBOX_IDENTITY=admin), as a newcomer runs it: every local user is the admin.
    // And its digest default: a channel of 40 recommendations gets one summary card, not 40 posts.
    world = await startSandboxBot({ subscribe: false, env: { SANDBOX_IDENTITY: '', CHANNEL_DIGEST_ABOVE: '' } });
    // As the sandbox does at start (bot/main.ts): a first sync, before anyone subscribed.
    await world.bot.app.sync!.runOnce();
    const endpoint = `${world.bot.url}/api/messages`;
    // The second one has no config file: what a newcomer runs first.
    const started = await Promise.allSettled([
      startPlayground({ botEndpoint: endpoint, currentUser: contosoUser('alice.johnson@contoso.com') }),
      startPlayground({ botEndpoint: endpoint }),
      launching,
    ]);
    // Whatever started is stopped in afterAll, also when something else failed to start.
    if (started[0].status === 'fulfilled') pg = started[0].value;
    if (started[1].status === 'fulfilled') pgDefault = started[1].value;
    if (started[2].status === 'fulfilled') browser = started[2].value;
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const dir = artifactDir('playground');
    findings = new Findings('Microsoft 365 Agents Playground (msteams, channel, Action.Execute)', dir);
    ui = await PlaygroundDriver.open(browser, pg, dir);
  }, 120_000);

  afterAll(async () => {
    findings?.write();
    await (await launching?.catch(() => undefined))?.close();
    await Promise.all([pg?.stop(), pgDefault?.stop()]);
    await world?.stop();
  });

  it('installs in a channel and answers an @mention with help; a post without @mention does not reach the bot', async () => {
    const probe = pg.toBot.exchanges.find((e) => e.method === 'HEAD');
    findings.record({
      step: 'start-up probe',
      target: 'HEAD /api/messages answers 200 or 204',
      works: probe !== undefined && probe.status < 300,
      observed: probe ? `HEAD /api/messages → ${probe.status}; the playground connects anyway` : 'no HEAD probe seen',
      problems: [14],
    });

    installAt = Date.now();
    const before = pg.toBot.exchanges.length;
    await ui.openChannel();
    const welcome = await ui.card(/^Subscribed: this channel/).waitFor();
    const installs = pg.toBot.exchanges
      .slice(before)
      .filter((e) => e.requestBody?.conversation?.id === TEAM.channelId)
      .map((e) => `${e.requestBody?.type}${e.requestBody?.action ? `(${e.requestBody.action})` : ''} → ${e.status}`);
    const channels = (await world.bot.store.conversations.list()).filter((c) => c.kind === 'channel');
    expect(channels.map((c) => c.id)).toEqual([TEAM.channelId]);
    const welcomeText = await welcome.text();
    findings.record({
      step: 'install in a channel',
      target: `subscribed; the welcome says "@${pg.botName} help" (a channel message without @mention never reaches the bot)`,
      works: welcomeText.includes(`@${pg.botName}`),
      observed: `the bot received ${installs.join(', ')}; welcome: "${oneLine(welcomeText).slice(-80)}"`,
      screenshot: await ui.screenshot('installed-in-channel', welcome),
      problems: [8],
    });
    // The issue's target: a new subscription gets the last sync's cards within 5 s (help runs meanwhile).
    // 40 recommendations: the channel's default is the digest, its one card.
    cardsSoon = holdsWithin(() => botCallsSince(installAt).some((e) => cardTitle(e.requestBody) === 'Defender for Cloud digest'), 5000);

    // What the welcome says to type: a channel post without @mention.
    const plainAt = pg.toBot.exchanges.length;
    await ui.post('recommendations', { mention: false });
    const delivered = holdsWithin(() => pg.toBot.exchanges.slice(plainAt).some((e) => /recommendations/.test(String(e.requestBody?.text))), 3000);

    await ui.send('help');
    const help = await ui.card('Defender → ServiceNow bot').waitFor();
    const helpText = await help.text();
    expect(helpText).toContain('subscribe');
    findings.record({
      step: '@mention help',
      target: 'the help card lists every command with its arguments',
      works: helpText.includes('<resource name>') && helpText.includes('<id>'),
      observed: `help card in the channel thread; arguments shown: ${helpText.includes('<resource name>') ? '<resource name>' : '"simulate fix|break" without <resource name>'}, ${helpText.includes('<id>') ? '<id>' : '"scope=/subscriptions/" without <id>'}`,
      screenshot: await ui.screenshot('help', help),
      problems: [10],
    });
    const plain = await delivered;
    findings.record({
      step: 'a channel post without @mention',
      target: 'never reaches the bot (as in Teams), so the welcome must say "@bot help"',
      works: !plain,
      observed: plain ? 'the playground delivered it to the bot (Teams would not)' : 'not delivered to the bot, as in Teams',
      problems: [8],
    });
  }, 30_000);

  // Runs while the 5 s after the install above elapse: it posts no card into that channel.
  it("the playground's default user (not in the simulated directory) gets an answer to a sandbox write", async () => {
    const fresh = await PlaygroundDriver.open(browser, pgDefault, ui.dir);
    await fresh.openChannel();
    // Whoever installs, the bot greets the channel (subscribed, or "not subscribed yet" for a user without a role).
    await fresh.card(/^(Subscribed: this channel|Installed in this channel)/).waitFor();
    const sentAt = Date.now();
    const asked = await fresh.send('subscribe severity=High');
    const user = asked.requestBody.from;
    const reply = pgDefault.fromBot.exchanges.find((e) => e.at >= sentAt && e.method === 'POST' && cardOf(e.requestBody));
    const heading = cardTitle(reply?.requestBody) ?? '';
    expect(heading).not.toBe('');
    // The reply is in the thread of this post, the newest post, listed first.
    const answer = await fresh.card(heading).waitFor();
    findings.record({
      step: 'default playground user writes',
      target: 'in sandbox mode the local user acts as the sandbox admin whatever client it comes from',
      works: !/Not allowed/.test(heading),
      observed: `${user.name} (aadObjectId ${user.aadObjectId}) sent "subscribe severity=High" in the channel; answer: "${oneLine(await answer.text()).slice(0, 200)}"`,
      screenshot: await fresh.screenshot('default-user-subscribe', answer),
      problems: [1],
    });
    expect(user.aadObjectId).toBeTruthy();
    expect(heading).not.toMatch(/Not allowed/);
    // Its page would redraw the cards the sync posts to its chats; the playground itself stays up to take them.
    await fresh.page.close();
  }, 30_000);

  it('a sync posts the recommendation cards into the channel', async () => {
    const soon = await cardsSoon;
    findings.record({
      step: 'cards after install',
      target: 'the recommendation cards arrive within 5 s of subscribing',
      works: soon,
      observed: soon ? 'the digest card arrived within 5 s of the install' : 'no digest card within 5 s of the install',
      problems: [6],
    });

    // Only the Low ones here: the playground redraws the whole channel for each post, and 40 posts
    // take it 10-15 s on this machine (Web Chat gets all 40); nine stay under a digest threshold of 10.
    await ui.send('subscribe severity=Low mode=cards');
    expect((await world.bot.store.conversations.get(TEAM.channelId))?.filters.severities).toEqual(['Low']);
    await ui.send('sync');
    await world.bot.app.sync!.delivered();
    const unhealthy = (await world.bot.store.recommendations.list()).filter((r) => r.status !== 'resolved');
    const names = new Set(unhealthy.map((r) => r.displayName));
    const posted = botCallsSince(installAt).filter((e) => e.op === 'post' && names.has(cardTitle(e.requestBody) ?? ''));
    expect(posted.length).toBe(unhealthy.filter((r) => r.severity === 'Low').length);
    const rec = await ui.card(REC).waitFor();
    const labels = await rec.checkboxes();
    expect(labels).toHaveLength(25);
    expect(await rec.text()).toContain('Page 1 of 2');
    picked.a = labels[0]!.label;
    picked.b = labels[1]!.label;
    findings.record({
      step: '@mention sync → cards in the channel',
      target: 'one post per recommendation up to 10; a channel with more gets one digest card (mode=digest)',
      works: true,
      observed: `with severity=Low, ${posted.length} separate posts landed in the channel at once (subscribe severity=Low mode=cards; the channel's default for its ${unhealthy.length} recommendations is the digest)`,
      screenshot: await ui.screenshot('recommendation-card', rec),
      problems: [7],
    });
  }, 60_000);

  it('ticks resources on two pages, creates an assignment with a typed owner, and the card shows the tickets', async () => {
    const page1 = ui.card(REC);
    await page1.tick(picked.a);
    await page1.tick(picked.b);
    let at = Date.now();
    const next = await ui.act(() => page1.click('Next'), 'Next');
    const page2 = ui.card(REC);
    await page2.waitForText('Page 2 of 2');
    // Teams replaces the clicked card with the invoke's answer: still one card.
    expect(await ui.cards(REC).count()).toBe(1);
    findings.record({
      step: 'Next',
      target: 'the clicked card shows page 2 in place',
      works: true,
      observed: `invoke answered with a ${invokeAnswer(next)}; the card shows page 2 in place; other calls: ${botCallsSince(at).length}`,
      screenshot: await ui.screenshot('page-2', page2),
    });

    // Page 2 lists page 1's ticks first ("selected on page 1"), then its own resources.
    const page2Boxes = await page2.checkboxes();
    expect(new Set(page2Boxes.filter((c) => c.checked).map((c) => nameOf(c.label)))).toEqual(new Set([nameOf(picked.a), nameOf(picked.b)]));
    picked.c = page2Boxes.find((c) => !/selected on page/.test(c.label))!.label;
    await page2.tick(picked.c);
    await ui.act(() => page2.click('Previous'), 'Previous');
    const back = ui.card(REC);
    await back.waitForText('Page 1 of 2');
    const kept = (await back.checkboxes()).filter((c) => c.checked).map((c) => nameOf(c.label));
    // Ticks from both pages survive Next then Previous: one assignment spans them.
    expect(new Set(kept)).toEqual(new Set([nameOf(picked.a), nameOf(picked.b), nameOf(picked.c)]));
    expect(await ui.cards(REC).count()).toBe(1);
    findings.record({
      step: 'Previous',
      target: `page 1 again with ${nameOf(picked.a)} and ${nameOf(picked.b)} still ticked, ${nameOf(picked.c)} (page 2) carried (one assignment can span pages)`,
      works: kept.includes(nameOf(picked.a)) && kept.includes(nameOf(picked.b)) && kept.includes(nameOf(picked.c)),
      observed: `ticked after Next then Previous: [${kept.join(', ')}]`,
      screenshot: await ui.screenshot('page-1-again', back),
      problems: [5],
    });

    for (const label of [picked.a, picked.b]) if (!kept.includes(nameOf(label))) await back.tick(label);
    at = Date.now();
    const open = await ui.act(() => back.click('Create assignment'), 'Create assignment');
    const form = await ui.card('Create assignment').waitFor();
    expect(await form.text()).toContain(nameOf(picked.a));
    // Teams gets the people picker: it submits Bob's Entra object id, which the bot turns into his UPN with Graph.
    const owner = await form.choosePerson('assignedTo', { name: 'Bob Martinez', email: OWNER });
    expect(owner.input).toBe('people picker');
    await form.fillDate('dueDate', '2026-12-20');
    findings.record({
      step: 'Create assignment → form',
      target: 'the form replaces the card; owner from a people picker (typed e-mail as fallback), prefilled when known',
      works: owner.input === 'people picker',
      observed: `invoke answered with a ${invokeAnswer(open)}; the form replaced the card in place; owner chosen in the ${owner.input}${owner.before ? ` (held "${owner.before}" before)` : ' (nothing chosen before: the handler does not pass a suggested owner yet)'}`,
      screenshot: await ui.screenshot('assignment-form', form),
      problems: [12],
    });

    at = Date.now();
    const submit = await ui.act(() => form.click(CREATE_TICKETS), 'Create tickets');
    const clicked: string = submit.requestBody.replyToId;
    const mine = (await world.bot.store.assignments.list()).filter((x) => x.owner === OWNER);
    expect(mine.map((x) => x.resourceName).sort()).toEqual([nameOf(picked.a), nameOf(picked.b), nameOf(picked.c!)].sort());
    const submittedOwner: string = submit.requestBody.value.action.data.assignedTo;
    expect(submittedOwner).toBe(contosoUser(OWNER).aadObjectId);
    findings.record({
      step: 'people picker → owner',
      target: "the picker submits the person's Entra object id; the bot assigns to their UPN",
      works: true,
      observed: `assignedTo submitted as ${submittedOwner} (Bob Martinez's object id); Graph turned it into ${mine[0]!.owner}, the owner of ${mine.map((x) => x.ticket?.number).join(', ')}`,
      problems: [12],
    });
    const numbers = mine.map((x) => x.ticket!.number).sort();
    expect(
      incidents()
        .map((r) => r.number)
        .sort(),
    ).toEqual(numbers);
    // Whatever replaced the form (the result card, or the refreshed recommendation), it shows the tickets.
    const shown = ui.page.locator('.ac-adaptiveCard').filter({ hasText: numbers[0]! }).filter({ hasText: numbers[1]! }).first();
    await shown.waitFor();
    const updates = botCallsSince(at).filter((e) => e.op === 'update');
    const finalHeading = oneLine(await shown.locator('.ac-textBlock').first().innerText());
    findings.record({
      step: 'Create tickets',
      target: 'one update per click, one outcome: the card shows the tickets',
      works: updates.length === 0 || invokeAnswer(submit) !== 'card',
      observed:
        `invoke answered with a ${invokeAnswer(submit)} ("${cardTitle({ attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: submit.responseBody?.value }] }) ?? ''}")` +
        ` and the bot also sent ${updates.length} update(s) (${updates.map((u) => `PUT "${cardTitle(u.requestBody)}"${decodeURIComponent(u.path).endsWith(`/activities/${clicked}`) ? ' of the clicked card' : ''} ${u.at - submit.at >= 0 ? `${u.at - submit.at} ms after` : `${submit.at - u.at} ms before`} the invoke's answer`).join(', ')}); ` +
        `the card now shows "${finalHeading}" with ${numbers.join(', ')}`,
      screenshot: await ui.screenshot('assignment-result', shown),
      problems: [3],
    });
  }, 60_000);

  it('reassigns a resource; simulate fix announces the healthy resource in the channel and resolves its ticket', async () => {
    // Back to the recommendation, whichever card won the race above.
    const result = ui.card(/resource\(s\) assigned/);
    if ((await result.locator.count()) > 0) await ui.act(() => result.click('Back to the recommendation'), 'Back to the recommendation');
    const card = await ui.card(REC).waitFor();
    await card.tick(picked.a);
    await ui.act(() => card.click('Create assignment'), 'Create assignment (reassign)');
    const form = await ui.card('Create assignment').waitFor();
    const formText = await form.text();
    await form.choosePerson('assignedTo', { name: 'Frank Osei', email: REASSIGN_TO });
    await form.tick(/Reassign those to the new owner/);
    const answer = await ui.act(() => form.click(CREATE_TICKETS), 'Create tickets (reassign)');
    const a = (await world.bot.store.assignments.list()).find((x) => x.resourceName === nameOf(picked.a))!;
    const answerCard = ui.card(/resource\(s\) assigned|Reassign|Machines should be configured securely/);
    await answerCard.waitFor();
    findings.record({
      step: 'reassign',
      target: 'the form shows the existing assignment (owner, ticket, due date) and offers Reassign; the owner changes in ServiceNow and Defender',
      works: a.owner === REASSIGN_TO,
      observed: `form ${/INC\d{7}/.test(formText) ? 'shows' : 'does not show'} the existing assignment; invoke answered with a ${invokeAnswer(answer)}; card: "${oneLine(await answerCard.text()).slice(0, 220)}"; owner is now ${a.owner}`,
      screenshot: await ui.screenshot('reassign-answer', answerCard),
      problems: [4],
    });

    const fixAt = Date.now();
    await ui.send(`simulate fix ${a.resourceName}`);
    const note = ui.page.getByText(new RegExp(`${a.resourceName}.*healthy again`)).first();
    await note.waitFor();
    expect(await note.innerText()).toContain(a.ticket!.number);
    const row = incidents().find((r) => r.number === a.ticket!.number)!;
    expect(row.state).toBe('6');
    const reply = oneLine(
      await ui.page
        .getByText(/^Simulated:/)
        .first()
        .innerText(),
    );
    const announcements = botCallsSince(fixAt).filter((e) => e.op === 'post' && /healthy again/.test(String(e.requestBody?.text)));
    findings.record({
      step: 'simulate fix',
      target: 'the announcement appears in the channel; every count means what it says',
      // Counts name their unit: the recommendation is still unhealthy elsewhere, its ticket was resolved.
      works: /\brecommendations? resolved\b/.test(reply) && /tickets: 1 resolved automatically/.test(reply) && !/\d+ resolved\./.test(reply),
      observed: `announcement posted ${announcements.length} time(s): "${oneLine(await note.innerText())}"; reply: "${reply}"; ServiceNow ${a.ticket!.number} state ${row.state}`,
      screenshot: await ui.screenshot('simulate-fix'),
      problems: [10],
    });

    // The card in the channel follows the resource: the fixed one is no longer listed.
    const rec = ui.card(REC);
    await rec.waitFor();
    expect((await rec.checkboxes()).map((c) => nameOf(c.label))).not.toContain(a.resourceName);
    findings.record({
      step: 'tracked card after the fix',
      target: 'the card in the channel no longer lists the fixed resource',
      works: true,
      observed: `the "${REC}" card dropped ${a.resourceName}`,
      screenshot: await ui.screenshot('card-after-fix', rec),
    });
    expect(browser.errors).toEqual([]);
  }, 60_000);

  it('digest mode: subscribe mode=digest gives the channel one summary card, and Open on a recommendation shows its card', async () => {
    const at = Date.now();
    await ui.send('subscribe mode=digest');
    await world.bot.app.sync!.delivered();
    await world.bot.app.messenger.drain();
    const digestCalls = botCallsSince(at).filter((e) => cardTitle(e.requestBody) === 'Defender for Cloud digest');
    expect(digestCalls.length).toBeGreaterThan(0);
    const digest = await ui.card('Defender for Cloud digest').waitFor();
    await digest.waitForText('By severity');
    const digestText = await digest.text();
    findings.record({
      step: 'digest mode',
      target: 'subscribe mode=digest: one summary card (by severity, top items, Open) instead of one post per recommendation',
      works: (await ui.cards('Defender for Cloud digest').count()) === 1,
      observed: `${digestCalls.map((e) => e.op).join(', ')} of the digest; digest cards in the channel: ${await ui.cards('Defender for Cloud digest').count()}; "${oneLine(digestText).slice(0, 200)}"`,
      screenshot: await ui.screenshot('digest', digest),
      problems: [7],
    });

    const names = new Set((await world.bot.store.recommendations.list()).map((r) => r.displayName));
    const openAt = Date.now();
    const open = await ui.act(
      () =>
        digest.locator
          .getByRole('button', { name: /^\s*Open\s*$/ })
          .first()
          .click(),
      'Open',
    );
    // The card comes as a reply (in the digest's thread); the digest itself stays.
    await pg.fromBot.waitFor(
      (xs) => xs.some((e) => e.at >= openAt && e.method === 'POST' && names.has(cardTitle(e.requestBody) ?? '')),
      15_000,
      'the recommendation card posted after Open',
    );
    const posted = botCallsSince(openAt).filter((e) => e.op === 'post' && names.has(cardTitle(e.requestBody) ?? ''));
    expect(posted).toHaveLength(1);
    const title = cardTitle(posted[0]!.requestBody)!;
    expect(botCallsSince(openAt).filter((e) => e.op === 'update' && cardTitle(e.requestBody) === 'Defender for Cloud digest')).toHaveLength(0);
    const shown = ui.card(title);
    const visible = await shown
      .waitFor()
      .then(() => true)
      .catch(() => false);
    findings.record({
      step: 'digest → Open',
      target: "Open on the digest shows that recommendation's card; the digest stays",
      works: visible,
      observed: `invoke answered with a ${invokeAnswer(open)}; "${title}" posted once; ${visible ? 'shown in the channel' : 'not found in the page (a collapsed thread?)'}`,
      screenshot: await ui.screenshot('digest-open', visible ? shown : undefined),
      problems: [7],
    });
    expect(browser.errors).toEqual([]);
  }, 60_000);
});
