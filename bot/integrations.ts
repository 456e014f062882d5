import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { parseScope, SCOPE_FORMS } from '../core/scope.js';
import { ServiceNowClient, ServiceNowError, ServiceNowInstances, type ServiceNowClientOptions, type StoredTokens } from '../connectors/servicenow/client.js';
import { checkInstanceUrl, publicOnlyAgents, type Lookup } from '../connectors/servicenow/urlGuard.js';
import type { Store } from '../app/ports.js';
import { customFieldSchema, ticketTypeSchema, type Integration } from '../core/model.js';
import type { SecretBox } from '../storage/secrets.js';

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
  secrets: SecretBox;
  clock: Clock;
  logger: Logger;
  allowPrivateHosts: boolean;
  /** Resolver for the add-time URL check (tests). */
  lookup?: Lookup;
  clientOptions?: ServiceNowClientOptions;
  sleep?: (ms: number) => Promise<void>;
  /** Budgets and creates in flight per instance, shared by every client built here; default: the service's own. */
  instances?: ServiceNowInstances;
}

/**
 * ServiceNow integrations: validated on the way in (URL guard, then a real token + user read),
 * secrets encrypted at rest, one client per integration with its tokens cached encrypted.
 */
export class IntegrationService {
  private readonly clients = new Map<string, ServiceNowClient>();
  private readonly instances: ServiceNowInstances;

  constructor(private readonly deps: IntegrationServiceDeps) {
    this.instances = deps.instances ?? new ServiceNowInstances();
  }

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

    const url = await checkInstanceUrl(data.instanceUrl, { allowPrivate: this.deps.allowPrivateHosts, lookup: this.deps.lookup });
    if (!url.ok) throw new IntegrationError([`instanceUrl: ${url.reason}`]);

    // Prove the credentials work before storing them, and say ServiceNow's own reason if not.
    const probe = this.newClient({
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
  async forgetReleasedCredentials(isLive: (integrationId: string) => Promise<boolean>): Promise<number> {
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
  clientFor(integration: Integration): ServiceNowClient {
    const cached = this.clients.get(integration.id);
    if (cached) return cached;
    const { secrets, store } = this.deps;
    const client = this.newClient(
      {
        instanceUrl: integration.instanceUrl,
        username: integration.username,
        password: secrets.decrypt(integration.password),
        clientId: integration.clientId,
        clientSecret: secrets.decrypt(integration.clientSecret),
      },
      {
        load: async () => {
          const current = await store.integrations.get(integration.id);
          return current?.tokens ? (JSON.parse(secrets.decrypt(current.tokens)) as StoredTokens) : undefined;
        },
        save: async (tokens) => {
          const current = await store.integrations.get(integration.id);
          if (current && !current.removedAt) await store.integrations.upsert({ ...current, tokens: secrets.encrypt(JSON.stringify(tokens)) });
        },
      },
    );
    this.clients.set(integration.id, client);
    return client;
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

  private newClient(
    connection: ConstructorParameters<typeof ServiceNowClient>[0]['connection'],
    tokenCache?: ConstructorParameters<typeof ServiceNowClient>[0]['tokenCache'],
  ) {
    return new ServiceNowClient({
      connection,
      tokenCache,
      instances: this.instances,
      logger: this.deps.logger,
      clock: this.deps.clock,
      // The add-time URL check alone would let a name rebind to a private address later (DNS
      // rebinding), and an integration saved while private hosts were allowed keep connecting.
      options: this.deps.allowPrivateHosts ? this.deps.clientOptions : { ...this.deps.clientOptions, agents: publicOnlyAgents() },
      sleep: this.deps.sleep,
    });
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

export function reasonOf(err: unknown): string {
  if (err instanceof ServiceNowError) return err.reason;
  if (err instanceof IntegrationError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
