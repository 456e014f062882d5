import { z } from 'zod';
import { confirmCard } from '../../cards/assignmentCards.js';
import { errorCard, type AdaptiveCard, type RenderContext } from '../../cards/index.js';
import {
  INTEGRATION_FORM_FIELDS,
  integrationFormCard,
  integrationListCard,
  type IntegrationFormField,
  type IntegrationFormModel,
  type IntegrationListModel,
  type IntegrationRowModel,
} from '../../cards/integrationCards.js';
import { humanSentence } from '../../core/formErrors.js';
import { parseScope, SCOPE_FORMS } from '../../core/scope.js';
import { customFieldSchema, type CustomField, type TicketType } from '../../core/model.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import type { Actor } from '../turn.js';
import {
  IntegrationError,
  integrationInputSchema,
  type IntegrationInput,
  type IntegrationService,
  type IntegrationView,
  type ManageIntegrations,
} from '../../app/manageIntegrations.js';

/** Card actions of the integrations list and form: card data → app/manageIntegrations.ts → a card. */
export interface IntegrationActionDeps {
  integrations: IntegrationService;
  manage: ManageIntegrations;
}

const FIELD_LABELS: Record<IntegrationFormField, string> = {
  name: 'Name',
  scope: 'Scope',
  instanceUrl: 'Instance URL',
  username: 'Username',
  password: 'Password',
  clientId: 'OAuth client ID',
  clientSecret: 'OAuth client secret',
  fieldMode: 'Ticket fields',
  customFields: 'Custom fields',
};

const ALL_FIELDS = customFieldSchema.options.join(',');
const CUSTOM_INPUTS: Record<'customIncident' | 'customProblem' | 'customChange', TicketType> = {
  customIncident: 'incident',
  customProblem: 'problem',
  customChange: 'change_request',
};

const text = (max: number) => z.string().max(max).optional();
/** What the form sends. Bounds only: field rules live in integrationInputSchema so CLI and Teams agree. */
const addSchema = z.object({
  name: text(500),
  scope: text(1000),
  knownScope: text(1000),
  instanceUrl: text(1000),
  username: text(500),
  password: text(2000),
  clientId: text(500),
  clientSecret: text(2000),
  fieldMode: text(50),
  customIncident: text(200),
  customProblem: text(200),
  customChange: text(200),
});
type AddData = z.output<typeof addSchema>;
const idSchema = z.object({ integrationId: z.string().min(1).max(200) });

/** Forms answer in place in Teams (Universal Actions) and as a new message elsewhere. */
const answer = (ctx: ActionContext, card: AdaptiveCard): ActionResult => (ctx.channelId === 'msteams' ? { kind: 'replace', card } : { kind: 'reply', card });

const utc = (iso: string | undefined) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : 'never');

const SCOPE_KIND_LABEL = { managementGroup: 'Management group', subscription: 'Subscription', connector: 'Connector' } as const;

function fieldText(view: IntegrationView): string {
  if (view.fieldMode === 'default') return 'Default';
  const parts = (['incident', 'problem', 'change_request'] as const).map((t) => {
    const fields = view.customFields[t] ?? [];
    return `${t.replace('_', ' ')} (${fields.length ? fields.map((f) => f.replace('_', ' ')).join(', ') : 'no extra field'})`;
  });
  return `Customized: ${parts.join(' · ')}`;
}

/** The last error counts as current only when nothing has succeeded since. */
export function isFailing(view: Pick<IntegrationView, 'lastError' | 'lastSuccessAt'>): boolean {
  return !!view.lastError && (!view.lastSuccessAt || view.lastError.at > view.lastSuccessAt);
}

export function integrationListModel(views: IntegrationView[], notice?: { text: string; style: IntegrationListModel['noticeStyle'] }): IntegrationListModel {
  const rows = views.map((v): IntegrationRowModel => {
    const failing = isFailing(v);
    return {
      id: v.id,
      name: v.name,
      scopeKind: SCOPE_KIND_LABEL[parseScope(v.scope)?.kind ?? 'subscription'],
      scope: v.scope,
      instanceUrl: v.instanceUrl,
      fieldText: fieldText(v),
      lastSuccess: utc(v.lastSuccessAt),
      lastErrorText: v.lastError ? `${failing ? '⚠ ' : ''}${utc(v.lastError.at)}: ${v.lastError.message}` : 'none',
      failing,
      rowStyle: failing ? 'attention' : 'default',
    };
  });
  const failing = rows.filter((r) => r.failing).length;
  return {
    summary: rows.length
      ? `${rows.length} integration${rows.length === 1 ? '' : 's'}${failing ? `, ${failing} failing` : ''}. Adding, testing and removing needs Owner, Contributor or Security Admin on the subscriptions of the scope.`
      : 'No integration yet. Press **Add integration** to connect a ServiceNow instance.',
    noticeText: notice?.text ?? '',
    noticeStyle: notice?.style ?? 'default',
    integrations: rows,
  };
}

