import {
  ADMIN,
  correlationKey,
  createWorld,
  eventually,
  integrationFromForm,
  recordFigures,
  retryBatch,
  rng,
  say,
  shuffle,
  submitAssignment,
  syncUntilCardsPosted,
  type Assignment,
  type BotRun,
  type InvokeAnswer,
  type TicketTable,
  type World,
} from './world.js';

/**
 * Faults in both outside systems while the real bot process creates tickets, syncs and resolves:
 * ServiceNow 500, 429 with Retry-After, stalled and lost responses, a full outage; Azure 429 with
 * Retry-After, 500, outages and partial Resource Graph answers (truncated, short of totalRecords,
 * a page skipped, empty, a row missing). Throughout: no ticket is doubled, no submitted resource
 * is lost, no card or ticket is resolved while its resource is unhealthy; once the faults are
 * lifted, everything completes.
 */
const SEED = Number(process.env.SOAK_SEED ?? 20261126);

jest.setTimeout(10 * 60_000);

interface Target {
  recommendationKey: string;
  assessmentId: string;
  resourceId: string;
  key: string;
  ticketType: TicketTable;
}

const pairKey = (assessmentKey: string, resourceId: string) => `${assessmentKey.toLowerCase()}|${resourceId.toLowerCase()}`;

describe('faults in ServiceNow and Azure during creation, sync and resolution', () => {
  let world: World;
  let bot: BotRun;
  let integrationId: string;
  let pool: Target[];
  const figures: Record<string, number> = {};
  const startedAt = Date.now();
  /** Ticket states right after creation: any later change while the resource is unhealthy is a wrong resolution. */
  const createdState = new Map<string, string>();

  beforeAll(async () => {
    world = await createWorld({ name: 'soak-faults' });
    await world.addIntegration();
    bot = await world.startBot();
    expect((await say(world, bot.url, ADMIN, 'subscribe')).status).toBe(200);
    await say(world, bot.url, ADMIN, 'sync');
    const { recommendations } = await world.readStore();
    await syncUntilCardsPosted(world, bot.url, ADMIN, recommendations.filter((r) => r.status === 'unhealthy').length);
    const random = rng(SEED + 1);
    // Recommendations with several resources, so resolving some resources leaves the card up.
    pool = shuffle(
      recommendations
        .filter((r) => r.status === 'unhealthy' && r.resources.length >= 4)
        .flatMap((r) => r.resources.map((x) => ({ recommendationKey: r.key, assessmentId: x.assessmentId, resourceId: x.resourceId }))),
      random,
    ).map((p, i) => ({ ...p, key: correlationKey(p.assessmentId, p.resourceId), ticketType: (['incident', 'change_request', 'problem'] as const)[i % 3] }));
    integrationId = await integrationFromForm(world, bot.url, ADMIN, { recommendationKey: pool[0]!.recommendationKey, resourceIds: [pool[0]!.resourceId] });
  });

  afterAll(async () => {
    figures.wallSeconds = Math.round((Date.now() - startedAt) / 1000);
    recordFigures('faults', figures);
    await bot?.kill('SIGKILL');
    await world?.close();
  });

  const take = (n: number, type?: TicketTable) => {
    const picked: Target[] = [];
    for (let i = 0; i < pool.length && picked.length < n; i++) {
      if (!type || pool[i]!.ticketType === type) picked.push(...pool.splice(i--, 1));
    }
    return picked.map((t) => (type ? { ...t, ticketType: type } : t));
  };

  const submit = (t: Target) =>
    submitAssignment(world, bot.url, ADMIN, { recommendationKey: t.recommendationKey, resourceIds: [t.resourceId] }, integrationId, {
      ticketType: t.ticketType,
    });

  async function submitAll(targets: Target[], concurrency: number): Promise<InvokeAnswer[]> {
    const answers: InvokeAnswer[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < targets.length) {
          const i = next++;
          answers[i] = await submit(targets[i]!);
        }
      }),
    );
    return answers;
  }

  /**
   * What must hold at every moment, faults or not: no recommendation is resolved, and no
   * assignment or ticket is resolved, while Defender reports one of its resources unhealthy; and
   * (offCard) every unhealthy resource is still on its recommendation's card.
   */
  async function wrongResolutions(): Promise<string[]> {
    return (await resolutionState()).resolved;
  }

  async function resolutionState(): Promise<{ resolved: string[]; offCard: string[] }> {
    const { recommendations, assignments } = await world.readStore();
    const unhealthy = world.defender.control.listAssessments({ code: 'Unhealthy' });
    const unhealthyPairs = new Set(unhealthy.map((a) => pairKey(a.assessmentKey, a.resourceId)));
    const recs = new Map(recommendations.map((r) => [r.key.toLowerCase(), r]));
    const problems: string[] = [];
    const offCard: string[] = [];
    for (const a of unhealthy) {
      const rec = recs.get(a.assessmentKey.toLowerCase());
      if (!rec) continue; // a recommendation first seen after the last complete pass
      if (rec.status !== 'unhealthy') problems.push(`card of ${rec.key} resolved while ${a.resourceId} is unhealthy`);
      else if (!rec.resources.some((r) => r.resourceId.toLowerCase() === a.resourceId.toLowerCase())) offCard.push(a.id);
    }
    for (const a of assignments) {
      if (!unhealthyPairs.has(pairKey(a.recommendationKey, a.resourceId))) continue;
      if (a.status === 'resolved' || a.status === 'awaiting-manual-close') problems.push(`assignment ${a.key} ${a.status} while its resource is unhealthy`);
      if (a.ticket) {
        const row = world.servicenow.control.record(a.ticketType, a.ticket.sysId);
        const before = createdState.get(a.key);
        if (row && before !== undefined && row.state !== before)
          problems.push(`ticket ${a.ticket.number} moved ${before}→${row.state} while its resource is unhealthy`);
      }
    }
    return { resolved: problems, offCard };
  }

  /** Every target has exactly one ticket and its assignment is finished (ticket, Defender written). */
  async function completed(targets: Target[]): Promise<Map<string, Assignment>> {
    const { assignments } = await world.readStore();
    const byKey = new Map(assignments.map((a) => [a.key, a]));
    const tickets = world.tickets();
    const problems: string[] = [];
    for (const t of targets) {
      const a = byKey.get(t.key);
      const rows = tickets.filter((r) => r.correlationId === t.key);
      if (!a) problems.push(`${t.key}: no assignment`);
      else if (!a.ticket || a.status !== 'open' || a.governance?.status !== 'synced')
        problems.push(`${t.key}: ${a.status}/${a.governance?.status}${a.lastError ? ` (${a.lastError})` : ''}`);
      if (rows.length !== 1) problems.push(`${t.key}: ${rows.length} tickets`);
      else if (a?.ticket && a.ticket.sysId !== rows[0]!.sysId) problems.push(`${t.key}: assignment points at another ticket`);
    }
    if (problems.length) throw new Error(`${problems.length} problems: ${problems.slice(0, 5).join('; ')}`);
    for (const t of targets) {
      const a = byKey.get(t.key)!;
      if (!createdState.has(t.key)) createdState.set(t.key, world.servicenow.control.record(a.ticketType, a.ticket!.sysId)!.state!);
    }
    return byKey;
  }

  /**
   * After the faults: what a user does (click Create again where nothing was stored, Retry on a
   * failed batch) and what the bot does by itself (each `sync` cycle resumes unfinished work),
   * until every target is complete.
   */
  async function recover(targets: Target[]): Promise<{ resubmitted: number; retried: number }> {
    let resubmitted = 0;
    let retried = 0;
    const retriedBatches = new Set<string>();
    await eventually(
      'every target to have exactly one ticket',
      async () => {
        try {
          return await completed(targets);
        } catch (err) {
          const { assignments } = await world.readStore();
          const byKey = new Map(assignments.map((a) => [a.key, a]));
          for (const t of targets.filter((x) => !byKey.has(x.key))) {
            expect((await submit(t)).status).toBe(200);
            resubmitted++;
          }
          for (const batchId of new Set(assignments.filter((a) => a.status === 'failed').map((a) => a.batchId))) {
            if (retriedBatches.has(batchId)) continue;
            retriedBatches.add(batchId);
            expect((await retryBatch(world, bot.url, ADMIN, batchId)).status).toBe(200);
            retried++;
          }
          await say(world, bot.url, ADMIN, 'sync');
          throw err;
        }
      },
      180_000,
      1_000,
    );
    return { resubmitted, retried };
  }

  const duplicates = () => {
    const m = new Map<string, number>();
    for (const t of world.tickets()) m.set(t.correlationId, (m.get(t.correlationId) ?? 0) + 1);
    return [...m.values()].reduce((n, c) => n + c - 1, 0);
  };

  it('creation: ServiceNow 500, 429 with Retry-After, stalled and lost responses, an outage, and Azure 429/500: nothing lost or doubled', async () => {
    const sn = world.servicenow.control;
    const az = world.defender.control;
    const phases: Array<{ name: string; targets: Target[]; run: (ts: Target[]) => Promise<InvokeAnswer[]> }> = [
      {
        name: 'servicenow500',
        targets: take(6),
        run: (ts) => {
          sn.failNext({ status: 500, count: 14 });
          return submitAll(ts, 3);
        },
      },
      {
        name: 'servicenow429',
        targets: take(6),
        run: (ts) => {
          sn.failNext({ status: 429, count: 14, retryAfterSec: 1 });
          return submitAll(ts, 3);
        },
      },
      {
        // Every ServiceNow answer takes longer than Teams waits for an invoke.
        name: 'servicenowStall',
        targets: take(6),
        run: async (ts) => {
          sn.setLatency(2_500);
          try {
            return await submitAll(ts, 3);
          } finally {
            sn.setLatency(0);
          }
        },
      },
      {
        // ServiceNow commits the ticket and the connection drops before the answer.
        name: 'servicenowLostResponse',
        targets: take(4),
        run: async (ts) => {
          const answers: InvokeAnswer[] = [];
          for (const t of ts) {
            sn.dropNextCreateResponse();
            answers.push(await submit(t));
          }
          return answers;
        },
      },
      {
        name: 'servicenowOutage',
        targets: take(6),
        run: async (ts) => {
          sn.failNext({ status: 503, count: 100_000 });
          try {
            return await submitAll(ts, 3);
          } finally {
            sn.clearFaults();
          }
        },
      },
      {
        // Role checks, ancestry and the governance write-back all go to Azure.
        name: 'azure429and500',
        targets: take(6),
        run: (ts) => {
          az.injectFaults({ status: 429, count: 6, retryAfterSeconds: 1, target: 'any' });
          az.injectFaults({ status: 500, count: 6, target: 'any' });
          return submitAll(ts, 3);
        },
      },
      {
        name: 'azureOutage',
        targets: take(4),
        run: async (ts) => {
          az.injectFaults({ status: 503, count: 100_000, target: 'arm' });
          try {
            return await submitAll(ts, 2);
          } finally {
            az.clearFaults();
          }
        },
      },
    ];

    for (const phase of phases) {
      const started = Date.now();
      const answers = await phase.run(phase.targets);
      sn.clearFaults();
      az.clearFaults();
      // The bot answered every click: nothing hung, nothing crashed.
      expect(answers.map((a) => a.status)).toEqual(phase.targets.map(() => 200));
      expect(await wrongResolutions()).toEqual([]);
      const { assignments } = await world.readStore();
      const byKey = new Map(assignments.map((a) => [a.key, a]));
      figures[`${phase.name}Failed`] = phase.targets.filter((t) => !byKey.get(t.key)?.ticket).length;
      figures[`${phase.name}Ms`] = Date.now() - started;
    }
    // The outage phases left work undone, or the phases were not faults at all.
    expect(figures.servicenowOutageFailed).toBe(phases.find((p) => p.name === 'servicenowOutage')!.targets.length);

    const all = phases.flatMap((p) => p.targets);
    const { resubmitted, retried } = await recover(all);
    figures.creations = all.length;
    figures.resubmittedByUsers = resubmitted;
    figures.retryClicks = retried;
    figures.creationDuplicates = duplicates();
    const done = await completed(all);
    figures.creationLost = all.filter((t) => !done.get(t.key)?.ticket).length;
    expect(figures.creationLost).toBe(0);
    expect(figures.creationDuplicates).toBe(0);
    expect(world.tickets()).toHaveLength(all.length);
    expect(await wrongResolutions()).toEqual([]);
  });

  it('sync: Azure 429 with Retry-After, 500, an outage and partial Resource Graph answers resolve nothing; the next complete pass resolves what is fixed', async () => {
    const az = world.defender.control;
    // Some resources really are fixed: only a complete pass may take them off their cards.
    const { recommendations } = await world.readStore();
    const fixed = recommendations
      .filter((r) => r.status === 'unhealthy' && r.resources.length >= 4)
      .slice(0, 3)
      .map((r) => ({ key: r.key, resourceId: r.resources[0]!.resourceId }));
    for (const f of fixed) expect(az.markHealthy({ assessmentKey: f.key, resourceId: f.resourceId })).toBe(1);
    const singles = recommendations.filter((r) => r.status === 'unhealthy' && r.resources.length === 1).slice(0, 1);
    for (const r of singles) expect(az.markHealthy({ assessmentKey: r.key, resourceId: r.resources[0]!.resourceId })).toBe(1);
    // Resource Graph lags behind for one unhealthy row that the REST API still serves. It is taken
    // from a card with several resources: a card whose only row vanished would be resolved, the same
    // trade-off (only a mass disappearance is checked against the assessments API).
    const lagging = az
      .listAssessments({ code: 'Unhealthy' })
      .find((a) =>
        recommendations.some(
          (r) =>
            r.key.toLowerCase() === a.assessmentKey.toLowerCase() &&
            r.resources.length >= 4 &&
            !fixed.some((f) => f.key === r.key && f.resourceId === a.resourceId),
        ),
      )!;

    const faults: Array<{ name: string; inject: () => void; incomplete?: boolean }> = [
      { name: '429', inject: () => az.injectFaults({ status: 429, count: 3, retryAfterSeconds: 1 }) },
      { name: '500', inject: () => az.injectFaults({ status: 500, count: 3 }) },
      { name: 'outage', inject: () => az.injectFaults({ status: 500, count: 100_000 }) },
      { name: 'truncated', inject: () => az.injectResultFault({ kind: 'truncated', count: 100, query: 'any' }), incomplete: true },
      { name: 'short', inject: () => az.injectResultFault({ kind: 'short', count: 100, query: 'any' }), incomplete: true },
      { name: 'empty', inject: () => az.injectResultFault({ kind: 'empty', count: 100, query: 'any' }), incomplete: true },
      {
        name: 'skipPage',
        inject: () => {
          az.setPageSize(100);
          az.injectResultFault({ kind: 'skipPage', count: 100, query: 'any' });
        },
        incomplete: true,
      },
      { name: 'rowMissing', inject: () => void az.hideFromResourceGraph(lagging.id) },
    ];
    let incompleteReplies = 0;
    for (const fault of faults) {
      fault.inject();
      const started = Date.now();
      const answer = await say(world, bot.url, ADMIN, 'sync');
      figures[`sync_${fault.name}Ms`] = Date.now() - started;
      expect(answer.status).toBe(200);
      const text = JSON.stringify(answer.replies);
      if (fault.incomplete) {
        expect(text).toContain('Sync incomplete: nothing was resolved');
        incompleteReplies++;
      }
      az.clearFaults();
      az.setPageSize(1000);
      // During a fault only the really fixed resources may go; the rest stay exactly as they were.
      // A single row Resource Graph leaves out of an otherwise complete answer reads as fixed on the
      // card (only a mass disappearance is checked against the assessments API); its ticket is
      // protected by the resolution job's REST check, and the next pass puts it back on the card.
      const state = await resolutionState();
      expect(state.resolved).toEqual([]);
      expect(state.offCard).toEqual(fault.name === 'rowMissing' ? [lagging.id] : []);
    }
    figures.syncFaults = faults.length;
    figures.syncIncompleteReplies = incompleteReplies;

    // Faults lifted: complete passes take exactly the fixed resources off (the lagging row stays).
    await eventually(
      'the fixed resources to be resolved',
      async () => {
        await say(world, bot.url, ADMIN, 'sync');
        const { recommendations: now } = await world.readStore();
        const recs = new Map(now.map((r) => [r.key, r]));
        const pending = fixed.filter((f) => recs.get(f.key)!.resources.some((r) => r.resourceId === f.resourceId));
        const stillOpen = singles.filter((s) => recs.get(s.key)!.status !== 'resolved');
        return pending.length === 0 && stillOpen.length === 0 ? true : undefined;
      },
      120_000,
      1_000,
    );
    az.showInResourceGraph(lagging.id);
    await say(world, bot.url, ADMIN, 'sync');
    expect(await resolutionState()).toEqual({ resolved: [], offCard: [] });
  });

  it('resolution: with Azure and ServiceNow failing, no ticket of an unhealthy resource is resolved; after recovery every fixed one is', async () => {
    const az = world.defender.control;
    const sn = world.servicenow.control;
    const targets = take(12, 'incident');
    expect((await submitAll(targets, 3)).map((a) => a.status)).toEqual(targets.map(() => 200));
    await recover(targets);
    const fixed = targets.slice(0, 6);
    const unfixed = targets.slice(6);
    for (const t of fixed) expect(az.markHealthy({ assessmentKey: t.recommendationKey, resourceId: t.resourceId })).toBe(1);
    // An unhealthy row Resource Graph drops must not read as "fixed" either.
    const hidden = az
      .listAssessments({ code: 'Unhealthy' })
      .find(
        (a) =>
          a.resourceId.toLowerCase() === unfixed[0]!.resourceId.toLowerCase() && a.assessmentKey.toLowerCase() === unfixed[0]!.recommendationKey.toLowerCase(),
      )!;
    az.hideFromResourceGraph(hidden.id);

    const rounds: Array<() => void> = [
      () => az.injectResultFault({ kind: 'truncated', count: 100, query: 'any' }),
      () => az.injectResultFault({ kind: 'empty', count: 100, query: 'any' }),
      () => {
        az.injectFaults({ status: 500, count: 100_000, target: 'any' });
      },
      () => {
        az.injectFaults({ status: 429, count: 4, retryAfterSeconds: 1, target: 'any' });
        sn.failNext({ status: 500, count: 100_000 });
      },
      () => sn.failNext({ status: 429, count: 100_000, retryAfterSec: 1 }),
    ];
    for (const inject of rounds) {
      inject();
      expect((await say(world, bot.url, ADMIN, 'sync')).status).toBe(200);
      az.clearFaults();
      sn.clearFaults();
      expect(await wrongResolutions()).toEqual([]);
    }
    figures.resolutionFaultRounds = rounds.length;

    await eventually(
      'the tickets of the fixed resources to be resolved',
      async () => {
        await say(world, bot.url, ADMIN, 'sync');
        const { assignments } = await world.readStore();
        const byKey = new Map(assignments.map((a) => [a.key, a]));
        const waiting = fixed.filter((t) => {
          const a = byKey.get(t.key)!;
          return a.status !== 'resolved' || sn.record('incident', a.ticket!.sysId)!.state !== '6';
        });
        return waiting.length === 0 ? true : undefined;
      },
      120_000,
      1_000,
    );
    az.showInResourceGraph(hidden.id);
    await say(world, bot.url, ADMIN, 'sync');
    expect(await resolutionState()).toEqual({ resolved: [], offCard: [] });
    const { assignments } = await world.readStore();
    const byKey = new Map(assignments.map((a) => [a.key, a]));
    expect(unfixed.map((t) => byKey.get(t.key)!.status)).toEqual(unfixed.map(() => 'open'));
    expect(unfixed.map((t) => sn.record('incident', byKey.get(t.key)!.ticket!.sysId)!.state)).toEqual(unfixed.map(() => '1'));
    expect(await wrongResolutions()).toEqual([]);
    figures.resolvedAfterRecovery = fixed.length;
    figures.keptOpen = unfixed.length;
    figures.duplicates = duplicates();
    expect(figures.duplicates).toBe(0);
  });
});
