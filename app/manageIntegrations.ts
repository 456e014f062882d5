/**
 * Managing ServiceNow integrations, from Teams and the CLI alike: add (URL guard, then a real token
 * and user read), test, remove, the list as a person may see it, and forgetting the credentials of
 * removed integrations once their assignments are released. Secrets are encrypted at rest; one
 * client per integration, its OAuth tokens cached encrypted. Building clients (and the SSRF
 * guard) is the TicketSystems port's job (connectors/servicenow/ticketSystems.ts).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { LIVE_ASSIGNMENT_STATUSES } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import { parseScope, SCOPE_FORMS } from '../core/scope.js';
import { customFieldSchema, ticketTypeSchema, type Integration } from '../core/model.js';
import { knownSubscriptions, type ReadPolicy } from './authorization.js';
import {
  reasonOf,
  type Actor,
  type Authorizer,
  type Decision,
  type DefenderPort,
  type Secrets,
  type Store,
  type StoredTokens,
  type TicketConnection,
  type TicketSystem,
  type TicketSystems,
} from './ports.js';

export { reasonOf };

/** What an admin types to add an integration, from the CLI or the Teams form. */
export const integrationInputSchema = z.object({
  name: z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters'),
  scope: z
    .string()
    .trim()
    .refine((s) => parseScope(s) !== undefined, `must be one of ${SCOPE_FORMS.join(', ')}`),
  instanceUrl: z.string().trim().min(1, 'is required'),
  username: z.string().trim().min(1, 'is required'),
  password: z.string().min(1, 'is required'),
  clientId: z.string().trim().min(1, 'is required'),
  clientSecret: z.string().min(1, 'is required'),
  fieldMode: z.enum(['default', 'customized']).default('default'),
  customFields: z.partialRecord(ticketTypeSchema, z.array(customFieldSchema)).optional(),
});
export type IntegrationInput = z.input<typeof integrationInputSchema>;

/** An integration as shown to people: never any secret. */
export interface IntegrationView {
  id: string;
  name: string;
  scope: string;
  instanceUrl: string;
  username: string;
  clientId: string;
  fieldMode: 'default' | 'customized';
  customFields: Integration['customFields'];
  lastSuccessAt?: string;
  lastError?: { at: string; message: string };
  createdAt: string;
  createdBy: string;
}

export class IntegrationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'IntegrationError';
  }
}

/** All fields a customized integration can add, for every ticket type. */
export const ALL_CUSTOM_FIELDS: Integration['customFields'] = {
  incident: ['assignment_group', 'impact', 'urgency'],
  problem: ['assignment_group', 'impact', 'urgency'],
  change_request: ['assignment_group', 'impact', 'urgency'],
};

export interface IntegrationServiceDeps {
  store: Store;
  secrets: Secrets;
  clock: Clock;
  logger: Logger;
  /** Builds the clients and checks instance URLs (connectors/servicenow/ticketSystems.ts). */
  ticketSystems: TicketSystems;
}

/** The stored integrations and their clients. */
export class IntegrationService {
  private readonly clients = new Map<string, TicketSystem>();

  constructor(private readonly deps: IntegrationServiceDeps) {}

  async list(): Promise<IntegrationView[]> {
    return (await this.deps.store.integrations.list()).sort((a, b) => a.name.localeCompare(b.name)).map(toView);
  }

  async find(nameOrId: string): Promise<Integration | undefined> {
    return (await this.deps.store.integrations.get(nameOrId)) ?? (await this.deps.store.integrations.findByName(nameOrId));
  }

