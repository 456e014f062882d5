import { ManualClock } from '../../core/clock.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import type { Assignment } from '../../core/model.js';
import { startBot, type BotHarness, type BotHarnessOptions } from '../harness/botHarness.js';
import { startHarness, type Harness } from '../defender/helpers.js';
import { assignment, seed } from './fixtures.js';

export const BOB = 'bob.martinez@contoso.com';

export interface MoreTimeWorld {
  bot: BotHarness;
  sn: ServiceNowSimulator;
  defender: Harness;
  /** Bob's open incident assignment, due 2026-12-04 with a grace period. */
  seeded: Assignment;
  stop(): Promise<void>;
}

/**
 * The app as main.ts wires it, both simulators, and one assignment as "Create assignment" makes
 * it: a real ServiceNow ticket and a real Defender governance assignment. `now` is Monday
 * 2026-11-30 09:00 UTC.
 */
export async function startMoreTimeWorld(
  opts: { env?: Record<string, string>; assignment?: Partial<Assignment>; governanceDueDate?: string; app?: BotHarnessOptions['app'] } = {},
): Promise<MoreTimeWorld> {
  const clock = new ManualClock('2026-11-30T09:00:00Z');
  const sn = await startServiceNowSimulator({ clock });
  const defender = await startHarness();
  // The ServiceNow simulator is plain http on 127.0.0.1, which the SSRF guard refuses by default.
  const bot = await startBot({
    clock,
    env: { SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true', ...opts.env },
    app: { azure: defender.client, retrySleep: async () => undefined, ...opts.app },
  });
  const target = defender.sim.control.listAssessments({ code: 'Unhealthy' })[0]!;
  const subscriptionId = target.resourceId.split('/')[2]!;
  await bot.app.integrations.add({ name: 'ITSM', scope: `/subscriptions/${subscriptionId}`, instanceUrl: sn.url, ...DEFAULT_SIMULATOR_CREDENTIALS }, 'tester');
  const integration = (await bot.store.integrations.findByName('ITSM'))!;
  const ticket = await bot.app.integrations
    .clientFor(integration)
    .createTicket('incident', { short_description: 'Fix it' }, { correlationId: 'corr-more-time', correlationDisplay: 'Defender for Cloud' });
  const base = assignment({
    owner: BOB,
    dueDate: '2026-12-04',
    gracePeriod: true,
    resourceId: target.resourceId,
    subscriptionId,
    recommendationKey: target.assessmentKey,
    integrationId: integration.id,
    ticket: { table: 'incident', sysId: ticket.sysId, number: ticket.number, link: ticket.link },
    ...opts.assignment,
  });
  const seeded: Assignment = { ...base, governance: { key: base.id, status: 'synced' } };
  await defender.client.putGovernanceAssignment(target.resourceId, target.assessmentKey, seeded.id, {
    properties: {
      owner: BOB,
      remediationDueDate: opts.governanceDueDate ?? '2026-12-04T23:59:59Z',
      isGracePeriod: true,
      governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: true },
      additionalData: { ticketNumber: 10001, ticketLink: ticket.link, ticketStatus: 'New' },
    },
  });
  await seed(bot.store, seeded);
  return {
    bot,
    sn,
    defender,
    seeded,
    stop: async () => {
      await bot.stop();
      await sn.close();
      await defender.sim.close();
    },
  };
}
