/**
 * A resolution pass stores each outcome with its announcement's intent (a work item in the same
 * transaction) and sends the announcements at its end. A pass that dies between the two must not
 * lose them: the next pass (here after a restart on the same data file) sends each exactly once.
 * Real HTTP against both simulators and the fake Bot Connector, real lowdb store (see world.ts).
 */
import { Announcements, ANNOUNCEMENT_WORK } from '../../app/announcements.js';
import { GovernanceWriteBack } from '../../app/governance.js';
import { ResolutionJob } from '../../app/resolution.js';
import type { Store } from '../../app/ports.js';
import { silentLogger } from '../../core/logger.js';
import { ALL_SCOPES, healthy, reassign, startWorld, type World } from './world.js';

const MINUTE = 60_000;

/**
 * The job of `w`, but its end-of-pass claim of the announcements fails as a process killed at that
 * point would leave it: every outcome is stored, nothing is claimed or sent. The store is the
 * real one; only its transaction refuses, and only for the announcements' claim.
 */
function jobDyingBeforeAnnouncements(w: World): ResolutionJob {
  const { writer, cards } = w.bot.app.services;
  const store = w.bot.store;
  const dying: Store = Object.create(store) as Store;
  dying.transaction = () => Promise.reject(new Error('killed before the announcements were claimed'));
  return new ResolutionJob({
    store,
    writer,
    governance: new GovernanceWriteBack({ defender: w.azure, writer, clock: w.clock, logger: silentLogger }),
    announcements: new Announcements({ store: dying, messenger: w.bot.app.messenger, logger: silentLogger }),
    cards,
    azure: w.azure,
    integrations: w.bot.app.integrations,
    clock: w.clock,
    logger: silentLogger,
    scopes: ALL_SCOPES,
  });
}

describe('resolution job: announcements survive a crash mid-pass', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('outcomes stored, pass killed before announcing: the next pass (after a restart) announces each exactly once', async () => {
    w = await startWorld();
    const fixed = await w.seed({ ticketType: 'incident', withCard: false });
    while (w.takeAssessment().resourceId === fixed.resourceId);
    const moved = await w.seed({ ticketType: 'incident', withCard: false });
    w.clock.advance(10 * MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ errors: 0, announcements: 0 });
    w.clock.advance(MINUTE);

    healthy(w, fixed);
    reassign(w, moved);
    w.clock.advance(MINUTE);
    const killed = await jobDyingBeforeAnnouncements(w).runOnce();
    expect(killed).toMatchObject({ resolved: 1, ownersChanged: 1, announcements: 0 });
    await w.bot.store.flush();
    expect((await w.bot.store.assignments.get(fixed.id))!.status).toBe('resolved');
    expect(w.announcements()).toEqual([]);
    // The intents are on disk with the outcomes, waiting.
    expect(await w.bot.store.work.list({ kind: ANNOUNCEMENT_WORK, statuses: ['queued'] })).toHaveLength(2);

    // A new process on the same data file; the watermark moved past both changes, so nothing is decided again.
    await w.restart();
    w.bot.connector.reset();
    w.clock.advance(MINUTE);
    const next = await w.job.runOnce();
    expect(next).toMatchObject({ resolved: 0, ownersChanged: 0, announcements: 2, announcementMessages: 1, errors: 0 });
    // Both go out together, as one message with a line each (they share the channel).
    const sent = w.announcements();
    expect(sent).toHaveLength(1);
    const lines = sent[0]!.split('\n').filter((l) => l.startsWith('- '));
    expect(lines).toHaveLength(2);
    expect(lines.filter((t) => t.includes(fixed.ticket!.number) && /resolved automatically/.test(t))).toHaveLength(1);
    expect(lines.filter((t) => t.includes(moved.ticket!.number))).toHaveLength(1);
    expect(await w.bot.store.work.list({ kind: ANNOUNCEMENT_WORK, statuses: ['queued', 'running'] })).toEqual([]);

    // Delivered is delivered: later passes, and a restart, send nothing again.
    w.bot.connector.reset();
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ announcements: 0, errors: 0 });
    await w.restart();
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ announcements: 0, errors: 0 });
    expect(w.announcements()).toEqual([]);
  });

  it('a normal pass announces each outcome once, and leaves no intent behind', async () => {
    w = await startWorld();
    const fixed = await w.seed({ ticketType: 'incident', withCard: false });
    w.clock.advance(10 * MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ errors: 0 });
    w.clock.advance(MINUTE);
    healthy(w, fixed);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ resolved: 1, announcements: 1, errors: 0 });
    expect(w.announcements().filter((t) => t.includes(fixed.ticket!.number))).toHaveLength(1);
    expect(await w.bot.store.work.list({ kind: ANNOUNCEMENT_WORK, statuses: ['queued', 'running'] })).toEqual([]);
    // The intent was claimed under the announcement's key: a later pass, even a full one, does not send it again.
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce({ full: true })).toMatchObject({ announcements: 0, errors: 0 });
    expect(w.announcements()).toHaveLength(1);
  });
});
