/**
 * Defender for Cloud's own governance rules (`Microsoft.Security/governanceRules`,
 * 2022-01-01-preview) and their import as bot rules (core/model.ts Rule). The shape below is the
 * spec's `GovernanceRule`; connectors/defender/governanceRules.ts validates responses into it.
 *
 * What a bot rule can express of a Defender rule: its scope (management group or subscription),
 * priority, owner source (ByTag → the tag, Manually → the e-mail), remediation timeframe (whole
 * days), grace period, owner/manager e-mails, excluded scopes, and conditions on the assessment
 * key and the severity. What it cannot, the import refuses, naming it: security-connector (AWS/GCP)
 * scopes, conditions on any other property (risk level, category…), condition sets OR-ed over
 * different properties (a bot rule is one AND of conditions), a source other than Assessments.
 * Approximations are imported with a warning (a timeframe with hours is rounded up to days).
 */
import type { Rule, TicketType } from './model.js';
import { excludedScopeSchema, ownerEmailSchema, ruleSchema, tagNameSchema, RULE_MAX_DUE_DAYS } from './model.js';

/** `GovernanceRuleProperties` of the spec; fields the spec marks required are required here too. */
export interface DefenderGovernanceRuleProperties {
  tenantId?: string;
  displayName: string;
  description?: string;
  /** `d.hh:mm:ss`, e.g. "7.00:00:00". */
  remediationTimeframe?: string;
  isGracePeriod?: boolean;
  /** 0–1000, lower first. */
  rulePriority: number;
  isDisabled?: boolean;
  /** `Integrated` | `ServiceNow` (an extensible enum: other values may appear). */
  ruleType: string;
  /** `Assessments`. */
  sourceResourceType: string;
  excludedScopes?: string[];
  /** OR between sets, AND between the conditions of a set. */
  conditionSets: unknown[];
  includeMemberScopes?: boolean;
  ownerSource: { type?: string; value?: string };
  governanceEmailNotification?: { disableManagerEmailNotification?: boolean; disableOwnerEmailNotification?: boolean };
  metadata?: { createdBy?: string; createdOn?: string; updatedBy?: string; updatedOn?: string };
  /** Fields the spec does not declare (the examples carry `inheritRules`). */
  [other: string]: unknown;
}

export interface DefenderGovernanceRule {
  id: string;
  name: string;
  type?: string;
  properties: DefenderGovernanceRuleProperties;
}

/** Where a Defender rule is defined. */
export type GovernanceRuleScope = { kind: 'managementGroup' | 'subscription'; scope: string } | { kind: 'securityConnector'; scope: string };

const SUB_RULE = /^\/?(subscriptions\/[^/]+)\/providers\/Microsoft\.Security\/governanceRules\/[^/]+$/i;
const MG_RULE = /^\/?(providers\/Microsoft\.Management\/managementGroups\/[^/]+)\/providers\/Microsoft\.Security\/governanceRules\/[^/]+$/i;
const CONNECTOR_RULE =
  /^\/?(subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Security\/securityConnectors\/[^/]+)\/providers\/Microsoft\.Security\/governanceRules\/[^/]+$/i;

/** The scope a governance rule's id names (the spec's examples write ids without the leading "/"). */
export function governanceRuleScope(id: string): GovernanceRuleScope | undefined {
  let m = CONNECTOR_RULE.exec(id);
  if (m) return { kind: 'securityConnector', scope: `/${m[1]}` };
  m = MG_RULE.exec(id);
  if (m) return { kind: 'managementGroup', scope: `/${m[1]}` };
  m = SUB_RULE.exec(id);
  if (m) return { kind: 'subscription', scope: `/${m[1]}` };
  return undefined;
}

const TIMEFRAME = /^(\d+)\.(\d{2}):(\d{2}):(\d{2})$/;

