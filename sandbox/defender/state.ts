/**
 * In-memory Azure state behind the simulator: resources, assessments, governance assignments,
 * users, role assignments. The HTTP layer (server.ts) only translates requests into calls here.
 */
import type { Clock } from '../../core/clock.js';
import { assessmentIdFor, armIdParts, type AssessmentStatusCode } from './protocol.js';
import type {
  DatasetAssessment,
  DatasetGovernanceRule,
  DatasetRecommendation,
  DatasetResource,
  DatasetRoleAssignment,
  DatasetUser,
  DefenderDataset,
} from './dataset.js';

export interface AssessmentTarget {
  /** Full ARM id of the resource (case-insensitive). */
  resourceId?: string;
  /** Resource name, for convenience in sandbox scripts; matches every resource with that name. */
  resourceName?: string;
  assessmentKey: string;
}

export interface NewAssessment {
  resourceId: string;
  assessmentKey: string;
  /** Needed only when the resource does not exist yet. */
  location?: string;
  statusChangeDate?: string;
}

export interface StoredGovernanceAssignment {
  id: string;
  name: string;
  assessmentId: string;
  resourceId: string;
  assessmentKey: string;
  properties: GovernanceAssignmentPropertiesBody;
  createdAt: string;
  updatedAt: string;
}

export interface GovernanceAssignmentPropertiesBody {
  owner?: string;
  remediationDueDate: string;
  remediationEta?: { eta: string; justification: string };
  isGracePeriod?: boolean;
  governanceEmailNotification?: { disableManagerEmailNotification?: boolean; disableOwnerEmailNotification?: boolean };
  additionalData?: { ticketNumber?: number; ticketLink?: string; ticketStatus?: string };
}

export interface AssessmentView {
  id: string;
  resourceId: string;
  assessmentKey: string;
  code: AssessmentStatusCode;
  statusChangeDate: string;
}

const lc = (s: string) => s.toLowerCase();

/** A resource group as Resource Graph's `resourcecontainers` holds it. */
export interface ResourceGroupView {
  subscriptionId: string;
  name: string;
  tags: Record<string, string>;
}

export class SimulatorState {
  readonly tenantId: string;
  readonly managementGroups: DefenderDataset['managementGroups'];
  readonly subscriptions: DefenderDataset['subscriptions'];
  readonly users: DatasetUser[];
  readonly roleAssignments: DatasetRoleAssignment[];
  private readonly recommendations = new Map<string, DatasetRecommendation>();
  private readonly resources = new Map<string, DatasetResource>();
  /** key: lower-cased assessment id. */
  private readonly assessments = new Map<string, DatasetAssessment & { id: string }>();
  private sortedIds: Array<DatasetAssessment & { id: string }> | undefined;
  /** Bumped on every mutation, so the server can cache query results between pages. */
  version = 0;
  readonly governance = new Map<string, StoredGovernanceAssignment>();
  /** Defender's governance rules, in the order they were defined. */
  readonly governanceRules: DatasetGovernanceRule[];
  private readonly groupTags = new Map<string, Record<string, string>>();

  constructor(
    dataset: DefenderDataset,
    private readonly clock: Clock,
  ) {
    this.tenantId = dataset.tenantId;
    this.managementGroups = dataset.managementGroups.map((g) => ({ ...g }));
    this.subscriptions = dataset.subscriptions.map((s) => ({ ...s }));
    this.users = dataset.users.map((u) => ({ ...u }));
    this.roleAssignments = dataset.roleAssignments.map((r) => ({ ...r }));
    for (const r of dataset.recommendations) this.recommendations.set(lc(r.key), r);
    for (const r of dataset.resources) this.resources.set(lc(r.id), { ...r, ...(r.tags ? { tags: { ...r.tags } } : {}) });
    for (const g of dataset.resourceGroups ?? []) this.groupTags.set(lc(`${g.subscriptionId}/${g.name}`), { ...g.tags });
    this.governanceRules = (dataset.governanceRules ?? []).map((g) => structuredClone(g));
    for (const a of dataset.assessments) {
      const id = assessmentIdFor(a.resourceId, a.key);
      this.assessments.set(lc(id), { ...a, id });
    }
  }

