/**
 * "Request more time" from a reminder: the owner's form and its submission, card data →
 * app/moreTime.ts → a card.
 */
import { z } from 'zod';
import { moreTimeFormCard } from '../../cards/reminderCards.js';
import { futureDaySchema } from '../../core/calendar.js';
import type { MoreTime } from '../../app/moreTime.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import { callerOf } from '../turn.js';
import { workflowAnswer } from './dueDate.js';

const assignmentId = z.string().trim().min(1).max(200);
const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 1000) : '');

export function moreTimeActions(deps: { moreTime: MoreTime }): ActionHandler[] {
  const { moreTime } = deps;
  const submitSchema = z.object({
    assignmentId,
    eta: futureDaySchema(() => moreTime.today()),
    justification: z.string().trim().min(10, 'must be at least 10 characters').max(1000, 'must be at most 1000 characters'),
  });

  const form = async (
    ctx: ActionContext,
    id: string,
    kind: 'reply' | 'replace',
    errors?: Record<string, string>,
    values?: { eta: string; justification: string },
  ): Promise<ActionResult> => {
    const result = await moreTime.form(callerOf(ctx), id);
    return result.kind === 'form' ? { kind, card: moreTimeFormCard({ ...result.model, errors, values }, ctx) } : workflowAnswer(ctx, result);
  };

  return [
    defineAction({
      verb: 'requestMoreTime',
      schema: z.object({ assignmentId }),
      handle: (ctx, data) => form(ctx, data.assignmentId, 'reply'),
    }),
    defineAction({
      verb: 'submitMoreTime',
      schema: submitSchema,
      // The same form again, each problem under its input, with what the owner typed.
      invalid: (ctx, raw, errors) => form(ctx, String(raw.assignmentId ?? ''), 'replace', errors, { eta: str(raw.eta), justification: str(raw.justification) }),
      handle: async (ctx, data) =>
        workflowAnswer(ctx, await moreTime.submit(callerOf(ctx), data.assignmentId, { eta: data.eta, justification: data.justification })),
    }),
  ];
}
