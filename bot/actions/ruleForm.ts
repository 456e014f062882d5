/**
 * The Add/Edit rule form (issue 15, "Teams: … Add / Edit … forms"): open (prefilled for Edit),
 * Preview (what the drafted rule would assign now, nothing stored) and Save. The form's inputs are
 * checked here with zod (the card boundary) and every problem is shown under its input, as on the
 * assignment form; the use case (app/rules.ts) checks the role on the rule's scope, the names it
 * refers to and the unique name, and audits the change.
 */
import { z } from 'zod';
import { errorCard, type AdaptiveCard } from '../../cards/index.js';
import { RULE_FORM_FIELDS, RULE_FORM_LABELS, ruleFormCard, type RuleFormField, type RuleFormModel } from '../../cards/ruleCards.js';
import { labelled } from '../../core/formErrors.js';
import type { Rule } from '../../core/model.js';
import { DEFAULT_RULE_MAX_TICKETS_PER_SYNC, NEEDS_OWNER_TEXT, type RulePreview } from '../../core/rules.js';
import { RuleError, draftOf, type RuleActor, type RuleDraft, type Rules } from '../../app/rules.js';
import type { Store } from '../../app/ports.js';
import type { RuleListModel } from '../../cards/ruleCards.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';

export interface RuleFormDeps {
  rules: Rules;
  store: Store;
  /** The `rules` list card with a notice (after a save). */
  renderList(ctx: ActionContext, notice: RuleListModel['notice']): Promise<AdaptiveCard>;
  /** RULE_MAX_TICKETS_PER_SYNC, shown as the cap's placeholder. */
  maxTicketsPerSync?: number;
}

const MG_PREFIX = '/providers/Microsoft.Management/managementGroups/';
const MG_NAME = /^[A-Za-z0-9_.()-]{1,90}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TAG_NAME = /^[^<>%&\\?/]{1,512}$/;
const ENTER_EMAIL = 'enter an e-mail address such as name@contoso.com';

const blank = (v: unknown) => (v === undefined || v === null || (typeof v === 'string' && v.trim() === '') ? undefined : v);
const optional = (max: number) => z.preprocess(blank, z.string().trim().max(max).optional());
const toNumber = (v: unknown) => {
  const b = blank(v);
  return typeof b === 'string' ? Number(b.trim()) : b;
};
const whole = (min: number, max: number) => z.preprocess(toNumber, z.number().int().min(min).max(max));
const optionalWhole = (min: number, max: number) => z.preprocess(toNumber, z.number().int().min(min).max(max).optional());
const list = (v: unknown) => (typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.map(String) : []).map((s) => s.trim()).filter(Boolean);
const flag = z.preprocess((v) => v === true || v === 'true', z.boolean());