  /** Everything a restart must keep, in the dataset's own shape (the constructor reads it back). */
  toDataset(): DefenderDataset {
    return {
      tenantId: this.tenantId,
      managementGroups: this.managementGroups,
      subscriptions: this.subscriptions,
      recommendations: [...this.recommendations.values()],
      resources: [...this.resources.values()],
      assessments: [...this.assessments.values()].map(({ id: _id, ...a }) => a),
      users: this.users,
      roleAssignments: this.roleAssignments,
      resourceGroups: [...this.groupTags].map(([k, tags]) => {
        const [subscriptionId, name] = k.split('/') as [string, string];
        return { subscriptionId, name, tags };
      }),
      governanceRules: this.governanceRules,
    };
  }

  recommendation(key: string): DatasetRecommendation | undefined {
    return this.recommendations.get(lc(key));
  }

  allRecommendations(): DatasetRecommendation[] {
    return [...this.recommendations.values()];
  }

  resource(id: string): DatasetResource | undefined {
    return this.resources.get(lc(id));
  }

  /** What Resource Graph's `resources` table holds: every resource but the subscriptions, sorted by id. */
  tableResources(): DatasetResource[] {
    return [...this.resources.values()]
      .filter((r) => lc(r.type) !== 'microsoft.resources/subscriptions')
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Resource groups: those resources live in, and those the dataset gave tags. */
  resourceGroups(): ResourceGroupView[] {
    const out = new Map<string, ResourceGroupView>();
    for (const r of this.resources.values()) {
      if (!r.resourceGroup) continue;
      const k = lc(`${r.subscriptionId}/${r.resourceGroup}`);
      if (!out.has(k)) out.set(k, { subscriptionId: r.subscriptionId, name: r.resourceGroup, tags: {} });
    }
    for (const [k, tags] of this.groupTags) {
      const [subscriptionId, name] = k.split('/') as [string, string];
      const sub = this.subscriptions.find((s) => lc(s.subscriptionId) === subscriptionId);
      const existing = out.get(k);
      if (existing) existing.tags = { ...tags };
      else if (sub) out.set(k, { subscriptionId: sub.subscriptionId, name, tags: { ...tags } });
    }
    return [...out.values()];
  }

  /** Replaces the tags of a resource, a resource group (`/subscriptions/{id}/resourceGroups/{name}`) or a subscription; false when there is none. */
  setTags(id: string, tags: Record<string, string>): boolean {
    const key = lc(id.replace(/\/+$/, ''));
    const sub = /^\/subscriptions\/([^/]+)$/.exec(key);
    const group = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)$/.exec(key);
    this.version++;
    if (sub) {
      const s = this.subscriptions.find((x) => lc(x.subscriptionId) === sub[1]);
      if (!s) return false;
      s.tags = { ...tags };
      return true;
    }
    if (group) {
      if (!this.subscriptions.some((x) => lc(x.subscriptionId) === group[1])) return false;
      this.groupTags.set(`${group[1]}/${group[2]}`, { ...tags });
      return true;
    }
    const r = this.resources.get(key);
    if (!r) return false;
    this.resources.set(key, { ...r, tags: { ...tags } });
    return true;
  }

  /** The governance rules defined at exactly this scope, by priority. */
  governanceRulesAt(scope: string): DatasetGovernanceRule[] {
    const s = lc(scope.replace(/\/+$/, ''));
    return this.governanceRules.filter((g) => lc(g.scope) === s).sort((a, b) => a.properties.rulePriority - b.properties.rulePriority);
  }

  addGovernanceRule(rule: DatasetGovernanceRule): void {
    const i = this.governanceRules.findIndex((g) => lc(g.scope) === lc(rule.scope) && lc(g.name) === lc(rule.name));
    if (i >= 0) this.governanceRules.splice(i, 1, structuredClone(rule));
    else this.governanceRules.push(structuredClone(rule));
    this.version++;
  }

