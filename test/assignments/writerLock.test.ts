/**
 * The race of issue 12: an admin changes a due date (Teams invoke → app/dueDates.ts) while the
 * resolution job (app/resolution.ts) is writing the same assignment back to Defender after
 * ServiceNow reassigned its ticket. Both go through app/assignmentWriter.ts, so the assignment's
 * lock orders them and Defender ends with the new date. The same interleaving with a lock that
 * excludes nothing leaves the old date in Defender: that run proves the test can fail.
 *
 * Everything is real (bot server + fake Bot Connector, ServiceNow and Defender simulators behind
 * the real clients); only the resolution job's Defender client is held at one point, its GET of
 * the governance assignment, until the due-date change has run or is waiting for the lock.
 */
import { GovernanceWriteBack } from '../../app/governance.js';
import type { DefenderPort, Locks } from '../../app/ports.js';
import { ResolutionJob } from '../../app/resolution.js';
import { silentLogger } from '../../core/logger.js';
import { userObjectId } from '../../sandbox/defender/dataset.js';
import { userId } from '../../sandbox/servicenow/index.js';
import { InProcessLocks } from '../../storage/locks.js';
import { execute } from '../harness/activities.js';
import { conversation } from '../reminders/fixtures.js';
import { startMoreTimeWorld, type MoreTimeWorld } from '../reminders/moreTimeWorld.js';

const CHANNEL = '19:channel-1@thread.tacv2';
const ALICE = 'alice.johnson@contoso.com';
const ALICE_FROM = { id: '29:alice', name: 'Alice Johnson', aadObjectId: userObjectId(ALICE) };
const CAROL = 'carol.nguyen@contoso.com';

/** Locks that count, per key, the callers not yet let in (a call that is let in at once is never counted). */
class WatchedLocks implements Locks {
  private readonly waiting = new Map<string, number>();
  constructor(private readonly inner: Locks) {}
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.bump(key, 1);
    return this.inner.withLock(key, () => {
      this.bump(key, -1);
      return fn();
    });
  }
  waitingFor(key: string): number {
    return this.waiting.get(key) ?? 0;
  }
  private bump(key: string, by: number): void {
    this.waiting.set(key, this.waitingFor(key) + by);
  }
}

/** A lock that excludes nothing: what the old code had for three of the five writers. */
const NO_LOCK: Locks = { withLock: (_key, fn) => fn() };

/** Waits (on the event loop, not a timer) until `done()` holds. */
async function until(what: string, done: () => boolean, turns = 20_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (done()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting: ${what}`);
}

interface RaceOutcome {
  stored: { dueDate: string; owner: string };
  defender: { remediationDueDate?: string; owner?: string };
  dueDateAnswer: string;
  /** The due-date change had not answered when the job's write-back went on: it waited for the lock. */
  dueDateWaited: boolean;
  resolution: { ownersChanged: number; errors: number };
}

async function race(inner: Locks): Promise<RaceOutcome> {
  const locks = new WatchedLocks(inner);
  const world: MoreTimeWorld = await startMoreTimeWorld({ assignment: { conversationId: CHANNEL }, app: { locks } });
  try {
    const { bot, sn, defender, seeded } = world;
    await bot.store.conversations.upsert(conversation(CHANNEL, bot.connector.url, { name: 'Security' }));
    // Alice's 1:1 chat tells the bot who she is (the four-eyes check compares her with the owner).
    await bot.store.conversations.upsert(conversation('a:alice', bot.connector.url, { userUpn: ALICE, userAadObjectId: ALICE_FROM.aadObjectId }));

    // The resolution job's Defender client: real, but its governance GET waits for the gate.
    let reached = false;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const real = defender.client;
    const held: Pick<DefenderPort, 'getGovernanceAssignment' | 'putGovernanceAssignment' | 'deleteGovernanceAssignment'> = {
      getGovernanceAssignment: async (...args) => {
        reached = true;
        await gate;
        return real.getGovernanceAssignment(...args);
      },
      putGovernanceAssignment: (...args) => real.putGovernanceAssignment(...args),
      deleteGovernanceAssignment: (...args) => real.deleteGovernanceAssignment(...args),
    };
    const { writer, announcements, cards } = bot.app.services;
    const job = new ResolutionJob({
      store: bot.store,
      writer,
      governance: new GovernanceWriteBack({ defender: held, writer, clock: bot.clock, logger: silentLogger }),
      announcements,
      cards,
      azure: real,
      integrations: bot.app.integrations,
      clock: bot.clock,
      logger: silentLogger,
      scopes: [`/subscriptions/${seeded.subscriptionId}`],
    });

    // ServiceNow reassigns the ticket: the job's next pass writes the new owner back to Defender.
    sn.control.setFields('incident', seeded.ticket!.sysId, { assigned_to: userId('carol.nguyen') });
    const pass = job.runOnce();
    await until('the resolution job is inside its Defender write-back', () => reached);

    let answered = false;
    const change = bot
      .send(
        execute(
          'changeDueDate',
          { assignmentId: seeded.id, dueDate: '2027-01-15', note: 'Agreed in the change board' },
          { serviceUrl: bot.connector.url, conversationId: CHANNEL, conversationType: 'channel', from: ALICE_FROM },
        ),
      )
      .finally(() => (answered = true));
    await until('the due-date change has run or waits for the assignment', () => answered || locks.waitingFor(seeded.id) > 0);
    const dueDateWaited = !answered;
    open();
    const [report, res] = await Promise.all([pass, change]);

    const stored = (await bot.store.assignments.get(seeded.id))!;
    const governance = defender.sim.control.listGovernanceAssignments().find((g) => g.name === seeded.id)!;
    return {
      stored: { dueDate: stored.dueDate, owner: stored.owner },
      defender: { remediationDueDate: governance.properties.remediationDueDate, owner: governance.properties.owner },
      dueDateAnswer: res.body.value.body[1].text,
      dueDateWaited,
      resolution: { ownersChanged: report.ownersChanged, errors: report.errors },
    };
  } finally {
    await world.stop();
  }
}

describe('one lock per assignment for every writer (app/assignmentWriter.ts)', () => {
  it('a due-date change during the resolution job’s Defender write-back waits for it, and Defender ends with the new date', async () => {
    const outcome = await race(new InProcessLocks());
    expect(outcome).toEqual({
      stored: { dueDate: '2027-01-15', owner: CAROL },
      defender: { remediationDueDate: '2027-01-15T23:59:59Z', owner: CAROL },
      dueDateAnswer: 'Changed by Alice Johnson — new due date 2027-01-15 (was 2026-12-04).',
      dueDateWaited: true,
      resolution: { ownersChanged: 1, errors: 0 },
    });
  });

  it('without the lock the same interleaving leaves the old date in Defender (what the test above catches)', async () => {
    const outcome = await race(NO_LOCK);
    expect(outcome).toMatchObject({ dueDateWaited: false, stored: { dueDate: '2027-01-15' }, defender: { remediationDueDate: '2026-12-04T23:59:59Z' } });
  });
});
