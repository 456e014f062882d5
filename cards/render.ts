import * as ACData from 'adaptivecards-templating';

/** Teams renders Adaptive Cards up to schema 1.5, which Universal Actions (Action.Execute) need. */
export const CARD_VERSION = '1.5';
/** Teams refuses messages over ~100 KB (older clients 40 KB); cards are kept well below both. */
export const MAX_CARD_BYTES = 28 * 1024;

export type AdaptiveCard = Record<string, unknown> & { type: 'AdaptiveCard'; body: unknown[] };

export interface RenderContext {
  /** `msteams` keeps Action.Execute; anything else (the Emulator, Web Chat) gets Action.Submit. */
  channelId: string;
}

// A missing field renders as empty text instead of the literal "${field}". The library ignores
// an empty substitute, so a marker is substituted and stripped after expansion.
const UNDEFINED_MARKER = '\u0000undefined\u0000';
ACData.GlobalSettings.getUndefinedFieldValueSubstitutionString = () => UNDEFINED_MARKER;

function stripUndefinedMarker(text: string): string {
  return text.includes(UNDEFINED_MARKER) ? text.split(UNDEFINED_MARKER).join('') : text;
}

/**
 * Plain text for a TextBlock, whose markdown every host renders as HTML: Web Chat (markdown-it with
 * HTML on, then sanitized) and Teams both drop `<id>` as an unknown tag, so a placeholder such as
 * `scope=/subscriptions/<id>` lost its `<id>`. As entities the brackets show as typed.
 */
export function cardText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export class CardTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`card is ${bytes} bytes, over the ${MAX_CARD_BYTES}-byte limit`);
  }
}

/**
 * Turns every Action.Execute into an Action.Submit carrying the verb in its data, for channels
 * that cannot send adaptiveCard/action invokes. The action router reads both forms.
 */
export function adaptActionsForChannel(node: unknown, channelId: string): unknown {
  return adaptForChannel(node, channelId);
}

/** Teams' people picker: an Input.ChoiceSet searching the tenant's directory (Teams only). */
export const PEOPLE_PICKER_DATASET = 'graph.microsoft.com/users';

function isPeoplePicker(obj: Record<string, unknown>): boolean {
  const data = obj['choices.data'] as { type?: unknown; dataset?: unknown } | undefined;
  return obj.type === 'Input.ChoiceSet' && data?.type === 'Data.Query' && data.dataset === PEOPLE_PICKER_DATASET;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Outside Teams (Emulator, Web Chat) there is no directory to search: the people picker becomes
 * a typed e-mail field with the same id, so the submit side reads one input either way.
 */
function typedPersonInput(picker: Record<string, unknown>): Record<string, unknown> {
  const value = typeof picker.value === 'string' && !GUID.test(picker.value) ? picker.value : '';
  const keep = ['id', 'label', 'isRequired', 'spacing', 'separator', 'isVisible', 'height'] as const;
  const label =
    typeof picker.label === 'string' ? (picker.label.endsWith(')') ? `${picker.label.slice(0, -1)} e-mail)` : `${picker.label} (e-mail)`) : undefined;
  return {
    type: 'Input.Text',
    ...Object.fromEntries(keep.filter((k) => picker[k] !== undefined).map((k) => [k, picker[k]])),
    ...(label ? { label } : {}),
    style: 'email',
    placeholder: 'name@contoso.com',
    errorMessage: "Type the person's e-mail address",
    ...(value ? { value } : {}),
  };
}

/**
 * Text colours each host renders readably on its light background (WCAG AA, 4.5:1), measured from
 * the host configs (test/cards/contrast.test.ts computes them again):
 * - Teams light theme (the Agents Playground's host config): attention #c4314b 5.40:1, accent
 *   #6264a7 5.38:1, but good #92c353 2.07:1 and warning #f8d22a 1.47:1 (the yellow "Medium severity").
 * - Web Chat / the Emulator (botframework-webchat 4.18's host config): attention #D13438 4.93:1,
 *   accent #0063B1 6.14:1, good #0B6A0B 6.82:1, warning #B75C00 4.62:1.
 * A colour a host cannot show readably is dropped (the default text colour); the words and icons
 * next to it carry the meaning, never the colour alone. Unknown channels get Teams' rule.
 */
export const READABLE_COLORS: Readonly<Record<string, readonly string[]>> = {
  msteams: ['default', 'dark', 'accent', 'attention'],
  webchat: ['default', 'dark', 'accent', 'attention', 'good', 'warning'],
  emulator: ['default', 'dark', 'accent', 'attention', 'good', 'warning'],
  directline: ['default', 'dark', 'accent', 'attention', 'good', 'warning'],
};

export function readableColors(channelId: string): readonly string[] {
  return READABLE_COLORS[channelId] ?? READABLE_COLORS.msteams!;
}

/**
 * What a channel's client can render: Action.Execute (Teams) or Action.Submit carrying the verb
 * (the action router reads both), the people picker (Teams) or a typed e-mail, and only the text
 * colours the host shows readably.
 */
export function adaptForChannel(node: unknown, channelId: string, colors: readonly string[] = readableColors(channelId)): unknown {
  return adapt(node, channelId, colors, false);
}

/**
 * adaptForChannel, and with `strip` the undefined markers removed from every string in the same
 * walk: an expanded card is copied once, not once per pass (the sync pass renders thousands).
 */
function adapt(node: unknown, channelId: string, colors: readonly string[], strip: boolean): unknown {
  if (strip && typeof node === 'string') return stripUndefinedMarker(node);
  if (Array.isArray(node)) return node.map((n) => adapt(n, channelId, colors, strip));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) out[k] = adapt(obj[k], channelId, colors, strip);
  // The picker's fields taken over are plain values, so reading them adapted changes nothing.
  if (channelId !== 'msteams' && isPeoplePicker(out)) return typedPersonInput(out);
  if (typeof out.color === 'string' && !colors.includes(out.color.toLowerCase())) delete out.color;
  if (channelId !== 'msteams' && out.type === 'Action.Execute') {
    const { verb, data, ...rest } = out;
    return { ...rest, type: 'Action.Submit', data: { ...((data as object) ?? {}), verb } };
  }
  return out;
}

