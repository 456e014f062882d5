import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { assignmentFormCard, assignmentOutcomeCard, confirmCard, type AssignmentFormModel } from '../../cards/assignmentCards.js';
import { errorCard, type AdaptiveCard } from '../../cards/index.js';
import { addDays, CONFIRM_ABOVE, defaultDueDate } from '../../core/assignments.js';
import { localDay } from '../../core/calendar.js';
import { labelledErrors } from '../../core/formErrors.js';
import { withOwnerUpn } from '../../core/owner.js';
import { SCOPE_FORMS } from '../../core/scope.js';
import type { Clock } from '../../core/clock.js';
import type { Store } from '../../app/ports.js';
import type { Assignment, Recommendation, ResourceSnapshot } from '../../core/model.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import { ALL_RESOURCES, SelectionError, type CreateAssignments, type Reassigned } from '../../app/createAssignments.js';
import type { Authorizer } from '../../app/ports.js';
import { callerOf } from '../turn.js';

/** "Create assignment", its form and Retry: card data → app/createAssignments.ts → a card. */
export interface AssignmentActionDeps {
  assignments: CreateAssignments;
  authorizer: Pick<Authorizer, 'canManage'>;
  store: Store;
  clock: Clock;
  /** REMINDER_TIMEZONE: the date picker's bounds and the default due date are days there. Default UTC. */
  timeZone?: string;
  /** Microsoft Graph: the UPN of an Entra object id, which Teams' people picker submits. */
  upnOfObjectId?: (objectId: string) => Promise<string | undefined>;
  /** How long a submit waits for its tickets before answering with the progress card. */
  answerWithinMs?: number;
}

/** From the submit's start: half of Teams' 2 s, the rest is room for a busy machine and the answer itself. */
export const ANSWER_WITHIN_MS = 1_000;

const FIELD_LABELS: Record<string, string> = {
  integrationId: 'ServiceNow integration',
  ticketType: 'Ticket type',
  assignedTo: 'Assigned to',
  caller: 'Caller',
  shortDescription: 'Short description',
  description: 'Description',
  dueDate: 'Remediation due date',
  assignmentGroup: 'Assignment group',
  impact: 'Impact',
  urgency: 'Urgency',
  resourceIds: 'Resources',
  recommendationKey: 'Recommendation',
};

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
/**
 * A re-rendered form echoes what was submitted; a crafted submit could send megabytes and push the
 * card past the render limit. Each echo is cut at its field's limit (the error is computed on the
 * whole value first, so "must be at most 160 characters" is still shown).
 */
const ECHO_LIMITS: Record<string, number> = { shortDescription: 160, description: 4000, assignedTo: 320, caller: 320, assignmentGroup: 100, dueDate: 10 };
const echo = (values: Record<string, unknown>, field: string) => str(values[field]).slice(0, ECHO_LIMITS[field] ?? 32);

const reassignMaps = (r: Reassigned | undefined) =>
  r
    ? {
        reassigned: new Map(r.reassigned.map((x) => [x.assignment.id, x.from])),
        reassignFailed: new Map(r.failed.map((x) => [x.assignment.id, x.reason])),
      }
    : {};

/** Forms answer in place in Teams (Universal Actions) and as a new message elsewhere. */
const answer = (ctx: ActionContext, card: AdaptiveCard): ActionResult => (ctx.channelId === 'msteams' ? { kind: 'replace', card } : { kind: 'reply', card });

