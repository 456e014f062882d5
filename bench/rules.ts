/**
 * `npm run bench -- rules`: the governance-rule step of one sync, pure, over 10,000 newly
 * unhealthy findings and 20 rules (management-group, subscription and resource-group scopes;
 * severity, recommendation and tag conditions; owners from tags with inheritance and fallbacks,
 * fixed owners; two disabled). Measured: the CPU time from the pass's recommendations to the
 * assignment rows to store — findings and their keys (findingsOf), the resources whose tags are
 * needed, the tag answer turned into a TagSource, the plan (winner, owner, tickets, cap) and the
 * rows of every planned ticket (ruleAssignments) — once with the default cap of 50 tickets per
 * rule and once with every ticket confirmed.
 *
 * Baseline, same run, same input: what the sync pass already computes from those rows without
 * rules — grouping them into recommendations (RecommendationAccumulator), their snapshots and
 * content hashes, and the diff against the stored ones (none: all new). It is the in-process
 * work of the pass the rules step is added to, so the ratio says how much heavier a sync
 * becomes; the target is absolute (≤ 1 s of CPU).
 *
 * It runs in a fresh process (bench/worker.ts task `rules-plan`), medians of 3.
 */
import { performance } from 'node:perf_hooks';
import type { UnhealthyResource } from '../core/defender-model.js';
import { ruleSchema, type Recommendation, type Rule, type Severity } from '../core/model.js';
import { diffRecommendations, RecommendationAccumulator } from '../core/recommendations.js';
import { buildTagSource, findingsOf, planRules, resourcesNeedingTags, ruleAssignments } from '../core/rules.js';
import { runInChild, type TaskOutcome } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { cpuMsSince, median, scaled, short } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';

