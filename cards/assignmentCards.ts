import assignmentFormTemplate from './assignmentForm.json';
import assignmentListTemplate from './assignmentList.json';
import assignmentResultTemplate from './assignmentResult.json';
import confirmTemplate from './confirm.json';
import type { Assignment } from '../core/model.js';
import { formErrorParts } from './formErrors.js';
import { defineCard, type AdaptiveCard, type RenderContext } from './render.js';

/** Inputs of the form that show their own error right below them. */
export const ASSIGNMENT_FORM_FIELDS = [
  'integrationId',
  'ticketType',
  'assignedTo',
  'caller',
  'shortDescription',
  'description',
  'dueDate',
  'grouping',
  'assignmentGroup',
  'impact',
  'urgency',
] as const;
export type AssignmentFormField = (typeof ASSIGNMENT_FORM_FIELDS)[number];

export interface AssignmentFormModel {
  recommendationKey: string;
  recommendationName: string;
  severity: string;
  resourceSummary: string;
  resourceIdsCsv: string;
  /** This form's id, the batch id of what it creates: a copy submitted again answers "already submitted". */
  formId?: string;
  ticketWord: string;
  integrations: { title: string; value: string }[];
  customized: boolean;
  minDate: string;
  maxDate: string;
  /**
   * Problems of the last submission by input id, each a sentence with the field's label
   * ("Assigned to: required"; see core/formErrors.ts). An input of the form shows its own under
   * it; any other (e.g. the selection) is listed next to the buttons.
   */
  errors: Readonly<Record<string, string>>;
  /**
   * An owner to offer before anyone is picked (the resource's owner tag, the last owner of the same
   * recommendation): prefilled in the typed field, a ready choice in Teams' people picker.
   */
  suggestedOwner?: string;
  /** Selected resources that already have a live assignment: listed, with the Reassign toggle. */
  assigned?: readonly { resourceName: string; owner: string; ticketNumber: string; dueDate: string }[];
  values: {
    integrationId: string;
    ticketType: string;
    assignedTo: string;
    caller: string;
    shortDescription: string;
    description: string;
    dueDate: string;
    grouping: string;
    gracePeriod: string;
    notifyOwner: string;
    notifyManager: string;
    assignmentGroup: string;
    impact: string;
    urgency: string;
  };
}

export interface AssignmentResultModel {
  title: string;
  color: 'Good' | 'Warning' | 'Attention';
  recommendationKey: string;
  recommendationName: string;
  batchId: string;
  failed: number;
  /** "12 of 24 created…" while a creation runs; empty when it has ended. */
  progress?: string;
  items: { resourceName: string; ticketNumber: string; ticketLink: string; owner: string; dueDate: string; note: string; error: string }[];
}

export interface AssignmentListModel {
  title: string;
  summary: string;
  more: number;
  rows: {
    recommendation: string;
    resource: string;
    severity: string;
    owner: string;
    dueDate: string;
    dueText: string;
    grace: string;
    status: string;
    color: 'Default' | 'Attention' | 'Good' | 'Warning';
    ticketNumber: string;
    ticketLink: string;
  }[];
}

const assignmentFormTemplateCard = defineCard<
  AssignmentFormModel & {
    fieldErrors: Partial<Record<AssignmentFormField, string>>;
    problems: string[];
    errorSummary: string;
    ownerChoices: { title: string; value: string }[];
    assignedTitle: string;
    assignedMore: string;
  }
>(assignmentFormTemplate);

/** Rows of already-assigned resources the form lists; the rest is counted. */
const ASSIGNED_SHOWN = 10;

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function assignmentFormCard(model: AssignmentFormModel, ctx: RenderContext): AdaptiveCard {
  const owner = model.values.assignedTo || model.suggestedOwner || '';
  // Teams' people picker only shows a value that is one of its choices: the typed or suggested
  // e-mail is offered as one, next to what the directory search finds.
  // The caller (usually the person filling in the form) is one too: assigning to oneself is common.
  const assigned = model.assigned ?? [];
  const ownerChoices = [...new Set([owner, model.values.caller].filter((e) => EMAIL.test(e)).map((e) => e.toLowerCase()))].map((e) => ({ title: e, value: e }));
  return assignmentFormTemplateCard(
    {
      ...model,
      values: { ...model.values, assignedTo: owner },
      ownerChoices,
      assigned: assigned.slice(0, ASSIGNED_SHOWN),
      assignedTitle: assigned.length ? `${assigned.length} of the selected resources already assigned:` : '',
      assignedMore: assigned.length > ASSIGNED_SHOWN ? `and ${assigned.length - ASSIGNED_SHOWN} more` : '',
      ...formErrorParts(model.errors, ASSIGNMENT_FORM_FIELDS, model.ticketWord === 'ticket' ? 'No ticket was created' : 'No tickets were created'),
    },
    ctx,
  );
}
export const assignmentResultCard = defineCard<AssignmentResultModel>(assignmentResultTemplate);
export const assignmentListCard = defineCard<AssignmentListModel>(assignmentListTemplate);