/** What the form sends (Teams merges the inputs into the action's data; Web Chat into the message value). */
export const ruleFormSchema = z
  .looseObject({
    ruleId: optional(200),
    ruleName: z.preprocess(blank, z.string().trim().min(1).max(100)),
    integrationId: z.preprocess(blank, z.string().trim().min(1).max(200)),
    priority: whole(1, 1000),
    maxTicketsPerSync: optionalWhole(1, 10_000),
    scopeType: z.enum(['managementGroup', 'subscription']),
    scopeId: z.preprocess(blank, z.string().trim().min(1).max(200)),
    severities: z.preprocess(list, z.array(z.enum(['High', 'Medium', 'Low'])).max(3)),
    recommendations: z.preprocess(list, z.array(z.string().max(300)).max(500)),
    tagName: optional(512),
    tagValue: optional(256),
    resourceGroup: optional(90),
    ownerSource: z.enum(['tag', 'fixed']),
    ownerTags: z.preprocess(list, z.array(z.string().max(512)).max(5, 'give at most 5 tag names')),
    ownerEmail: optional(200),
    fallbackOwner: optional(200),
    ticketType: z.enum(['incident', 'change_request', 'problem']),
    dueInDays: whole(1, 365),
    gracePeriod: flag,
    enabled: flag,
  })
  // Run with the field checks, not after them, so one submission shows every problem at once.
  .superRefine(
    (raw, ctx) => {
      const f = raw as Record<string, unknown>;
      const t = (k: string) => (typeof f[k] === 'string' ? (f[k] as string).trim() : '');
      const problem = (path: RuleFormField, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
      const id = t('scopeId').replace(/\/+$/, '');
      if (f.scopeType === 'managementGroup' && id && !MG_NAME.test(id.replace(new RegExp(`^${MG_PREFIX}`, 'i'), '')))
        problem('scopeId', 'enter the management group name (letters, digits, - _ . ( ), up to 90), e.g. mg-contoso');
      if (f.scopeType === 'subscription' && id && !GUID.test(id.replace(/^\/subscriptions\//i, '')))
        problem('scopeId', 'enter the subscription id (a GUID such as 3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2)');
      if (t('resourceGroup') && f.scopeType !== 'subscription') problem('resourceGroup', 'a resource group narrows a subscription scope only');
      if (t('tagName') && !t('tagValue')) problem('tagValue', 'give the value the tag must have');
      if (!t('tagName') && t('tagValue')) problem('tagName', 'give the tag whose value this is');
      if (t('tagName') && !TAG_NAME.test(t('tagName'))) problem('tagName', 'a tag name has no < > % & \\ ? /');
      const tags = list(f.ownerTags);
      if (f.ownerSource === 'tag') {
        if (tags.length === 0) problem('ownerTags', 'give the tag that holds the owner, e.g. owner');
        else if (tags.some((x) => !TAG_NAME.test(x))) problem('ownerTags', 'a tag name has no < > % & \\ ? /');
      }
      if (f.ownerSource === 'fixed' && !EMAIL.test(t('ownerEmail'))) problem('ownerEmail', t('ownerEmail') ? ENTER_EMAIL : 'required');
      if (t('fallbackOwner') && !EMAIL.test(t('fallbackOwner'))) problem('fallbackOwner', ENTER_EMAIL);
    },
    { when: () => true },
  );
type RuleForm = z.output<typeof ruleFormSchema>;

export function scopeOf(f: Pick<RuleForm, 'scopeType' | 'scopeId'>): string {
  const id = f.scopeId.trim().replace(/\/+$/, '');
  if (f.scopeType === 'managementGroup') return `${MG_PREFIX}${id.replace(new RegExp(`^${MG_PREFIX}`, 'i'), '')}`;
  return `/subscriptions/${id.replace(/^\/subscriptions\//i, '')}`;
}

/** Every field of the form as a draft: on Edit, what is left empty is cleared (resource group, tag, fallback, cap). */
export function draftOfForm(f: RuleForm, conversationId: string): RuleDraft {
  return {
    name: f.ruleName,
    integration: f.integrationId,
    scope: scopeOf(f),
    resourceGroup: f.resourceGroup,
    severities: f.severities,
    recommendations: f.recommendations,
    tag: f.tagName ? { name: f.tagName, value: f.tagValue ?? '' } : undefined,
    owner: f.ownerSource === 'tag' ? { kind: 'tag', tags: f.ownerTags } : { kind: 'fixed', email: f.ownerEmail! },
    fallbackOwner: f.fallbackOwner,
    maxTicketsPerSync: f.maxTicketsPerSync,
    ticketType: f.ticketType,
    dueInDays: f.dueInDays,
    gracePeriod: f.gracePeriod,
    priority: f.priority,
    enabled: f.enabled,
    conversationId,
  };
}

const str = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : v === undefined || v === null ? '' : String(v));

/** What the inputs showed, to show them again after a refusal. */
function valuesOfData(data: Record<string, unknown>): Record<RuleFormField, string> {
  return Object.fromEntries(RULE_FORM_FIELDS.map((k) => [k, str(data[k])])) as Record<RuleFormField, string>;
}

function valuesOfRule(rule: Rule): Record<RuleFormField, string> {
  const d = draftOf(rule);
  const mg = new RegExp(`^${MG_PREFIX}(.+)$`, 'i').exec(rule.scope)?.[1];
  return {
    ruleName: d.name,
    integrationId: rule.integrationId,
    priority: String(rule.priority),
    maxTicketsPerSync: rule.maxTicketsPerSync ? String(rule.maxTicketsPerSync) : '',
    scopeType: mg ? 'managementGroup' : 'subscription',
    scopeId: mg ?? rule.scope.replace(/^\/subscriptions\//i, ''),
    severities: rule.conditions.severities.join(','),
    recommendations: rule.conditions.recommendations.join(','),
    tagName: rule.conditions.tag?.name ?? '',
    tagValue: rule.conditions.tag?.value ?? '',
    resourceGroup: rule.resourceGroup ?? '',
    ownerSource: rule.owner.kind,
    ownerTags: rule.owner.kind === 'tag' ? rule.owner.tags.join(', ') : '',
    ownerEmail: rule.owner.kind === 'fixed' ? rule.owner.email : '',
    fallbackOwner: rule.fallbackOwner ?? '',
    ticketType: rule.ticketType,
    dueInDays: String(rule.dueInDays),
    gracePeriod: String(rule.gracePeriod),
    enabled: String(rule.enabled),
  };
}

/** The preview's text, shared by the form and the list's Preview card. */
export function previewHeadline(p: RulePreview): string {
  return `Now it would assign ${p.assignments} finding(s) in ${p.tickets} ticket(s)${p.beyondCap ? ` (${p.beyondCap} beyond the per-sync cap would wait for a confirmation)` : ''}; ${p.needsOwner.length} need an owner; ${p.alreadyAssigned} already assigned${p.takenByEarlierRules.length ? `; ${p.takenByEarlierRules.map((t) => `${t.count} go to "${t.ruleName}"`).join(', ')}` : ''}.`;
}

function previewLines(p: RulePreview): string[] {
  return [
    ...p.byRecommendation.slice(0, 5).map((r) => `${r.severity} · ${r.recommendationName}: ${r.assignments}`),
    ...p.byOwner.slice(0, 5).map((o) => `→ ${o.owner}: ${o.assignments}`),
    ...p.sample.slice(0, 5).map((s) => `e.g. ${s.resourceName} (${s.recommendationName}) → ${s.owner}`),
    ...p.needsOwner.slice(0, 5).map((n) => `needs an owner: ${n.finding.resourceName}: ${n.detail || NEEDS_OWNER_TEXT[n.reason]}`),
  ];
}

/** The input a use-case refusal is about (it names what was wrong), else none: listed by the buttons. */
function fieldOf(err: RuleError): RuleFormField | undefined {
  const m = err.message;
  if (err.kind === 'conflict') return 'ruleName';
  if (m.startsWith('unknown integration')) return 'integrationId';
  if (m.startsWith('unknown scope')) return 'scopeId';
  if (m.startsWith('unknown recommendation')) return 'recommendations';
  const path = /^([\w.]+): /.exec(m)?.[1] ?? '';
  if (path.startsWith('resourceGroup')) return 'resourceGroup';
  if (path.startsWith('fallbackOwner')) return 'fallbackOwner';
  if (path.startsWith('conditions.tag')) return 'tagName';
  if (path.startsWith('owner.email')) return 'ownerEmail';
  if (path.startsWith('owner')) return 'ownerTags';
  if (path.startsWith('name')) return 'ruleName';
  return undefined;
}

export function ruleFormActions(deps: RuleFormDeps): ActionHandler[] {
  const who = (ctx: ActionContext): RuleActor => ({ kind: 'teams', actor: ctx.actor, conversationId: ctx.conversationId });
  const refusal = (ctx: ActionContext, message: string): ActionResult => ({
    kind: 'reply',
    card: errorCard({ title: 'Not allowed', message, details: [] }, ctx),
  });

  async function model(ruleId: string, values: Record<RuleFormField, string>, extra: Partial<RuleFormModel> = {}): Promise<RuleFormModel> {
    const [integrations, recs] = await Promise.all([deps.store.integrations.list(), deps.store.recommendations.list()]);
    const known = recs.filter((r) => r.status === 'unhealthy').sort((a, b) => a.displayName.localeCompare(b.displayName));
    const choices = known.slice(0, 200).map((r) => ({ title: `${r.displayName} (${r.severity})`, value: r.key }));
    // A rule written with names (the CLI takes keys or names) keeps them selectable.
    for (const v of list(values.recommendations))
      if (!choices.some((c) => c.value.toLowerCase() === v.toLowerCase())) {
        const byName = known.find((r) => r.displayName.trim().toLowerCase() === v.toLowerCase());
        if (!byName) choices.push({ title: v, value: v });
      }
    const selected = list(values.recommendations).map((v) => known.find((r) => r.displayName.trim().toLowerCase() === v.toLowerCase())?.key ?? v);
    return {
      ruleId,
      // The router stamps the card's own id into its actions (bot/cardIds.ts); the template's field stays empty.
      cardActivityId: '',
      values: { ...values, recommendations: selected.join(',') },
      errors: {},
      problems: [],
      integrations: integrations.filter((i) => !i.removedAt).map((i) => ({ title: i.name, value: i.id })),
      recommendationChoices: choices,
      capPlaceholder: `default ${deps.maxTicketsPerSync ?? DEFAULT_RULE_MAX_TICKETS_PER_SYNC}`,
      ...extra,
    };
  }

  /**
   * The form in place of the clicked card, like every other card: the router updates the message
   * the click came from (Teams' replyToId, else the id the card carries, bot/cardIds.ts) or posts
   * the form, which then carries a key to its own id.
   */
  const show = (ctx: ActionContext, m: RuleFormModel): ActionResult => ({ kind: 'replace', card: ruleFormCard(m, ctx) });

  const invalid = async (ctx: ActionContext, data: Record<string, unknown>, errors: Record<string, string>) =>
    show(ctx, await model(str(data.ruleId), valuesOfData(data), { errors }));

  /** The form's data through the use case; a refusal comes back under the input it is about. */
  async function run(ctx: ActionContext, form: RuleForm, data: Record<string, unknown>, step: (draft: RuleDraft) => Promise<ActionResult>) {
    try {
      return await step(draftOfForm(form, ctx.conversationId));
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      if (err.kind === 'refused') return refusal(ctx, err.message);
      const field = fieldOf(err);
      const errors = field ? { [field]: labelled(field, err.message, RULE_FORM_LABELS) } : {};
      return show(ctx, await model(form.ruleId ?? '', valuesOfData(data), { errors, problems: field ? [] : [err.message] }));
    }
  }

  return [
    defineAction({
      verb: 'openRuleForm',
      schema: z.object({ ruleId: z.string().max(200).optional() }),
      handle: async (ctx, d) => {
        if (!d.ruleId) {
          const integrations = await deps.store.integrations.list();
          const first = integrations.find((i) => !i.removedAt);
          const values = Object.fromEntries(RULE_FORM_FIELDS.map((k) => [k, ''])) as Record<RuleFormField, string>;
          const mg = first?.scope && new RegExp(`^${MG_PREFIX}(.+)$`, 'i').exec(first.scope)?.[1];
          Object.assign(values, {
            integrationId: first?.id ?? '',
            priority: String(Math.min(1000, 1 + Math.max(0, ...(await deps.store.rules.list()).map((r) => r.priority)))),
            scopeType: first && !mg ? 'subscription' : 'managementGroup',
            scopeId: mg ?? first?.scope.replace(/^\/subscriptions\//i, '') ?? '',
            ownerSource: 'tag',
            ownerTags: 'owner',
            ticketType: 'incident',
            dueInDays: '14',
            gracePeriod: 'false',
            enabled: 'false',
          });
          return show(ctx, await model('', values));
        }
        try {
          const rule = await deps.rules.editable(d.ruleId, who(ctx));
          return show(ctx, await model(rule.id, valuesOfRule(rule)));
        } catch (err) {
          if (!(err instanceof RuleError)) throw err;
          if (err.kind === 'refused') return refusal(ctx, err.message);
          return { kind: 'reply', card: errorCard({ title: 'Cannot edit the rule', message: err.message, details: [] }, ctx) };
        }
      },
    }),
    defineAction({
      verb: 'previewRuleForm',
      schema: ruleFormSchema,
      labels: RULE_FORM_LABELS,
      invalid,
      handle: (ctx, form) =>
        run(ctx, form, form, async (draft) => {
          const p = await deps.rules.previewDraft(draft, who(ctx), form.ruleId);
          return show(ctx, await model(form.ruleId ?? '', valuesOfData(form), { preview: { headline: previewHeadline(p), lines: previewLines(p) } }));
        }),
    }),
    defineAction({
      verb: 'saveRule',
      schema: ruleFormSchema,
      labels: RULE_FORM_LABELS,
      invalid,
      handle: (ctx, form) =>
        run(ctx, form, form, async (draft) => {
          const rule = form.ruleId ? await deps.rules.edit(form.ruleId, draft, who(ctx)) : await deps.rules.add(draft, who(ctx));
          const state = rule.enabled ? 'enabled: it assigns on the next sync' : 'disabled: preview it, then enable it';
          const card: AdaptiveCard = await deps.renderList(ctx, {
            text: `✅ ${form.ruleId ? 'Saved' : 'Added'} rule "${rule.name}" (${state}).`,
            style: 'good',
          });
          return { kind: 'replace', card };
        }),
    }),
  ];
}
