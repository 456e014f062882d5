import { localAzureClient, type AzureClient } from '../../connectors/defender/azureClient.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from '../../sandbox/defender/index.js';
import { userObjectId } from '../../sandbox/defender/dataset.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { SANDBOX_SCOPE, SANDBOX_USER } from '../../sandbox/index.js';
import { ManualClock } from '../../core/clock.js';
import { message } from './activities.js';
import { startBot, type BotHarness } from './botHarness.js';

/** Teams users from the Defender simulator's directory: Owner of the root management group, and a Reader. */
export const SANDBOX_ADMIN = { id: '29:alice', name: 'Alice Johnson', aadObjectId: userObjectId('alice.johnson@contoso.com') };
export const SANDBOX_READER = { id: '29:erin', name: 'Erin Walsh', aadObjectId: userObjectId('erin.walsh@contoso.com') };

/** What a filled-in "Create assignment" form submits (the fixed input ids), for the given integration. */
export function assignmentFormValues(integrationId: string, over: Record<string, string> = {}) {
  return {
    integrationId,
    ticketType: 'incident',
    assignedTo: 'bob.martinez@contoso.com',
    caller: 'alice.johnson@contoso.com',
    shortDescription: 'Fix it',
    description: 'Please remediate.',
    dueDate: '2026-12-10',
    gracePeriod: 'true',
    notifyOwner: 'true',
    notifyManager: 'false',
    grouping: 'perResource',
    ...over,
  };
}

/** Pacing on virtual time: Teams' rate windows are honoured without the test waiting for them. */
function virtualTime() {
  let now = Date.parse('2026-11-26T09:00:00Z');
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

export interface SandboxHarness {
  bot: BotHarness;
  defender: DefenderSimulator;
  servicenow: ServiceNowSimulator;
  azure: AzureClient;
  clock: ManualClock;
  integrationId: string;
  stop(): Promise<void>;
}

/**
 * The whole product over real HTTP: the bot (restify + CloudAdapter) with a fake Bot Connector,
 * the Defender simulator behind the real Azure client, the ServiceNow simulator behind the real
 * ServiceNow client, one integration, and a subscribed Teams channel with its cards posted.
 */
export async function startSandboxBot(
  opts: { fieldMode?: 'default' | 'customized'; subscribe?: boolean; env?: Record<string, string> } = {},
): Promise<SandboxHarness> {
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  const defender = await startDefenderSimulator({ clock, quota: 'off' });
  const servicenow = await startServiceNowSimulator({ clock });
  const azure = localAzureClient({ url: defender.url, tenantId: defender.tenantId, ...DEFAULT_SIMULATOR_CLIENT }, { clock, sleep: async () => undefined });
  const bot = await startBot({
    clock,
    env: { SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true', ...opts.env },
    app: {
      azure,
      defenderScopes: [SANDBOX_SCOPE],
      simulator: defender.control,
      sandboxUser: SANDBOX_USER,
      messengerTiming: virtualTime(),
      retrySleep: async () => undefined,
    },
  });
  const integration = await bot.app.integrations.add(
    { name: 'Contoso ServiceNow', scope: SANDBOX_SCOPE, instanceUrl: servicenow.url, ...DEFAULT_SIMULATOR_CREDENTIALS, fieldMode: opts.fieldMode ?? 'default' },
    'test',
  );
  if (opts.subscribe !== false) {
    // Subscribing needs a managing role on the scopes the bot reads, even before the first sync.
    await bot.send(message('subscribe', { serviceUrl: bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN }));
    await bot.app.sync!.runOnce();
    await bot.app.sync!.delivered();
  }
  const harness: SandboxHarness = {
    bot,
    defender,
    servicenow,
    azure,
    clock,
    integrationId: integration.id,
    // `harness.bot`, not `bot`: a test may replace it with a restarted bot.
    stop: async () => {
      await harness.bot.stop();
      await Promise.all([defender.close(), servicenow.close()]);
    },
  };
  return harness;
}
