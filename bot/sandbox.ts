import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { AzureClient, simulatorCredential } from '../connectors/defender/azureClient.js';
import { ROOT_MANAGEMENT_GROUP } from '../connectors/defender/dataset.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from '../connectors/defender/simulator/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../connectors/servicenow/simulator/index.js';
import type { IntegrationService } from './integrations.js';

export const SANDBOX_SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
export const SANDBOX_INTEGRATION = 'Sandbox ServiceNow';
/**
 * The Emulator user has no Entra identity; in the sandbox it acts as this security lead, who
 * exists in both simulators (Owner on the root management group, a ServiceNow user).
 */
export const SANDBOX_USER = 'alice.johnson@contoso.com';

export interface Sandbox {
  defender: DefenderSimulator;
  servicenow: ServiceNowSimulator;
  azure: AzureClient;
  scopes: string[];
  close(): Promise<void>;
}

/**
 * Sandbox mode: both outside systems run as simulators on this machine, so the whole flow can be
 * tried in the Emulator with no Azure or ServiceNow account.
 */
export async function startSandbox(opts: { defenderPort: number; servicenowPort: number; clock: Clock; logger: Logger }): Promise<Sandbox> {
  const defender = await startDefenderSimulator({
    port: opts.defenderPort,
    host: '127.0.0.1',
    clock: opts.clock,
    logger: opts.logger.child({ sim: 'defender' }),
    quota: 'off',
  });
  const servicenow = await startServiceNowSimulator({
    port: opts.servicenowPort,
    host: '127.0.0.1',
    clock: opts.clock,
    logger: opts.logger.child({ sim: 'servicenow' }),
  });
  const credential = simulatorCredential(defender.url, defender.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret, {
    clock: opts.clock,
  });
  const azure = new AzureClient({
    credential,
    armBaseUrl: defender.url,
    graphBaseUrl: defender.url,
    logger: opts.logger.child({ module: 'azure' }),
    clock: opts.clock,
  });
  opts.logger.info({ defender: defender.url, servicenow: servicenow.url }, 'sandbox simulators started');
  return {
    defender,
    servicenow,
    azure,
    scopes: [SANDBOX_SCOPE],
    close: async () => {
      await Promise.all([defender.close(), servicenow.close()]);
    },
  };
}

/** Pre-creates the sandbox integration so "Create assignment" has somewhere to go. */
export async function ensureSandboxIntegration(integrations: IntegrationService, servicenowUrl: string): Promise<void> {
  const existing = await integrations.find(SANDBOX_INTEGRATION);
  if (existing && existing.instanceUrl === new URL(servicenowUrl).origin) return;
  if (existing) await integrations.remove(existing.id, 'sandbox');
  await integrations.add(
    { name: SANDBOX_INTEGRATION, scope: SANDBOX_SCOPE, instanceUrl: servicenowUrl, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: 'default' },
    'sandbox',
  );
}
