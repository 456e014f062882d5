/**
 * Who may read what (README "Access control"): Defender data of a subscription — its
 * recommendations, assignments, owners and tickets — is shown only to someone with a reading
 * role there (the Authorizer decides); one's own assignments are always shown to oneself. The
 * helpers here apply that decision to the stored data; they hold no role rule of their own.
 */
import type { Logger } from '../core/logger.js';
import { parseScope } from '../core/scope.js';
import type { Store } from '../app/ports.js';
import type { Assignment, Recommendation } from '../core/model.js';
import { READ_REFUSAL, type AncestrySource, type Authorizer, type Decision } from './authorizer.js';
import type { Actor } from './turn.js';

/** Every subscription the bot holds data about (lower case): recommendations' resources, assignments, integrations' scopes. */
export async function knownSubscriptions(store: Store): Promise<string[]> {
  const subs = new Set<string>();
  for (const rec of await store.recommendations.list()) for (const r of rec.resources) subs.add(r.subscriptionId.toLowerCase());
  for (const a of await store.assignments.list()) subs.add(a.subscriptionId.toLowerCase());
  for (const i of await store.integrations.list()) {
    const p = parseScope(i.scope);
    if (p?.kind === 'subscription') subs.add(p.id);
    if (p?.kind === 'connector') subs.add(p.id.split('/')[2]!);
  }
  return [...subs].sort();
}

export interface ReadView {
  /** Subscriptions (lower case) whose data the actor may see. */
  readable: ReadonlySet<string>;
  /** How many subscriptions the bot knows, to say "N of M" when only some are shown. */
  known: number;
  /** Set when the actor may read nothing the bot holds: show this instead of an empty list. */
  refusal?: string;
}

/** An integration as the list card shows it: only its scope matters here. */
interface Scoped {
  scope: string;
}

export class ReadPolicy {
  constructor(
    private readonly deps: {
      store: Store;
      authorizer: Authorizer;
      /** Management-group ancestry, to tell which subscriptions a management-group scope covers. */
      ancestry?: AncestrySource;
      logger: Logger;
    },
  ) {}

  /** The known subscriptions the actor may read; a refusal when data exists and they may read none of it. */
  async subscriptions(actor: Actor): Promise<ReadView> {
    const known = await knownSubscriptions(this.deps.store);
    if (known.length === 0) return { readable: new Set(), known: 0 };
    const access = await this.deps.authorizer.access(actor, known);
    if (access.problem) return { readable: new Set(), known: known.length, refusal: access.problem };
    if (access.read.size === 0) return { readable: access.read, known: known.length, refusal: READ_REFUSAL };
    return { readable: access.read, known: known.length };
  }

  /** Integrations whose scope covers at least one subscription the actor may read (management actions check the managing role separately). */
  async integrations<T extends Scoped>(actor: Actor, views: T[]): Promise<{ views: T[]; refusal?: string }> {
    if (views.length === 0) return { views };
    const known = await knownSubscriptions(this.deps.store);
    const access = known.length ? await this.deps.authorizer.access(actor, known) : { read: new Set<string>(), problem: undefined };
    if (access.problem) return { views: [], refusal: access.problem };
    const ancestry = await this.ancestryOf(known, views);
    let scopesAdmin: Decision | undefined;
    const visible: T[] = [];
    for (const v of views) {
      const covered = coveredSubscriptions(v.scope, known, ancestry);
      if (covered.length > 0) {
        if (covered.some((s) => access.read.has(s))) visible.push(v);
        continue;
      }
      // Nothing known below it yet: only someone who may manage every scope the bot reads sees it.
      scopesAdmin ??= await this.deps.authorizer.canManage(actor, []);
      if (scopesAdmin.allowed) visible.push(v);
    }
    if (visible.length === 0) return { views: [], refusal: READ_REFUSAL };
    return { views: visible };
  }

  /** Opening forms that list the known scopes needs some reading role, like the lists do. */
  async mayReadAny(actor: Actor): Promise<Decision> {
    const view = await this.subscriptions(actor);
    if (view.refusal) return { allowed: false, reason: view.refusal };
    if (view.known === 0) return this.deps.authorizer.canManage(actor, []);
    return { allowed: true };
  }

  private async ancestryOf(known: string[], views: Scoped[]): Promise<ReadonlyMap<string, readonly string[]>> {
    if (!this.deps.ancestry || known.length === 0 || !views.some((v) => parseScope(v.scope)?.kind === 'managementGroup')) return new Map();
    try {
      return await this.deps.ancestry(known);
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not read management-group ancestry; management-group integrations are shown to scope admins only');
      return new Map();
    }
  }
}

/** The known subscriptions a scope covers; a management group covers those whose ancestry names it. */
export function coveredSubscriptions(scope: string, known: readonly string[], ancestry: ReadonlyMap<string, readonly string[]>): string[] {
  const p = parseScope(scope);
  if (!p) return [];
  if (p.kind === 'subscription') return [p.id];
  if (p.kind === 'connector') return [p.id.split('/')[2]!];
  return known.filter((s) => ancestry.get(s)?.some((g) => g.toLowerCase() === p.id));
}

/** Recommendations cut down to the resources of readable subscriptions; those left with none are dropped. */
export function readableRecommendations(recs: readonly Recommendation[], readable: ReadonlySet<string>): Recommendation[] {
  const out: Recommendation[] = [];
  for (const rec of recs) {
    const resources = rec.resources.filter((r) => readable.has(r.subscriptionId.toLowerCase()));
    if (resources.length === rec.resources.length) out.push(rec);
    else if (resources.length > 0) out.push({ ...rec, resources });
  }
  return out;
}

/** Assignments of readable subscriptions, and the actor's own (owner = their UPN) wherever they are. */
export function readableAssignments(assignments: readonly Assignment[], readable: ReadonlySet<string>, ownUpn?: string): Assignment[] {
  const me = ownUpn?.toLowerCase();
  return assignments.filter((a) => readable.has(a.subscriptionId.toLowerCase()) || (me !== undefined && a.owner.toLowerCase() === me));
}
