/**
 * The `rules` command and its card actions: a turn → app/rules.ts → a card. The role on the rule's
 * scope (Owner, Contributor or Security Admin) is checked by the use case for every change.
 */
import { z } from 'zod';
import { errorCard, type AdaptiveCard } from '../../cards/index.js';
import { ruleListCard, rulePreviewCard, type RuleListModel } from '../../cards/ruleCards.js';
import { NEEDS_OWNER_TEXT } from '../../core/rules.js';
import type { Rule } from '../../core/model.js';
import { RuleError, type RuleActor, type Rules } from '../../app/rules.js';
import type { Store } from '../../app/ports.js';
import { previewHeadline, ruleFormActions } from './ruleForm.js';
import type { Command } from '../commandRouter.js';
import { defineAction, type ActionContext, type ActionHandler, type ActionResult } from '../actionRouter.js';
import type { TurnInfo } from '../turn.js';

export interface RuleActionDeps {
  rules: Rules;
  store: Store;
  /** RULE_MAX_TICKETS_PER_SYNC. */
  maxTicketsPerSync?: number;
}

const NEEDS_OWNER_SHOWN = 5;
const utc = (iso: string | undefined) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : 'never');
const MG = /^\/providers\/Microsoft\.Management\/managementGroups\/(.+)$/i;

function scopeText(r: Rule): string {
  const mg = MG.exec(r.scope)?.[1];
  return mg
    ? `management group ${mg}`
    : `${r.scope.replace(/^\/subscriptions\//i, 'subscription ')}${r.resourceGroup ? `, resource group ${r.resourceGroup}` : ''}`;
}

function ownerText(r: Rule): string {
  const base = r.owner.kind === 'fixed' ? `owner ${r.owner.email}` : `owner from tag ${r.owner.tags.join(' / ')}`;
  return r.fallbackOwner ? `${base}, else ${r.fallbackOwner}` : base;
}

function conditionText(r: Rule): string {
  const parts = [
    r.conditions.severities.length ? r.conditions.severities.join('/') : 'every severity',
    r.conditions.recommendations.length ? `${r.conditions.recommendations.length} recommendation(s)` : 'every recommendation',
  ];
  if (r.conditions.tag) parts.push(`tag ${r.conditions.tag.name}=${r.conditions.tag.value}`);
  return parts.join(', ');
}

const who = (ctx: TurnInfo): RuleActor => ({ kind: 'teams', actor: ctx.actor, conversationId: ctx.conversationId });

async function listModel(deps: RuleActionDeps, notice?: RuleListModel['notice']): Promise<RuleListModel> {
  const [views, defender, integrations] = await Promise.all([deps.rules.list(), deps.rules.defenderRules(), deps.store.integrations.list()]);
  const imported = new Map(views.filter((v) => v.rule.source).map((v) => [v.rule.source!.id.toLowerCase(), v.rule.name]));
  return {
    ...(notice ? { notice } : {}),
    rules: views.map(({ rule: r, integrationName, needsOwner }) => ({
      id: r.id,
      name: r.name,
      enabled: r.enabled,
      paused: r.enabled && r.paused !== undefined,
      state: !r.enabled ? 'disabled' : r.paused ? `paused: ${r.paused.waiting} ticket(s) wait for a confirmation` : 'enabled',
      summary: [
        `priority ${r.priority}`,
        scopeText(r),
        conditionText(r),
        ownerText(r),
        `${integrationName ?? 'a removed integration'}, ${r.ticketType}, due in ${r.dueInDays} days${r.gracePeriod ? ', grace period' : ''}`,
      ].join(' · '),
      counts: `matched ${r.stats.matched} · assigned ${r.stats.assigned} · needs an owner ${r.stats.needsOwner} · last run ${utc(r.stats.lastRunAt)}`,
      needsOwner: needsOwner.slice(0, NEEDS_OWNER_SHOWN).map((n) => `${n.resourceName} (${n.recommendationName}): ${n.reason}`),
      needsOwnerMore: Math.max(0, needsOwner.length - NEEDS_OWNER_SHOWN),
    })),
    defender: defender.rules.slice(0, 20).map((d) => ({
      id: d.id,
      name: d.properties.displayName,
      summary: [
        `priority ${d.properties.rulePriority}`,
        d.properties.isDisabled ? 'disabled in Defender' : 'enabled in Defender',
        `owner ${d.properties.ownerSource.type === 'ByTag' ? `from tag ${d.properties.ownerSource.value ?? ''}` : (d.properties.ownerSource.value ?? '?')}`,
        d.properties.remediationTimeframe ? `due in ${d.properties.remediationTimeframe.split('.')[0]} days` : 'no timeframe',
      ].join(' · '),
      ...(imported.has(d.id.toLowerCase()) ? { importedAs: imported.get(d.id.toLowerCase())! } : {}),
    })),
    defenderProblems: defender.problems,
    integrations: integrations.map((i) => ({ id: i.id, name: i.name })),
  };
}

