import type { Locator, Page } from 'playwright-core';

/**
 * Both clients render cards with Microsoft's Adaptive Cards JavaScript renderer (Web Chat with its
 * own styling, the Agents Playground with Fluent UI inputs), so one set of locators drives both:
 * `.ac-adaptiveCard` is a card, `.ac-textBlock` a TextBlock. Inputs are found by their visible
 * label; the renderer does not put the card's input ids in the DOM, so an id is looked up in the
 * card JSON the client was sent (when the driver knows it) and turned into that input's label.
 * Buttons are found by their title.
 */

/** The adaptive card an activity carries, if any. */
export function cardOf(activity: any): any {
  return activity?.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
}

/** A card's title: its first TextBlock in reading order (inside containers and columns too), as a client shows it. */
export function cardTitle(activity: any): string | undefined {
  const walk = (els: any[] | undefined): string | undefined => {
    for (const el of els ?? []) {
      if (el?.type === 'TextBlock') return el.text;
      const inner = walk(el?.items) ?? walk(el?.columns) ?? walk(el?.body);
      if (inner !== undefined) return inner;
    }
    return undefined;
  };
  return walk(cardOf(activity)?.body);
}

export const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first TextBlock of a card, in document order: its title. */
const FIRST_TEXT_BLOCK = 'xpath=(.//*[contains(concat(" ", normalize-space(@class), " "), " ac-textBlock ")])[1]';

/**
 * Cards whose title (first TextBlock) is `heading` (the whole text for a string), so a result
 * card that names the recommendation below its own title is not taken for the recommendation.
 */
export function cardsWithHeading(scope: Page | Locator, heading: string | RegExp): Locator {
  const text = typeof heading === 'string' ? new RegExp(`^\\s*${escapeRegExp(heading)}\\s*$`) : heading;
  return scope.locator('.ac-adaptiveCard').filter({ has: scope.locator(FIRST_TEXT_BLOCK).filter({ hasText: text }) });
}

/** Whether a card title is `heading` (the whole text for a string, as `cardsWithHeading` matches). */
export function titleMatches(title: string | undefined, heading: string | RegExp): boolean {
  if (title === undefined) return false;
  return typeof heading === 'string' ? title.trim() === heading.trim() : heading.test(title);
}

const toName = (label: string | RegExp) => (typeof label === 'string' ? new RegExp(escapeRegExp(label)) : label);

/** The element of a card (an input, an action…) with this id, at any depth. */
export function findById(card: any, id: string): any {
  if (!card || typeof card !== 'object') return undefined;
  if (card.id === id) return card;
  for (const v of Object.values(card)) {
    const hit = Array.isArray(v) ? v.map((x) => findById(x, id)).find(Boolean) : typeof v === 'object' ? findById(v, id) : undefined;
    if (hit) return hit;
  }
  return undefined;
}

export class CardHandle {
  /** `json`: the card as the client was sent it (its latest version), to find inputs by id. */
  constructor(
    readonly locator: Locator,
    private readonly page: Page,
    private readonly json?: () => any,
  ) {}

  /**
   * An input's accessible name: it starts with the label when `key` is the id of an input with a
   * label in the card JSON (a required input's name goes on with " *"), otherwise `key` itself is
   * (a part of) the label.
   */
  private nameOf(key: string | RegExp): RegExp {
    if (typeof key === 'string') {
      const label = findById(this.json?.(), key)?.label;
      if (typeof label === 'string') return new RegExp(`^\\s*${escapeRegExp(label)}`);
    }
    return toName(key);
  }

  async waitFor(timeoutMs = 10_000): Promise<this> {
    await this.locator.waitFor({ state: 'visible', timeout: timeoutMs });
    return this;
  }

  text(): Promise<string> {
    return this.locator.innerText();
  }

  /** Waits until the card shows `text` (a card replaced in place changes under the same locator). */
  async waitForText(text: string | RegExp, timeoutMs = 10_000): Promise<void> {
    await this.locator.getByText(text).first().waitFor({ state: 'visible', timeout: timeoutMs });
  }

  private checkbox(label: string | RegExp): Locator {
    return this.locator.getByRole('checkbox', { name: toName(label) });
  }

  /** Ticks a checkbox of a ChoiceSet (isMultiSelect, expanded) or an Input.Toggle by its label. */
  async tick(label: string | RegExp): Promise<void> {
    await this.checkbox(label).check();
  }

  async untick(label: string | RegExp): Promise<void> {
    await this.checkbox(label).uncheck();
  }