export function assignmentActions(deps: AssignmentActionDeps): ActionHandler[] {
  const { assignments, authorizer, store, clock } = deps;

  const authorize = async (ctx: ActionContext, resources: readonly { subscriptionId: string }[]) =>
    authorizer.canManage(ctx.actor, [...new Set(resources.map((r) => r.subscriptionId))]);

  const refusal = (ctx: ActionContext, reason: string): ActionResult => ({
    kind: 'reply',
    card: errorCard({ title: 'Not allowed', message: reason, details: [] }, ctx),
  });

  async function form(
    ctx: ActionContext,
    rec: Recommendation,
    resources: ResourceSnapshot[],
    values: Record<string, unknown>,
    errors: Record<string, string>,
  ): Promise<ActionResult> {
    const covering = await assignments.coveringIntegrations(resources);
    if (covering.length === 0) {
      return {
        kind: 'reply',
        card: errorCard(
          {
            title: 'No ServiceNow integration covers these resources',
            message: 'Ask a security admin to add an integration whose scope (management group, subscription or connector) includes them:',
            details: [
              'npm run cli -- integration add --name … --scope <scope> --instance-url https://<instance>.service-now.com …',
              `Scopes: ${SCOPE_FORMS.join(' | ')}`,
              'Type **integrations** to see the existing ones.',
            ],
          },
          ctx,
        ),
      };
    }
    const now = clock.now();
    const timeZone = deps.timeZone ?? 'UTC';
    const today = localDay(now, timeZone);
    const prefill = assignments.prefill(rec, resources);
    const chosen = covering.find((i) => i.id === str(values.integrationId)) ?? covering[0];
    const caller = (await assignments.defaultCaller(callerOf(ctx))) ?? '';
    const assigned = await assignments.assignedAlready(resources);
    const model: AssignmentFormModel = {
      assigned: assigned.map((a) => ({ resourceName: a.resourceName, owner: a.owner, ticketNumber: a.ticket?.number ?? '', dueDate: a.dueDate })),
      recommendationKey: rec.key,
      recommendationName: rec.displayName,
      severity: rec.severity,
      resourceSummary:
        resources.length === 1
          ? resources[0].name
          : `${resources.length} resources: ${resources
              .slice(0, 5)
              .map((r) => r.name)
              .join(', ')}${resources.length > 5 ? '…' : ''}`,
      // "All" travels as "*": hundreds of resource ids would push the card over Teams' size limit.
      formId: randomUUID(),
      resourceIdsCsv: resources.length === rec.resources.length && resources.length > 1 ? ALL_RESOURCES : resources.map((r) => r.resourceId).join(','),
      ticketWord: resources.length === 1 ? 'ticket' : 'tickets',
      integrations: covering.map((i) => ({ title: `${i.name} (${i.scope.split('/').pop()})`, value: i.id })),
      customized: chosen.fieldMode === 'customized',
      minDate: addDays(today, 1),
      maxDate: addDays(today, 366),
      errors: labelledErrors(errors, FIELD_LABELS),
      values: {
        integrationId: chosen.id,
        ticketType: echo(values, 'ticketType') || 'incident',
        assignedTo: echo(values, 'assignedTo'),
        caller: echo(values, 'caller') || caller,
        shortDescription: echo(values, 'shortDescription') || prefill.shortDescription,
        description: echo(values, 'description') || prefill.description,
        dueDate: echo(values, 'dueDate') || defaultDueDate(rec.severity, now, timeZone),
        grouping: echo(values, 'grouping') || 'perResource',
        gracePeriod: echo(values, 'gracePeriod') || 'false',
        notifyOwner: echo(values, 'notifyOwner') || 'true',
        notifyManager: echo(values, 'notifyManager') || 'false',
        assignmentGroup: echo(values, 'assignmentGroup'),
        impact: echo(values, 'impact'),
        urgency: echo(values, 'urgency'),
      },
    };
    return answer(ctx, assignmentFormCard(model, ctx));
  }

  function result(
    ctx: ActionContext,
    rec: { key: string; displayName: string },
    batchId: string,
    items: Assignment[],
    skipped: Assignment[],
    requestedOwner?: string,
    reassign?: Reassigned,
  ): ActionResult {
    return answer(
      ctx,
      assignmentOutcomeCard(
        {
          recommendationKey: rec.key,
          recommendationName: rec.displayName,
          batchId,
          total: items.length,
          rows: [...items, ...skipped],
          skippedIds: skipped.map((a) => a.id),
          finished: true,
          requestedOwner,
          ...reassignMaps(reassign),
        },
        ctx,
      ),
    );
  }

  /** Forms being submitted in this process: a double click's second submit waits for nothing and creates nothing. */
  const submitting = new Set<string>();

  function alreadySubmitted(ctx: ActionContext, rec: { key: string; displayName: string }, formId: string, rows: Assignment[]): ActionResult {
    const tickets = [...new Set(rows.map((a) => a.ticket?.number).filter((n): n is string => !!n))];
    const card = assignmentOutcomeCard(
      { recommendationKey: rec.key, recommendationName: rec.displayName, batchId: formId, total: rows.length, rows, skippedIds: [], finished: true },
      ctx,
    );
    (card.body[0] as { text: string }).text = tickets.length
      ? `Already submitted: ${tickets.slice(0, 5).join(', ')}${tickets.length > 5 ? ` and ${tickets.length - 5} more` : ''}`
      : 'Already submitted: the tickets are being created';
    return answer(ctx, card);
  }

  return [
    defineAction({
      verb: 'createAssignment',
      schema: z.object({
        recommendationKey: z.string().min(1).max(200),
        resourceIds: z.string().max(200_000).optional(),
        confirmAll: z.literal('true').optional(),
      }),
      handle: async (ctx, data) => {
        try {
          const rec = await assignments.recommendation(data.recommendationKey);
          const ids = (data.resourceIds ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          const resources = assignments.selection(rec, ids);
          const decision = await authorize(ctx, resources);
          if (!decision.allowed) return refusal(ctx, decision.reason);
          if (ids.length === 0 && resources.length > CONFIRM_ABOVE && !data.confirmAll) {
            return answer(
              ctx,
              confirmCard(
                {
                  title: `Assign all ${resources.length} unhealthy resources?`,
                  text: `No resource was selected on the card, so this would create assignments for all ${resources.length} unhealthy resources of "${rec.displayName}". Select resources on the card to assign only some.`,
                  confirmTitle: `Continue with all ${resources.length}`,
                  confirmVerb: 'createAssignment',
                  confirmData: { recommendationKey: rec.key, confirmAll: 'true' },
                  cancelVerb: 'refreshRecommendation',
                  cancelData: { recommendationKey: rec.key, page: 1 },
                },
                ctx,
              ),
            );
          }
          return await form(ctx, rec, resources, {}, {});
        } catch (err) {
          if (err instanceof SelectionError)
            return { kind: 'reply', card: errorCard({ title: 'Cannot create an assignment', message: err.message, details: [] }, ctx) };
          throw err;
        }
      },
    }),
    defineAction({
      verb: 'submitAssignment',
      // Field-level validation happens in the service so errors return on the same form.
      schema: z.looseObject({
        recommendationKey: z.string().min(1).max(200),
        resourceIds: z.string().min(1).max(200_000),
        formId: z.string().uuid().optional(),
      }),
      handle: async (ctx, data) => {
        const started = performance.now();
        try {
          const rec = await assignments.recommendation(data.recommendationKey);
          const resources = assignments.selection(
            rec,
            data.resourceIds
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          );
          const decision = await authorize(ctx, resources);
          if (!decision.allowed) return refusal(ctx, decision.reason);
          // The same form again (a double click, an old copy where the card was not replaced): its outcome, nothing new.
          if (data.formId) {
            const earlier = submitting.has(data.formId) ? [] : await assignments.alreadySubmitted(data.formId);
            if (earlier) return alreadySubmitted(ctx, rec, data.formId, earlier);
          }
          const resolved = await withOwnerUpn(data, deps.upnOfObjectId);
          if (data.formId) submitting.add(data.formId);
          const persisted = await assignments
            .persistPending(resolved, ctx.actor, ctx.conversationId, data.formId)
            .finally(() => data.formId && submitting.delete(data.formId));
          if (persisted.kind === 'invalid') return await form(ctx, rec, resources, resolved, persisted.errors);
          // Reassign is an explicit choice on the form; without it an assignment of someone else stays theirs (and the outcome says so).
          let reassign: Reassigned | undefined;
          if (str(resolved.reassign) === 'true' && persisted.skipped.length) {
            reassign = await assignments.reassign(persisted.skipped, str(resolved.assignedTo), ctx.actor);
            const now = new Map(reassign.reassigned.map((r) => [r.assignment.id, r.assignment]));
            persisted.skipped = persisted.skipped.map((a) => now.get(a.id) ?? a);
          }
          // Teams' Action.Execute names the clicked card: a resumed creation can update it after a restart.
          const creation = await assignments.startCreation(persisted, {
            conversationId: ctx.conversationId,
            channelId: ctx.channelId,
            ...(ctx.channelId === 'msteams' && ctx.replyToId ? { activityId: ctx.replyToId } : {}),
          });
          // A quick creation answers with its outcome; a longer one with what is being created, and
          // the card follows it from the work queue (Teams wants the answer within 2 s).
          const rows = await creation.settled(Math.max(0, (deps.answerWithinMs ?? ANSWER_WITHIN_MS) - (performance.now() - started)));
          if (rows) {
            creation.answeredFinal();
            const skippedIds = new Set(persisted.skipped.map((a) => a.id));
            return result(
              ctx,
              rec,
              persisted.batchId,
              rows.filter((a) => !skippedIds.has(a.id)),
              persisted.skipped,
              str(resolved.assignedTo),
              reassign,
            );
          }
          const card = assignmentOutcomeCard(
            {
              recommendationKey: rec.key,
              recommendationName: rec.displayName,
              batchId: persisted.batchId,
              total: persisted.pending.length,
              rows: [...persisted.pending, ...persisted.skipped],
              skippedIds: persisted.skipped.map((a) => a.id),
              finished: false,
              requestedOwner: str(resolved.assignedTo),
              ...reassignMaps(reassign),
            },
            ctx,
          );
          return { ...answer(ctx, card), afterSend: (id) => creation.follow(id) } as ActionResult;
        } catch (err) {
          if (err instanceof SelectionError)
            return { kind: 'reply', card: errorCard({ title: 'Cannot create an assignment', message: err.message, details: [] }, ctx) };
          throw err;
        }
      },
    }),
    defineAction({
      verb: 'retryAssignments',
      schema: z.object({ batchId: z.string().uuid() }),
      handle: async (ctx, data) => {
        const batch = await store.assignments.list({ batchId: data.batchId });
        if (batch.length === 0) return { kind: 'message', text: 'These assignments no longer exist.' };
        const decision = await authorize(ctx, batch);
        if (!decision.allowed) return refusal(ctx, decision.reason);
        const items = await assignments.retry(data.batchId, ctx.actor, {
          conversationId: ctx.conversationId,
          channelId: ctx.channelId,
          activityId: ctx.replyToId,
        });
        return result(ctx, { key: batch[0].recommendationKey, displayName: batch[0].recommendationName }, data.batchId, items, []);
      },
    }),
  ];
}
