/** How a form shows the problems of its last submission: under each input, and next to the buttons. */

export interface FormErrorParts<F extends string> {
  /** The message of each input that has one, shown right below it. */
  fieldErrors: Partial<Record<F, string>>;
  /** Problems no input of the form owns (the selection, ServiceNow's refusal), listed next to the buttons. */
  problems: string[];
  /** The line next to the buttons, where the user is after a long form; empty without problems. */
  errorSummary: string;
}

export function formErrorParts<F extends string>(
  errors: Readonly<Record<string, string>>,
  fields: readonly F[],
  nothingDone: string,
  general: readonly string[] = [],
): FormErrorParts<F> {
  const fieldErrors: Partial<Record<F, string>> = {};
  const problems = [...general];
  for (const [field, message] of Object.entries(errors)) {
    if (!message) continue;
    if ((fields as readonly string[]).includes(field)) fieldErrors[field as F] = message;
    else problems.push(message);
  }
  const marked = Object.keys(fieldErrors).length;
  const fix = marked === 0 ? '' : marked === 1 ? 'fix the field marked above' : `fix the ${marked} fields marked above`;
  const errorSummary = marked === 0 && problems.length === 0 ? '' : `⚠️ ${nothingDone}${fix ? `: ${fix}` : ''}.`;
  return { fieldErrors, problems, errorSummary };
}

/**
 * The label each card input shows, by input id, for messages about inputs whose action has no
 * labels of its own (the action router's schema check). Ids are fixed across the cards.
 */
export const CARD_INPUT_LABELS: Readonly<Record<string, string>> = {
  // More time (moreTime.json)
  eta: 'New date',
  justification: 'Reason',
  // Change due date (dueDateRequest.json)
  dueDate: 'New due date',
  note: 'Note for the ticket',
  // Card data that is not typed, but can be stale or tampered with
  assignmentId: 'Assignment',
  recommendationKey: 'Recommendation',
  resourceIds: 'Resources',
  integrationId: 'ServiceNow integration',
  batchId: 'Assignment batch',
  page: 'Page',
};
