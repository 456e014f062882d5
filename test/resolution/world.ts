import { randomUUID } from 'node:crypto';
import { AzureClient } from '../../connectors/defender/azureClient.js';
import { simulatorCredential } from '../../connectors/defender/credentials.js';
import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from '../../sandbox/defender/index.js';
import type { AssessmentView } from '../../sandbox/defender/state.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, userId, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { ManualClock } from '../../core/clock.js';
import { parseResourceId } from '../../core/defender-model.js';
import { silentLogger } from '../../core/logger.js';
import { correlationKey } from '../../core/servicenow-rules.js';
import { GovernanceWriteBack } from '../../app/governance.js';
import { ResolutionJob, type ResolutionSettings } from '../../app/resolution.js';
import type { Assignment, Integration, Recommendation, TicketType } from '../../core/model.js';
import { message } from '../harness/activities.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';

export const CHANNEL = '19:channel-1@thread.tacv2';
export const ALL_SCOPES = BUILTIN_SUBSCRIPTIONS.map((s) => `/subscriptions/${s.subscriptionId}`);
export const ALICE = 'alice.owner@contoso.com';

/**
 * Everything real: the bot server (restify + CloudAdapter, lowdb in a temp dir) talking to the fake
 * Bot Connector, the ServiceNow simulator behind the real ServiceNowClient (through the app's
 * IntegrationService), the Defender simulator behind the real AzureClient. One ManualClock for all.
 */
export interface World {
  clock: ManualClock;
  bot: BotHarness;
  defender: DefenderSimulator;
  snow: ServiceNowSimulator;
  azure: AzureClient;
  integration: Integration;
  job: ResolutionJob;
  settings: Partial<ResolutionSettings>;
  /** Distinct unhealthy assessments, handed out in order to seeded assignments. */
  takeAssessment(): AssessmentView;
  seed(opts: { ticketType: TicketType; owner?: string; withCard?: boolean }): Promise<Assignment>;
  /** Restarts the bot on the same data directory and rebuilds the job on the new store. */
  restart(): Promise<void>;
  close(): Promise<void>;
  announcements(): string[];
}