export async function renderRuleList(deps: RuleActionDeps, ctx: TurnInfo, notice?: RuleListModel['notice']): Promise<AdaptiveCard> {
  return ruleListCard(await listModel(deps, notice), ctx);
}

export function rulesCommand(deps: RuleActionDeps): Command {
  return {
    name: 'rules',
    usage: 'rules',
    description:
      "Governance rules: ours with what they matched, assigned and could not assign (needs an owner), Defender's beside them; add, edit, preview, enable, disable, remove, import.",
    handle: async (ctx) => {
      await ctx.reply({ card: await renderRuleList(deps, ctx), summary: 'Governance rules' });
    },
  };
}

const ruleId = z.object({ ruleId: z.string().min(1).max(200) });

export function ruleActions(deps: RuleActionDeps): ActionHandler[] {
  const answer = (ctx: ActionContext, card: AdaptiveCard): ActionResult => (ctx.channelId === 'msteams' ? { kind: 'replace', card } : { kind: 'reply', card });
  const list = async (ctx: ActionContext, notice?: RuleListModel['notice']) => answer(ctx, await renderRuleList(deps, ctx, notice));
  /** A refusal (role) gets its own card; a rule gone or a conflict is said on the list. */
  const guarded = async (ctx: ActionContext, run: () => Promise<ActionResult>): Promise<ActionResult> => {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      if (err.kind === 'refused') return { kind: 'reply', card: errorCard({ title: 'Not allowed', message: err.message, details: [] }, ctx) };
      return list(ctx, { text: `⚠ ${err.message}. Nothing was changed.`, style: 'warning' });
    }
  };

  return [
    ...ruleFormActions({ ...deps, renderList: (ctx, notice) => renderRuleList(deps, ctx, notice) }),
    defineAction({
      verb: 'listRules',
      schema: z.object({}),
      // Cancel on the Add/Edit form, Refresh on the list: the list takes the clicked card's place
      // wherever the router knows it (bot/cardIds.ts), as in Teams; else it is posted.
      handle: async (ctx) => ({ kind: 'replace', card: await renderRuleList(deps, ctx) }),
    }),
    defineAction({
      verb: 'previewRule',
      schema: ruleId,
      handle: (ctx, d) =>
        guarded(ctx, async () => {
          const p = await deps.rules.preview(d.ruleId);
          return answer(
            ctx,
            rulePreviewCard(
              {
                ruleName: p.ruleName,
                headline: previewHeadline(p),
                byRecommendation: p.byRecommendation.slice(0, 10).map((r) => `${r.severity} · ${r.recommendationName}: ${r.assignments}`),
                byOwner: p.byOwner.slice(0, 10).map((o) => `${o.owner}: ${o.assignments}`),
                sample: p.sample.map((s) => `${s.resourceName} (${s.recommendationName}) → ${s.owner}`),
                needsOwner: p.needsOwner.slice(0, 10).map((n) => `${n.finding.resourceName}: ${n.detail || NEEDS_OWNER_TEXT[n.reason]}`),
                needsOwnerMore: Math.max(0, p.needsOwner.length - 10),
              },
              ctx,
            ),
          );
        }),
    }),
    ...(['enableRule', 'disableRule'] as const).map((verb) =>
      defineAction({
        verb,
        schema: ruleId,
        handle: (ctx, d) =>
          guarded(ctx, async () => {
            const { message } = await deps.rules.setEnabled(d.ruleId, verb === 'enableRule', who(ctx));
            return list(ctx, { text: `✅ ${message}`, style: 'good' });
          }),
      }),
    ),
    defineAction({
      verb: 'removeRule',
      schema: ruleId,
      handle: (ctx, d) => guarded(ctx, async () => list(ctx, { text: `✅ ${await deps.rules.remove(d.ruleId, who(ctx))}`, style: 'good' })),
    }),
    defineAction({
      verb: 'confirmRule',
      schema: ruleId,
      handle: (ctx, d) =>
        guarded(ctx, async () => {
          const { rule, waiting } = await deps.rules.confirm(d.ruleId, who(ctx));
          return list(ctx, {
            text: `✅ Confirmed by ${ctx.actor.name ?? ctx.actor.id}: rule "${rule.name}" opens the ${waiting} waiting ticket(s) on the next sync.`,
            style: 'good',
          });
        }),
    }),
    defineAction({
      verb: 'importDefenderRule',
      schema: z.object({ defenderRuleId: z.string().min(1).max(1000), integrationId: z.string().min(1).max(200) }),
      handle: (ctx, d) =>
        guarded(ctx, async () => {
          const { rule, warnings } = await deps.rules.importDefender(
            d.defenderRuleId,
            { integration: d.integrationId, conversationId: ctx.conversationId },
            who(ctx),
          );
          const notes = warnings.length ? ` Notes: ${warnings.join('; ')}.` : '';
          return list(ctx, { text: `✅ Imported as "${rule.name}", disabled: preview it, then enable it.${notes}`, style: 'good' });
        }),
    }),
  ];
}
