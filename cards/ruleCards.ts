/**
 * Governance rule cards (issue 15): the `rules` list (ours with their counts, Defender's beside
 * them with Import), a rule's preview, and the confirmation a paused rule asks for. Built in code
 * rather than templates: the rows and their buttons depend on each rule's state. The Add/Edit form
 * is a template (ruleForm.json), like the other forms.
 */
import ruleFormTemplate from './ruleForm.json';
import { formErrorParts } from './formErrors.js';
import { adaptActionsForChannel, CARD_VERSION, defineCard, MAX_CARD_BYTES, CardTooLargeError, type AdaptiveCard, type RenderContext } from './render.js';

export interface RuleRowModel {
  id: string;
  name: string;
  /** "enabled", "disabled", "paused: 12 tickets wait for a confirmation". */
  state: string;
  enabled: boolean;
  paused: boolean;
  /** "priority 5 · management group mg-contoso · owner from tag owner, else bob@… · Contoso ServiceNow, incident, due in 14 days". */
  summary: string;
  /** "matched 40 · assigned 31 · needs an owner 9 · last run 2026-12-01 10:00 UTC". */
  counts: string;
  /** The first few findings it could not assign, one line each. */
  needsOwner: string[];
  needsOwnerMore: number;
}

export interface DefenderRuleRowModel {
  id: string;
  name: string;
  summary: string;
  /** Imported already as this bot rule. */
  importedAs?: string;
}

export interface RuleListModel {
  notice?: { text: string; style: 'default' | 'good' | 'attention' | 'warning' };
  rules: RuleRowModel[];
  defender: DefenderRuleRowModel[];
  defenderProblems: string[];
  integrations: Array<{ id: string; name: string }>;
}

const text = (t: string, extra: Record<string, unknown> = {}) => ({ type: 'TextBlock', text: t, wrap: true, ...extra });
const execute = (title: string, verb: string, data: Record<string, unknown>, style?: 'positive' | 'destructive') => ({
  type: 'Action.Execute',
  title,
  verb,
  data,
  ...(style ? { style } : {}),
});

function finish(body: unknown[], actions: unknown[], ctx: RenderContext): AdaptiveCard {
  const card = adaptActionsForChannel(
    {
      type: 'AdaptiveCard',
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      version: CARD_VERSION,
      body,
      ...(actions.length ? { actions } : {}),
    },
    ctx.channelId,
  ) as AdaptiveCard;
  const bytes = Buffer.byteLength(JSON.stringify(card));
  if (bytes > MAX_CARD_BYTES) throw new CardTooLargeError(bytes);
  return card;
}

export function ruleListCard(model: RuleListModel, ctx: RenderContext): AdaptiveCard {
  const body: unknown[] = [text('Governance rules', { weight: 'Bolder', size: 'Medium' })];
  if (model.notice)
    body.push({ type: 'Container', style: model.notice.style === 'default' ? 'emphasis' : model.notice.style, items: [text(model.notice.text)] });
  if (model.rules.length === 0)
    body.push(text("No rules yet. Add one here or with `npm run cli -- rule add …`, or import one of Defender's below.", { isSubtle: true }));
  for (const r of model.rules) {
    const buttons = [
      execute('Preview', 'previewRule', { ruleId: r.id }),
      execute('Edit', 'openRuleForm', { ruleId: r.id }),
      r.enabled ? execute('Disable', 'disableRule', { ruleId: r.id }) : execute('Enable', 'enableRule', { ruleId: r.id }, 'positive'),
      ...(r.paused ? [execute('Confirm the rest', 'confirmRule', { ruleId: r.id }, 'positive')] : []),
      execute('Remove', 'removeRule', { ruleId: r.id }, 'destructive'),
    ];
    body.push({
      type: 'Container',
      separator: true,
      items: [
        text(`**${r.name}** · ${r.state}`),
        text(r.summary, { isSubtle: true, spacing: 'None' }),
        text(r.counts, { spacing: 'Small' }),
        ...(r.needsOwner.length
          ? [
              text(`Needs an owner:\n${r.needsOwner.map((l) => `- ${l}`).join('\n')}${r.needsOwnerMore ? `\n- …and ${r.needsOwnerMore} more` : ''}`, {
                size: 'Small',
              }),
            ]
          : []),
        { type: 'ActionSet', actions: buttons },
      ],
    });
  }
  body.push(text("Defender for Cloud's governance rules", { weight: 'Bolder', separator: true, spacing: 'Large' }));
  if (model.defender.length === 0) body.push(text('None on the configured scopes.', { isSubtle: true }));
  if (model.defender.some((d) => !d.importedAs) && model.integrations.length)
    body.push({
      type: 'Input.ChoiceSet',
      id: 'integrationId',
      label: 'Import into the ServiceNow integration',
      value: model.integrations[0]!.id,
      choices: model.integrations.map((i) => ({ title: i.name, value: i.id })),
    });
  for (const d of model.defender) {
    body.push({
      type: 'Container',
      separator: true,
      items: [
        text(`**${d.name}**`),
        text(d.summary, { isSubtle: true, spacing: 'None' }),
        d.importedAs
          ? text(`Imported as "${d.importedAs}".`, { size: 'Small' })
          : { type: 'ActionSet', actions: [execute('Import', 'importDefenderRule', { defenderRuleId: d.id })] },
      ],
    });
  }
  for (const p of model.defenderProblems.slice(0, 5)) body.push(text(`⚠ ${p}`, { size: 'Small', color: 'Attention' }));
  return finish(body, [execute('Add rule', 'openRuleForm', {}, 'positive'), execute('Refresh', 'listRules', {})], ctx);
}

