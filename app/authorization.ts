/**
 * Authorization: who may read and change what (README "Access control"). The role rules are
 * core/defender-model.ts (MANAGING_ROLES, READING_ROLES); here they are applied to Azure RBAC
 * (RbacAuthorizer, behind the Authorizer port) and to the stored data (ReadPolicy). Reading
 * Defender data of a subscription (its recommendations, assignments, owners, tickets) needs a
 * reading role there; changing anything needs a managing role. Roles count at the subscription or
 * a management group above it, including through groups; resource-group grants do not cover a
 * subscription. One's own assignments are always shown to oneself.
 */
import { MANAGING_ROLES, READING_ROLES } from '../core/defender-model.js';
import type { Logger } from '../core/logger.js';
import { normaliseScope, parseScope } from '../core/scope.js';
import type { Assignment, Recommendation } from '../core/model.js';
import { httpStatusOf, type Access, type Actor, type Authorizer, type Decision, type RoleGrant, type RoleSource, type Store } from './ports.js';

export type { Access, Authorizer, Decision } from './ports.js';

const list = (roles: readonly string[]) => `${roles.slice(0, -1).join(', ')} or ${roles[roles.length - 1]}`;

export const MANAGE_REFUSAL = `This needs the ${list(MANAGING_ROLES)} role on every subscription involved. Nothing was changed.`;
export const READ_REFUSAL =
  `Reading Defender for Cloud data needs the ${list(READING_ROLES)} role on a subscription (or on a management group above it). ` +
  'You have none of these on the subscriptions the bot covers, so nothing is shown. Ask your Azure administrator for one of them.';

/**
 * Who the local user is in sandbox mode (SANDBOX_IDENTITY): `admin` holds every role whatever
 * client the message comes from (the Agents Playground sends an Entra object id no simulated
 * directory knows); `roles` checks each user's own roles in the simulated directory (a user
 * without an Entra id is the admin); `{ upn }` makes everyone act as that simulated user, to see
 * what a reader is refused.
 */
export type SandboxIdentity = 'admin' | 'roles' | { upn: string };

/** The sandbox's user (SANDBOX_IDENTITY=reader): Reader on every simulated subscription. */
export const SANDBOX_READER_UPN = 'erin.walsh@contoso.com';

/**
 * The sandbox's role checks: the identity above applied in front of the real RBAC check. Built
 * only in sandbox mode (compose/services.ts); production uses RbacAuthorizer alone.
 */
export class SandboxIdentityAuthorizer implements Authorizer {
  private objectId?: Promise<string | undefined>;

  constructor(
    private readonly inner: Authorizer,
    private readonly identity: SandboxIdentity,
    /** The simulated directory: a UPN's Entra object id (Microsoft Graph). */
    private readonly objectIdOf: (upn: string) => Promise<string | undefined>,
  ) {}

  async canManage(actor: Actor, subscriptionIds: readonly string[]): Promise<Decision> {
    if (this.identity === 'admin') return { allowed: true };
    const as = await this.actingAs(actor);
    return 'problem' in as ? { allowed: false, reason: as.problem } : this.inner.canManage(as, subscriptionIds);
  }

  async access(actor: Actor, subscriptionIds: readonly string[]): Promise<Access> {
    if (this.identity === 'admin') {
      const subs = new Set(subscriptionIds.map((s) => s.toLowerCase()));
      return { read: subs, manage: new Set(subs) };
    }
    const as = await this.actingAs(actor);
    return 'problem' in as ? { read: new Set(), manage: new Set(), problem: as.problem } : this.inner.access(as, subscriptionIds);
  }

  private async actingAs(actor: Actor): Promise<Actor | { problem: string }> {
    const identity = this.identity;
    if (identity === 'roles' || identity === 'admin') return actor;
    this.objectId ??= this.objectIdOf(identity.upn).catch((err: unknown) => {
      this.objectId = undefined;
      throw err;
    });
    const oid = await this.objectId.catch(() => undefined);
    if (!oid) return { problem: `SANDBOX_IDENTITY ${identity.upn} is not a user of the sandbox directory, so nothing is allowed.` };
    return { ...actor, aadObjectId: oid };
  }
}

