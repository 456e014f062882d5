import type { Locator, Page } from 'playwright-core';
import { nextShot, type ClientBrowser } from './browser.js';
import { CardHandle, cardOf, cardsWithHeading, cardTitle, titleMatches } from './cards.js';
import type { Playground } from './playground.js';
import type { Exchange } from './recordingProxy.js';

/** Drives the Microsoft 365 Agents Playground UI (Teams emulation) in Chromium. */
export class PlaygroundDriver {
  private where: 'personal' | 'channel' = 'personal';

  private constructor(
    readonly page: Page,
    readonly pg: Playground,
    readonly dir: string,
  ) {}

  /** Tall, so that a card with 25 resources fits the window for a screenshot. */
  static async open(browser: ClientBrowser, pg: Playground, dir: string): Promise<PlaygroundDriver> {
    const page = await browser.newPage({ width: 1280, height: 2000 });
    await page.goto(pg.url);
    await page.getByText('Personal Chat', { exact: true }).waitFor();
    await page.getByText('Log Panel').locator('xpath=..').getByRole('button').last().click();
    await page.getByText('Log Panel').waitFor({ state: 'hidden' });
    return new PlaygroundDriver(page, pg, dir);
  }

  /** Opens the team channel; the first visit installs the bot there (conversationUpdate, installationUpdate). */
  async openChannel(): Promise<void> {
    await this.page.getByText(this.pg.channelName, { exact: true }).click();
    await this.composer().waitFor();
    this.where = 'channel';
  }

  async openPersonalChat(): Promise<void> {
    await this.page.getByText('Personal Chat', { exact: true }).click();
    await this.composer().waitFor();
    this.where = 'personal';
  }

  /** In a channel, "Start a new post" comes first; each thread below has its own reply box. */
  private composer(): Locator {
    return this.page.getByRole('textbox').first();
  }

  /**
   * Sends a message; in a channel as a new post that @mentions the bot (picked from the mention
   * menu, as a person does: without it Teams does not deliver a channel message to the bot).
   * Resolves when the bot has answered the activity (its replies of that turn are then posted).
   */
  async send(text: string, opts: { mention?: boolean } = {}): Promise<Exchange> {
    const before = this.pg.toBot.exchanges.length;
    await this.post(text, opts);
    return this.answered(before, (e) => e.requestBody?.type === 'message' && String(e.requestBody?.text ?? '').includes(text), `"${text}"`);
  }

  /** Types and posts a message without waiting for the bot (which may never get it). */
  async post(text: string, opts: { mention?: boolean } = {}): Promise<void> {
    const mention = opts.mention ?? this.where === 'channel';
    await this.composer().click();
    if (mention) {
      await this.page.keyboard.type('@');
      await this.page.getByRole('menuitem', { name: this.pg.botName }).click();
      await this.page.keyboard.type(` ${text}`);
    } else {
      await this.page.keyboard.type(text);
    }
    if (this.where === 'channel') await this.page.getByRole('button', { name: 'Post', exact: true }).click();
    else await this.page.keyboard.press('Enter');
  }

  /** Runs a card action (an Action.Execute invoke here) and resolves with the bot's answer to it. */
  async act(run: () => Promise<void>, what: string): Promise<Exchange> {
    const before = this.pg.toBot.exchanges.length;
    await run();
    return this.answered(before, (e) => e.requestBody?.type === 'invoke' || e.requestBody?.value !== undefined, what);
  }

  private async answered(before: number, match: (e: Exchange) => boolean, what: string): Promise<Exchange> {
    await this.pg.toBot.waitFor((xs) => xs.slice(before).some(match), 15_000, `the bot answered ${what}`);
    return this.pg.toBot.exchanges.slice(before).find(match)!;
  }

  cards(heading: string | RegExp): Locator {
    return cardsWithHeading(this.page, heading);
  }

  /** Channel posts are listed newest first; a card replaced in place keeps its position. */
  card(heading: string | RegExp, which: 'first' | 'last' = 'first'): CardHandle {
    const all = this.cards(heading);
    return new CardHandle(which === 'first' ? all.first() : all.last(), this.page, () => this.latestCard(heading));
  }

  /** The newest card with this title the playground got: posted, updated, or an invoke's answer. */
  latestCard(heading: string | RegExp): any {
    const sent = this.pg.fromBot.exchanges.map((e) => ({ at: e.at, card: cardOf(e.requestBody) }));
    const answers = this.pg.toBot.exchanges
      .filter((e) => e.responseBody?.type === 'application/vnd.microsoft.card.adaptive')
      .map((e) => ({ at: e.at, card: e.responseBody.value }));
    const wrap = (card: any) => ({ attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }] });
    return [...sent, ...answers]
      .filter((x) => x.card && titleMatches(cardTitle(wrap(x.card)), heading))
      .sort((x, y) => x.at - y.at)
      .at(-1)?.card;
  }

  /** A bot message (text, not a card) containing `text`. */
  message(text: string | RegExp): Locator {
    return this.page.locator('p, div').filter({ hasText: text }).last();
  }

  async screenshot(name: string, target?: CardHandle | Locator): Promise<string> {
    const file = nextShot(this.dir, name);
    if (target instanceof CardHandle) return target.screenshot(file);
    if (target) await target.screenshot({ path: file });
    else await this.page.screenshot({ path: file });
    return file;
  }
}