export async function startWorld(settings: Partial<ResolutionSettings> = {}): Promise<World> {
  const clock = new ManualClock('2026-11-26T09:00:00Z');
  const defender = await startDefenderSimulator({ clock, quota: 'off' });
  const snow = await startServiceNowSimulator({ clock });
  let bot = await startBot({ clock, env: { SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true' } });
  await bot.send(message('subscribe', { serviceUrl: bot.connector.url, conversationType: 'channel' }));
  await bot.app.integrations.add({ name: 'Contoso ITSM', scope: ALL_SCOPES[0]!, instanceUrl: snow.url, ...DEFAULT_SIMULATOR_CREDENTIALS }, 'tester');
  bot.connector.reset();
  const credential = simulatorCredential(defender.url, defender.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret, { clock });
  const azure = new AzureClient({
    credential,
    armBaseUrl: defender.url,
    graphBaseUrl: defender.url,
    clock,
    sleep: async () => undefined,
    logger: silentLogger,
  });
  // The bot runs without Defender here: the job gets this Defender client, and the bot's writer
  // (its per-assignment locks), announcements and cards.
  const makeJob = () => {
    const { writer, announcements, cards } = bot.app.services;
    return new ResolutionJob({
      store: bot.store,
      writer,
      governance: new GovernanceWriteBack({ defender: azure, writer, clock, logger: silentLogger }),
      announcements,
      cards,
      azure,
      integrations: bot.app.integrations,
      clock,
      logger: silentLogger,
      settings,
      scopes: ALL_SCOPES,
    });
  };
  const pool = defender.control.listAssessments({ code: 'Unhealthy' });
  let next = 0;
  let restarted = false;

  const world: World = {
    clock,
    bot,
    defender,
    snow,
    azure,
    integration: (await bot.store.integrations.findByName('Contoso ITSM'))!,
    job: makeJob(),
    settings,
    takeAssessment: () => pool[next++]!,
    async seed({ ticketType, owner = ALICE, withCard = true }) {
      const a = world.takeAssessment();
      const id = randomUUID();
      const key = correlationKey(a.id, a.resourceId);
      const resourceName = parseResourceId(a.resourceId)!.name;
      const recName = `Recommendation ${a.assessmentKey.slice(0, 8)}`;
      const client = world.bot.app.integrations.clientFor(world.integration);
      const user = await client.resolveUser(owner);
      const ticket = await client.createTicket(
        ticketType,
        {
          short_description: `Defender for Cloud: ${recName} on ${resourceName}`,
          description: 'seeded by the resolution tests',
          assigned_to: user.sysId,
          ...(ticketType === 'incident' ? { caller_id: user.sysId } : {}),
          ...(ticketType === 'change_request' ? { type: 'normal' } : {}),
        },
        { correlationId: key, correlationDisplay: recName },
      );
      await azure.putGovernanceAssignment(a.resourceId, a.assessmentKey, id, {
        properties: { owner, remediationDueDate: '2026-12-31T00:00:00.000Z', additionalData: { ticketLink: ticket.link, ticketStatus: 'Open' } },
      });
      const now = clock.now().toISOString();
      const assignment: Assignment = {
        id,
        key,
        batchId: randomUUID(),
        recommendationKey: a.assessmentKey.toLowerCase(),
        recommendationName: recName,
        severity: 'High',
        assessmentId: a.id,
        resourceId: a.resourceId,
        resourceName,
        subscriptionId: parseResourceId(a.resourceId)!.subscriptionId,
        integrationId: world.integration.id,
        ticketType,
        owner,
        caller: owner,
        dueDate: '2026-12-31',
        gracePeriod: false,
        notifyOwner: true,
        notifyManager: false,
        customFields: {},
        ticketGrouping: 'perResource',
        shortDescription: `Defender for Cloud: ${recName} on ${resourceName}`,
        description: 'seeded by the resolution tests',
        status: 'open',
        ticket: { table: ticketType, sysId: ticket.sysId, number: ticket.number, link: ticket.link },
        governance: { key: id, status: 'synced' },
        conversationId: CHANNEL,
        createdBy: { id: 'tester' },
        createdAt: now,
        updatedAt: now,
        healthyPasses: 0,
        attempts: 0,
      };
      await world.bot.store.assignments.upsertMany([assignment]);
      if (withCard && !(await world.bot.store.recommendations.get(assignment.recommendationKey))) {
        const rec: Recommendation = {
          key: assignment.recommendationKey,
          displayName: recName,
          severity: 'High',
          description: '',
          remediation: '',
          resources: [
            {
              resourceId: a.resourceId,
              assessmentId: a.id,
              name: resourceName,
              type: parseResourceId(a.resourceId)!.type,
              subscriptionId: assignment.subscriptionId,
            },
          ],
          contentHash: `h-${assignment.recommendationKey}`,
          status: 'unhealthy',
          firstSeenAt: now,
          updatedAt: now,
        };
        await world.bot.store.recommendations.upsertMany([rec]);
        const activityId = await world.bot.app.messenger.send(CHANNEL, { text: `card for ${rec.key}` });
        await world.bot.store.recommendations.upsertCard({
          conversationId: CHANNEL,
          recommendationKey: rec.key,
          activityId: activityId!,
          contentHash: rec.contentHash,
          postedAt: now,
          updatedAt: now,
        });
      }
      world.bot.connector.reset();
      return assignment;
    },
    async restart() {
      bot = await bot.restart();
      restarted = true;
      world.bot = bot;
      world.job = makeJob();
    },
    async close() {
      await bot.stop();
      if (restarted) await bot.connector.close();
      await defender.close();
      await snow.close();
    },
    announcements: () =>
      world.bot.connector
        .activities()
        .filter((c) => c.method === 'POST' && typeof c.body?.text === 'string')
        .map((c) => c.body.text as string),
  };
  return world;
}

/** The assessment of `a` turns healthy in Defender. */
export const healthy = (w: World, a: Assignment) => w.defender.control.markHealthy({ resourceId: a.resourceId, assessmentKey: a.recommendationKey });
/** The incident of `a` is reassigned in ServiceNow (to carol.nguyen). */
export const reassign = (w: World, a: Assignment) => w.snow.control.setFields('incident', a.ticket!.sysId, { assigned_to: userId('carol.nguyen') });

/**
 * Seeds incidents on distinct resources, then runs the first (full) pass 10 minutes later, so the
 * seeded tickets are outside the next pass's ticket overlap (5 minutes) and only what changes
 * afterwards is new. The request log starts empty after it; `seeded` are the rows as stored then.
 */
export async function settled(count: number, settings: Partial<ResolutionSettings> = {}): Promise<{ w: World; seeded: Assignment[] }> {
  const w = await startWorld(settings);
  try {
    const seeded: Assignment[] = [];
    for (let i = 0; i < count; i++) {
      // Assessments come sorted by id, several per resource: one resource each.
      if (i > 0) while (w.takeAssessment().resourceId === seeded.at(-1)!.resourceId);
      seeded.push(await w.seed({ ticketType: 'incident', withCard: false }));
    }
    w.clock.advance(10 * 60_000);
    // No watermark yet: a full read by id.
    expect(await w.job.runOnce()).toMatchObject({ checked: count, ticketGroupsReadInFull: 1, errors: 0 });
    w.clock.advance(60_000);
    w.defender.control.resetRequestLog();
    return { w, seeded: await Promise.all(seeded.map(async (a) => (await w.bot.store.assignments.get(a.id))!)) };
  } catch (err) {
    await w.close();
    throw err;
  }
}
