/**
 * Governance rules of the bot (issue 15): managing them (add, edit, list, preview, enable,
 * disable, remove, import from Defender, confirm beyond the per-sync cap) and applying them on
 * every sync (applyRules, called by app/syncCycle.ts after the recommendations are stored).
 *
 * One sync's application, in the order core/rules.ts describes: evaluationOrder → findingsOf →
 * live assignments by key → tags of the resources that need them (Resource Graph) → planRules
 * (cap, confirmed allowances) → owners resolved once per integration (unknown to ServiceNow →
 * fallback or "needs an owner") → the assignment rows stored in one transaction with the audit
 * (actor `rule:NAME`) and the rules' stats → the same ticket creation as a manual assignment
 * (CreateAssignments.createTickets by ids). The rows are persisted before anything calls out, and
 * a stored row makes its finding's key live, so a crash or a replay never plans a second ticket for
 * the same finding: the cycle's resumePending finishes what was stored.
 */
import { randomUUID } from 'node:crypto';
import { ruleConfirmCard } from '../cards/ruleCards.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { importDefenderRule, type DefenderGovernanceRule } from '../core/defenderRules.js';
import type { Assignment, Integration, Recommendation, Rule, RuleInput } from '../core/model.js';
import { ruleSchema } from '../core/model.js';
import {
  buildTagSource,
  DEFAULT_RULE_MAX_TICKETS_PER_SYNC,
  findingsOf,
  NEEDS_OWNER_TEXT,
  NO_TAGS,
  planRules,
  previewRule,
  resourcesNeedingTags,
  ruleAssignments,
  type NeedsOwnerItem,
  type RulePlan,
  type RulePreview,
  type TagSource,
} from '../core/rules.js';
import type { Ancestry } from '../core/recommendations.js';
import {
  StoreConstraintError,
  ticketErrorKind,
  type Actor,
  type Decision,
  type DefenderPort,
  type Directory,
  type Locks,
  type Messenger,
  type OutgoingMessage,
  type Store,
  type TicketSystem,
} from './ports.js';

/** Resource Graph tags and Defender's governance rules, as the rules need them. */
export type RuleTagSource = Required<Pick<DefenderPort, 'getResourceTags'>> & Pick<DefenderPort, 'listGovernanceRules'>;

/** Who asks: a Teams user (their role on the rule's scope is checked) or the CLI (the operator of the data folder). */
export type RuleActor = { kind: 'teams'; actor: Actor; upn?: string; conversationId?: string } | { kind: 'cli'; name: string };

/** A rule managed from a conversation reports there (confirmations, needs-an-owner) unless it has one already. */
const reportsTo = (rule: Rule, who: RuleActor) =>
  !rule.conversationId && who.kind === 'teams' && who.conversationId ? { conversationId: who.conversationId } : {};

export interface RulesDeps {
  store: Store;
  /** The manual path's ticket creation (persisted assignments by id). */
  assignments: { createTickets(ids: readonly string[]): Promise<Assignment[]> };
  integrations: { find(nameOrId: string): Promise<Integration | undefined>; clientFor(integration: Integration): TicketSystem };
  /** Owner, Contributor or Security Admin on the rule's scope (ManageIntegrations.mayManageScope). */
  mayManageScope(actor: Actor, scope: string): Promise<Decision>;
  defender?: RuleTagSource;
  /** Management groups above these subscriptions, nearest first (the sync's, then Resource Graph, cached: cachedAncestry). */
  ancestry: (subscriptionIds: readonly string[]) => Promise<Ancestry>;
  /** DEFENDER_SCOPES: where Defender's own rules are read. */
  scopes: readonly string[];
  messenger?: Pick<Messenger, 'send'>;
  /** The fallback contact's 1:1 chat, where the needs-an-owner list goes too. */
  directory?: Pick<Directory, 'personalConversationOf'>;
  /** Posted recommendation cards show the new tickets ("by rule NAME"). */
  cards?: { refresh(recommendationKey: string): Promise<unknown> };
  clock: Clock;
  logger: Logger;
  timeZone: string;
  /** RULE_MAX_TICKETS_PER_SYNC. */
  maxTicketsPerSync?: number;
  /** Store locks (advisory locks on PostgreSQL): one rules step at a time across replicas. */
  locks?: Locks;
  /** New ids (tests pass a counter). */
  newId?: () => string;
}

/** A refusal for people: one line, nothing changed. */
export class RuleError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'not-found' | 'refused' | 'conflict' = 'usage',
  ) {
    super(message);
    this.name = 'RuleError';
  }
}

/** What a rule could not assign, kept for `rules` (the newest run's list). */
export interface NeedsOwnerEntry {
  key: string;
  recommendationName: string;
  resourceName: string;
  resourceId: string;
  reason: string;
}

export interface RuleView {
  rule: Rule;
  integrationName?: string;
  needsOwner: NeedsOwnerEntry[];
}