/** Subscription id (lower case) → its management groups' names, nearest first (AzureClient.getSubscriptionAncestry). */
export type AncestrySource = (subscriptionIds: readonly string[]) => Promise<ReadonlyMap<string, readonly string[]>>;

export interface RbacAuthorizerOptions {
  sandbox: boolean;
  logger: Logger;
  /** ARM scopes the bot reads (DEFENDER_SCOPES): one role listing per scope answers for every subscription below it. */
  scopes?: readonly string[];
  /** Management-group ancestry of subscriptions; without it every subscription is asked about on its own. */
  ancestry?: AncestrySource;
  now?: () => number;
  /** How long a user's role assignments are trusted (default 5 minutes). */
  ttlMs?: number;
}

const MG_PREFIX = '/providers/microsoft.management/managementgroups/';
const MAX_CACHED_USERS = 5_000;

interface UserRoles {
  at: number;
  /** Configured scope → the user's grants at, above and below it. */
  scopes: Map<string, Promise<RoleGrant[]>>;
  /** Configured scope → the user's grants at and above it. */
  scopesAbove: Map<string, Promise<RoleGrant[]>>;
  /** Subscription not under any configured scope → the user's grants at and above it. */
  subscriptions: Map<string, Promise<RoleGrant[]>>;
}

/**
 * Checks Azure RBAC through ARM role assignments. A user's assignments are listed once per
 * configured scope (`assignedTo('{oid}')` at a management group returns those above and below
 * it too) and cached per user, so checking hundreds of subscriptions costs one call per scope;
 * the management-group ancestry maps each grant to the subscriptions it covers. A subscription
 * whose place in the hierarchy is unknown is asked about on its own (`atScope()`).
 * In sandbox mode an Emulator user (no Entra object id) acts as the sandbox admin.
 */
export class RbacAuthorizer implements Authorizer {
  private readonly users = new Map<string, UserRoles>();
  /** Normalised (lower case) → as configured, which is how it is sent. */
  private readonly scopes: string[];
  private readonly asConfigured = new Map<string, string>();

  constructor(
    private readonly roles: RoleSource | undefined,
    private readonly opts: RbacAuthorizerOptions,
  ) {
    for (const s of opts.scopes ?? []) if (!this.asConfigured.has(normaliseScope(s))) this.asConfigured.set(normaliseScope(s), s);
    this.scopes = [...this.asConfigured.keys()];
  }

  async canManage(actor: Actor, subscriptionIds: readonly string[]): Promise<Decision> {
    if (subscriptionIds.length === 0) return this.canManageScopes(actor);
    const access = await this.access(actor, subscriptionIds);
    if (access.problem) return { allowed: false, reason: access.problem };
    if (subscriptionIds.every((s) => access.manage.has(s.toLowerCase()))) return { allowed: true };
    this.opts.logger.info({ actor: actor.aadObjectId, subscriptions: subscriptionIds.length }, 'action refused: missing role');
    return { allowed: false, reason: MANAGE_REFUSAL };
  }