/** A card template bound to the type of the data it expects. */
export function defineCard<TModel extends object>(template: object) {
  const compiled = new ACData.Template(template);
  return (model: TModel, ctx: RenderContext): AdaptiveCard => {
    // The template was parsed once, above (Template's constructor prepares every expression); an
    // expand only evaluates them.
    const expanded = compiled.expand({ $root: model }) as AdaptiveCard;
    const card = adapt(
      { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', ...expanded, version: CARD_VERSION },
      ctx.channelId,
      readableColors(ctx.channelId),
      true,
    ) as AdaptiveCard;
    const bytes = Buffer.byteLength(JSON.stringify(card));
    if (bytes > MAX_CARD_BYTES) throw new CardTooLargeError(bytes);
    return card;
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const k in value) deepFreeze(value[k]);
  }
  return value;
}

/**
 * A render function that keeps the cards it made, by model and channel: for cards whose model
 * is the same on every request (help), so a turn does not expand the template again. Cards
 * handed out are frozen, as they are shared; at most `limit` are kept.
 */
export function rememberCards<TModel extends object>(render: (model: TModel, ctx: RenderContext) => AdaptiveCard, limit = 16) {
  const cards = new Map<string, AdaptiveCard>();
  /**
   * A frozen model cannot change, so its card per channel is found by identity, without writing
   * the model out as a key on every request (the help model is frozen and made once: see
   * bot/commandRouter.ts#summaries). Weak: a model nobody holds takes its cards with it.
   */
  const byFrozenModel = new WeakMap<object, Map<string, AdaptiveCard>>();
  return (model: TModel, ctx: RenderContext): AdaptiveCard => {
    const frozen = isDeepFrozen(model) ? (byFrozenModel.get(model) ?? new Map<string, AdaptiveCard>()) : undefined;
    const known = frozen?.get(ctx.channelId);
    if (known !== undefined) return known;
    const key = `${ctx.channelId}\u0000${JSON.stringify(model)}`;
    let card = cards.get(key);
    if (card === undefined) {
      card = deepFreeze(render(model, ctx));
      if (cards.size >= limit) cards.delete(cards.keys().next().value!);
      cards.set(key, card);
    }
    if (frozen && frozen.size < limit) {
      frozen.set(ctx.channelId, card);
      byFrozenModel.set(model, frozen);
    }
    return card;
  };
}

/** Frozen all the way down (checked once per model object: the answer is kept). */
const deepFrozen = new WeakSet<object>();
function isDeepFrozen(value: object): boolean {
  if (deepFrozen.has(value)) return true;
  const check = (v: unknown): boolean => typeof v !== 'object' || v === null || (Object.isFrozen(v) && Object.values(v as object).every(check));
  if (!check(value)) return false;
  deepFrozen.add(value);
  return true;
}