  async add(input: IntegrationInput, actor: string): Promise<IntegrationView> {
    const parsed = integrationInputSchema.safeParse(input);
    if (!parsed.success) throw new IntegrationError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
    const data = parsed.data;
    if (await this.deps.store.integrations.findByName(data.name)) throw new IntegrationError([`name: an integration named "${data.name}" already exists`]);

    const url = await this.deps.ticketSystems.checkInstanceUrl(data.instanceUrl);
    if (!url.ok) throw new IntegrationError([`instanceUrl: ${url.reason}`]);

    // Prove the credentials work before storing them, and say ServiceNow's own reason if not.
    const probe = this.deps.ticketSystems.connect({
      instanceUrl: url.url,
      username: data.username,
      password: data.password,
      clientId: data.clientId,
      clientSecret: data.clientSecret,
    });
    try {
      await probe.testConnection();
    } catch (err) {
      throw new IntegrationError([`ServiceNow refused the connection: ${reasonOf(err)}`]);
    }

    const now = this.deps.clock.now().toISOString();
    const { secrets } = this.deps;
    const integration: Integration = {
      id: randomUUID(),
      name: data.name,
      scope: data.scope,
      instanceUrl: url.url,
      username: data.username,
      password: secrets.encrypt(data.password),
      clientId: data.clientId,
      clientSecret: secrets.encrypt(data.clientSecret),
      fieldMode: data.fieldMode,
      customFields: data.fieldMode === 'customized' ? (data.customFields ?? ALL_CUSTOM_FIELDS) : {},
      lastSuccessAt: now,
      createdAt: now,
      createdBy: actor,
    };
    await this.deps.store.integrations.upsert(integration);
    await this.audit(actor, 'integration.add', integration, {
      scope: integration.scope,
      instanceUrl: integration.instanceUrl,
      fieldMode: integration.fieldMode,
    });
    this.deps.logger.info({ integration: integration.name, scope: integration.scope }, 'integration added');
    return toView(integration);
  }

  /** Re-checks the credentials and records the outcome (shown in `integrations`). */
  async test(nameOrId: string): Promise<{ ok: boolean; message: string; integration: IntegrationView }> {
    const integration = await this.require(nameOrId);
    try {
      const { user } = await this.clientFor(integration).testConnection();
      await this.recordSuccess(integration.id);
      return {
        ok: true,
        message: `connected to ${integration.instanceUrl} as ${user?.userName ?? integration.username}`,
        integration: toView(await this.require(integration.id)),
      };
    } catch (err) {
      const message = reasonOf(err);
      await this.recordFailure(integration.id, message);
      return { ok: false, message, integration: toView(await this.require(integration.id)) };
    }
  }

  /**
   * Removes an integration. Its assignments are released by the sync job within one cycle
   * (work note on each ticket, cards updated, tickets left open), as Defender does.
   */
  async remove(nameOrId: string, actor: string): Promise<IntegrationView> {
    const integration = await this.require(nameOrId);
    // The credentials stay until the next cycle has left a work note on each of its tickets;
    // forgetReleasedCredentials() then deletes them.
    const removed = { ...integration, removedAt: this.deps.clock.now().toISOString(), tokens: undefined };
    await this.deps.store.integrations.upsert(removed);
    this.clients.delete(integration.id);
    await this.audit(actor, 'integration.remove', integration, {});
    this.deps.logger.info({ integration: integration.name }, 'integration removed');
    return toView(removed);
  }

  /**
   * Deletes the credentials of removed integrations whose assignments have all been released.
   * The record stays for history (audit, old assignments) with encrypted empty values.
   */
  async forgetReleasedCredentials(isLive: (integrationId: string) => Promise<boolean> = (id) => this.hasLiveAssignments(id)): Promise<number> {
    let forgotten = 0;
    for (const integration of await this.deps.store.integrations.listAll()) {
      if (!integration.removedAt || (await isLive(integration.id))) continue;
      if (this.deps.secrets.decrypt(integration.password) === '' && this.deps.secrets.decrypt(integration.clientSecret) === '') continue;
      await this.deps.store.integrations.upsert({
        ...integration,
        password: this.deps.secrets.encrypt(''),
        clientSecret: this.deps.secrets.encrypt(''),
        tokens: undefined,
      });
      this.clients.delete(integration.id);
      forgotten++;
    }
    return forgotten;
  }

