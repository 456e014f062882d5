import type { Locator, Page } from 'playwright-core';
import { nextShot, type ClientBrowser } from './browser.js';
import { CardHandle, cardOf, cardsWithHeading, cardTitle, titleMatches } from './cards.js';
import type { DirectLineShim } from './directLineShim.js';
import { waitUntil } from './wait.js';

/** Drives Bot Framework Web Chat (the real bundle) on the Direct Line shim's page. */
export class WebChatDriver {
  private constructor(
    readonly page: Page,
    readonly shim: DirectLineShim,
    private readonly dir: string,
  ) {}

  /** The Emulator's chat panel is about this size; tall enough that a 25-resource card fits for a screenshot. */
  static async open(browser: ClientBrowser, shim: DirectLineShim, dir: string): Promise<WebChatDriver> {
    const page = await browser.newPage({ width: 820, height: 1800 });
    const started = shim.conversationIds().length;
    await page.goto(shim.pageUrl);
    await page.locator('[data-id="webchat-sendbox-input"]').waitFor({ state: 'visible' });
    // Web Chat starts its Direct Line conversation on load; the first poll means it is connected.
    await shim.waitFor(() => shim.conversationIds().length > started, 10_000, 'Web Chat started a conversation');
    return new WebChatDriver(page, shim, dir);
  }

  get conversationId(): string {
    return this.shim.conversationIds().at(-1)!;
  }

  /**
   * Types a message and sends it with Enter; resolves once the bot has answered the Direct Line
   * POST (its replies of that turn are then in the stream; Web Chat shows them on its next poll).
   */
  async send(text: string): Promise<void> {
    const before = this.shim.records.length;
    const box = this.page.locator('[data-id="webchat-sendbox-input"]');
    await box.fill(text);
    await box.press('Enter');
    await this.shim.waitFor(
      (rs) => rs.slice(before).some((r) => r.op === 'userActivity' && r.activity?.text === text && r.botStatus !== undefined),
      15_000,
      `the bot answered "${text}"`,
    );
    await this.settled();
  }

  /** Runs a card action and resolves when the bot has answered the Action.Submit message(s) it sent. */
  async act(run: () => Promise<void>, what: string, submits = 1): Promise<void> {
    const before = this.shim.records.length;
    await run();
    await this.shim.waitFor(
      (rs) => rs.slice(before).filter((r) => r.op === 'userActivity' && r.activity?.value !== undefined && r.botStatus !== undefined).length >= submits,
      15_000,
      `the bot answered ${what}`,
    );
    await this.settled();
  }

  /**
   * Waits until Web Chat has taken into its transcript every activity the shim delivered (first
   * posts and updates), and React has painted them. Web Chat holds the bot's proactive posts and
   * updates for up to 5 s (see the shim's `deliver`); `held: true` waits for those too.
   */
  async settled(opts: { held?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const expected = this.shim.deliveries(this.conversationId, { includeHeld: opts.held });
    await waitUntil(
      () => this.page.evaluate(() => (window as unknown as { __webchatIncoming: number[] }).__webchatIncoming),
      (seen) => expected.every((n) => seen.includes(n)),
      { timeoutMs: opts.timeoutMs ?? 15_000, what: `Web Chat took in deliveries ${expected.join(',')}` },
    );
    await this.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  }

  cards(heading: string | RegExp): Locator {
    return cardsWithHeading(this.page, heading);
  }

  /** The newest card with this heading (Web Chat appends; the newest is the lowest). */
  card(heading: string | RegExp, which: 'first' | 'last' = 'last'): CardHandle {
    const all = this.cards(heading);
    // Web Chat shows the activities in the order they were first posted, as the transcript keeps them.
    const json = () => {
      const same = this.shim.transcript(this.conversationId).filter((a) => titleMatches(cardTitle(a), heading));
      return cardOf(which === 'first' ? same[0] : same.at(-1));
    };
    return new CardHandle(which === 'first' ? all.first() : all.last(), this.page, json);
  }

  /** A bot text message (markdown rendered) containing `text`. */
  message(text: string | RegExp): Locator {
    return this.page.locator('.webchat__bubble:not(.webchat__bubble--from-user) .webchat__text-content').filter({ hasText: text });
  }

  allCards(): Locator {
    return this.page.locator('.ac-adaptiveCard');
  }

  async screenshot(name: string, target?: CardHandle | Locator): Promise<string> {
    const file = nextShot(this.dir, name);
    if (target instanceof CardHandle) return target.screenshot(file);
    if (target) await target.screenshot({ path: file });
    else await this.page.screenshot({ path: file });
    return file;
  }
}