export interface RulePreviewModel {
  ruleName: string;
  headline: string;
  byRecommendation: string[];
  byOwner: string[];
  sample: string[];
  needsOwner: string[];
  needsOwnerMore: number;
}

export function rulePreviewCard(m: RulePreviewModel, ctx: RenderContext): AdaptiveCard {
  const section = (title: string, lines: string[]) => (lines.length ? [text(`**${title}**\n${lines.map((l) => `- ${l}`).join('\n')}`)] : []);
  return finish(
    [
      text(`Preview of ${m.ruleName}`, { weight: 'Bolder', size: 'Medium' }),
      text(m.headline),
      ...section('By recommendation', m.byRecommendation),
      ...section('By owner', m.byOwner),
      ...section('First resources', m.sample),
      ...section('Need an owner', m.needsOwnerMore ? [...m.needsOwner, `…and ${m.needsOwnerMore} more`] : m.needsOwner),
      text('Nothing was created.', { isSubtle: true }),
    ],
    [execute('Back to the rules', 'listRules', {})],
    ctx,
  );
}

/** What a paused rule posts in its conversation: an admin confirms the tickets beyond the per-sync cap. */
export function ruleConfirmCard(m: { ruleId: string; ruleName: string; scope: string; opened: number; waiting: number }, ctx: RenderContext): AdaptiveCard {
  return finish(
    [
      text(`Rule ${m.ruleName} paused`, { weight: 'Bolder', size: 'Medium' }),
      text(
        `It opened ${m.opened} tickets this sync (RULE_MAX_TICKETS_PER_SYNC) and would open ${m.waiting} more. An Owner, Contributor or Security Admin on ${m.scope} can confirm the rest; until then the rule opens nothing more.`,
      ),
    ],
    [execute('Confirm', 'confirmRule', { ruleId: m.ruleId }, 'positive'), execute('Show the rules', 'listRules', {})],
    ctx,
  );
}

/** Input ids of the Add/Edit rule form; each can carry an error shown right below its input. */
export const RULE_FORM_FIELDS = [
  'ruleName',
  'integrationId',
  'priority',
  'maxTicketsPerSync',
  'scopeType',
  'scopeId',
  'severities',
  'recommendations',
  'tagName',
  'tagValue',
  'resourceGroup',
  'ownerSource',
  'ownerTags',
  'ownerEmail',
  'fallbackOwner',
  'ticketType',
  'dueInDays',
  'gracePeriod',
  'enabled',
] as const;
export type RuleFormField = (typeof RULE_FORM_FIELDS)[number];

/** The label each input of the form shows, for "Label: what to do" messages. */
export const RULE_FORM_LABELS: Readonly<Record<RuleFormField, string>> = {
  ruleName: 'Name',
  integrationId: 'ServiceNow integration',
  priority: 'Priority',
  maxTicketsPerSync: 'Tickets per sync at most',
  scopeType: 'Scope type',
  scopeId: 'Management group name or subscription id',
  severities: 'Severity',
  recommendations: 'Recommendations',
  tagName: 'Resource tag name',
  tagValue: 'Tag value',
  resourceGroup: 'Resource group',
  ownerSource: 'Owner from',
  ownerTags: 'Tag name(s)',
  ownerEmail: 'Owner e-mail',
  fallbackOwner: 'Fallback contact',
  ticketType: 'Ticket type',
  dueInDays: 'Due in days',
  gracePeriod: 'Grace period',
  enabled: 'Enabled',
};

export interface RuleFormModel {
  /** '' on the Add form. */
  ruleId: string;
  /** What the form shows in each input (prefilled for Edit, kept across a refused submission); multi-selects comma-separated. */
  values: Record<RuleFormField, string>;
  errors: Partial<Record<string, string>>;
  problems: string[];
  integrations: Array<{ title: string; value: string }>;
  recommendationChoices: Array<{ title: string; value: string }>;
  /** "default 50" (RULE_MAX_TICKETS_PER_SYNC). */
  capPlaceholder: string;
  preview?: { headline: string; lines: string[] };
}

const ruleFormTemplateCard = defineCard<
  Omit<RuleFormModel, 'errors' | 'preview'> & {
    title: string;
    intro: string;
    saveTitle: string;
    fieldErrors: Partial<Record<RuleFormField, string>>;
    errorSummary: string;
    preview: { headline: string; lines: string[] };
  }
>(ruleFormTemplate);

export function ruleFormCard(model: RuleFormModel, ctx: RenderContext): AdaptiveCard {
  const editing = model.ruleId !== '';
  const { fieldErrors, problems, errorSummary } = formErrorParts(model.errors as Record<string, string>, RULE_FORM_FIELDS, 'Nothing was saved', model.problems);
  // Input.Number takes a number: "10" would show an empty input.
  const num = (v: string) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
  const values = {
    ...model.values,
    priority: num(model.values.priority),
    maxTicketsPerSync: num(model.values.maxTicketsPerSync),
    dueInDays: num(model.values.dueInDays),
  };
  return ruleFormTemplateCard(
    {
      ...model,
      values: values as unknown as RuleFormModel['values'],
      title: editing ? `Edit rule ${model.values.ruleName}` : 'Add a governance rule',
      intro: editing
        ? 'Changes apply from the next sync; what the rule assigned already stays as it is. Preview shows what it would assign now.'
        : 'The rule assigns unhealthy resources nobody owns yet, on every sync, and opens their tickets. Preview shows what it would assign now; nothing is created until it is saved and enabled.',
      saveTitle: editing ? 'Save changes' : 'Add rule',
      fieldErrors,
      problems,
      errorSummary,
      preview: model.preview ?? { headline: '', lines: [] },
    },
    ctx,
  );
}