/** "7.00:00:00" → 7 days; "0.12:00:00" → 1 day, not exact. */
export function remediationDays(timeframe: string): { days: number; exact: boolean } | undefined {
  const m = TIMEFRAME.exec(timeframe.trim());
  if (!m) return undefined;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (h > 23 || min > 59 || s > 59) return undefined;
  const rest = h * 3600 + min * 60 + s;
  return { days: d + (rest > 0 ? 1 : 0), exact: rest === 0 };
}

/** The properties the spec declares; anything else is reported as ignored. */
const DECLARED = new Set([
  'tenantId',
  'displayName',
  'description',
  'remediationTimeframe',
  'isGracePeriod',
  'rulePriority',
  'isDisabled',
  'ruleType',
  'sourceResourceType',
  'excludedScopes',
  'conditionSets',
  'includeMemberScopes',
  'ownerSource',
  'governanceEmailNotification',
  'metadata',
]);

const SEVERITY_PROPERTY = '$.metadata.severity';
const KEY_PROPERTY = '$.assessmentkey';
const SEVERITIES = new Map([
  ['high', 'High'],
  ['medium', 'Medium'],
  ['low', 'Low'],
] as const);

interface SetConstraint {
  severities?: Set<'High' | 'Medium' | 'Low'>;
  keys?: Set<string>;
}

/** A condition value: one value (Equals) or a JSON array of them (In; the spec's examples use a JSON array string). */
function values(value: unknown, operator: string): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  if (operator === 'equals') return [value.trim()];
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) return parsed.map((v: string) => v.trim());
  } catch {
    // Not JSON: a comma-separated list is the other form people write.
  }
  return value
    .split(',')
    .map((v) => v.trim().replace(/^"|"$/g, ''))
    .filter(Boolean);
}

function intersect<T>(a: Set<T> | undefined, b: Set<T>): Set<T> {
  return a ? new Set([...a].filter((x) => b.has(x))) : b;
}

function parseSet(set: unknown, index: number, errors: string[]): SetConstraint | undefined {
  const conditions: unknown = Array.isArray(set) ? set : (set as { conditions?: unknown } | null)?.conditions;
  if (!Array.isArray(conditions)) {
    errors.push(`condition set ${index + 1} has no conditions array`);
    return undefined;
  }
  const out: SetConstraint = {};
  for (const raw of conditions) {
    const c = (raw ?? {}) as { property?: unknown; value?: unknown; operator?: unknown };
    const property = typeof c.property === 'string' ? c.property.trim() : '';
    const operator = typeof c.operator === 'string' ? c.operator.trim().toLowerCase() : '';
    if (operator !== 'equals' && operator !== 'in') {
      errors.push(`condition on ${property || '(no property)'} uses operator ${String(c.operator)}, which the spec does not define (Equals, In)`);
      continue;
    }
    const list = values(c.value, operator);
    if (!list || list.length === 0) {
      errors.push(`condition on ${property} has no value`);
      continue;
    }
    switch (property.toLowerCase()) {
      case SEVERITY_PROPERTY: {
        const sev = new Set<'High' | 'Medium' | 'Low'>();
        for (const v of list) {
          const s = SEVERITIES.get(v.toLowerCase() as 'high');
          if (!s) errors.push(`severity "${v}" is not one the bot knows (High, Medium, Low)`);
          else sev.add(s);
        }
        out.severities = intersect(out.severities, sev);
        break;
      }
      case KEY_PROPERTY:
        out.keys = intersect(out.keys, new Set(list.map((v) => v.toLowerCase())));
        break;
      default:
        errors.push(`a condition on ${property || '(no property)'} cannot be expressed by a bot rule (it matches on $.AssessmentKey and $.Metadata.Severity)`);
    }
  }
  if ((out.severities && out.severities.size === 0) || (out.keys && out.keys.size === 0)) {
    errors.push(`condition set ${index + 1} can match nothing (its conditions contradict each other)`);
  }
  return out;
}

const sameSet = <T>(a: Set<T> | undefined, b: Set<T> | undefined) =>
  (a === undefined) === (b === undefined) && (!a || (a.size === b!.size && [...a].every((x) => b!.has(x))));