export interface ApplyReport {
  rules: number;
  created: number;
  paused: number;
  needsOwner: number;
  deferred: number;
}

/** The fields `rule add` / the Add form give; the rest is defaulted. */
export interface RuleDraft {
  name: string;
  integration: string;
  scope?: string;
  resourceGroup?: string;
  severities?: Array<'High' | 'Medium' | 'Low'>;
  recommendations?: string[];
  tag?: { name: string; value: string };
  owner: { kind: 'fixed'; email: string } | { kind: 'tag'; tags: string[] };
  fallbackOwner?: string;
  dueInDays: number;
  /** This rule's own per-sync cap (only lowers RULE_MAX_TICKETS_PER_SYNC). */
  maxTicketsPerSync?: number;
  gracePeriod?: boolean;
  notifyOwner?: boolean;
  notifyManager?: boolean;
  ticketType?: 'incident' | 'change_request' | 'problem';
  ticketGrouping?: 'perResource' | 'single';
  priority?: number;
  enabled?: boolean;
  conversationId?: string;
  description?: string;
}

const APPLY_LOCK = 'rules:apply';
const NEEDS_OWNER_META = (ruleId: string) => `rule-needs-owner:${ruleId}`;
const CONFIRMED_META = (ruleId: string) => `rule-confirmed:${ruleId}`;
/** The "needs an owner" list kept per rule for `rules`: enough to act on, bounded in size. */
const NEEDS_OWNER_KEPT = 200;
const USER_ERRORS = new Set(['user-not-found', 'user-ambiguous']);

export const KEEPS_ASSIGNMENTS = 'The assignments and tickets it made stay as they are (as with Defender).';

export class Rules {
  private readonly newId: () => string;

  constructor(private readonly deps: RulesDeps) {
    this.newId = deps.newId ?? randomUUID;
  }

  // ---------------------------------------------------------------- managing

  async list(): Promise<RuleView[]> {
    const rules = await this.deps.store.rules.list();
    return Promise.all(
      rules.map(async (rule) => ({
        rule,
        integrationName: (await this.deps.integrations.find(rule.integrationId))?.name,
        needsOwner: await this.needsOwnerOf(rule.id),
      })),
    );
  }

  async get(nameOrId: string): Promise<Rule> {
    const rule = (await this.deps.store.rules.findByName(nameOrId)) ?? (await this.deps.store.rules.get(nameOrId));
    if (!rule) throw new RuleError(`no rule named "${nameOrId}"`, 'not-found');
    return rule;
  }

  /** The rule, if the actor may change it (the Edit form is refused before it opens). */
  async editable(nameOrId: string, who: RuleActor): Promise<Rule> {
    const rule = await this.get(nameOrId);
    await this.authorize(who, rule.scope);
    return rule;
  }

  async add(draft: RuleDraft, who: RuleActor): Promise<Rule> {
    const rule = await this.ruleOf(draft, who);
    if (await this.deps.store.rules.findByName(draft.name)) throw new RuleError(`a rule named "${draft.name}" exists already`, 'conflict');
    await this.save(rule, rule.createdBy.id, 'rule.add', { scope: rule.scope, integration: draft.integration, enabled: rule.enabled });
    return rule;
  }

  /** A new rule from a draft, checked (integration, scope, recommendations, the actor's role) but not stored. */
  private async ruleOf(draft: RuleDraft, who: RuleActor): Promise<Rule> {
    const integration = await this.deps.integrations.find(draft.integration);
    if (!integration || integration.removedAt) throw new RuleError(`unknown integration "${draft.integration}"`, 'not-found');
    const scope = draft.scope ?? integration.scope;
    await this.checkScope(scope);
    await this.checkRecommendations(draft.recommendations ?? []);
    await this.authorize(who, scope);
    const stamp = this.deps.clock.now().toISOString();
    const by = actorOf(who);
    const existing = await this.deps.store.rules.list();
    const input: RuleInput = {
      id: this.newId(),
      name: draft.name,
      ...(draft.description ? { description: draft.description } : {}),
      priority: draft.priority ?? Math.min(1000, 1 + Math.max(0, ...existing.map((r) => r.priority))),
      scope,
      ...(draft.resourceGroup ? { resourceGroup: draft.resourceGroup } : {}),
      conditions: { severities: draft.severities ?? [], recommendations: draft.recommendations ?? [], ...(draft.tag ? { tag: draft.tag } : {}) },
      owner: draft.owner,
      ...(draft.fallbackOwner ? { fallbackOwner: draft.fallbackOwner } : {}),
      integrationId: integration.id,
      ticketType: draft.ticketType ?? 'incident',
      ticketGrouping: draft.ticketGrouping ?? 'perResource',
      ...(who.kind === 'teams' && who.upn ? { caller: who.upn } : {}),
      dueInDays: draft.dueInDays,
      ...(draft.maxTicketsPerSync ? { maxTicketsPerSync: draft.maxTicketsPerSync } : {}),
      gracePeriod: draft.gracePeriod ?? false,
      notifyOwner: draft.notifyOwner ?? true,
      notifyManager: draft.notifyManager ?? false,
      enabled: draft.enabled ?? true,
      ...(draft.conversationId ? { conversationId: draft.conversationId } : {}),
      createdBy: by,
      createdAt: stamp,
      updatedBy: by,
      updatedAt: stamp,
    };
    return parseRule(input);
  }

