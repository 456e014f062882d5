/** Security-admin side of "request more time": the request card posted to the assignment's channel. */
import dueDateRequestTemplate from './dueDateRequest.json';
import { formErrorParts, type FormErrorParts } from './formErrors.js';
import { defineCard, type AdaptiveCard, type RenderContext } from './render.js';

export interface DueDateRequestModel {
  assignmentId: string;
  /** "bob@contoso.com asks for more time on … / vm-1 ([INC0010023](link)): new date …, reason: …" */
  headline: string;
  owner: string;
  recommendation: string;
  resource: string;
  /** "INC0010023" or "not created yet". */
  ticketText: string;
  /** "2026-12-04 · 4 days left" */
  dueText: string;
  /** The requested date (YYYY-MM-DD); Approve carries it so a stale card cannot apply twice. */
  eta: string;
  /** Bounds of the admin's date picker: tomorrow … a year from today. */
  minDate: string;
  maxDate: string;
  adminNote: string;
  /** Problems of the last "Set due date" by input id ("New due date: pick a date after today"). */
  errors?: Readonly<Record<string, string>>;
  /** What the admin typed in "Change due date", kept when the card comes back with errors. */
  values?: { dueDate?: string; note?: string };
}

/** Inputs of "Change due date" with an error line of their own. */
export const CHANGE_DUE_DATE_FIELDS = ['dueDate', 'note'] as const;

const dueDateRequestTemplateCard = defineCard<
  DueDateRequestModel & FormErrorParts<(typeof CHANGE_DUE_DATE_FIELDS)[number]> & { changeDueDate: string; note: string }
>(dueDateRequestTemplate);

export function dueDateRequestCard(model: DueDateRequestModel, ctx: RenderContext): AdaptiveCard {
  // The inputs are inside "Change due date", which a re-rendered card shows closed: the line in
  // the card's body says where to look.
  const parts = formErrorParts(model.errors ?? {}, CHANGE_DUE_DATE_FIELDS, 'The due date was not changed');
  return dueDateRequestTemplateCard(
    {
      ...model,
      changeDueDate: model.values?.dueDate || model.eta,
      note: model.values?.note ?? '',
      ...parts,
      errorSummary:
        parts.errorSummary && Object.keys(parts.fieldErrors).length
          ? parts.errorSummary.replace(/ marked above\.$/, ' under "Change due date".')
          : parts.errorSummary,
    },
    ctx,
  );
}