  /** The labels of every checkbox in the card, in order, and which are ticked. */
  async checkboxes(): Promise<Array<{ label: string; checked: boolean }>> {
    return this.locator.getByRole('checkbox').evaluateAll((els) =>
      els.map((e) => {
        const input = e as HTMLInputElement;
        const label = input.getAttribute('aria-label') ?? input.labels?.[0]?.textContent ?? '';
        return { label: label.trim(), checked: input.checked };
      }),
    );
  }

  /** Fills a text, e-mail or multi-line input by its id or label. */
  async fill(idOrLabel: string | RegExp, value: string): Promise<void> {
    await this.locator.getByLabel(this.nameOf(idOrLabel)).fill(value);
  }

  async value(idOrLabel: string | RegExp): Promise<string> {
    return this.locator.getByLabel(this.nameOf(idOrLabel)).inputValue();
  }

  /**
   * Teams' people picker (an Input.ChoiceSet over graph.microsoft.com/users), which the playground
   * renders as a Fluent people picker searching its configured users. Its label is not tied to the
   * combobox, so it is found as the picker next to the label.
   */
  private peoplePicker(idOrLabel: string | RegExp): Locator {
    const label = this.page.locator('label').filter({ hasText: this.nameOf(idOrLabel) });
    return this.locator.locator('div').filter({ has: label }).last().getByRole('combobox', { name: 'People Picker' });
  }

  /**
   * Chooses a person: in a people picker by typing their first name and clicking the suggestion,
   * where the client renders the typed fallback (Web Chat, the Emulator) by typing the e-mail.
   * Says which the card offered, and what the field held before.
   */
  async choosePerson(
    idOrLabel: string | RegExp,
    person: { name: string; email: string },
  ): Promise<{ input: 'people picker' | 'typed e-mail'; before: string }> {
    const picker = this.peoplePicker(idOrLabel);
    if ((await picker.count()) > 0) {
      const chosen = this.locator.locator('.ms-BasePicker').filter({ has: picker }).locator('.ms-PickerPersona-container');
      const before = (await chosen.allInnerTexts()).join(', ');
      // A person already chosen is replaced: remove it first.
      for (const remove of await this.locator
        .locator('.ms-BasePicker')
        .filter({ has: picker })
        .getByRole('button', { name: /remove/i })
        .all())
        await remove.click();
      await picker.click();
      await picker.pressSequentially(person.name.split(' ')[0]!, { delay: 20 });
      await this.page
        .getByRole('option', { name: new RegExp(escapeRegExp(person.name)) })
        .first()
        .click();
      return { input: 'people picker', before };
    }
    const before = await this.value(idOrLabel);
    await this.fill(idOrLabel, person.email);
    return { input: 'typed e-mail', before };
  }

  /**
   * Sets an Input.Date by id or label. Web Chat renders `<input type="date">`; the playground renders a
   * Fluent date picker (a text combobox that opens a calendar), which accepts typed ISO dates.
   */
  async fillDate(idOrLabel: string | RegExp, isoDate: string): Promise<void> {
    const input = this.locator.getByLabel(this.nameOf(idOrLabel));
    const type = await input.getAttribute('type');
    await input.fill(isoDate);
    if (type !== 'date') {
      await input.press('Enter');
      await this.page.keyboard.press('Escape');
    }
  }

  /** Picks an option of a compact ChoiceSet by its id or label (a `<select>` in Web Chat, a Fluent combobox in the playground). */
  async choose(idOrLabel: string | RegExp, option: string): Promise<void> {
    const input = this.locator.getByLabel(this.nameOf(idOrLabel));
    if ((await input.evaluate((e) => e.tagName)) === 'SELECT') {
      await input.selectOption({ label: option });
      return;
    }
    await input.click();
    await this.page.getByRole('option', { name: option, exact: true }).click();
  }

  /** Picks a radio button of an expanded single-select ChoiceSet. */
  async pick(option: string): Promise<void> {
    await this.locator.getByRole('radio', { name: option, exact: true }).check();
  }

  async click(title: string | RegExp): Promise<void> {
    await this.button(title).click();
  }

  /** Two clicks in quick succession, as an impatient user (or a double-click) sends them. */
  async doubleClick(title: string | RegExp): Promise<void> {
    await this.button(title).dblclick();
  }

  /** A button by its title (Web Chat's accessible names may carry surrounding spaces). */
  button(title: string | RegExp): Locator {
    return this.locator.getByRole('button', { name: typeof title === 'string' ? new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`) : title });
  }

  async buttons(): Promise<string[]> {
    return (await this.locator.getByRole('button').allInnerTexts()).map((t) => t.trim());
  }

  async screenshot(file: string): Promise<string> {
    await this.locator.scrollIntoViewIfNeeded();
    await this.locator.screenshot({ path: file });
    return file;
  }
}