  async access(actor: Actor, subscriptionIds: readonly string[]): Promise<Access> {
    const subs = [...new Set(subscriptionIds.map((s) => s.toLowerCase()))];
    if (!actor.aadObjectId) {
      return this.opts.sandbox
        ? { read: new Set(subs), manage: new Set(subs) }
        : {
            read: new Set(),
            manage: new Set(),
            problem: 'Your Microsoft Entra identity is not known to the bot, so your Azure roles cannot be checked. Use Microsoft Teams.',
          };
    }
    if (subs.length === 0) return { read: new Set(), manage: new Set() };
    if (!this.roles) return { read: new Set(), manage: new Set(), problem: 'Azure is not configured, so roles cannot be checked.' };
    try {
      const roles = await this.rolesBySubscription(actor.aadObjectId, subs);
      const read = new Set<string>();
      const manage = new Set<string>();
      for (const [sub, names] of roles) {
        if (names.some((r) => (READING_ROLES as readonly string[]).includes(r))) read.add(sub);
        if (names.some((r) => (MANAGING_ROLES as readonly string[]).includes(r))) manage.add(sub);
      }
      return { read, manage };
    } catch (err) {
      this.opts.logger.warn({ err, actor: actor.aadObjectId }, 'could not read Azure role assignments');
      return {
        read: new Set(),
        manage: new Set(),
        problem: 'Your Azure roles could not be checked right now (Azure did not answer). Nothing was shown or changed; try again in a minute.',
      };
    }
  }

  /** Nothing synced yet: subscribing or syncing needs a managing role at (or above) every scope the bot reads. */
  private async canManageScopes(actor: Actor): Promise<Decision> {
    // No Azure or no scopes: there is no Defender data to protect.
    if (!this.roles || this.scopes.length === 0) return { allowed: true };
    if (!actor.aadObjectId) {
      return this.opts.sandbox
        ? { allowed: true }
        : { allowed: false, reason: 'Your Microsoft Entra identity is not known to the bot, so your Azure roles cannot be checked. Use Microsoft Teams.' };
    }
    const oid = actor.aadObjectId;
    try {
      const user = this.userRoles(oid);
      for (const scope of this.scopes) {
        const grants = await this.cached(user.scopesAbove, scope, () => this.roles!.grantsAtScope(oid, this.asConfigured.get(scope)!, { atScopeOnly: true }));
        if (!grants.some((g) => (MANAGING_ROLES as readonly string[]).includes(g.role))) {
          this.opts.logger.info({ actor: oid, scope }, 'action refused: missing role on a configured scope');
          return {
            allowed: false,
            reason: `This needs the ${list(MANAGING_ROLES)} role on the scopes the bot reads (${this.scopes.join(', ')}). Nothing was changed.`,
          };
        }
      }
      return { allowed: true };
    } catch (err) {
      this.opts.logger.warn({ err, actor: oid }, 'could not read Azure role assignments');
      return { allowed: false, reason: 'Your Azure roles could not be checked right now (Azure did not answer). Nothing was changed; try again in a minute.' };
    }
  }

  /** Role names per subscription, from the cached per-scope listings where the hierarchy allows. */
  private async rolesBySubscription(oid: string, subs: string[]): Promise<Map<string, string[]>> {
    const user = this.userRoles(oid);
    const chains = await this.ancestryOf(subs);
    const out = new Map<string, string[]>();
    await Promise.all(
      subs.map(async (sub) => {
        const subScope = `/subscriptions/${sub}`;
        const chain = chains.get(sub);
        const groups = new Set((chain ?? []).map((g) => MG_PREFIX + g.toLowerCase()));
        // A configured scope covers the subscription when it is the subscription or a group above it.
        const covering = this.scopes.find((s) => s === subScope || (chain !== undefined && groups.has(s)));
        let applies: (g: RoleGrant) => boolean;
        let grants: RoleGrant[];
        if (covering === subScope) {
          grants = await this.cached(user.scopes, covering, () => this.roles!.grantsAtScope(oid, this.asConfigured.get(covering)!));
          // Listed at the subscription, every management-group grant is one above it.
          applies = (g) => g.scope === '/' || g.scope === subScope || g.scope.startsWith(MG_PREFIX);
        } else if (covering) {
          grants = await this.cached(user.scopes, covering, () => this.roles!.grantsAtScope(oid, this.asConfigured.get(covering)!));
          applies = (g) => g.scope === '/' || g.scope === subScope || groups.has(g.scope);
        } else {
          grants = await this.cached(user.subscriptions, sub, () =>
            this.roles!.grantsAtScope(oid, subScope, { atScopeOnly: true }).catch((err: unknown) => {
              // A subscription ARM does not show the bot (deleted, moved, no access) grants nothing; it must not hide the others.
              if (httpStatusOf(err) === 403 || httpStatusOf(err) === 404) return [];
              throw err;
            }),
          );
          applies = (g) => g.scope === '/' || g.scope === subScope || g.scope.startsWith(MG_PREFIX);
        }
        out.set(sub, [...new Set(grants.filter(applies).map((g) => g.role))]);
      }),
    );
    return out;
  }