/** The target: rule evaluation of one sync at most 1 s of CPU. */
export const MAX_RULES_CPU_MS = 1_000;
export const FINDINGS = 10_000;
export const RULES = 20;
const RECOMMENDATIONS = 60;
const RUNS = 3;
const NOW = new Date('2026-11-30T09:00:00Z');
const SUBSCRIPTIONS = ['3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2', 'a7d4e9f0-2b6c-4f18-8e53-1c9d7b2a6f04', 'c5e1a3b7-9f2d-4c06-b8e4-6d0f2a9c1e73'];
const ROOT = 'mg-contoso';
const CHILD = 'mg-contoso-prod';
const ANCESTRY = new Map([
  [SUBSCRIPTIONS[0]!, [CHILD, ROOT]],
  [SUBSCRIPTIONS[1]!, [CHILD, ROOT]],
  [SUBSCRIPTIONS[2]!, [ROOT]],
]);
const SEVERITIES: Severity[] = ['High', 'Medium', 'Low'];
const OWNERS = Array.from({ length: 40 }, (_, i) => `owner${i}@contoso.com`);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const guid = (n: number, salt: number) => `${salt.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const recKey = (i: number) => guid(i, 0xbe0c);

export interface RulesInput {
  rows: UnhealthyResource[];
  /** Tags as Resource Graph would return them, by lower-case id (resources), `sub/rg` (groups), subscription. */
  resourceTags: Map<string, Record<string, string> | null>;
  groupTags: Array<{ subscriptionId: string; name: string; tags: Record<string, string> }>;
  subscriptionTags: Array<{ subscriptionId: string; tags: Record<string, string> }>;
  rules: Rule[];
}

/** 10,000 unhealthy rows (one per resource and recommendation), owner tags like the sandbox's, 20 rules. */
export function generateRulesInput(findings = FINDINGS): RulesInput {
  const rand = rng(15);
  const rows: UnhealthyResource[] = [];
  const resourceTags = new Map<string, Record<string, string> | null>();
  const resources = Math.max(1, Math.ceil(findings / 4));
  for (let i = 0; i < findings; i++) {
    const r = i % resources;
    const sub = SUBSCRIPTIONS[r % SUBSCRIPTIONS.length]!;
    const rg = `rg-bench-${String(r % 40).padStart(2, '0')}`;
    const resourceId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/vm-bench-${String(r).padStart(6, '0')}`;
    const k = (Math.floor(i / resources) * 7 + r) % RECOMMENDATIONS;
    const key = recKey(k);
    rows.push({
      assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
      assessmentKey: key,
      resourceId,
      resourceName: `vm-bench-${String(r).padStart(6, '0')}`,
      resourceType: 'Microsoft.Compute/virtualMachines',
      subscriptionId: sub,
      resourceGroup: rg,
      severity: SEVERITIES[k % 3]!,
      status: 'Unhealthy',
      statusChangeDate: NOW.toISOString(),
      displayName: `Benchmark recommendation ${k} should be remediated`,
      description: `<p>Recommendation ${k}: a description with <b>markup</b>, as Defender ships it.</p>`,
      remediationSteps: '<ol><li>Open the resource.</li><li>Fix the setting.</li></ol>',
      portalLink: `https://portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/${key}`,
    });
    if (!resourceTags.has(resourceId.toLowerCase())) {
      const h = rand();
      const who = OWNERS[Math.floor(rand() * OWNERS.length)]!;
      const env = r % 2 ? 'production' : 'development';
      resourceTags.set(
        resourceId.toLowerCase(),
        h < 0.5
          ? { owner: who, env }
          : h < 0.55
            ? { owner: 'Team Payments', env }
            : h < 0.6
              ? { Owner: who }
              : h < 0.75
                ? { SecurityOwner: who, env }
                : h < 0.9
                  ? { env }
                  : null,
      );
    }
  }
  const groupTags = Array.from({ length: 40 }, (_, g) => ({
    subscriptionId: SUBSCRIPTIONS[g % 3]!,
    name: `rg-bench-${String(g).padStart(2, '0')}`,
    tags: g % 5 === 0 ? { owner: OWNERS[g]! } : ({} as Record<string, string>),
  }));
  const subscriptionTags = [{ subscriptionId: SUBSCRIPTIONS[1]!, tags: { SecurityOwner: 'platform@contoso.com' } }];

  const stamp = NOW.toISOString();
  const base = {
    integrationId: 'int-1',
    dueInDays: 14,
    enabled: true,
    createdBy: { id: 'bench' },
    createdAt: stamp,
    updatedBy: { id: 'bench' },
    updatedAt: stamp,
  };
  const mg = (name: string) => `/providers/Microsoft.Management/managementGroups/${name}`;
  const recs = (from: number) => Array.from({ length: 5 }, (_, j) => recKey((from + j) % RECOMMENDATIONS));
  const specs: Array<Record<string, unknown>> = [
    {
      scope: mg(ROOT),
      conditions: { severities: ['High'], tag: { name: 'env', value: 'production' } },
      owner: { kind: 'tag', tags: ['owner', 'SecurityOwner'] },
    },
    { scope: mg(CHILD), conditions: { severities: ['High'] }, owner: { kind: 'tag', tags: ['owner'] }, fallbackOwner: 'secops@contoso.com' },
    { scope: mg(ROOT), conditions: { recommendations: recs(0) }, owner: { kind: 'fixed', email: 'alice@contoso.com' } },
    { scope: mg(ROOT), conditions: { severities: ['Medium'], recommendations: recs(10) }, owner: { kind: 'tag', tags: ['SecurityOwner', 'owner'] } },
    { scope: mg(ROOT), enabled: false, owner: { kind: 'fixed', email: 'nobody@contoso.com' } },
  ];
  for (let i = 0; i < 10; i++) {
    specs.push({
      scope: `/subscriptions/${SUBSCRIPTIONS[i % 3]}`,
      conditions: { recommendations: recs(15 + i * 4), ...(i % 3 === 0 ? { severities: ['Medium', 'Low'] } : {}) },
      owner: i % 2 ? { kind: 'fixed', email: OWNERS[i]! } : { kind: 'tag', tags: ['owner'] },
      ...(i % 4 === 0 ? { fallbackOwner: 'fallback@contoso.com' } : {}),
      ...(i % 5 === 0 ? { ticketGrouping: 'single' } : {}),
    });
  }
  for (let i = 0; i < 4; i++) {
    specs.push({
      scope: `/subscriptions/${SUBSCRIPTIONS[i % 3]}`,
      resourceGroup: `rg-bench-${String(i * 3).padStart(2, '0')}`,
      owner: { kind: 'tag', tags: ['owner'] },
      fallbackOwner: `rg${i}@contoso.com`,
    });
  }
  specs.push({ scope: `/subscriptions/${SUBSCRIPTIONS[2]}`, enabled: false, owner: { kind: 'fixed', email: 'off@contoso.com' } });
  const rules = specs.slice(0, RULES).map((s, i) => ruleSchema.parse({ ...base, id: `rule-${i}`, name: `Bench rule ${i}`, priority: 10 + i * 5, ...s }));
  return { rows, resourceTags, groupTags, subscriptionTags, rules };
}

/** The sync pass's own work on the rows, without rules (the baseline). */
function syncPassWork(rows: readonly UnhealthyResource[]): Map<string, Recommendation> {
  const acc = new RecommendationAccumulator();
  acc.add(rows);
  const snapshots = acc.snapshots(() => undefined, NOW);
  const diff = diffRecommendations([], snapshots, NOW);
  if (diff.added.length !== snapshots.size) throw new Error('baseline: every recommendation should be new');
  return snapshots;
}

