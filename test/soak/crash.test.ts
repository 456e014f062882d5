import path from 'node:path';
import {
  ADMIN,
  createWorld,
  correlationKey,
  eventually,
  integrationFromForm,
  jsonFileParses,
  recordFigures,
  rng,
  say,
  shuffle,
  submitAssignment,
  syncUntilCardsPosted,
  TICKET_TABLES,
  type BotRun,
  type InvokeAnswer,
  type World,
} from './world.js';

/**
 * Crash safety: the bot is SIGKILLed at seeded random moments of a burst of creations (while
 * invokes are in flight, while it resumes at start, while it writes its store), restarted on the
 * same data folder each time, and must end with exactly one ServiceNow ticket per assignment and
 * no submitted resource lost. SOAK_SEED replays a run; SOAK_CREATIONS and SOAK_KILLS size it.
 */
const SEED = Number(process.env.SOAK_SEED ?? 20261126);
const CREATIONS = Number(process.env.SOAK_CREATIONS ?? 200);
const KILLS = Number(process.env.SOAK_KILLS ?? 20);
/** Users clicking Create at the same time. */
const CONCURRENCY = 4;
/** A kill lands this long (random, up to) after the submission it follows was sent. */
const MAX_KILL_DELAY_MS = 1500;

jest.setTimeout(12 * 60_000);

interface Target {
  index: number;
  recommendationKey: string;
  assessmentId: string;
  resourceId: string;
  key: string;
  ticketType: (typeof TICKET_TABLES)[number];
}

