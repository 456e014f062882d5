/**
 * The security-admin buttons of a more-time request card (approve, decline, change the due date):
 * card data → app/dueDates.ts → a card. The workflow, its four-eyes rules and its lock are there.
 */
import { z } from 'zod';
import { errorCard, noticeCard } from '../../cards/index.js';
import { futureDaySchema, realDaySchema } from '../../core/calendar.js';
import type { DueDates, WorkflowResult } from '../../app/dueDates.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import { callerOf } from '../turn.js';

export { samePerson, type Outcome } from '../../app/dueDates.js';

const assignmentId = z.string().trim().min(1).max(200);

/** A workflow's answer as a card action's: a refusal is a new message, a notice replaces the clicked card. */
export function workflowAnswer(ctx: ActionContext, result: WorkflowResult): ActionResult {
  switch (result.kind) {
    case 'message':
      return { kind: 'message', text: result.text };
    case 'refused':
      return { kind: 'reply', card: errorCard({ title: 'Not allowed', message: result.message, details: [] }, ctx) };
    case 'notice':
      return { kind: 'replace', card: noticeCard({ title: result.title, text: result.text, facts: result.facts }, ctx) };
  }
}

export function dueDateActions(deps: { dueDates: DueDates }): ActionHandler[] {
  const { dueDates } = deps;
  const today = () => dueDates.today();
  const approveSchema = z.object({ assignmentId, eta: futureDaySchema(today) });
  const declineSchema = z.object({ assignmentId, eta: realDaySchema.optional() });
  const changeSchema = z.object({
    assignmentId,
    dueDate: futureDaySchema(today),
    // An empty optional input arrives as "".
    note: z
      .string()
      .trim()
      .max(1000, 'must be at most 1000 characters')
      .optional()
      .transform((s) => s || undefined),
    /** Set when the form is on a request card: the change answers that request. */
    eta: realDaySchema.optional(),
  });

  return [
    defineAction({
      verb: 'approveMoreTime',
      schema: approveSchema,
      handle: async (ctx, data) => workflowAnswer(ctx, await dueDates.approve(callerOf(ctx), data.assignmentId, data.eta)),
    }),
    defineAction({
      verb: 'declineMoreTime',
      schema: declineSchema,
      handle: async (ctx, data) => workflowAnswer(ctx, await dueDates.decline(callerOf(ctx), data.assignmentId, data.eta)),
    }),
    defineAction({
      verb: 'changeDueDate',
      schema: changeSchema,
      handle: async (ctx, data) =>
        workflowAnswer(ctx, await dueDates.change(callerOf(ctx), data.assignmentId, { dueDate: data.dueDate, note: data.note, eta: data.eta })),
    }),
  ];
}
