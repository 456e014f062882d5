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

function stripUndefinedMarkers(node: unknown): unknown {
  if (typeof node === 'string') return node.includes(UNDEFINED_MARKER) ? node.split(UNDEFINED_MARKER).join('') : node;
  if (Array.isArray(node)) return node.map(stripUndefinedMarkers);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, stripUndefinedMarkers(v)]));
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
  if (Array.isArray(node)) return node.map((n) => adaptActionsForChannel(n, channelId));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = adaptActionsForChannel(v, channelId);
  if (channelId !== 'msteams' && obj.type === 'Action.Execute') {
    const { verb, data, ...rest } = out;
    return { ...rest, type: 'Action.Submit', data: { ...((data as object) ?? {}), verb } };
  }
  return out;
}

/** A card template bound to the type of the data it expects. */
export function defineCard<TModel extends object>(template: object) {
  const compiled = new ACData.Template(template);
  return (model: TModel, ctx: RenderContext): AdaptiveCard => {
    const expanded = stripUndefinedMarkers(compiled.expand({ $root: model })) as AdaptiveCard;
    const card = adaptActionsForChannel(
      { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', ...expanded, version: CARD_VERSION },
      ctx.channelId,
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
  return (model: TModel, ctx: RenderContext): AdaptiveCard => {
    const key = `${ctx.channelId}\u0000${JSON.stringify(model)}`;
    let card = cards.get(key);
    if (card === undefined) {
      card = deepFreeze(render(model, ctx));
      if (cards.size >= limit) cards.delete(cards.keys().next().value!);
      cards.set(key, card);
    }
    return card;
  };
}