export interface AssignmentOutcome {
  recommendationKey: string;
  recommendationName: string;
  batchId: string;
  /** How many tickets-to-be the creation started with. */
  total: number;
  /** The creation's assignments as they are now, and the ones that already had a ticket. */
  rows: readonly Assignment[];
  skippedIds: readonly string[];
  /** false while the tickets are being created. */
  finished: boolean;
  /** The owner the form asked for: resources already assigned to someone else are said to be unchanged. */
  requestedOwner?: string;
  /** Reassign was chosen: the skipped assignments given to the requested owner (id → previous owner), and the ones that failed (id → reason). */
  reassigned?: ReadonlyMap<string, string>;
  reassignFailed?: ReadonlyMap<string, string>;
  /** While it runs: how many already-assigned resources are being given to the requested owner. */
  reassigning?: number;
}

/** A creation's card: "Creating 24 tickets…" with what is done so far, then the outcome (with Retry). */
export function assignmentOutcomeCard(o: AssignmentOutcome, ctx: RenderContext): AdaptiveCard {
  const skipped = new Set(o.skippedIds);
  const items = o.rows.filter((a) => !skipped.has(a.id));
  const already = o.rows.filter((a) => skipped.has(a.id));
  const failed = items.filter((a) => a.status === 'failed');
  const created = items.filter((a) => a.ticket);
  const word = (n: number) => (n === 1 ? 'ticket' : 'tickets');
  const requested = o.requestedOwner?.toLowerCase();
  const moved = o.reassigned ?? new Map<string, string>();
  const notMoved = o.reassignFailed ?? new Map<string, string>();
  const elsewhere = requested ? already.filter((a) => a.owner.toLowerCase() !== requested && !moved.has(a.id)) : [];
  const reassignedText = moved.size ? `; ${moved.size} reassigned to ${requested}` : '';
  const reassigning = !o.finished && o.reassigning ? o.reassigning : 0;
  const title = !o.finished
    ? reassigning
      ? o.total
        ? `⏳ Creating ${o.total} ${word(o.total)} and reassigning ${reassigning} resource(s)…`
        : `⏳ Reassigning ${reassigning} resource(s) to ${requested}…`
      : `⏳ Creating ${o.total} ${word(o.total)}…`
    : failed.length === 0 && elsewhere.length
      ? `⚠️ ${created.length} resource(s) assigned${reassignedText}; ${elsewhere.length} already assigned to someone else, not ${notMoved.size ? 'reassigned' : 'changed'}`
      : failed.length === 0
        ? `✅ ${created.length + already.length} resource(s) assigned${reassignedText}`
        : created.length
          ? `⚠️ ${created.length} assigned, ${failed.length} failed`
          : `⚠️ No ticket could be created (${failed.length})`;
  const row = (a: Assignment, note: string) => ({
    resourceName: a.resourceName,
    ticketNumber: a.ticket?.number ?? '',
    ticketLink: a.ticket?.link ?? '',
    owner: a.owner,
    dueDate: a.dueDate,
    note: note + (a.governance?.status === 'failed' ? ' · Defender not updated yet (retrying)' : ''),
    error: a.status === 'failed' ? (a.lastError ?? 'unknown error') : '',
  });
  return assignmentResultCard(
    {
      title,
      color: !o.finished || (failed.length === 0 && elsewhere.length === 0) ? 'Good' : created.length || elsewhere.length ? 'Warning' : 'Attention',
      recommendationKey: o.recommendationKey,
      recommendationName: o.recommendationName,
      batchId: o.batchId,
      failed: o.finished ? failed.length : 0,
      progress: o.finished
        ? ''
        : reassigning && !items.length
          ? 'In ServiceNow and Defender; this card is updated when they are done.'
          : `${created.length} of ${items.length} created so far; this card is updated as they are created.`,
      items: [
        ...items.map((a) => row(a, '')),
        ...already.map((a) =>
          row(
            a,
            moved.has(a.id)
              ? ` · reassigned from ${moved.get(a.id)}`
              : notMoved.has(a.id)
                ? ` · already assigned to ${a.owner}: could not reassign (${notMoved.get(a.id)})`
                : elsewhere.includes(a)
                  ? ` · already assigned to ${a.owner}: not reassigned`
                  : ' · already assigned',
          ),
        ),
      ],
    },
    ctx,
  );
}

export interface ConfirmModel {
  title: string;
  text: string;
  confirmTitle: string;
  confirmVerb: string;
  confirmData: Record<string, string>;
  cancelVerb: string;
  cancelData: Record<string, string | number>;
}
export const confirmCard = defineCard<ConfirmModel>(confirmTemplate);
