import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { ROOT_MANAGEMENT_GROUP, TENANT_ID } from './defender/dataset.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from './defender/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from './servicenow/index.js';

/**
 * The sandbox entry: production code never imports this folder. `bot/main.ts` and the CLI load it
 * with a dynamic import() only when BOT_MODE or DEFENDER_SOURCE is `sandbox`, so a production
 * process never loads a simulator (test/bot/productionGraph.test.ts checks it).
 */
export { startDefenderSimulator, type DefenderSimulator } from './defender/index.js';

export const SANDBOX_SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
export const SANDBOX_INTEGRATION = 'Sandbox ServiceNow';
/** The simulators' state files in DATA_DIR; delete both (and db.json) to start the sandbox afresh. */
export const SANDBOX_STATE_FILES = { defender: 'sandbox-defender.json', servicenow: 'sandbox-servicenow.json' } as const;
/**
 * The Emulator user has no Entra identity; in the sandbox it acts as this security lead, who
 * exists in both simulators (Owner on the root management group, a ServiceNow user).
 */
export const SANDBOX_USER = 'alice.johnson@contoso.com';

/** The app registration the bot signs in with at the Defender simulator's token endpoint. */
export const SANDBOX_AZURE_APP = { tenantId: TENANT_ID, ...DEFAULT_SIMULATOR_CLIENT } as const;

/** Where the Defender simulator serves ARM, Resource Graph, Graph and its token endpoint, and who may sign in. */
export interface SandboxAzureEndpoint {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface Sandbox {
  defender: DefenderSimulator;
  servicenow: ServiceNowSimulator;
  azure: SandboxAzureEndpoint;
  scopes: string[];
  close(): Promise<void>;
}

/**
 * Sandbox mode: both outside systems run as simulators on this machine, so the whole flow can be
 * tried in the Emulator with no Azure or ServiceNow account. The caller builds its own clients
 * from the endpoints: the sandbox knows nothing of them.
 */
export async function startSandbox(opts: {
  defenderPort: number;
  servicenowPort: number;
  clock: Clock;
  logger: Logger;
  /**
   * DATA_DIR: both simulators keep their state here (SANDBOX_STATE_FILES), next to the bot's
   * db.json, so a restart keeps tickets, their numbers and Defender's statuses in step with it.
   * Without it both start from the seed data.
   */
  stateDir?: string;
}): Promise<Sandbox> {
  const stateFile = (name: string) => (opts.stateDir ? path.join(opts.stateDir, name) : undefined);
  const defender = await startDefenderSimulator({
    stateFile: stateFile(SANDBOX_STATE_FILES.defender),
    port: opts.defenderPort,
    host: '127.0.0.1',
    clock: opts.clock,
    logger: opts.logger.child({ sim: 'defender' }),
    quota: 'off',
  });
  // A ServiceNow simulator that cannot start (a damaged state file) must not leave Defender's listening.
  const servicenow = await startServiceNowSimulator({
    stateFile: stateFile(SANDBOX_STATE_FILES.servicenow),
    port: opts.servicenowPort,
    host: '127.0.0.1',
    clock: opts.clock,
    logger: opts.logger.child({ sim: 'servicenow' }),
  }).catch(async (err: unknown) => {
    await defender.close();
    throw err;
  });
  opts.logger.info(
    { defender: defender.url, servicenow: servicenow.url, ...(opts.stateDir ? { stateDir: opts.stateDir } : {}) },
    opts.stateDir ? 'sandbox simulators started; their state is kept in the data folder' : 'sandbox simulators started from their seed data',
  );
  return {
    defender,
    servicenow,
    azure: { url: defender.url, tenantId: defender.tenantId, clientId: DEFAULT_SIMULATOR_CLIENT.clientId, clientSecret: DEFAULT_SIMULATOR_CLIENT.clientSecret },
    scopes: [SANDBOX_SCOPE],
    close: async () => {
      await Promise.all([defender.close(), servicenow.close()]);
    },
  };
}

/**
 * What the sandbox needs of the integrations service. Structural, so the sandbox depends on no
 * production module; `find` may answer now or later.
 */
export interface SandboxIntegrations {
  find(nameOrId: string): { id: string; instanceUrl: string } | undefined | Promise<{ id: string; instanceUrl: string } | undefined>;
  remove(id: string, actor: string): Promise<unknown>;
  add(
    input: {
      name: string;
      scope: string;
      instanceUrl: string;
      username: string;
      password: string;
      clientId: string;
      clientSecret: string;
      fieldMode: 'default';
    },
    actor: string,
  ): Promise<unknown>;
}

/** Pre-creates the sandbox integration so "Create assignment" has somewhere to go. */
export async function ensureSandboxIntegration(integrations: SandboxIntegrations, servicenowUrl: string): Promise<void> {
  const existing = await integrations.find(SANDBOX_INTEGRATION);
  if (existing && existing.instanceUrl === new URL(servicenowUrl).origin) return;
  if (existing) await integrations.remove(existing.id, 'sandbox');
  await integrations.add(
    { name: SANDBOX_INTEGRATION, scope: SANDBOX_SCOPE, instanceUrl: servicenowUrl, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
    'sandbox',
  );
}
