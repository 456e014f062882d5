/**
 * "Request more time" from a reminder: the owner's form and its submission, card data →
 * app/moreTime.ts → a card.
 */
import { z } from 'zod';
import { moreTimeFormCard } from '../../cards/reminderCards.js';
import { futureDaySchema } from '../../core/calendar.js';
import type { MoreTime } from '../../app/moreTime.js';
import { defineAction, type ActionHandler } from '../actionRouter.js';
import { callerOf } from '../turn.js';
import { workflowAnswer } from './dueDate.js';

const assignmentId = z.string().trim().min(1).max(200);

export function moreTimeActions(deps: { moreTime: MoreTime }): ActionHandler[] {
  const { moreTime } = deps;
  const submitSchema = z.object({
    assignmentId,
    eta: futureDaySchema(() => moreTime.today()),
    justification: z.string().trim().min(10, 'must be at least 10 characters').max(1000, 'must be at most 1000 characters'),
  });
  return [
    defineAction({
      verb: 'requestMoreTime',
      schema: z.object({ assignmentId }),
      handle: async (ctx, data) => {
        const result = await moreTime.form(callerOf(ctx), data.assignmentId);
        return result.kind === 'form' ? { kind: 'reply', card: moreTimeFormCard(result.model, ctx) } : workflowAnswer(ctx, result);
      },
    }),
    defineAction({
      verb: 'submitMoreTime',
      schema: submitSchema,
      handle: async (ctx, data) =>
        workflowAnswer(ctx, await moreTime.submit(callerOf(ctx), data.assignmentId, { eta: data.eta, justification: data.justification })),
    }),
  ];
}
