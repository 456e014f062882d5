import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { errorCard, type AdaptiveCard } from '../cards/index.js';
import { CARD_INPUT_LABELS } from '../cards/formErrors.js';
import { humanFormErrors } from '../core/formErrors.js';
import type { Logger } from '../core/logger.js';
import type { TurnInfo } from './turn.js';

/**
 * What a card action answers. `replace` swaps the clicked card (the invoke response in Teams, an
 * update of the message elsewhere: the one the action came from, else `activityId`, the card's own id
 * it carried in its data, as Web Chat names none); `reply` posts a new message; `message` is a short text.
 */
export type ActionResult =
  | { kind: 'replace'; card: AdaptiveCard; afterSend?: AfterSend; activityId?: string }
  | { kind: 'reply'; card: AdaptiveCard; afterSend?: AfterSend }
  | { kind: 'message'; text: string };

/**
 * Told the id of the activity that now shows the answer's card (the clicked card replaced, or the
 * posted reply), once it is delivered: work that goes on updates that activity. Never throws.
 */
export type AfterSend = (activityId: string | undefined) => void;

export interface ActionContext extends TurnInfo {
  verb: string;
}

export interface ActionHandler<S extends z.ZodType = z.ZodType> {
  verb: string;
  schema: S;
  handle(ctx: ActionContext, data: z.output<S>): Promise<ActionResult>;
  /** Labels of the card's inputs for validation messages; cards/formErrors.ts#CARD_INPUT_LABELS without. */
  labels?: Readonly<Record<string, string>>;
  /**
   * A form's answer to data the schema refused: the same form again, with each message
   * ("Reason: write at least 10 characters") under its input. Without it, a card lists them.
   */
  invalid?(ctx: ActionContext, data: Record<string, unknown>, errors: Record<string, string>): Promise<ActionResult>;
}

/** Keeps the handler's data type tied to its schema. */
export function defineAction<S extends z.ZodType>(handler: ActionHandler<S>): ActionHandler<S> {
  return handler;
}

export interface IncomingAction {
  verb: string;
  data: Record<string, unknown>;
}

/**
 * Reads a card action from either form: an Action.Submit message (`value` holds the inputs and
 * the data, with our `verb` key) or an Action.Execute invoke (`value.action.verb` + `data`).
 */
export function readSubmitAction(value: unknown): IncomingAction | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { verb, ...data } = value as Record<string, unknown>;
  if (typeof verb !== 'string' || !verb) return undefined;
  return { verb, data };
}

export function readExecuteAction(value: unknown): IncomingAction | undefined {
  const action = (value as { action?: { type?: unknown; verb?: unknown; data?: unknown } } | undefined)?.action;
  if (!action || typeof action.verb !== 'string') return undefined;
  const data = action.data && typeof action.data === 'object' && !Array.isArray(action.data) ? { ...(action.data as Record<string, unknown>) } : {};
  delete data.verb;
  return { verb: action.verb, data };
}

/** The one router every card action goes through, whichever form it arrived in. */
export class ActionRouter {
  private readonly handlers = new Map<string, ActionHandler>();

  constructor(private readonly logger: Logger) {}

  register(...handlers: ActionHandler[]): this {
    for (const h of handlers) {
      if (this.handlers.has(h.verb)) throw new Error(`action verb "${h.verb}" registered twice`);
      this.handlers.set(h.verb, h);
    }
    return this;
  }

  verbs(): string[] {
    return [...this.handlers.keys()];
  }

  async dispatch(action: IncomingAction, base: TurnInfo): Promise<ActionResult> {
    const render = { channelId: base.channelId };
    const handler = this.handlers.get(action.verb);
    if (!handler) {
      this.logger.warn({ verb: action.verb, conversationId: base.conversationId }, 'unknown card action');
      return {
        kind: 'reply',
        card: errorCard(
          {
            title: 'Unknown action',
            message: `This card sent an action I do not know ("${truncate(action.verb, 40)}"). It may come from an older version of the bot; type **help** to start again.`,
            details: [],
          },
          render,
        ),
      };
    }
    const parsed = handler.schema.safeParse(action.data);
    try {
      if (!parsed.success) {
        const errors = humanFormErrors(parsed.error, handler.labels ?? CARD_INPUT_LABELS);
        if (handler.invalid) return await handler.invalid({ ...base, verb: action.verb }, action.data, errors);
        return {
          kind: 'reply',
          card: errorCard({ title: 'That did not work', message: 'Some of what the card sent is not valid:', details: Object.values(errors) }, render),
        };
      }
      return await handler.handle({ ...base, verb: action.verb }, parsed.data);
    } catch (err) {
      const reference = randomUUID().slice(0, 8);
      this.logger.error({ err, verb: action.verb, conversationId: base.conversationId, reference }, 'card action failed');
      return {
        kind: 'reply',
        card: errorCard(
          { title: 'Something went wrong', message: 'The action could not be completed. Nothing was lost; try again in a moment.', details: [], reference },
          render,
        ),
      };
    }
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
