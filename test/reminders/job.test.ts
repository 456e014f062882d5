import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { ReminderJob } from '../../app/reminders.js';
import { ANNOUNCEMENT_WORK } from '../../app/announcements.js';
import { CREATE_TICKETS_WORK } from '../../app/createAssignments.js';
import { TeamsDirectory } from '../../bot/teamsDirectory.js';
import type { ReminderSettings } from '../../core/reminders.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { startHarness, type Harness } from '../defender/helpers.js';
import { assignment, conversation, seed } from './fixtures.js';

const CHANNEL = '19:channel-1@thread.tacv2';
const BOB = 'bob.martinez@contoso.com'; // manager in the Defender simulator's directory: alice.johnson
const ALICE = 'alice.johnson@contoso.com';
const MONDAY = '2026-11-30T09:00:00Z';

describe('reminder job over the real server and the fake Bot Connector', () => {
  let bot: BotHarness;
  let defender: Harness;
  let closeConnector: () => Promise<void>;

  beforeEach(async () => {
    bot = await startBot({ clock: new ManualClock(MONDAY) });
    defender = await startHarness();
    // A restarted harness shares the connector and leaves it open: close it here either way.
    closeConnector = bot.connector.close;
    for (const c of [
      conversation(CHANNEL, bot.connector.url, { name: 'Security' }),
      conversation('a:bob', bot.connector.url, { userUpn: BOB }),
      conversation('a:alice', bot.connector.url, { userUpn: ALICE }),
    ])
      await bot.store.conversations.upsert(c);
  });
  afterEach(async () => {
    await bot.stop();
    await closeConnector();
    await defender.sim.close();
  });

  const jobDeps = (h: BotHarness, settings: ReminderSettings = { remindDaysBefore: 3 }, timezone = 'UTC') => ({
    store: h.store,
    messenger: h.app.messenger,
    directory: new TeamsDirectory({ store: h.store, clock: h.clock, logger: silentLogger }),
    graph: defender.client,
    cards: h.app.services.cards,
    clock: h.clock,
    logger: silentLogger,
    settings,
    timezone,
  });
  const jobFor = (h: BotHarness, settings?: ReminderSettings, timezone?: string) => new ReminderJob(jobDeps(h, settings, timezone));
  const postsTo = (id: string) => bot.connector.activities().filter((c) => c.method === 'POST' && c.conversationId === id);
  const cardOf = (call: { body: any }) => call.body.attachments[0].content;

  it('sends each owner one weekly digest, grouped and complete, and nothing twice in the same week', async () => {
    const overdue = assignment({ owner: BOB, dueDate: '2026-11-25', severity: 'High' });
    const thisWeek = assignment({ owner: BOB, dueDate: '2026-12-03', gracePeriod: true, severity: 'Medium' });
    const later = assignment({ owner: BOB, dueDate: '2027-01-15', severity: 'Low' });
    await seed(bot.store, overdue, thisWeek, later);

    const job = jobFor(bot);
    const report = await job.runOnce();
    expect(report).toMatchObject({ digests: 1, nudges: 0, managerMessages: 0, unreachable: [], skippedQuietHours: false, failed: 0, week: '2026-W49' });
    const [post] = postsTo('a:bob');
    expect(postsTo('a:bob')).toHaveLength(1);
    const card = cardOf(post!);
    const text = JSON.stringify(card);
    expect(card.body[0].text).toBe('Hi Bob,');
    expect(card.body[1].text).toBe('Your weekly security assignments: 3 open, 1 overdue, 1 due this week');
    const groups = card.body.filter((b: any) => b.type === 'Container');
    expect(groups.map((g: any) => g.items[0].text)).toEqual(['Overdue (1)', 'Due this week (1)', 'Later (1)']);
    const facts = (g: any) => Object.fromEntries(g.items[1].items.find((x: any) => x.type === 'FactSet').facts.map((f: any) => [f.title, f.value]));
    expect(facts(groups[0])).toMatchObject({
      Resource: overdue.resourceName,
      Severity: 'High',
      Due: '2026-11-25 · 5 days overdue',
      'Secure score': 'no grace period (affecting secure score)',
      Ticket: overdue.ticket!.number,
    });
    expect(facts(groups[1])).toMatchObject({ Due: '2026-12-03 · 3 days left', 'Secure score': 'in grace period (not affecting secure score)' });
    expect(facts(groups[2])).toMatchObject({ Due: '2027-01-15 · 46 days left' });
    expect(text).toContain(`"url":"${overdue.ticket!.link}"`);
    expect(text).toContain(`assessmentKey/${overdue.recommendationKey}`);
    expect(text).toContain('"verb":"requestMoreTime"');
    expect(await bot.store.reminders.wasSent(`digest:${BOB}:2026-W49`)).toBe(true);
    // The item due in 3 days is covered by the digest: no separate nudge now or later this week.
    expect(await bot.store.reminders.wasSent(`nudge:${thisWeek.id}:2026-12-03`)).toBe(true);

    bot.clock.advance(24 * 3600_000);
    expect(await job.runOnce()).toMatchObject({ digests: 0, nudges: 0 });
    expect(postsTo('a:bob')).toHaveLength(1);

    bot.clock.set('2026-12-07T09:00:00Z');
    expect(await job.runOnce()).toMatchObject({ digests: 1, week: '2026-W50' });
    expect(postsTo('a:bob')).toHaveLength(2);
  });

  it('never sends twice when two passes overlap, or after a restart', async () => {
    await seed(bot.store, assignment({ owner: BOB, dueDate: '2026-12-20' }), assignment({ owner: ALICE, dueDate: '2026-12-20' }));
    // Two jobs on one store, as two replicas would be.
    const [a, b] = await Promise.all([jobFor(bot).runOnce(), jobFor(bot).runOnce()]);
    expect(a.digests + b.digests).toBe(2);
    await bot.store.flush();
    expect(postsTo('a:bob')).toHaveLength(1);
    expect(postsTo('a:alice')).toHaveLength(1);

    bot = await bot.restart();
    expect(await jobFor(bot).runOnce()).toMatchObject({ digests: 0 });
    expect(postsTo('a:bob')).toHaveLength(1);
    expect(postsTo('a:alice')).toHaveLength(1);
  });

  it('ends a grace period exactly once: one post in the channel, the recommendation card updated', async () => {
    const graced = assignment({ owner: BOB, dueDate: '2026-12-01', gracePeriod: true, notifyOwner: false });
    await seed(bot.store, graced);
    const rec = {
      key: graced.recommendationKey,
      displayName: graced.recommendationName,
      severity: 'High' as const,
      description: '',
      remediation: '',
      resources: [
        {
          resourceId: graced.resourceId,
          assessmentId: graced.assessmentId,
          name: graced.resourceName,
          type: 'Microsoft.Compute/virtualMachines',
          subscriptionId: graced.subscriptionId,
        },
      ],
      contentHash: 'h1',
      status: 'unhealthy' as const,
      firstSeenAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-01T00:00:00.000Z',
    };
    await bot.store.recommendations.upsertMany([rec]);
    await bot.store.recommendations.upsertCard({
      conversationId: CHANNEL,
      recommendationKey: rec.key,
      activityId: 'act-rec-1',
      contentHash: 'h1',
      postedAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-01T00:00:00.000Z',
    });
    const job = jobFor(bot);

    expect(await job.runOnce()).toMatchObject({ graceAnnouncements: 0, cardsUpdated: 0 });
    expect(postsTo(CHANNEL)).toHaveLength(0);

    bot.clock.set('2026-12-02T09:00:00Z');
    expect(await job.runOnce()).toMatchObject({ graceAnnouncements: 1, cardsUpdated: 1 });
    bot.clock.set('2026-12-03T09:00:00Z');
    expect(await job.runOnce()).toMatchObject({ graceAnnouncements: 0, cardsUpdated: 0 });

    const posts = postsTo(CHANNEL);
    expect(posts).toHaveLength(1);
    const announcement = JSON.stringify(cardOf(posts[0]!));
    expect(announcement).toContain('Grace period ended: now affecting the secure score');
    expect(announcement).toContain(graced.resourceName);
    expect(announcement).toContain(graced.ticket!.number);
    const updates = bot.connector.activities().filter((c) => c.method === 'PUT');
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ conversationId: CHANNEL, activityId: 'act-rec-1' });
    expect(JSON.stringify(updates[0]!.body)).toContain('overdue, grace period ended');
    expect((await bot.store.audit.list(10)).filter((e) => e.action === 'assignment.grace-ended').map((e) => e.target)).toEqual([graced.id]);
  });

  it("forgets sent keys of periods long over each pass, but never a live assignment's grace-ended key", async () => {
    const graced = assignment({ owner: BOB, dueDate: '2026-08-01', gracePeriod: true, notifyOwner: false });
    await seed(bot.store, graced);
    const sent = (key: string, sentAt: string) => bot.store.reminders.markSent({ key, sentAt, recipient: BOB });
    await sent(`grace-ended:${graced.id}`, '2026-08-02T09:00:00.000Z');
    await sent(`digest:${BOB}:2026-W31`, '2026-07-27T09:00:00.000Z');
    await sent(`nudge:${graced.id}:2026-08-01`, '2026-07-29T09:00:00.000Z');
    await sent(`digest:${BOB}:2026-W45`, '2026-11-02T09:00:00.000Z');

    expect(await jobFor(bot).runOnce()).toMatchObject({ graceAnnouncements: 0 });
    expect(postsTo(CHANNEL)).toHaveLength(0);
    expect(await bot.store.reminders.wasSent(`grace-ended:${graced.id}`)).toBe(true);
    expect(await bot.store.reminders.wasSent(`digest:${BOB}:2026-W31`)).toBe(false);
    expect(await bot.store.reminders.wasSent(`nudge:${graced.id}:2026-08-01`)).toBe(false);
    expect(await bot.store.reminders.wasSent(`digest:${BOB}:2026-W45`)).toBe(true);
  });

  it('forgets finished work items past WORK_RETENTION_DAYS each pass: delivered announcements, done creations, failed ones only once handled', async () => {
    const stuck = assignment({ owner: BOB, dueDate: '2027-01-15', status: 'failed', ticket: undefined, notifyOwner: false });
    const fixed = assignment({ owner: BOB, dueDate: '2027-01-15', notifyOwner: false });
    await seed(bot.store, stuck, fixed);
    const { work } = bot.store;
    const finish = async (kind: string, key: string, ids: string[], outcome: 'done' | 'failed') => {
      await work.enqueue([
        { kind, key, payload: kind === CREATE_TICKETS_WORK ? { batchId: key, ids, skippedIds: [] } : { conversationId: CHANNEL, text: key } },
      ]);
      const [item] = await work.claim(kind, 'test', 1, 60_000);
      if (outcome === 'done') await work.complete(item!.id, 'test');
      else await work.fail(item!.id, 'test', 'ServiceNow was down');
    };
    await finish(ANNOUNCEMENT_WORK, 'announce:a1:resolved:1', [], 'done');
    await bot.store.reminders.markSent({ key: 'announce:a1:resolved:1', sentAt: MONDAY, recipient: CHANNEL });
    await finish(CREATE_TICKETS_WORK, 'batch-done', [fixed.id], 'done');
    await finish(CREATE_TICKETS_WORK, 'batch-stuck', [stuck.id], 'failed');
    await finish(CREATE_TICKETS_WORK, 'batch-handled', [fixed.id], 'failed');
    await work.enqueue([{ kind: ANNOUNCEMENT_WORK, key: 'announce:a2:resolved:1', payload: { conversationId: CHANNEL, text: 'queued' } }]);
    const left = async () => (await work.list()).map((w) => `${w.key} ${w.status}`).sort();

    // 30 days (the default) have not passed: everything stays.
    bot.clock.advance(29 * 86_400_000);
    await jobFor(bot).runOnce();
    expect(await left()).toHaveLength(5);

    bot.clock.advance(2 * 86_400_000);
    await finish(CREATE_TICKETS_WORK, 'batch-recent', [fixed.id], 'done');
    await jobFor(bot).runOnce();
    expect(await left()).toEqual(['announce:a2:resolved:1 queued', 'batch-recent done', 'batch-stuck failed']);
    // The key that kept the announcement to one send stays: an intent for it now is not sent again.
    expect(await bot.store.reminders.wasSent('announce:a1:resolved:1')).toBe(true);

    // WORK_RETENTION_DAYS=1 reaches the recent one; the stuck creation stays until its assignment gets its ticket.
    bot.clock.advance(2 * 86_400_000);
    await new ReminderJob({ ...jobDeps(bot), workRetentionDays: 1 }).runOnce();
    expect(await left()).toEqual(['announce:a2:resolved:1 queued', 'batch-stuck failed']);
  });

  it('escalates only overdue items to the manager from Graph, grouped by report', async () => {
    const overdue = assignment({ owner: BOB, dueDate: '2026-11-20', notifyManager: true, notifyOwner: false, recommendationName: 'Overdue and escalated' });
    const notYet = assignment({ owner: BOB, dueDate: '2026-12-20', notifyManager: true, notifyOwner: false, recommendationName: 'Not due yet' });
    const quiet = assignment({
      owner: BOB,
      dueDate: '2026-11-20',
      notifyManager: false,
      notifyOwner: false,
      recommendationName: 'Overdue without manager notification',
    });
    await seed(bot.store, overdue, notYet, quiet);
    const job = jobFor(bot);
    expect(await job.runOnce()).toMatchObject({ managerMessages: 1, digests: 0 });
    const posts = postsTo('a:alice');
    expect(posts).toHaveLength(1);
    const card = cardOf(posts[0]!);
    const text = JSON.stringify(card);
    expect(card.body[0].text).toBe('Hi Alice,');
    expect(text).toContain('1 overdue security item across 1 report');
    expect(text).toContain(`${BOB}: 1 overdue`);
    expect(text).toContain('Overdue and escalated');
    expect(text).not.toContain('Not due yet');
    expect(text).not.toContain('Overdue without manager notification');
    expect(defender.sim.control.requestCount({ kind: 'graph' })).toBeGreaterThanOrEqual(1);
    expect(await job.runOnce()).toMatchObject({ managerMessages: 0 });
    expect(postsTo('a:alice')).toHaveLength(1);
  });

  it('lists an unreachable owner once per pass in the channel where the assignment was created, without retrying', async () => {
    const ghost = 'ghost@contoso.com';
    await seed(
      bot.store,
      assignment({ owner: ghost, dueDate: '2026-12-20' }),
      assignment({ owner: ghost, dueDate: '2026-11-20' }),
      assignment({ owner: BOB, dueDate: '2026-12-20' }),
    );
    const report = await jobFor(bot).runOnce();
    expect(report).toMatchObject({ digests: 1, unreachable: [ghost], unreachableNotes: 1 });
    const notes = postsTo(CHANNEL);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.body.text).toContain(ghost);
    expect(notes[0]!.body.text.split(ghost)).toHaveLength(2);
    // Not claimed: once the owner installs the bot, the next pass reaches them.
    expect(await bot.store.reminders.wasSent(`digest:${ghost}:2026-W49`)).toBe(false);
    await bot.store.conversations.upsert(conversation('a:ghost', bot.connector.url, { userUpn: ghost }));
    expect(await jobFor(bot).runOnce()).toMatchObject({ digests: 1, unreachable: [] });
    expect(postsTo('a:ghost')).toHaveLength(1);
  });

  it('sends nothing during quiet hours in the reminder timezone, then sends when they end', async () => {
    await seed(bot.store, assignment({ owner: BOB, dueDate: '2026-11-20', gracePeriod: true, notifyManager: true }));
    const settings = { remindDaysBefore: 3, quietHours: { start: '20:00', end: '07:00' } };
    bot.clock.set('2026-11-30T03:00:00Z'); // 22:00 in New York
    const job = jobFor(bot, settings, 'America/New_York');
    expect(await job.runOnce()).toMatchObject({ skippedQuietHours: true, digests: 0, managerMessages: 0, graceAnnouncements: 0 });
    expect(bot.connector.activities()).toHaveLength(0);
    bot.clock.set('2026-11-30T14:00:00Z'); // 09:00 in New York
    expect(await job.runOnce()).toMatchObject({ skippedQuietHours: false, digests: 1, managerMessages: 1, graceAnnouncements: 1 });
  });

  it('uses the sandbox inbox for every owner when configured', async () => {
    await bot.store.conversations.upsert(conversation('emulator-chat', bot.connector.url, { kind: 'personal' }));
    await seed(
      bot.store,
      assignment({ owner: 'someone@contoso.com', dueDate: '2026-12-20' }),
      assignment({ owner: 'other@contoso.com', dueDate: '2026-12-20' }),
    );
    const job = new ReminderJob({
      store: bot.store,
      messenger: bot.app.messenger,
      directory: new TeamsDirectory({ store: bot.store, clock: bot.clock, logger: silentLogger, sandboxInbox: 'emulator-chat' }),
      cards: bot.app.services.cards,
      clock: bot.clock,
      logger: silentLogger,
      settings: { remindDaysBefore: 3 },
      timezone: 'UTC',
    });
    expect(await job.runOnce()).toMatchObject({ digests: 2 });
    expect(postsTo('emulator-chat')).toHaveLength(2);
  });
});