  /** A client for a stored integration; its OAuth tokens are kept encrypted in the store. */
  clientFor(integration: Integration): TicketSystem {
    const cached = this.clients.get(integration.id);
    if (cached) return cached;
    const { secrets, store } = this.deps;
    const connection: TicketConnection = {
      instanceUrl: integration.instanceUrl,
      username: integration.username,
      password: secrets.decrypt(integration.password),
      clientId: integration.clientId,
      clientSecret: secrets.decrypt(integration.clientSecret),
    };
    const client = this.deps.ticketSystems.connect(connection, {
      load: async () => {
        const current = await store.integrations.get(integration.id);
        return current?.tokens ? (JSON.parse(secrets.decrypt(current.tokens)) as StoredTokens) : undefined;
      },
      save: async (tokens) => {
        const current = await store.integrations.get(integration.id);
        if (current && !current.removedAt) await store.integrations.upsert({ ...current, tokens: secrets.encrypt(JSON.stringify(tokens)) });
      },
    });
    this.clients.set(integration.id, client);
    return client;
  }

  /** Whether an integration still has live assignments (they are released within one cycle after it is removed). */
  async hasLiveAssignments(integrationId: string): Promise<boolean> {
    return (await this.liveAssignments(integrationId, 1)) > 0;
  }

  liveAssignments(integrationId: string, limit?: number): Promise<number> {
    return this.deps.store.assignments.count({ integrationId, statuses: LIVE_ASSIGNMENT_STATUSES, ...(limit ? { limit } : {}) });
  }

  async recordSuccess(id: string): Promise<void> {
    const current = await this.deps.store.integrations.get(id);
    if (current) await this.deps.store.integrations.upsert({ ...current, lastSuccessAt: this.deps.clock.now().toISOString(), lastError: undefined });
  }

  async recordFailure(id: string, message: string): Promise<void> {
    const current = await this.deps.store.integrations.get(id);
    if (current) await this.deps.store.integrations.upsert({ ...current, lastError: { at: this.deps.clock.now().toISOString(), message } });
  }

  private async require(nameOrId: string): Promise<Integration> {
    const integration = await this.find(nameOrId);
    if (!integration || integration.removedAt) throw new IntegrationError([`no integration named "${nameOrId}"`]);
    return integration;
  }

  private audit(actor: string, action: string, integration: Integration, details: Record<string, unknown>) {
    return this.deps.store.audit.append({ at: this.deps.clock.now().toISOString(), actor, action, target: integration.name, details });
  }
}

function toView(i: Integration): IntegrationView {
  return {
    id: i.id,
    name: i.name,
    scope: i.scope,
    instanceUrl: i.instanceUrl,
    username: i.username,
    clientId: i.clientId,
    fieldMode: i.fieldMode,
    customFields: i.customFields,
    lastSuccessAt: i.lastSuccessAt,
    lastError: i.lastError,
    createdAt: i.createdAt,
    createdBy: i.createdBy,
  };
}

// ------------------------------------------------------------------ what a person may do with them

/** subscription id → its management groups, nearest first (DefenderPort.getSubscriptionAncestry). */
export type SubscriptionAncestry = DefenderPort['getSubscriptionAncestry'];

export interface ManageIntegrationsDeps {
  integrations: IntegrationService;
  authorizer: Pick<Authorizer, 'canManage'>;
  readPolicy: Pick<ReadPolicy, 'integrations' | 'mayReadAny'>;
  store: Store;
  logger: Logger;
  /** Management-group ancestry from Defender; without it a management-group scope needs every known subscription. */
  ancestry?: SubscriptionAncestry;
}

export interface KnownScope {
  title: string;
  value: string;
}

export type Manageable = { kind: 'ok'; integration: Integration } | { kind: 'gone' } | { kind: 'refused'; reason: string };

