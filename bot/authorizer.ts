import { MANAGING_ROLES, READING_ROLES } from '../core/defender-model.js';
import type { Logger } from '../core/logger.js';
import type { RoleGrant } from '../connectors/defender/roles.js';
import { normaliseScope } from '../connectors/defender/roles.js';
import { AzureApiError } from '../connectors/defender/http.js';
import type { Actor } from './turn.js';

export type Decision = { allowed: true } | { allowed: false; reason: string };

/** What an actor may do with each of the subscriptions asked about (ids in lower case). */
export interface Access {
  read: ReadonlySet<string>;
  manage: ReadonlySet<string>;
  /** Set when the roles could not be checked at all (no identity, no Azure, ARM failing): both sets are then empty. */
  problem?: string;
}

/**
 * The one place where the role rules live. Reading Defender data of a subscription (its
 * recommendations, assignments, owners, tickets) needs a reading role there; changing anything
 * needs a managing role. Roles count at the subscription or a management group above it,
 * including through groups; resource-group grants do not cover a subscription.
 */
export interface Authorizer {
  /**
   * Owner, Contributor or Security Admin on every given subscription (the Defender integration's
   * rule). With none given (nothing synced yet), on every scope the bot reads (DEFENDER_SCOPES).
   */
  canManage(actor: Actor, subscriptionIds: readonly string[]): Promise<Decision>;
  /** Which of the given subscriptions the actor may read (Owner, Contributor, Security Admin, Security Reader, Reader) and manage. */
  access(actor: Actor, subscriptionIds: readonly string[]): Promise<Access>;
}

const list = (roles: readonly string[]) => `${roles.slice(0, -1).join(', ')} or ${roles[roles.length - 1]}`;

export const MANAGE_REFUSAL = `This needs the ${list(MANAGING_ROLES)} role on every subscription involved. Nothing was changed.`;
export const READ_REFUSAL =
  `Reading Defender for Cloud data needs the ${list(READING_ROLES)} role on a subscription (or on a management group above it). ` +
  'You have none of these on the subscriptions the bot covers, so nothing is shown. Ask your Azure administrator for one of them.';

/** The ARM calls the authorizer needs (RolesClient). */
export interface RoleSource {
  grantsAtScope(objectId: string, scope: string, opts?: { atScopeOnly?: boolean }): Promise<RoleGrant[]>;
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
              if (err instanceof AzureApiError && (err.status === 403 || err.status === 404)) return [];
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
