/**
 * `npm run bench -- reminders`: plans one reminder pass over 100,000 assignments held by 5,000
 * owners (pure planning, in memory), next to a baseline from the same run: one sort of the same
 * assignments by owner and due date. The plan holds rows; building every message's items
 * (materialisePlan, what the job does one message at a time as it sends them) is timed on its
 * own and reported next to it. It runs in a fresh process, so its peak RSS is its own.
 */
import { performance } from 'node:perf_hooks';
import { addDays, materialisePlan, planReminders, DEFAULT_REMINDER_SETTINGS } from '../core/reminders.js';
import { assignmentSchema, type Assignment, type Severity } from '../core/model.js';
import { runInChild, type TaskOutcome } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { median, RssSampler, scaled, short, toMB } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';

/** Target of the issue: planning takes at most half of one sort of the same assignments. */
export const MAX_PLAN_RATIO = 0.5;

export const ASSIGNMENTS = 100_000;
export const OWNERS = 5_000;
const RUNS = 3;
const NOW = new Date('2026-11-30T09:00:00Z'); // a Monday, 09:00 UTC
const TODAY = '2026-11-30';
const SEVERITIES: Severity[] = ['High', 'Medium', 'Low'];

/** Deterministic pseudo-random numbers, so runs compare. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * The assignments as the store hands them out: each row goes through the store's schema
 * (assignmentSchema, what storage/schema.ts validates every stored row with), which builds every
 * object with the same keys in the same order, so all of them share one hidden class. Rows built
 * here by spreading differ in shape (10 of 1,000 shared one), which makes every property read
 * of the plan slower than on real store rows and measured the bench, not the planner.
 */
export function generateAssignments(count = ASSIGNMENTS, owners = OWNERS): Assignment[] {
  return generateRawAssignments(count, owners).map((a) => assignmentSchema.parse(a));
}

function generateRawAssignments(count: number, owners: number): Assignment[] {
  const rand = rng(42);
  // Defaults of fields added to the schema later come from the schema itself.
  const defaults = assignmentSchema.parse(template());
  const out: Assignment[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const owner = `owner${i % owners}@contoso.com`;
    const rec = `rec-${(i * 7) % 300}`;
    const resourceId = `/subscriptions/00000000-0000-0000-0000-${String(i % 1000).padStart(12, '0')}/resourceGroups/rg-${i % 50}/providers/Microsoft.Compute/virtualMachines/vm-${i}`;
    const id = `asg-${i}`;
    const r = rand();
    out[i] = {
      ...defaults,
      id,
      key: `${rec}|${i}`,
      batchId: `batch-${Math.floor(i / 10)}`,
      recommendationKey: rec,
      recommendationName: `Recommendation number ${(i * 7) % 300} should be remediated`,
      severity: SEVERITIES[i % 3]!,
      assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${rec}`,
      resourceId,
      resourceName: `vm-${i}`,
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      integrationId: 'int-1',
      ticketType: 'incident',
      owner,
      caller: 'admin@contoso.com',
      // -30 … +60 days around today: about a third overdue.
      dueDate: addDays(TODAY, Math.floor(r * 90) - 30),
      gracePeriod: i % 2 === 0,
      notifyOwner: i % 10 !== 0,
      notifyManager: i % 4 === 0,
      customFields: {},
      status: i % 20 === 0 ? 'resolved' : 'open',
      ticket: {
        table: 'incident',
        sysId: `sys${i}`,
        number: `INC${String(i).padStart(7, '0')}`,
        link: `https://contoso.service-now.com/incident.do?sys_id=sys${i}`,
      },
      governance: { key: id, status: 'synced' },
      conversationId: `19:channel-${i % 20}@thread.tacv2`,
      createdBy: { id: '29:admin' },
      createdAt: '2026-10-01T00:00:00.000Z',
      updatedAt: '2026-10-01T00:00:00.000Z',
      healthyPasses: 0,
    };
  }
  return out;
}

function template() {
  return {
    id: 't',
    key: 't',
    batchId: 't',
    recommendationKey: 't',
    recommendationName: 't',
    severity: 'High',
    assessmentId: 't',
    resourceId: 't',
    resourceName: 't',
    subscriptionId: 't',
    integrationId: 't',
    ticketType: 'incident',
    owner: 't',
    caller: 't',
    dueDate: TODAY,
    gracePeriod: false,
    notifyOwner: false,
    notifyManager: false,
    status: 'open',
    createdBy: { id: 't' },
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
  };
}