  private userRoles(oid: string): UserRoles {
    const key = oid.toLowerCase();
    const now = this.now();
    const hit = this.users.get(key);
    if (hit && now - hit.at < (this.opts.ttlMs ?? 5 * 60_000)) return hit;
    if (this.users.size >= MAX_CACHED_USERS) {
      for (const [k, v] of this.users) if (now - v.at >= (this.opts.ttlMs ?? 5 * 60_000)) this.users.delete(k);
      if (this.users.size >= MAX_CACHED_USERS) this.users.delete(this.users.keys().next().value!);
    }
    const fresh: UserRoles = { at: now, scopes: new Map(), scopesAbove: new Map(), subscriptions: new Map() };
    this.users.set(key, fresh);
    return fresh;
  }

  /** One call per key, shared by concurrent checks; a failed call is not remembered. */
  private cached(map: Map<string, Promise<RoleGrant[]>>, key: string, load: () => Promise<RoleGrant[]>): Promise<RoleGrant[]> {
    let p = map.get(key);
    if (!p) {
      p = load();
      map.set(key, p);
      p.catch(() => map.delete(key));
    }
    return p;
  }

  /** Ancestry is only needed for subscriptions a management-group scope may cover. */
  private async ancestryOf(subs: string[]): Promise<ReadonlyMap<string, readonly string[]>> {
    if (!this.opts.ancestry || !this.scopes.some((s) => s.startsWith(MG_PREFIX))) return new Map();
    try {
      return await this.opts.ancestry(subs);
    } catch (err) {
      this.opts.logger.warn({ err, subscriptions: subs.length }, 'could not read management-group ancestry; checking those subscriptions one by one');
      return new Map();
    }
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

/**
 * Ancestry for role checks and read filters: what the sync job already knows first, then one
 * Resource Graph call for the rest, remembered for `ttlMs` (management groups change rarely).
 * Subscriptions Resource Graph does not name are remembered as unknown for as long.
 */
export function cachedAncestry(opts: {
  known: () => ReadonlyMap<string, readonly string[]>;
  fetch?: (subscriptionIds: readonly string[]) => Promise<ReadonlyMap<string, ReadonlyArray<{ name: string }>>>;
  now: () => number;
  ttlMs?: number;
}): AncestrySource {
  const cache = new Map<string, { at: number; groups: readonly string[] | null }>();
  const ttl = opts.ttlMs ?? 30 * 60_000;
  return async (subscriptionIds) => {
    const out = new Map<string, readonly string[]>();
    const known = opts.known();
    const now = opts.now();
    const missing: string[] = [];
    for (const raw of subscriptionIds) {
      const sub = raw.toLowerCase();
      const fromSync = known.get(sub);
      const hit = cache.get(sub);
      if (fromSync?.length) out.set(sub, fromSync);
      else if (hit && now - hit.at < ttl) {
        if (hit.groups) out.set(sub, hit.groups);
      } else missing.push(sub);
    }
    if (missing.length === 0 || !opts.fetch) return out;
    const found = await opts.fetch(missing);
    const lower = new Map([...found].map(([k, v]) => [k.toLowerCase(), v.map((g) => g.name)]));
    for (const sub of missing) {
      const groups = lower.get(sub) ?? null;
      cache.set(sub, { at: now, groups });
      if (groups) out.set(sub, groups);
    }
    return out;
  };
}

// ------------------------------------------------------------------ read policy over the stored data

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