interface Outcome {
  answer: InvokeAnswer;
  ms: number;
  segment: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

describe('crash safety: SIGKILL during a burst of creations', () => {
  let world: World;
  let bot: BotRun | undefined;

  afterAll(async () => {
    await bot?.kill('SIGKILL');
    await world?.close();
  });

  it(`${CREATIONS} creations and ${KILLS} kills at seeded random moments: one ticket per assignment, none lost, db.json valid after every kill`, async () => {
    const startedAt = Date.now();
    const random = rng(SEED);
    world = await createWorld({ name: 'soak-crash' });
    await world.addIntegration();
    bot = await world.startBot();
    const firstStartMs = bot.startMs;

    // A channel subscribed by an admin, with its recommendation cards posted.
    expect((await say(world, bot.url, ADMIN, 'subscribe')).status).toBe(200);
    expect((await say(world, bot.url, ADMIN, 'sync')).status).toBe(200);
    const { recommendations } = await world.readStore();
    const unhealthy = recommendations.filter((r) => r.status === 'unhealthy');
    await syncUntilCardsPosted(world, bot.url, ADMIN, unhealthy.length);

    const pairs = shuffle(
      unhealthy.flatMap((r) => r.resources.map((x) => ({ recommendationKey: r.key, assessmentId: x.assessmentId, resourceId: x.resourceId }))),
      random,
    );
    expect(pairs.length).toBeGreaterThanOrEqual(CREATIONS);
    const targets: Target[] = pairs.slice(0, CREATIONS).map((p, index) => ({
      ...p,
      index,
      key: correlationKey(p.assessmentId, p.resourceId),
      ticketType: TICKET_TABLES[index % TICKET_TABLES.length]!,
    }));
    const integrationId = await integrationFromForm(world, bot.url, ADMIN, {
      recommendationKey: targets[0]!.recommendationKey,
      resourceIds: [targets[0]!.resourceId],
    });

    // Kill points: after which submission (distinct, spread over the burst) and how long after it.
    const killAfter = new Set<number>();
    while (killAfter.size < Math.min(KILLS, CREATIONS - 1)) killAfter.add(1 + Math.floor(random() * (CREATIONS - 1)));
    const killPoints = [...killAfter].sort((a, b) => a - b).map((index) => ({ index, delayMs: Math.floor(random() * MAX_KILL_DELAY_MS) }));

    const outcomes = new Map<number, Outcome>();
    const restartsMs: number[] = [];
    const storeChecks: Array<{
      kill: number;
      assignments: number;
      pending: number;
      withTicket: number;
      governancePending: number;
      valid: boolean;
      bakValid: boolean;
    }> = [];
    /** Keys of assignments seen in db.json after a kill: a later kill must never lose one. */
    const seenKeys = new Set<string>();
    const vanished: string[] = [];
    let next = 0;

    for (let segment = 0; segment <= killPoints.length; segment++) {
      const kill = killPoints[segment];
      let armed: Promise<void> | undefined;
      let dead = false;
      const current = bot!;
      // Users keep clicking until the process dies; the kill is armed by the submission at its
      // index (or by the first one after a restart, if the burst is already past it: a kill
      // while the bot resumes) and lands a random moment later, with invokes in flight.
      const worker = async () => {
        while (next < CREATIONS && !dead) {
          const t = targets[next++]!;
          const sent = Date.now();
          const pending = submitAssignment(world, current.url, ADMIN, { recommendationKey: t.recommendationKey, resourceIds: [t.resourceId] }, integrationId, {
            ticketType: t.ticketType,
          });
          if (kill && !armed && t.index >= kill.index) {
            armed = new Promise<void>((resolve) => setTimeout(resolve, kill.delayMs)).then(() => {
              dead = true;
              return current.kill('SIGKILL');
            });
          }
          const answer = await pending;
          outcomes.set(t.index, { answer, ms: Date.now() - sent, segment });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (!kill) break;
      // The burst ended before the kill landed: it lands on the idle bot (or during its card updates).
      if (!armed) {
        dead = true;
        await current.kill('SIGKILL');
      }
      await armed;
      expect((await current.exited).signal).toBe('SIGKILL');

      // The store a kill leaves is valid: it parses, passes the bot's own validation, and keeps
      // every assignment an earlier kill left.
      const file = path.join(world.dataDir, 'db.json');
      const valid = jsonFileParses(file);
      const bakValid = jsonFileParses(`${file}.bak`);
      const snapshot = await world.readStore();
      const keys = new Set(snapshot.assignments.map((a) => a.key));
      for (const k of seenKeys) if (!keys.has(k)) vanished.push(k);
      for (const k of keys) seenKeys.add(k);
      storeChecks.push({
        kill: segment + 1,
        assignments: snapshot.assignments.length,
        pending: snapshot.assignments.filter((a) => !a.ticket).length,
        withTicket: snapshot.assignments.filter((a) => a.ticket).length,
        governancePending: snapshot.assignments.filter((a) => a.ticket && a.governance?.status !== 'synced').length,
        valid,
        bakValid,
      });

      // The next bot waits for the dead one's lock to go stale (it polls; the harness does not sleep).
      bot = await world.startBot();
      restartsMs.push(bot.startMs);
    }

    const answered = targets.filter((t) => (outcomes.get(t.index)?.answer.status ?? 0) === 200);
    const unanswered = targets.filter((t) => (outcomes.get(t.index)?.answer.status ?? 0) !== 200);
    // Every target was sent, and an answered one was a success (no fault is injected here).
    expect(outcomes.size).toBe(CREATIONS);
    expect(targets.filter((t) => ![0, 200].includes(outcomes.get(t.index)!.answer.status)).map((t) => outcomes.get(t.index)!.answer)).toEqual([]);

    // The bot finishes what the kills left: it resumes at start and on each cycle (`sync`).
    const byKey = (tickets: ReturnType<World['tickets']>) => {
      const m = new Map<string, number>();
      for (const t of tickets) m.set(t.correlationId, (m.get(t.correlationId) ?? 0) + 1);
      return m;
    };
    const settle = async (what: string) =>
      eventually(
        what,
        async () => {
          const { assignments } = await world.readStore();
          const unfinished = assignments.filter((a) => !a.ticket || a.status !== 'open' || a.governance?.status !== 'synced');
          if (unfinished.length === 0) return assignments;
          await say(world, bot!.url, ADMIN, 'sync');
          const states = [...new Set(unfinished.map((a) => `${a.status}/${a.governance?.status}${a.lastError ? ` (${a.lastError})` : ''}`))];
          throw new Error(`${unfinished.length} unfinished: ${states.join(', ')}`);
        },
        180_000,
        1_000,
      );
    let assignments = await settle('every stored assignment to have its ticket');

    // Before anyone clicks again: what the bot finished on its own.
    const stored = new Map(assignments.map((a) => [a.key, a]));
    const ticketsByKey = byKey(world.tickets());
    const lostAnswered = answered.filter((t) => !stored.get(t.key)?.ticket).map((t) => t.key);
    const resumed = unanswered.filter((t) => stored.get(t.key)?.ticket);
    const neverStored = unanswered.filter((t) => !stored.has(t.key));
    // A ticket ServiceNow has but no assignment knows of: the bot lost track of work it did.
    const orphans = [...ticketsByKey.keys()].filter((k) => !stored.has(k));

    // Users click Create again for what got no answer and shows no ticket.
    for (const t of neverStored) {
      const again = await submitAssignment(world, bot!.url, ADMIN, { recommendationKey: t.recommendationKey, resourceIds: [t.resourceId] }, integrationId, {
        ticketType: t.ticketType,
      });
      expect(again.status).toBe(200);
    }
    assignments = await settle('the resubmitted assignments to have their tickets');

    const finalTickets = world.tickets();
    const finalByKey = byKey(finalTickets);
    const duplicates = [...finalByKey.values()].reduce((n, c) => n + (c - 1), 0);
    const finalStored = new Map(assignments.map((a) => [a.key, a]));
    const lost = targets.filter((t) => !finalStored.get(t.key)?.ticket).map((t) => t.key);
    const mismatched = assignments.filter((a) => {
      const rows = finalTickets.filter((r) => r.correlationId === a.key);
      return rows.length !== 1 || rows[0]!.sysId !== a.ticket!.sysId || rows[0]!.table !== a.ticketType;
    });
    const latencies = [...outcomes.values()]
      .filter((o) => o.answer.status === 200)
      .map((o) => o.ms)
      .sort((a, b) => a - b);

    const figures = {
      seed: SEED,
      creations: CREATIONS,
      killPoints: killPoints.length,
      restarts: restartsMs.length,
      answered: answered.length,
      unansweredAtKill: unanswered.length,
      resumedByBot: resumed.length,
      resubmittedByUsers: neverStored.length,
      assignments: assignments.length,
      tickets: finalTickets.length,
      duplicates,
      lost: lost.length + lostAnswered.length + orphans.length + vanished.length,
      dbJsonChecks: storeChecks.length,
      dbJsonInvalid: storeChecks.filter((c) => !c.valid || !c.bakValid).length,
      // Kills that left a creation half done in the store (no ticket yet, or Defender not written yet).
      killsMidCreation: storeChecks.filter((c) => c.pending > 0 || c.governancePending > 0).length,
      firstStartMs,
      restartMsMin: Math.min(...restartsMs),
      restartMsMedian: pct(
        [...restartsMs].sort((a, b) => a - b),
        50,
      ),
      restartMsMax: Math.max(...restartsMs),
      invokeMsP50: pct(latencies, 50),
      invokeMsP95: pct(latencies, 95),
      invokeMsMax: latencies[latencies.length - 1] ?? 0,
      wallSeconds: Math.round((Date.now() - startedAt) / 1000),
    };
    recordFigures('crash', figures, { killPoints, storeChecks });

    expect(storeChecks.filter((c) => !c.valid || !c.bakValid)).toEqual([]);
    expect(vanished).toEqual([]);
    expect(lostAnswered).toEqual([]);
    expect(orphans).toEqual([]);
    expect(lost).toEqual([]);
    expect(duplicates).toBe(0);
    expect(mismatched.map((a) => a.key)).toEqual([]);
    expect(assignments).toHaveLength(CREATIONS);
    expect(finalTickets).toHaveLength(CREATIONS);
  });
});