/** The one AND of conditions equivalent to the rule's condition sets, or errors saying why there is none. */
function conditionsOf(
  sets: readonly unknown[],
  errors: string[],
  warnings: string[],
): { severities: Array<'High' | 'Medium' | 'Low'>; recommendations: string[] } {
  const parsed = sets.map((s, i) => parseSet(s, i, errors)).filter((s): s is SetConstraint => s !== undefined);
  const none = { severities: [], recommendations: [] };
  if (parsed.length === 0 || parsed.some((p) => !p.severities && !p.keys)) {
    if (errors.length === 0) warnings.push('the Defender rule has an empty condition set: the bot rule applies to every recommendation in its scope');
    return none;
  }
  let merged: SetConstraint;
  if (parsed.every((p) => sameSet(p.severities, parsed[0]!.severities) && sameSet(p.keys, parsed[0]!.keys))) merged = parsed[0]!;
  else if (parsed.every((p) => p.severities && !p.keys)) merged = { severities: new Set(parsed.flatMap((p) => [...p.severities!])) };
  else if (parsed.every((p) => p.keys && !p.severities)) merged = { keys: new Set(parsed.flatMap((p) => [...p.keys!])) };
  else {
    errors.push(
      `its ${parsed.length} condition sets are OR-ed over different conditions, which one bot rule (one AND of conditions) cannot express; create one bot rule per condition set`,
    );
    return none;
  }
  const order = ['High', 'Medium', 'Low'] as const;
  return {
    severities: merged.severities ? order.filter((s) => merged.severities!.has(s)) : [],
    recommendations: merged.keys ? [...merged.keys].sort() : [],
  };
}

export interface ImportOptions {
  /** Id of the new bot rule. */
  id: string;
  integrationId: string;
  ticketType?: TicketType;
  ticketGrouping?: Rule['ticketGrouping'];
  /** Default: the Defender rule's display name. */
  name?: string;
  /** Enable at once (only when the Defender rule is enabled). Default: imported disabled, to be previewed first. */
  enable?: boolean;
  conversationId?: string;
  actor: Rule['createdBy'];
  now: Date;
}

export type ImportResult = { ok: true; rule: Rule; warnings: string[] } | { ok: false; errors: string[]; warnings: string[] };

/**
 * The bot rule equivalent to a Defender governance rule, or the reasons there is none. Warnings
 * say what was approximated or what the admin should do next (disable the Defender rule once the
 * bot's runs, or both assign).
 */