export interface RemindersFigures {
  assignments: number;
  owners: number;
  sortMs: number[];
  planMs: number[];
  /** Building every planned message's items after each plan (not part of planMs). */
  buildMs: number[];
  /** RSS once the assignments exist (before any sort or plan), and the peak over the runs. */
  dataRss: number;
  peakRss: number;
  messages: { digests: number; nudges: number; escalations: number; graceAnnouncements: number };
}

export function measureReminders(count = ASSIGNMENTS, owners = OWNERS): RemindersFigures {
  const sampler = new RssSampler();
  const assignments = generateAssignments(count, owners);
  sampler.reset();
  const dataRss = sampler.peak;
  sampler.start();
  const conversations = new Set(Array.from({ length: 20 }, (_, i) => `19:channel-${i}@thread.tacv2`));
  // A third of the grace announcements were made in earlier passes.
  const sent = new Set(assignments.filter((_, i) => i % 3 === 0).map((a) => `grace-ended:${a.id}`));
  const sortMs: number[] = [];
  const planMs: number[] = [];
  const buildMs: number[] = [];
  let plan: ReturnType<typeof planReminders> | undefined;
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const sorted = [...assignments].sort((a, b) =>
      a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : a.dueDate < b.dueDate ? -1 : a.dueDate > b.dueDate ? 1 : 0,
    );
    sortMs.push(performance.now() - t0);
    if (sorted.length !== assignments.length) throw new Error('baseline lost items');
    sampler.sample();

    const t1 = performance.now();
    plan = planReminders({ assignments, now: NOW, timezone: 'Europe/Dublin', settings: DEFAULT_REMINDER_SETTINGS, wasSent: (k) => sent.has(k), conversations });
    planMs.push(performance.now() - t1);
    sampler.sample();

    const t2 = performance.now();
    const built = materialisePlan(plan);
    buildMs.push(performance.now() - t2);
    if (built.digests.length !== plan.digests.length) throw new Error('messages lost in building');
    sampler.sample();
  }
  sampler.stop();
  const p = plan!;
  return {
    assignments: count,
    owners,
    sortMs,
    planMs,
    buildMs,
    dataRss,
    peakRss: sampler.peak,
    messages: { digests: p.digests.length, nudges: p.nudges.length, escalations: p.escalations.length, graceAnnouncements: p.graceEnded.length },
  };
}

/** bench/worker.ts task. */
export async function remindersPlanTask(args: { assignments: number; owners: number }): Promise<TaskOutcome> {
  return { result: measureReminders(args.assignments, args.owners) };
}

export async function runReminders(ctx: BenchContext): Promise<Row[]> {
  const count = scaled(ASSIGNMENTS, ctx.size, 100);
  const owners = scaled(OWNERS, ctx.size, 5);
  const f = await runInChild<RemindersFigures>('reminders-plan', { assignments: count, owners });
  const m = f.messages;
  ctx.progress(
    `reminders: plan ${f.planMs.map((x) => x.toFixed(0)).join(' / ')} ms, sort ${f.sortMs.map((x) => x.toFixed(0)).join(' / ')} ms, ` +
      `building every message's items ${f.buildMs.map((x) => x.toFixed(0)).join(' / ')} ms; ` +
      `${m.digests} digests, ${m.nudges} nudges, ${m.escalations} escalations, ${m.graceAnnouncements} grace-ended posts`,
  );
  const label = `reminders ${short(count)} assignments / ${short(owners)} owners`;
  return [
    row({
      figure: `${label}: plan one pass (vs one sort of them)`,
      value: median(f.planMs),
      unit: 'ms',
      baseline: median(f.sortMs),
      target: { ratioAtMost: MAX_PLAN_RATIO },
    }),
    row({ figure: `${label}: peak RSS (vs RSS holding the assignments)`, value: toMB(f.peakRss), unit: 'MB', baseline: toMB(f.dataRss) }),
  ];
}

export const remindersBenchmark: Benchmark = {
  name: 'reminders',
  aliases: ['remind'],
  description: 'planning a reminder pass over 100,000 assignments / 5,000 owners vs one sort of them',
  inDefaultRun: true,
  run: runReminders,
};