export interface RuleStepResult {
  findings: number;
  tagsAsked: number;
  tickets: number;
  paused: number;
  assignments: number;
  needsOwner: number;
}

/** The rules step of one sync: from the pass's recommendations to the assignment rows. */
export function rulesStep(input: RulesInput, recs: ReadonlyMap<string, Recommendation>, confirmedAll: boolean): RuleStepResult {
  const findings = findingsOf(recs.values(), ANCESTRY);
  const live = new Set<string>();
  const needed = resourcesNeedingTags(input.rules, findings, live);
  const tags = buildTagSource({
    resources: needed.map((id) => ({ id, tags: input.resourceTags.get(id.toLowerCase()) ?? null })),
    resourceGroups: input.groupTags,
    subscriptions: input.subscriptionTags,
  });
  const plan = planRules({
    rules: input.rules,
    findings,
    liveKeys: live,
    tags,
    now: NOW,
    timeZone: 'Europe/Dublin',
    ...(confirmedAll ? { allowances: new Map(input.rules.map((r) => [r.id, Infinity])) } : {}),
  });
  let n = 0;
  let assignments = 0;
  for (const t of plan.tickets) {
    assignments += ruleAssignments(t, recs.get(t.recommendationKey)!, { newId: () => `asg-${++n}`, caller: 'bench@contoso.com', now: NOW }).length;
  }
  return {
    findings: findings.length,
    tagsAsked: needed.length,
    tickets: plan.tickets.length,
    paused: plan.paused.length,
    assignments,
    needsOwner: plan.needsOwner.length,
  };
}

export interface RulesFigures {
  findings: number;
  rules: number;
  baselineCpuMs: number[];
  cappedCpuMs: number[];
  uncappedCpuMs: number[];
  wallMs: number[];
  capped: RuleStepResult;
  uncapped: RuleStepResult;
}

export function measureRules(findings = FINDINGS): RulesFigures {
  const input = generateRulesInput(findings);
  const f: RulesFigures = {
    findings,
    rules: input.rules.length,
    baselineCpuMs: [],
    cappedCpuMs: [],
    uncappedCpuMs: [],
    wallMs: [],
    capped: undefined as never,
    uncapped: undefined as never,
  };
  for (let run = 0; run < RUNS; run++) {
    let cpu = process.cpuUsage();
    const recs = syncPassWork(input.rows);
    f.baselineCpuMs.push(cpuMsSince(cpu));

    cpu = process.cpuUsage();
    const t0 = performance.now();
    f.capped = rulesStep(input, recs, false);
    f.wallMs.push(performance.now() - t0);
    f.cappedCpuMs.push(cpuMsSince(cpu));

    cpu = process.cpuUsage();
    f.uncapped = rulesStep(input, recs, true);
    f.uncappedCpuMs.push(cpuMsSince(cpu));
  }
  return f;
}

/** bench/worker.ts task. */
export async function rulesPlanTask(args: { findings: number }): Promise<TaskOutcome> {
  return { result: measureRules(args.findings) };
}

export async function runRules(ctx: BenchContext): Promise<Row[]> {
  const findings = scaled(FINDINGS, ctx.size, 100);
  const f = await runInChild<RulesFigures>('rules-plan', { findings });
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
  ctx.progress(
    `rules: capped ${ms(f.cappedCpuMs)} ms CPU, uncapped ${ms(f.uncappedCpuMs)} ms, baseline ${ms(f.baselineCpuMs)} ms; ` +
      `${f.capped.tagsAsked} resources' tags asked, ${f.capped.tickets} tickets (${f.capped.paused} paused), ` +
      `${f.uncapped.assignments} assignments uncapped, ${f.capped.needsOwner} need an owner`,
  );
  const label = `rules ${short(f.findings)} new findings × ${f.rules} rules`;
  const baseline = median(f.baselineCpuMs);
  return [
    row({
      figure: `${label}: evaluate one sync, cap 50 per rule (CPU, vs the pass grouping the same rows)`,
      value: median(f.cappedCpuMs),
      unit: 'ms',
      baseline,
      target: { atMost: MAX_RULES_CPU_MS },
    }),
    row({
      figure: `${label}: every ticket confirmed, ${short(f.uncapped.assignments)} assignment rows (CPU, vs the same)`,
      value: median(f.uncappedCpuMs),
      unit: 'ms',
      baseline,
      target: { atMost: MAX_RULES_CPU_MS },
    }),
  ];
}

export const rulesBenchmark: Benchmark = {
  name: 'rules',
  description: 'governance rules of one sync: 10,000 new findings × 20 rules, vs the pass grouping the same rows',
  inDefaultRun: true,
  run: runRules,
};