/**
 * The list card with the integrations the actor may see: instance URLs and user names (never
 * secrets) are shown only to someone who may read a subscription the integration's scope covers.
 */
export async function renderIntegrationList(
  manage: Pick<ManageIntegrations, 'visible'>,
  ctx: RenderContext & { actor: Actor },
  notice?: { text: string; style: IntegrationListModel['noticeStyle'] },
): Promise<AdaptiveCard> {
  const { views, refusal } = await manage.visible(ctx.actor);
  if (refusal) return errorCard({ title: 'Not allowed', message: refusal, details: [] }, ctx);
  return integrationListCard(integrationListModel(views, notice), ctx);
}

export function integrationActions(deps: IntegrationActionDeps): ActionHandler[] {
  const { integrations, manage } = deps;

  const list = async (ctx: ActionContext, notice?: { text: string; style: IntegrationListModel['noticeStyle'] }) =>
    answer(ctx, await renderIntegrationList(manage, ctx, notice));
  const refusal = (ctx: ActionContext, reason: string): ActionResult => ({
    kind: 'reply',
    card: errorCard({ title: 'Not allowed', message: reason, details: [] }, ctx),
  });
  const gone = (ctx: ActionContext) => list(ctx, { text: 'That integration no longer exists.', style: 'warning' });

  async function form(
    ctx: ActionContext,
    data: AddData,
    fieldErrors: Partial<Record<IntegrationFormField, string>>,
    general: string[],
    retypeSecrets: boolean,
  ): Promise<ActionResult> {
    const errors = Object.fromEntries(INTEGRATION_FORM_FIELDS.map((f) => [f, fieldErrors[f] ?? ''])) as Record<IntegrationFormField, string>;
    const model: IntegrationFormModel = {
      problems: general,
      errors,
      retypeSecrets,
      scopePlaceholder: '/providers/Microsoft.Management/managementGroups/{name}',
      scopeForms: [`A management group, a subscription or a multicloud connector:`, ...SCOPE_FORMS.map((f) => `• ${f}`)],
      knownScopes: await manage.knownScopes(),
      // No password or client secret here, ever: a card is stored and forwarded by Teams.
      values: {
        name: data.name ?? '',
        scope: data.scope ?? '',
        knownScope: data.knownScope ?? '',
        instanceUrl: data.instanceUrl ?? '',
        username: data.username ?? '',
        clientId: data.clientId ?? '',
        fieldMode: data.fieldMode === 'customized' ? 'customized' : 'default',
        customIncident: data.customIncident ?? ALL_FIELDS,
        customProblem: data.customProblem ?? ALL_FIELDS,
        customChange: data.customChange ?? ALL_FIELDS,
      },
    };
    return answer(ctx, integrationFormCard(model, ctx));
  }

  /** Form data → service input; unknown custom field names come back as a field error. */
  function toInput(data: AddData): { input: IntegrationInput; customError?: string } {
    const customFields: Partial<Record<TicketType, CustomField[]>> = {};
    const unknown: string[] = [];
    for (const [inputId, table] of Object.entries(CUSTOM_INPUTS)) {
      const raw = data[inputId as keyof typeof CUSTOM_INPUTS] ?? ALL_FIELDS;
      const chosen = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      customFields[table] = [...new Set(chosen.filter((f): f is CustomField => (customFieldSchema.options as readonly string[]).includes(f)))];
      unknown.push(...chosen.filter((f) => !(customFieldSchema.options as readonly string[]).includes(f)));
    }
    const scope = (data.scope ?? '').trim() || (data.knownScope ?? '').trim();
    return {
      input: {
        name: data.name ?? '',
        scope,
        instanceUrl: data.instanceUrl ?? '',
        username: data.username ?? '',
        password: data.password ?? '',
        clientId: data.clientId ?? '',
        clientSecret: data.clientSecret ?? '',
        // An unknown mode is reported by integrationInputSchema, like every other field.
        fieldMode: (data.fieldMode || 'default') as IntegrationInput['fieldMode'],
        customFields: data.fieldMode === 'customized' ? customFields : undefined,
      },
      customError: unknown.length ? `${FIELD_LABELS.customFields}: unknown field ${unknown.map((f) => `"${f.slice(0, 40)}"`).join(', ')}` : undefined,
    };
  }

  /** "field: message" problems go under their input; anything else (ServiceNow's refusal) on top. */
  function splitProblems(problems: string[]): { fields: Partial<Record<IntegrationFormField, string>>; general: string[] } {
    const fields: Partial<Record<IntegrationFormField, string>> = {};
    const general: string[] = [];
    for (const p of problems) {
      const m = /^([A-Za-z]+)(?:\.[\w.]*)?: (.*)$/s.exec(p);
      const field = m && (INTEGRATION_FORM_FIELDS as readonly string[]).includes(m[1]) ? (m[1] as IntegrationFormField) : undefined;
      if (field && m) fields[field] = fields[field] ? `${fields[field]}; ${humanSentence(m[2])}` : `${FIELD_LABELS[field]}: ${humanSentence(m[2])}`;
      else general.push(p);
    }
    return { fields, general };
  }

  const actorName = (ctx: ActionContext) => ctx.actor.name ?? ctx.actor.id;

  /** The integration a card action names, if it still exists and the caller may manage its scope. */
  const manageable = async (ctx: ActionContext, id: string): Promise<{ integration: IntegrationView } | { answer: ActionResult }> => {
    const found = await manage.manageable(ctx.actor, id);
    if (found.kind === 'gone') return { answer: await gone(ctx) };
    if (found.kind === 'refused') return { answer: refusal(ctx, found.reason) };
    return { integration: found.integration };
  };

  return [
    defineAction({
      verb: 'listIntegrations',
      schema: z.object({}),
      handle: async (ctx) => list(ctx),
    }),
    defineAction({
      verb: 'addIntegrationForm',
      schema: z.object({}),
      handle: async (ctx) => {
        // The form lists the known subscriptions and management groups.
        const decision = await manage.mayOpenAddForm(ctx.actor);
        if (!decision.allowed) return refusal(ctx, decision.reason);
        return form(ctx, {}, {}, [], false);
      },
    }),
    defineAction({
      verb: 'addIntegration',
      schema: addSchema,
      handle: async (ctx, data) => {
        const { input, customError } = toInput(data);
        // Check the role first when the scope is readable, so a refused user learns it at once.
        if (parseScope(input.scope)) {
          const decision = await manage.mayManageScope(ctx.actor, input.scope);
          if (!decision.allowed) return refusal(ctx, decision.reason);
        }
        const parsed = integrationInputSchema.safeParse(input);
        if (!parsed.success || customError) {
          const { fields, general } = splitProblems(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
          if (customError) fields.customFields = customError;
          return form(ctx, data, fields, general, true);
        }
        try {
          const added = await integrations.add(input, actorName(ctx));
          return list(ctx, { text: `✅ Added **${added.name}**: ServiceNow accepted the credentials.`, style: 'good' });
        } catch (err) {
          if (!(err instanceof IntegrationError)) throw err;
          const { fields, general } = splitProblems(err.problems);
          return form(ctx, data, fields, general, true);
        }
      },
    }),
    defineAction({
      verb: 'testIntegration',
      schema: idSchema,
      handle: async (ctx, data) => {
        const found = await manageable(ctx, data.integrationId);
        if ('answer' in found) return found.answer;
        const { integration } = found;
        const outcome = await integrations.test(integration.id);
        return list(
          ctx,
          outcome.ok
            ? { text: `✅ Test of **${integration.name}** passed: ${outcome.message}.`, style: 'good' }
            : { text: `⚠ Test of **${integration.name}** failed: ${outcome.message}`, style: 'attention' },
        );
      },
    }),
    defineAction({
      verb: 'removeIntegration',
      schema: idSchema,
      handle: async (ctx, data) => {
        const found = await manageable(ctx, data.integrationId);
        if ('answer' in found) return found.answer;
        const { integration } = found;
        const live = await integrations.liveAssignments(integration.id);
        return answer(
          ctx,
          confirmCard(
            {
              title: `Remove the integration "${integration.name}"?`,
              text: live
                ? `Its ${live} open assignment${live === 1 ? '' : 's'} will be released within one sync cycle: a work note is added to each ticket, the tickets stay open in ServiceNow, and the cards are updated. Its stored credentials are deleted after that.`
                : 'No open assignment uses it. Its stored credentials are deleted within one sync cycle.',
              confirmTitle: 'Remove',
              confirmVerb: 'confirmRemoveIntegration',
              confirmData: { integrationId: integration.id },
              cancelVerb: 'listIntegrations',
              cancelData: {},
            },
            ctx,
          ),
        );
      },
    }),
    defineAction({
      verb: 'confirmRemoveIntegration',
      schema: idSchema,
      handle: async (ctx, data) => {
        const found = await manageable(ctx, data.integrationId);
        if ('answer' in found) return found.answer;
        const { integration } = found;
        await integrations.remove(integration.id, actorName(ctx));
        return list(ctx, { text: `🗑 Removed **${integration.name}**.`, style: 'good' });
      },
    }),
  ];
}
