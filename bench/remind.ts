/**
 * `npm run bench -- remind`: plans one reminder pass over 100,000 assignments held by 5,000
 * owners, in memory, next to a baseline (one sort of the same assignments) from the same run.
 */
import { performance } from 'node:perf_hooks';
import { addDays, planReminders, DEFAULT_REMINDER_SETTINGS } from '../core/reminders.js';
import { assignmentSchema, type Assignment, type Severity } from '../storage/schema.js';

const ASSIGNMENTS = 100_000;
const OWNERS = 5_000;
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

export function generateAssignments(count = ASSIGNMENTS, owners = OWNERS): Assignment[] {
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchRemind(): Promise<string> {
  let peakRss = process.memoryUsage().rss;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const assignments = generateAssignments();
  sample();
  const conversations = new Set(Array.from({ length: 20 }, (_, i) => `19:channel-${i}@thread.tacv2`));
  // A third of the grace announcements were made in earlier passes.
  const sent = new Set(assignments.filter((_, i) => i % 3 === 0).map((a) => `grace-ended:${a.id}`));

  const baseline: number[] = [];
  const planning: number[] = [];
  let plan: ReturnType<typeof planReminders> | undefined;
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const sorted = [...assignments].sort((a, b) =>
      a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : a.dueDate < b.dueDate ? -1 : a.dueDate > b.dueDate ? 1 : 0,
    );
    baseline.push(performance.now() - t0);
    if (sorted.length !== assignments.length) throw new Error('baseline lost items');
    sample();

    const t1 = performance.now();
    plan = planReminders({ assignments, now: NOW, timezone: 'Europe/Dublin', settings: DEFAULT_REMINDER_SETTINGS, wasSent: (k) => sent.has(k), conversations });
    planning.push(performance.now() - t1);
    sample();
  }
  const p = plan!;
  const messages = {
    digests: p.digests.length,
    nudges: p.nudges.length,
    escalations: p.escalations.length,
    graceAnnouncements: p.graceEnded.length,
  };
  const total = messages.digests + messages.nudges + messages.escalations + messages.graceAnnouncements;
  const planMs = median(planning);
  const rows: Array<[string, string]> = [
    ['assignments / owners', `${ASSIGNMENTS.toLocaleString('en')} / ${OWNERS.toLocaleString('en')}`],
    ['baseline: sort all assignments (median of 3)', `${median(baseline).toFixed(1)} ms`],
    ['plan one pass (median of 3)', `${planMs.toFixed(1)} ms (target ≤ 1000 ms: ${planMs <= 1000 ? 'met' : 'MISSED'})`],
    ['plan runs', planning.map((x) => `${x.toFixed(1)} ms`).join(', ')],
    [
      'messages that would be sent',
      `${total.toLocaleString('en')} (digests ${messages.digests}, nudges ${messages.nudges}, manager escalations ≤ ${messages.escalations} reports, grace-ended channel posts ${messages.graceAnnouncements})`,
    ],
    ['items in digests', String(p.digests.reduce((n, d) => n + d.items.length, 0))],
    ['peak RSS', `${(peakRss / 1024 / 1024).toFixed(0)} MB`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = ['reminder planning benchmark', ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`)].join('\n');
  return table;
}

if (require.main === module) {
  void benchRemind().then((t) => console.log(t));
}