  /**
   * Changes a rule (the Edit form). A field given replaces the stored one; an optional field given
   * as undefined (resource group, tag condition, fallback owner, cap) is cleared. The role on the
   * old and on the new scope is checked; the name stays unique, case-insensitively.
   */
  async edit(nameOrId: string, changes: Partial<RuleDraft>, who: RuleActor): Promise<Rule> {
    const rule = await this.get(nameOrId);
    return this.saveEdit(rule, await this.edited(rule, changes, who), who, changes);
  }

  private async edited(rule: Rule, changes: Partial<RuleDraft>, who: RuleActor): Promise<Rule> {
    await this.authorize(who, rule.scope);
    const has = (k: keyof RuleDraft) => Object.prototype.hasOwnProperty.call(changes, k);
    let integrationId = rule.integrationId;
    if (changes.integration) {
      const integration = await this.deps.integrations.find(changes.integration);
      if (!integration || integration.removedAt) throw new RuleError(`unknown integration "${changes.integration}"`, 'not-found');
      integrationId = integration.id;
    }
    if (changes.scope) {
      await this.checkScope(changes.scope);
      await this.authorize(who, changes.scope);
    }
    if (changes.recommendations) await this.checkRecommendations(changes.recommendations);
    if (changes.name && changes.name.trim().toLowerCase() !== rule.name.toLowerCase()) {
      const other = await this.deps.store.rules.findByName(changes.name.trim());
      if (other && other.id !== rule.id) throw new RuleError(`a rule named "${changes.name.trim()}" exists already`, 'conflict');
    }
    const by = actorOf(who);
    const keep = <K extends keyof RuleDraft, V>(k: K, stored: V | undefined, out: (v: NonNullable<RuleDraft[K]>) => V): V | undefined =>
      has(k) ? (changes[k] === undefined ? undefined : out(changes[k] as NonNullable<RuleDraft[K]>)) : stored;
    const resourceGroup = keep('resourceGroup', rule.resourceGroup, (v) => v);
    const tag = keep('tag', rule.conditions.tag, (v) => v);
    const fallbackOwner = keep('fallbackOwner', rule.fallbackOwner, (v) => v);
    const maxTicketsPerSync = keep('maxTicketsPerSync', rule.maxTicketsPerSync, (v) => v);
    const { resourceGroup: _rg, fallbackOwner: _fb, maxTicketsPerSync: _cap, ...base } = rule;
    return parseRule({
      ...base,
      ...(changes.name ? { name: changes.name } : {}),
      ...(changes.priority ? { priority: changes.priority } : {}),
      ...(changes.scope ? { scope: changes.scope } : {}),
      ...(resourceGroup ? { resourceGroup } : {}),
      conditions: {
        severities: changes.severities ?? rule.conditions.severities,
        recommendations: changes.recommendations ?? rule.conditions.recommendations,
        ...(tag ? { tag } : {}),
      },
      ...(changes.owner ? { owner: changes.owner } : {}),
      ...(fallbackOwner ? { fallbackOwner } : {}),
      ...(maxTicketsPerSync ? { maxTicketsPerSync } : {}),
      integrationId,
      ...(changes.ticketType ? { ticketType: changes.ticketType } : {}),
      ...(changes.ticketGrouping ? { ticketGrouping: changes.ticketGrouping } : {}),
      ...(changes.dueInDays ? { dueInDays: changes.dueInDays } : {}),
      ...(changes.gracePeriod !== undefined ? { gracePeriod: changes.gracePeriod } : {}),
      ...(changes.notifyOwner !== undefined ? { notifyOwner: changes.notifyOwner } : {}),
      ...(changes.notifyManager !== undefined ? { notifyManager: changes.notifyManager } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled, ...(changes.enabled ? {} : { paused: undefined }) } : {}),
      updatedBy: by,
      updatedAt: this.deps.clock.now().toISOString(),
    });
  }

  private async saveEdit(rule: Rule, next: Rule, who: RuleActor, changes: Partial<RuleDraft>): Promise<Rule> {
    const fields = Object.keys(changes).filter((k) => JSON.stringify(changes[k as keyof RuleDraft]) !== JSON.stringify(draftOf(rule)[k as keyof RuleDraft]));
    await this.save(next, actorOf(who).id, 'rule.edit', { fields });
    return next;
  }

  /**
   * What a rule drafted on the Add/Edit form would assign now (nothing is stored): the draft is
   * checked as a save would check it, then previewed among the stored rules (in place of the rule
   * it edits).
   */
  async previewDraft(draft: RuleDraft, who: RuleActor, editing?: string): Promise<RulePreview> {
    const rule = editing ? await this.edited(await this.get(editing), draft, who) : await this.ruleOf(draft, who);
    const stored = (await this.deps.store.rules.list()).filter((r) => r.id !== rule.id);
    return this.previewAmong(rule, [...stored, rule]);
  }

  async setEnabled(nameOrId: string, enabled: boolean, who: RuleActor): Promise<{ rule: Rule; message: string }> {
    const rule = await this.get(nameOrId);
    await this.authorize(who, rule.scope);
    const by = actorOf(who);
    const next = parseRule({
      ...rule,
      ...reportsTo(rule, who),
      enabled,
      ...(enabled ? {} : { paused: undefined }),
      updatedBy: by,
      updatedAt: this.deps.clock.now().toISOString(),
    });
    await this.save(next, by.id, enabled ? 'rule.enable' : 'rule.disable', {});
    const message = enabled
      ? `Rule "${rule.name}" is enabled: it assigns on the next sync.`
      : `Rule "${rule.name}" is disabled: it assigns nothing more. ${KEEPS_ASSIGNMENTS}`;
    return { rule: next, message };
  }

  async remove(nameOrId: string, who: RuleActor): Promise<string> {
    const rule = await this.get(nameOrId);
    await this.authorize(who, rule.scope);
    const by = actorOf(who);
    await this.deps.store.transaction(async (tx) => {
      await tx.rules.remove(rule.id);
      await tx.meta.set(NEEDS_OWNER_META(rule.id), '[]');
      await tx.audit.append({ at: this.deps.clock.now().toISOString(), actor: by.id, action: 'rule.remove', target: rule.id, details: { name: rule.name } });
    });
    return `Removed rule "${rule.name}". ${KEEPS_ASSIGNMENTS}`;
  }

  /** What a rule would assign now; creates nothing. */
  async preview(nameOrId: string): Promise<RulePreview> {
    const rule = await this.get(nameOrId);
    return this.previewAmong(rule, await this.deps.store.rules.list());
  }

  private async previewAmong(rule: Rule, rules: readonly Rule[]): Promise<RulePreview> {
    const input = await this.inputs(rules.map((r) => (r.id === rule.id ? { ...r, enabled: true, paused: undefined } : r)));
    const unknownOwners = await this.unknownOwners(rules, planRules({ ...input.plan, maxTicketsPerRule: Infinity }));
    return previewRule(rule.id, { ...input.plan, unknownOwners, maxTicketsPerRule: this.cap() });
  }

  /** An admin confirms the tickets beyond the cap: the rule opens all of them on its next run (applyRules). */
  async confirm(nameOrId: string, who: RuleActor): Promise<{ rule: Rule; waiting: number }> {
    const rule = await this.get(nameOrId);
    await this.authorize(who, rule.scope);
    const by = actorOf(who);
    const waiting = rule.paused?.waiting ?? 0;
    const next = parseRule({ ...rule, ...reportsTo(rule, who), paused: undefined, updatedBy: by, updatedAt: this.deps.clock.now().toISOString() });
    await this.deps.store.transaction(async (tx) => {
      await tx.rules.upsert(next);
      await tx.meta.set(CONFIRMED_META(rule.id), 'all');
      await tx.audit.append({
        at: this.deps.clock.now().toISOString(),
        actor: by.id,
        action: 'rule.confirm',
        target: rule.id,
        details: { name: rule.name, waiting },
      });
    });
    return { rule: next, waiting };
  }

  /** Defender's own governance rules on the configured scopes (for `rules`, beside ours). */
  async defenderRules(): Promise<{ rules: DefenderGovernanceRule[]; problems: string[] }> {
    const list = this.deps.defender?.listGovernanceRules;
    if (!list) return { rules: [], problems: [] };
    const rules: DefenderGovernanceRule[] = [];
    const problems: string[] = [];
    // A management-group scope covers its subscriptions: their own rules apply to its findings too.
    const known = subscriptionsOf(await this.deps.store.recommendations.list()).map((s) => `/subscriptions/${s}`);
    const scopes = [...new Map([...this.deps.scopes, ...known].map((s) => [s.toLowerCase().replace(/\/+$/, ''), s])).values()];
    for (const scope of scopes) {
      try {
        const r = await list.call(this.deps.defender, scope);
        rules.push(...r.rules);
        for (const s of r.skipped) problems.push(`${s.id ?? 'a rule'}: ${s.reason}`);
      } catch (err) {
        problems.push(`${scope}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return { rules, problems };
  }

  /** Turns a Defender governance rule (by id or display name) into a bot rule, imported disabled unless asked. */
  async importDefender(
    idOrName: string,
    opts: { integration: string; name?: string; enable?: boolean; conversationId?: string },
    who: RuleActor,
  ): Promise<{ rule: Rule; warnings: string[] }> {
    const { rules } = await this.defenderRules();
    const lc = idOrName.toLowerCase();
    const def = rules.find((r) => r.id.toLowerCase() === lc || r.name.toLowerCase() === lc || r.properties.displayName.toLowerCase() === lc);
    if (!def) throw new RuleError(`no Defender governance rule "${idOrName}" on ${this.deps.scopes.join(', ') || 'the configured scopes'}`, 'not-found');
    const integration = await this.deps.integrations.find(opts.integration);
    if (!integration || integration.removedAt) throw new RuleError(`unknown integration "${opts.integration}"`, 'not-found');
    const already = (await this.deps.store.rules.list()).find((r) => r.source?.id.toLowerCase() === def.id.toLowerCase());
    if (already) throw new RuleError(`Defender's rule "${def.properties.displayName}" is imported already as "${already.name}"`, 'conflict');
    const by = actorOf(who);
    const result = importDefenderRule(def, {
      id: this.newId(),
      integrationId: integration.id,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.enable ? { enable: true } : {}),
      ...(opts.conversationId ? { conversationId: opts.conversationId } : {}),
      actor: by,
      now: this.deps.clock.now(),
    });
    if (!result.ok) throw new RuleError(`cannot import "${def.properties.displayName}": ${result.errors.join('; ')}`, 'refused');
    await this.authorize(who, result.rule.scope);
    if (await this.deps.store.rules.findByName(result.rule.name))
      throw new RuleError(`a rule named "${result.rule.name}" exists already; import it with another name`, 'conflict');
    await this.save(result.rule, by.id, 'rule.import', { defenderRule: def.id });
    return { rule: result.rule, warnings: result.warnings };
  }

  // ---------------------------------------------------------------- applying

  /**
   * Applies the enabled rules to the stored unhealthy findings that have no live assignment. Called
   * after each sync pass; also safe to call again at any time (what it stored is live, so a second
   * call plans nothing new for the same findings).
   */
  async applyRules(): Promise<ApplyReport> {
    // One replica's step at a time (a store lock: advisory on PostgreSQL): the next plans with the
    // first one's rows live, so it opens nothing twice and its counts start from the stored ones.
    const stored = this.deps.locks ? await this.deps.locks.withLock(APPLY_LOCK, () => this.planAndStore()) : await this.planAndStore();
    if (stored.kind === 'done') return stored.report;
    const { report, rows, plan, newlyPaused, enabled } = stored;
    await this.announce(newlyPaused, plan, enabled);
    if (rows.length) {
      await this.deps.assignments.createTickets(rows.map((a) => a.id));
      for (const key of new Set(rows.map((a) => a.recommendationKey))) await this.deps.cards?.refresh(key);
    }
    return report;
  }

  private async planAndStore(): Promise<
    { kind: 'done'; report: ApplyReport } | { kind: 'stored'; report: ApplyReport; rows: Assignment[]; plan: RulePlan; newlyPaused: Rule[]; enabled: Rule[] }
  > {
    const { store, clock, logger } = this.deps;
    const all = await store.rules.list();
    const enabled = all.filter((r) => r.enabled);
    const report: ApplyReport = { rules: enabled.length, created: 0, paused: 0, needsOwner: 0, deferred: 0 };
    if (enabled.length === 0) return { kind: 'done', report };
    const input = await this.inputs(enabled);
    const allowances = new Map<string, number>();
    for (const r of enabled) if ((await store.meta.get(CONFIRMED_META(r.id))) === 'all') allowances.set(r.id, Infinity);
    const first = planRules({ ...input.plan, allowances, maxTicketsPerRule: this.cap() });
    const unknownOwners = await this.unknownOwners(enabled, first);
    const plan = unknownOwners.size ? planRules({ ...input.plan, allowances, maxTicketsPerRule: this.cap(), unknownOwners }) : first;
    const now = clock.now();
    const stamp = now.toISOString();

    const rows: Assignment[] = [];
    const byRule = new Map<string, Assignment[]>();
    for (const t of plan.tickets) {
      const rec = input.recommendations.get(t.recommendationKey);
      const rule = enabled.find((r) => r.id === t.ruleId)!;
      if (!rec) continue;
      const made = ruleAssignments(t, rec, {
        newId: this.newId,
        caller: rule.caller ?? rule.createdBy.upn ?? t.owner,
        ...(rule.conversationId ? { conversationId: rule.conversationId } : {}),
        now,
      });
      rows.push(...made);
      byRule.set(rule.id, [...(byRule.get(rule.id) ?? []), ...made]);
    }
    const summaries = new Map(plan.summaries.map((s) => [s.ruleId, s]));
    const needsOwner = groupBy(plan.needsOwner, (n) => n.ruleId);
    const newlyPaused: Rule[] = [];
    try {
      await store.transaction(async (tx) => {
        if (rows.length) await tx.assignments.upsertMany(rows);
        for (const read of enabled) {
          // The stored row, not the one read before planning: another run (or an edit) may have changed it since.
          const rule = await tx.rules.get(read.id);
          if (!rule) continue;
          const s = summaries.get(rule.id);
          const made = byRule.get(rule.id) ?? [];
          for (const batch of groupBy(made, (a) => a.batchId).values())
            await tx.audit.append({
              at: stamp,
              actor: `rule:${rule.name}`,
              action: 'assignment.create',
              target: batch[0]!.batchId,
              details: {
                rule: rule.name,
                recommendation: batch[0]!.recommendationKey,
                resources: batch.length,
                owner: batch[0]!.owner,
                dueDate: batch[0]!.dueDate,
                ticketType: batch[0]!.ticketType,
              },
            });
          const waiting = s?.pausedTickets ?? 0;
          const paused = waiting > 0 ? (rule.paused ?? { since: stamp, waiting }) : undefined;
          if (paused && !rule.paused) newlyPaused.push({ ...rule, paused });
          const next = parseRule({
            ...rule,
            paused: paused ? { ...paused, waiting } : undefined,
            stats: {
              matched: s?.matched ?? 0,
              assigned: rule.stats.assigned + made.length,
              needsOwner: s?.needsOwner ?? 0,
              lastRunAt: stamp,
            },
          });
          await tx.rules.upsert(next);
          if (allowances.has(rule.id)) await tx.meta.set(CONFIRMED_META(rule.id), '');
          await tx.meta.set(NEEDS_OWNER_META(rule.id), JSON.stringify((needsOwner.get(rule.id) ?? []).slice(0, NEEDS_OWNER_KEPT).map(entryOf)));
        }
      });
    } catch (err) {
      // Someone assigned one of these findings meanwhile (one live assignment per key): the next sync plans without it.
      if (err instanceof StoreConstraintError) {
        logger.warn({ err }, 'a rule run met an assignment made meanwhile; nothing of this run was stored, the next sync tries again');
        return { kind: 'done', report };
      }
      throw err;
    }
    report.created = rows.length;
    report.paused = plan.paused.length;
    report.needsOwner = plan.needsOwner.length;
    report.deferred = plan.deferred.length;
    if (rows.length) logger.info({ assignments: rows.length, tickets: plan.tickets.length }, 'governance rules assigned findings');
    return { kind: 'stored', report, rows, plan, newlyPaused, enabled };
  }

  // ---------------------------------------------------------------- helpers

  private cap(): number {
    return this.deps.maxTicketsPerSync ?? DEFAULT_RULE_MAX_TICKETS_PER_SYNC;
  }

  private async inputs(rules: readonly Rule[]) {
    const { store } = this.deps;
    const recs = (await store.recommendations.list()).filter((r) => r.status === 'unhealthy');
    const recommendations = new Map<string, Recommendation>(recs.map((r) => [r.key, r]));
    // Without the ancestry a management-group rule would miss its findings and a subscription rule take them: no run then.
    const findings = findingsOf(recs, await this.deps.ancestry(subscriptionsOf(recs)));
    const live = await store.assignments.findLiveByKeys(findings.map((f) => f.key));
    const liveKeys = new Set(live.keys());
    const needTags = resourcesNeedingTags(
      rules.filter((r) => r.enabled),
      findings,
      liveKeys,
    );
    let tags: TagSource = NO_TAGS;
    if (needTags.length && this.deps.defender) {
      try {
        tags = buildTagSource(await this.deps.defender.getResourceTags(needTags));
      } catch (err) {
        // Without tags the findings that need them wait (planRules defers them); the others go on.
        this.deps.logger.warn({ err, resources: needTags.length }, 'could not read resource tags; rules that need them wait for the next sync');
      }
    }
    return { recommendations, plan: { rules, findings, liveKeys, tags, now: this.deps.clock.now(), timeZone: this.deps.timeZone } };
  }

  /** Owners of the planned tickets (and fallbacks) ServiceNow does not know, asked once per integration and person. */
  private async unknownOwners(rules: readonly Rule[], plan: RulePlan): Promise<Map<string, Set<string>>> {
    const wanted = new Map<string, Set<string>>();
    const add = (integrationId: string, owner: string) => wanted.set(integrationId, (wanted.get(integrationId) ?? new Set()).add(owner.toLowerCase()));
    for (const t of [...plan.tickets, ...plan.paused]) add(t.integrationId, t.owner);
    for (const r of rules) if (r.fallbackOwner) add(r.integrationId, r.fallbackOwner);
    const out = new Map<string, Set<string>>();
    for (const [integrationId, owners] of wanted) {
      const integration = await this.deps.integrations.find(integrationId);
      if (!integration || integration.removedAt) continue;
      const client = this.deps.integrations.clientFor(integration);
      const unknown = new Set<string>();
      for (const owner of owners) {
        try {
          await client.resolveUser(owner);
        } catch (err) {
          // An outage is not "unknown": the ticket is stored and its creation retried like a manual one.
          if (USER_ERRORS.has(ticketErrorKind(err) ?? '')) unknown.add(owner);
        }
      }
      if (unknown.size) out.set(integrationId, unknown);
    }
    return out;
  }

  /** Cap reached: ask for a confirmation once; findings without an owner: said once per finding. */
  private async announce(newlyPaused: readonly Rule[], plan: RulePlan, rules: readonly Rule[]): Promise<void> {
    const { messenger, store, clock, logger } = this.deps;
    const stamp = clock.now().toISOString();
    for (const rule of newlyPaused) {
      if (!messenger || !rule.conversationId) continue;
      // The card's buttons take the form the conversation's channel can send (Action.Execute in Teams).
      const channelId = (await store.conversations.get(rule.conversationId))?.channelId ?? 'msteams';
      await this.send(rule.conversationId, {
        card: ruleConfirmCard(
          {
            ruleId: rule.id,
            ruleName: rule.name,
            scope: rule.scope,
            opened: Math.min(this.cap(), rule.maxTicketsPerSync ?? Infinity),
            waiting: rule.paused!.waiting,
          },
          { channelId },
        ),
        summary: `Rule ${rule.name} waits for a confirmation`,
      });
    }
    for (const [ruleId, items] of groupBy(plan.needsOwner, (n) => n.ruleId)) {
      const rule = rules.find((r) => r.id === ruleId)!;
      const fresh: NeedsOwnerItem[] = [];
      for (const item of items) {
        const recipient = rule.conversationId ?? rule.fallbackOwner ?? 'log';
        if (await store.reminders.markSent({ key: `rule-needs-owner:${ruleId}:${item.finding.key}`, sentAt: stamp, recipient })) fresh.push(item);
      }
      if (fresh.length === 0) continue;
      logger.info({ rule: rule.name, count: fresh.length }, 'governance rule findings need an owner');
      if (!messenger) continue;
      const lines = fresh.slice(0, 10).map((i) => `- ${i.finding.resourceName} (${i.finding.recommendationName}): ${i.detail}`);
      const more = fresh.length > 10 ? `\n…and ${fresh.length - 10} more; see **rules**.` : '';
      const text = `Rule **${rule.name}** could not assign ${fresh.length} finding(s): they need an owner.\n\n${lines.join('\n')}${more}`;
      // The fallback contact reads the list in their weekly owner digest (app/reminders.ts), every week while it stays unowned.
      if (rule.conversationId) await this.send(rule.conversationId, { text });
    }
  }

  private async send(conversationId: string, message: OutgoingMessage): Promise<void> {
    try {
      await this.deps.messenger!.send(conversationId, message);
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not post a governance rule message');
    }
  }

  private async needsOwnerOf(ruleId: string): Promise<NeedsOwnerEntry[]> {
    const raw = await this.deps.store.meta.get(NEEDS_OWNER_META(ruleId));
    if (!raw) return [];
    try {
      return JSON.parse(raw) as NeedsOwnerEntry[];
    } catch {
      return [];
    }
  }

  private async authorize(who: RuleActor, scope: string): Promise<void> {
    if (who.kind === 'cli') return;
    const decision = await this.deps.mayManageScope(who.actor, scope);
    if (!decision.allowed) throw new RuleError(decision.reason, 'refused');
  }

  /** The scope must be one the bot reads or knows from its sync (a typo would match nothing, silently). */
  private async checkScope(scope: string): Promise<void> {
    const s = scope.trim().replace(/\/+$/, '').toLowerCase();
    const known = new Set<string>(this.deps.scopes.map((x) => x.toLowerCase().replace(/\/+$/, '')));
    for (const i of await this.deps.store.integrations.list()) known.add(i.scope.toLowerCase().replace(/\/+$/, ''));
    const recs = await this.deps.store.recommendations.list();
    for (const r of recs) for (const res of r.resources) known.add(`/subscriptions/${res.subscriptionId.toLowerCase()}`);
    const ancestry = await this.deps.ancestry(subscriptionsOf(recs)).catch(() => new Map<string, readonly string[]>());
    for (const chain of ancestry.values()) for (const g of chain) known.add(`/providers/microsoft.management/managementgroups/${g.toLowerCase()}`);
    if (!known.has(s))
      throw new RuleError(
        `unknown scope "${scope}": not an integration's scope, in DEFENDER_SCOPES, nor a subscription or management group the sync has seen`,
        'not-found',
      );
  }

  private async checkRecommendations(keysOrNames: readonly string[]): Promise<void> {
    if (keysOrNames.length === 0) return;
    const recs = await this.deps.store.recommendations.list();
    const known = new Set(recs.flatMap((r) => [r.key.toLowerCase(), r.displayName.trim().toLowerCase()]));
    const unknown = keysOrNames.filter((k) => !known.has(k.trim().toLowerCase()));
    if (unknown.length)
      throw new RuleError(`unknown recommendation ${unknown.map((u) => `"${u}"`).join(', ')} (neither a key nor a name the sync has seen)`, 'not-found');
  }

  private async save(rule: Rule, actor: string, action: string, details: Record<string, unknown>): Promise<void> {
    try {
      await this.deps.store.transaction(async (tx) => {
        await tx.rules.upsert(rule);
        await tx.audit.append({ at: this.deps.clock.now().toISOString(), actor, action, target: rule.id, details: { name: rule.name, ...details } });
      });
    } catch (err) {
      if (err instanceof StoreConstraintError) throw new RuleError(`a rule named "${rule.name}" exists already`, 'conflict');
      throw err;
    }
  }
}

/** A rule's findings that need an owner, as its fallback contact's weekly digest lists them. */
export interface NeedsOwnerSection {
  ruleName: string;
  /** All of them (the rule's last run); `entries` holds the first ones kept. */
  count: number;
  entries: NeedsOwnerEntry[];
}

/**
 * Per fallback contact (lower-case e-mail), the enabled rules' current needs-an-owner lists. Each
 * run replaces a rule's list, so a finding that got an owner (or was resolved) drops out.
 */
export async function needsOwnerByContact(store: Pick<Store, 'rules' | 'meta'>): Promise<Map<string, NeedsOwnerSection[]>> {
  const out = new Map<string, NeedsOwnerSection[]>();
  for (const rule of await store.rules.list()) {
    if (!rule.enabled || !rule.fallbackOwner) continue;
    const raw = await store.meta.get(NEEDS_OWNER_META(rule.id));
    let entries: NeedsOwnerEntry[] = [];
    try {
      entries = raw ? (JSON.parse(raw) as NeedsOwnerEntry[]) : [];
    } catch {
      entries = [];
    }
    if (entries.length === 0) continue;
    const contact = rule.fallbackOwner.toLowerCase();
    out.set(contact, [...(out.get(contact) ?? []), { ruleName: rule.name, count: Math.max(rule.stats.needsOwner, entries.length), entries }]);
  }
  return out;
}

/** A stored rule as the fields the Add/Edit form shows (the form is prefilled from it). */
export function draftOf(rule: Rule, integrationName?: string): RuleDraft {
  return {
    name: rule.name,
    integration: integrationName ?? rule.integrationId,
    scope: rule.scope,
    ...(rule.resourceGroup ? { resourceGroup: rule.resourceGroup } : {}),
    severities: rule.conditions.severities,
    recommendations: rule.conditions.recommendations,
    ...(rule.conditions.tag ? { tag: rule.conditions.tag } : {}),
    owner: rule.owner,
    ...(rule.fallbackOwner ? { fallbackOwner: rule.fallbackOwner } : {}),
    dueInDays: rule.dueInDays,
    ...(rule.maxTicketsPerSync ? { maxTicketsPerSync: rule.maxTicketsPerSync } : {}),
    gracePeriod: rule.gracePeriod,
    notifyOwner: rule.notifyOwner,
    notifyManager: rule.notifyManager,
    ticketType: rule.ticketType,
    ticketGrouping: rule.ticketGrouping,
    priority: rule.priority,
    enabled: rule.enabled,
  };
}

function parseRule(input: RuleInput): Rule {
  const parsed = ruleSchema.safeParse(input);
  if (!parsed.success) throw new RuleError(parsed.error.issues.map((i) => `${i.path.join('.') || 'rule'}: ${i.message}`).join('; '));
  return parsed.data;
}

function actorOf(who: RuleActor): Rule['createdBy'] {
  if (who.kind === 'cli') return { id: who.name, name: who.name };
  return { id: who.actor.id, ...(who.actor.name ? { name: who.actor.name } : {}), ...(who.upn ? { upn: who.upn } : {}) };
}

function entryOf(n: NeedsOwnerItem): NeedsOwnerEntry {
  return {
    key: n.finding.key,
    recommendationName: n.finding.recommendationName,
    resourceName: n.finding.resourceName,
    resourceId: n.finding.resourceId,
    reason: n.detail || NEEDS_OWNER_TEXT[n.reason],
  };
}

function subscriptionsOf(recs: readonly Recommendation[]): string[] {
  return [...new Set(recs.flatMap((r) => r.resources.map((x) => x.subscriptionId.toLowerCase())))];
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = out.get(k);
    if (list) list.push(i);
    else out.set(k, [i]);
  }
  return out;
}