/**
 * The integration use cases for a person (Teams): each needs a managing role on the
 * subscriptions of the integration's scope; the list shows only what a reading role allows.
 */
export class ManageIntegrations {
  constructor(private readonly deps: ManageIntegrationsDeps) {}

  /** The integrations the actor may see (README "Access control"), or why none. */
  visible(actor: Actor): Promise<{ views: IntegrationView[]; refusal?: string }> {
    return this.deps.integrations.list().then((all) => this.deps.readPolicy.integrations(actor, all));
  }

  /** The add form lists the known subscriptions and management groups: it needs some reading role, like the lists. */
  mayOpenAddForm(actor: Actor): Promise<Decision> {
    return this.deps.readPolicy.mayReadAny(actor);
  }

  /**
   * Whether the actor may manage an integration with this scope: a managing role on every
   * subscription it covers. A management group counts the known subscriptions below it; when none
   * is known (or the ancestry cannot be read) it counts every known subscription, so an unknown
   * hierarchy never grants more than it should.
   */
  async mayManageScope(actor: Actor, scope: string): Promise<Decision> {
    const subs = await this.subscriptionsCovered(scope);
    if (subs.length === 0) {
      // The authorizer allows an empty set; with nothing to check against, refuse instead.
      return {
        allowed: false,
        reason: 'The bot knows no subscription under this scope yet, so your role cannot be checked. Run **sync** first, or use the CLI. Nothing was changed.',
      };
    }
    return this.deps.authorizer.canManage(actor, subs);
  }

  /** The integration a card action names, if it still exists and the actor may manage its scope. */
  async manageable(actor: Actor, id: string): Promise<Manageable> {
    const integration = await this.deps.integrations.find(id);
    if (!integration || integration.removedAt) return { kind: 'gone' };
    const decision = await this.mayManageScope(actor, integration.scope);
    if (!decision.allowed) return { kind: 'refused', reason: decision.reason };
    return { kind: 'ok', integration };
  }

  /** Scopes to offer on the add form: the known management groups, then the known subscriptions. */
  async knownScopes(): Promise<KnownScope[]> {
    const subs = await knownSubscriptions(this.deps.store);
    const ancestry = await this.ancestryOf(subs);
    const groups = new Map<string, string>();
    for (const chain of ancestry?.values() ?? []) for (const g of chain) groups.set(g.name, g.displayName ?? g.name);
    return [
      ...[...groups]
        .sort((a, b) => a[1].localeCompare(b[1]))
        .map(([name, display]) => ({
          title: `Management group: ${display}${display === name ? '' : ` (${name})`}`,
          value: `/providers/Microsoft.Management/managementGroups/${name}`,
        })),
      ...subs.map((s) => ({ title: `Subscription: ${s}`, value: `/subscriptions/${s}` })),
    ].slice(0, 60);
  }

  private async subscriptionsCovered(scope: string): Promise<string[]> {
    const parsed = parseScope(scope);
    if (!parsed) return [];
    if (parsed.kind === 'subscription') return [parsed.id];
    if (parsed.kind === 'connector') return [parsed.id.split('/')[2]!];
    const known = await knownSubscriptions(this.deps.store);
    const ancestry = await this.ancestryOf(known);
    const below = ancestry ? known.filter((s) => ancestry.get(s)?.some((g) => g.name.toLowerCase() === parsed.id)) : [];
    return below.length ? below : known;
  }

  private async ancestryOf(subs: string[]): Promise<Map<string, { name: string; displayName?: string }[]> | undefined> {
    if (!this.deps.ancestry || subs.length === 0) return undefined;
    try {
      const raw = await this.deps.ancestry(subs);
      return new Map([...raw].map(([sub, groups]) => [sub.toLowerCase(), [...groups]]));
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not read management-group ancestry');
      return undefined;
    }
  }
}