  assessment(assessmentId: string): (DatasetAssessment & { id: string }) | undefined {
    return this.assessments.get(lc(assessmentId));
  }

  /** Sorted by id (ordinal), matching `order by id asc`; cached because benchmarks page 50k rows. */
  sortedAssessments(): ReadonlyArray<DatasetAssessment & { id: string }> {
    if (!this.sortedIds) {
      this.sortedIds = [...this.assessments.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return this.sortedIds;
  }

  /** Subscriptions below a management group, through any depth of child groups. */
  subscriptionsUnder(mgName: string): string[] {
    const groups = new Set([lc(mgName)]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const g of this.managementGroups) {
        if (g.parent && groups.has(lc(g.parent)) && !groups.has(lc(g.name))) {
          groups.add(lc(g.name));
          grew = true;
        }
      }
    }
    return this.subscriptions.filter((s) => groups.has(lc(s.managementGroup))).map((s) => s.subscriptionId);
  }

  /** Nearest first, tenant root group last, as ARG's managementGroupAncestorsChain lists them. */
  ancestorsOf(subscriptionId: string): Array<{ name: string; displayName: string }> {
    const sub = this.subscriptions.find((s) => lc(s.subscriptionId) === lc(subscriptionId));
    if (!sub) return [];
    const chain: Array<{ name: string; displayName: string }> = [];
    let current = this.managementGroups.find((g) => lc(g.name) === lc(sub.managementGroup));
    while (current) {
      chain.push({ name: current.name, displayName: current.displayName });
      const parent = current.parent;
      current = parent ? this.managementGroups.find((g) => lc(g.name) === lc(parent)) : undefined;
    }
    chain.push({ name: this.tenantId, displayName: 'Tenant Root Group' });
    return chain;
  }

  /** Scopes of everything above a subscription (for role inheritance). */
  scopesAbove(subscriptionId: string): string[] {
    return ['/', ...this.ancestorsOf(subscriptionId).map((g) => `/providers/Microsoft.Management/managementGroups/${g.name}`)];
  }

  /**
   * An ARM scope and the scopes above it (lower case, nearest first, "/" last), or undefined when
   * the scope names no known subscription or management group. Resource groups and resources sit
   * under their subscription.
   */
  scopeChain(scope: string): string[] | undefined {
    const s = lc(scope).replace(/\/+$/, '') || '/';
    if (s === '/') return ['/'];
    const sub = /^\/subscriptions\/([^/]+)(\/.*)?$/.exec(s);
    if (sub) {
      if (!this.subscriptions.some((x) => lc(x.subscriptionId) === sub[1])) return undefined;
      const own = sub[2] ? [s] : [];
      const rg = sub[2] ? /^\/resourcegroups\/[^/]+/.exec(sub[2]) : null;
      if (rg && `/subscriptions/${sub[1]}${rg[0]}` !== s) own.push(`/subscriptions/${sub[1]}${rg[0]}`);
      return [...own, `/subscriptions/${sub[1]}`, ...this.scopesAbove(sub[1]!).slice(1).map(lc), '/'];
    }
    const mg = /^\/providers\/microsoft\.management\/managementgroups\/([^/]+)$/.exec(s);
    if (!mg) return undefined;
    const chain: string[] = [];
    let current = mg[1] === lc(this.tenantId) ? undefined : this.managementGroups.find((g) => lc(g.name) === mg[1]);
    if (!current && mg[1] !== lc(this.tenantId)) return undefined;
    while (current) {
      chain.push(`/providers/microsoft.management/managementgroups/${lc(current.name)}`);
      const parent = current.parent;
      current = parent ? this.managementGroups.find((g) => lc(g.name) === lc(parent)) : undefined;
    }
    chain.push(`/providers/microsoft.management/managementgroups/${lc(this.tenantId)}`, '/');
    return chain;
  }

  private resolveTargets(t: AssessmentTarget): Array<DatasetAssessment & { id: string }> {
    const key = lc(t.assessmentKey);
    const out: Array<DatasetAssessment & { id: string }> = [];
    if (t.resourceId) {
      const a = this.assessments.get(lc(assessmentIdFor(t.resourceId, t.assessmentKey)));
      if (a) out.push(a);
      return out;
    }
    if (t.resourceName) {
      const name = lc(t.resourceName);
      for (const a of this.assessments.values()) {
        if (lc(a.key) !== key) continue;
        const parsed = armIdParts(a.resourceId);
        if (parsed && lc(parsed.name) === name) out.push(a);
      }
    }
    return out;
  }

  setStatus(t: AssessmentTarget, code: AssessmentStatusCode, extra?: { cause?: string; description?: string }): number {
    const targets = this.resolveTargets(t);
    this.version++;
    const now = this.clock.now().toISOString();
    for (const a of targets) {
      if (a.code === code) continue;
      a.code = code;
      a.statusChangeDate = now;
      delete a.cause;
      delete a.statusDescription;
      if (extra?.cause) a.cause = extra.cause;
      if (extra?.description) a.statusDescription = extra.description;
    }
    return targets.length;
  }

  deleteResource(idOrName: string): number {
    const byId = this.resources.get(lc(idOrName));
    const victims = byId ? [byId] : [...this.resources.values()].filter((r) => lc(r.name) === lc(idOrName));
    let removed = 0;
    for (const r of victims) {
      this.resources.delete(lc(r.id));
      const prefix = lc(r.id) + '/providers/microsoft.security/assessments/';
      for (const k of [...this.assessments.keys()]) {
        if (k.startsWith(prefix)) {
          this.assessments.delete(k);
          removed++;
        }
      }
    }
    this.sortedIds = undefined;
    this.version++;
    return removed;
  }

  addUnhealthy(items: NewAssessment[]): string[] {
    const now = this.clock.now().toISOString();
    const ids: string[] = [];
    for (const item of items) {
      const parsed = armIdParts(item.resourceId);
      if (!parsed) throw new Error(`not an ARM resource id: ${item.resourceId}`);
      if (!this.resources.has(lc(item.resourceId))) {
        this.resources.set(lc(item.resourceId), {
          id: item.resourceId,
          name: parsed.name,
          type: parsed.type,
          subscriptionId: parsed.subscriptionId,
          ...(parsed.resourceGroup ? { resourceGroup: parsed.resourceGroup } : {}),
          location: item.location ?? 'westeurope',
        });
      }
      const id = assessmentIdFor(item.resourceId, item.assessmentKey);
      const existing = this.assessments.get(lc(id));
      const changed = item.statusChangeDate ?? now;
      if (existing) {
        existing.code = 'Unhealthy';
        existing.statusChangeDate = changed;
      } else {
        this.assessments.set(lc(id), {
          id,
          resourceId: item.resourceId,
          key: item.assessmentKey,
          code: 'Unhealthy',
          firstEvaluationDate: changed,
          statusChangeDate: changed,
        });
      }
      ids.push(id);
    }
    this.sortedIds = undefined;
    this.version++;
    return ids;
  }

  addRecommendation(rec: DatasetRecommendation): void {
    this.recommendations.set(lc(rec.key), rec);
    this.version++;
  }

  listAssessments(filter?: { code?: AssessmentStatusCode; subscriptionId?: string; assessmentKey?: string }): AssessmentView[] {
    const out: AssessmentView[] = [];
    for (const a of this.sortedAssessments()) {
      if (filter?.code && a.code !== filter.code) continue;
      if (filter?.assessmentKey && lc(a.key) !== lc(filter.assessmentKey)) continue;
      if (filter?.subscriptionId && !lc(a.resourceId).startsWith(`/subscriptions/${lc(filter.subscriptionId)}`)) continue;
      out.push({ id: a.id, resourceId: a.resourceId, assessmentKey: a.key, code: a.code, statusChangeDate: a.statusChangeDate });
    }
    return out;
  }
}
