/** ServiceNow integration cards: the list (test/remove/add actions) and the add form. */
import integrationFormTemplate from './integrationForm.json';
import integrationListTemplate from './integrationList.json';
import { formErrorParts } from './formErrors.js';
import { defineCard, type AdaptiveCard, type RenderContext } from './render.js';

export interface IntegrationRowModel {
  id: string;
  name: string;
  /** "Management group", "Subscription" or "Connector". */
  scopeKind: string;
  scope: string;
  instanceUrl: string;
  /** "Default" or "Customized: incident (assignment group, impact) · …". */
  fieldText: string;
  /** A UTC time or "never". */
  lastSuccess: string;
  /** "⚠ <time>: <reason>" when newer than the last success, "<time>: <reason>" when older, "none". */
  lastErrorText: string;
  failing: boolean;
  rowStyle: 'default' | 'attention';
}

export interface IntegrationListModel {
  summary: string;
  /** Outcome of the action that led here (test result, removal…), or empty. */
  noticeText: string;
  noticeStyle: 'default' | 'good' | 'attention' | 'warning';
  integrations: IntegrationRowModel[];
}

/** Field ids of the form; each can carry an error shown right below its input. */
export const INTEGRATION_FORM_FIELDS = [
  'name',
  'scope',
  'instanceUrl',
  'username',
  'password',
  'clientId',
  'clientSecret',
  'fieldMode',
  'customFields',
] as const;
export type IntegrationFormField = (typeof INTEGRATION_FORM_FIELDS)[number];

export interface IntegrationFormModel {
  /** Problems not tied to one field (e.g. ServiceNow's refusal of the credentials), shown next to the button. */
  problems: string[];
  /** One entry per field, '' when the field is fine. */
  errors: Record<IntegrationFormField, string>;
  /** Shown after a failed submission: secrets are never echoed back, so the user types them again. */
  retypeSecrets: boolean;
  scopePlaceholder: string;
  scopeForms: string[];
  knownScopes: { title: string; value: string }[];
  /** What the user typed, kept across a failed submission. Deliberately no password or secret. */
  values: {
    name: string;
    scope: string;
    knownScope: string;
    instanceUrl: string;
    username: string;
    clientId: string;
    fieldMode: 'default' | 'customized';
    /** Comma-separated choices of the multi-select inputs. */
    customIncident: string;
    customProblem: string;
    customChange: string;
  };
}

export const integrationListCard = defineCard<IntegrationListModel>(integrationListTemplate);
const integrationFormTemplateCard = defineCard<IntegrationFormModel & { errorSummary: string }>(integrationFormTemplate);

/** The form; after a failed submission, the line next to the button says what happened (the user is at the bottom of a long card). */
export function integrationFormCard(model: IntegrationFormModel, ctx: RenderContext): AdaptiveCard {
  const { errorSummary, problems } = formErrorParts(model.errors, INTEGRATION_FORM_FIELDS, 'Nothing was saved', model.problems);
  return integrationFormTemplateCard({ ...model, problems, errorSummary }, ctx);
}