export function importDefenderRule(def: DefenderGovernanceRule, opts: ImportOptions): ImportResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const p = def.properties;

  const where = governanceRuleScope(def.id);
  if (!where) errors.push(`the rule id ${def.id} names no management group or subscription`);
  else if (where.kind === 'securityConnector')
    errors.push(`it is a security connector's rule (${where.scope}); bot rules cover management groups and subscriptions only`);

  if (typeof p.sourceResourceType !== 'string' || p.sourceResourceType.toLowerCase() !== 'assessments')
    errors.push(`its source is ${String(p.sourceResourceType)}; only Assessments (recommendations) can be imported`);

  let owner: Rule['owner'] | undefined;
  const ownerType = p.ownerSource?.type?.toLowerCase();
  const ownerValue = p.ownerSource?.value?.trim() ?? '';
  if (ownerType === 'bytag') {
    const tag = tagNameSchema.safeParse(ownerValue);
    if (tag.success) owner = { kind: 'tag', tags: [tag.data] };
    else errors.push(`its owner tag "${ownerValue}" is not a valid tag name`);
  } else if (ownerType === 'manually') {
    const email = ownerEmailSchema.safeParse(ownerValue);
    if (email.success) owner = { kind: 'fixed', email: email.data };
    else errors.push(`its owner "${ownerValue}" is not an e-mail address`);
  } else errors.push(`its owner source type ${String(p.ownerSource?.type)} is neither ByTag nor Manually`);

  let dueInDays = 7;
  if (p.remediationTimeframe === undefined) warnings.push('it has no remediation timeframe; the bot rule uses 7 days (the shortest the portal offers)');
  else {
    const t = remediationDays(p.remediationTimeframe);
    if (!t) errors.push(`its remediation timeframe "${p.remediationTimeframe}" is not d.hh:mm:ss`);
    else if (t.days < 1) errors.push('its remediation timeframe is 0: a bot rule needs at least 1 day');
    else if (t.days > RULE_MAX_DUE_DAYS) errors.push(`its remediation timeframe is ${t.days} days; a bot rule allows at most ${RULE_MAX_DUE_DAYS}`);
    else {
      dueInDays = t.days;
      if (!t.exact) warnings.push(`its remediation timeframe ${p.remediationTimeframe} is rounded up to ${t.days} whole days`);
    }
  }

  let priority = p.rulePriority;
  if (!Number.isInteger(priority) || priority < 0 || priority > 1000) errors.push(`its priority ${String(priority)} is not 0–1000`);
  else if (priority === 0) {
    priority = 1;
    warnings.push('its priority 0 becomes 1 (bot rules run from 1 to 1000)');
  }

  const excludedScopes: string[] = [];
  for (const s of p.excludedScopes ?? []) {
    const parsed = excludedScopeSchema.safeParse(s.startsWith('/') ? s : `/${s}`);
    if (parsed.success) excludedScopes.push(parsed.data);
    else errors.push(`its excluded scope ${s} is not a management group, subscription or resource group`);
  }

  const conditions = conditionsOf(Array.isArray(p.conditionSets) ? p.conditionSets : [], errors, warnings);

  const ignored = Object.keys(p).filter((k) => !DECLARED.has(k));
  if (ignored.length) warnings.push(`ignored properties the 2022-01-01-preview spec does not define: ${ignored.join(', ')}`);
  if (p.ruleType === 'ServiceNow')
    warnings.push(
      "it is a ServiceNow rule: Defender's own ServiceNow integration may open tickets for the same findings; disable the Defender rule before enabling this one",
    );
  else if (!p.isDisabled) warnings.push('the Defender rule is enabled: disable it once this rule runs, or both assign owners and due dates');
  const name = (opts.name ?? p.displayName ?? '').trim();
  if (!name) errors.push('it has no display name');
  if (name.length > 100) warnings.push(`its name is cut to 100 characters`);

  if (errors.length || !where || !owner) return { ok: false, errors, warnings };
  const enabled = opts.enable === true && p.isDisabled !== true;
  if (opts.enable && p.isDisabled) warnings.push('the Defender rule is disabled, so the bot rule is imported disabled too');
  const stamp = opts.now.toISOString();
  const description = [p.description?.trim(), `Imported from Defender governance rule ${def.id}.`].filter(Boolean).join(' ').slice(0, 1000);
  const parsed = ruleSchema.safeParse({
    id: opts.id,
    name: name.slice(0, 100),
    description,
    priority,
    scope: where.scope,
    excludedScopes,
    conditions,
    owner,
    integrationId: opts.integrationId,
    ticketType: opts.ticketType ?? 'incident',
    ticketGrouping: opts.ticketGrouping ?? 'perResource',
    dueInDays,
    gracePeriod: p.isGracePeriod === true,
    // Defender notifies both unless told not to ("By default, owners and their managers are notified weekly").
    notifyOwner: p.governanceEmailNotification?.disableOwnerEmailNotification !== true,
    notifyManager: p.governanceEmailNotification?.disableManagerEmailNotification !== true,
    enabled,
    ...(opts.conversationId ? { conversationId: opts.conversationId } : {}),
    source: { kind: 'defender', id: def.id, importedAt: stamp },
    createdBy: opts.actor,
    createdAt: stamp,
    updatedBy: opts.actor,
    updatedAt: stamp,
  });
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`), warnings };
  return { ok: true, rule: parsed.data, warnings };
}
