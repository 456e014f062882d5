/**
 * The simulators in their own process: a real Resource Graph or ServiceNow instance sits on
 * another machine, so their memory and CPU must not count against the code being measured.
 * Tasks of bench/worker.ts; control goes through IPC calls instead of the simulators' HTTP
 * control API, which would add requests to the figures.
 */
import { z } from 'zod';
import { generateDataset } from '../sandbox/defender/dataset.js';
import { startDefenderSimulator } from '../sandbox/defender/index.js';
import { startServiceNowSimulator, userId } from '../sandbox/servicenow/index.js';
import { correlationKey } from '../core/servicenow-rules.js';
import { ManualClock } from '../core/clock.js';
import type { TaskOutcome } from './lib/child.js';

const DefenderArgs = z.object({
  recommendations: z.number().int().positive(),
  assessments: z.number().int().positive(),
  pageSize: z.number().int().positive().default(1000),
});
export type DefenderSimulatorArgs = z.input<typeof DefenderArgs>;
export interface DefenderEndpoint {
  url: string;
  tenantId: string;
}

/** The Defender simulator over a generated tenant in which every assessment is unhealthy. */
export async function defenderSimulatorTask(raw: DefenderSimulatorArgs): Promise<TaskOutcome> {
  const args = DefenderArgs.parse(raw);
  const dataset = generateDataset({ recommendations: args.recommendations, assessments: args.assessments, unhealthyRatio: 1 });
  const sim = await startDefenderSimulator({ dataset, quota: 'off', pageSize: args.pageSize, httpControl: false });
  return {
    ready: { url: sim.url, tenantId: sim.tenantId } satisfies DefenderEndpoint,
    close: () => sim.close(),
  };
}

const SimulatorsArgs = z.object({
  recommendations: z.number().int().positive(),
  assessments: z.number().int().positive(),
  pageSize: z.number().int().positive().default(1000),
  /** ServiceNow latency per request (ms). */
  servicenowLatencyMs: z.number().int().min(0).default(0),
});
export type SimulatorsArgs = z.input<typeof SimulatorsArgs>;
export interface SimulatorsEndpoint {
  defender: DefenderEndpoint;
  servicenowUrl: string;
}

/** One open ticket in ServiceNow for one unhealthy assessment: what a seeded assignment points at. */
export interface TicketSeed {
  assessmentId: string;
  resourceId: string;
  assessmentKey: string;
  recommendationName: string;
  key: string;
  sysId: string;
  number: string;
}

export const SEED_OWNER = 'alice.owner@contoso.com';
export const REASSIGNED_OWNER = 'carol.nguyen@contoso.com';

export interface SimulatorStats {
  servicenowRequests: number;
  /** Items run inside those requests' Batch API calls (each would be a request of its own without it). */
  servicenowBatchItems: number;
  /** Rows ServiceNow answered in ticket-table list reads. */
  servicenowTicketRows: number;
  defenderRequests: number;
}

/** Seeded tickets last changed a day before the cycles: open tickets at rest, as in a tenant. */
const SEEDED_STAMP_AGE_MS = 24 * 3_600_000;

/** Both simulators, for the resolution benchmark: tickets are seeded directly into the ServiceNow tables. */
export async function simulatorsTask(raw: SimulatorsArgs): Promise<TaskOutcome> {
  const args = SimulatorsArgs.parse(raw);
  const dataset = generateDataset({ recommendations: args.recommendations, assessments: args.assessments, unhealthyRatio: 1 });
  const names = new Map(dataset.recommendations.map((r) => [r.key.toLowerCase(), r.displayName]));
  const defender = await startDefenderSimulator({ dataset, quota: 'off', pageSize: args.pageSize, httpControl: false });
  const snow = await startServiceNowSimulator({ httpControl: false });
  snow.control.setLatency(args.servicenowLatencyMs);
  const pool = defender.control.listAssessments({ code: 'Unhealthy' });
  let next = 0;
  let flips = 0;
  const owner = userId(SEED_OWNER.split('@')[0]!);
  return {
    ready: { defender: { url: defender.url, tenantId: defender.tenantId }, servicenowUrl: snow.url } satisfies SimulatorsEndpoint,
    methods: {
      seedTickets: ({ count }: { count: number }): TicketSeed[] => {
        const out: TicketSeed[] = [];
        const stamp = new Date(Date.now() - SEEDED_STAMP_AGE_MS).toISOString().slice(0, 19).replace('T', ' ');
        for (let i = 0; i < count; i++) {
          const a = pool[next++];
          if (!a) throw new Error(`only ${pool.length} unhealthy assessments to seed from`);
          const key = correlationKey(a.id, a.resourceId);
          const recommendationName = names.get(a.assessmentKey.toLowerCase()) ?? a.assessmentKey;
          const row = snow.control.insert('incident', {
            short_description: `Defender for Cloud: ${recommendationName}`,
            assigned_to: owner,
            caller_id: owner,
            state: '1',
            correlation_id: key,
            correlation_display: recommendationName.slice(0, 100),
            opened_at: stamp,
            sys_created_on: stamp,
            sys_updated_on: stamp,
          });
          out.push({
            assessmentId: a.id,
            resourceId: a.resourceId,
            assessmentKey: a.assessmentKey,
            recommendationName,
            key,
            sysId: row.sys_id!,
            number: row.number!,
          });
        }
        return out;
      },
      /** Resources fixed in Defender, tickets reassigned in ServiceNow (as a person does in the UI). */
      change: ({ healthy, reassigned }: { healthy: TicketSeed[]; reassigned: TicketSeed[] }) => {
        for (const s of healthy) defender.control.markHealthy({ resourceId: s.resourceId, assessmentKey: s.assessmentKey });
        const carol = userId(REASSIGNED_OWNER.split('@')[0]!);
        for (const s of reassigned) snow.control.setFields('incident', s.sysId, { assigned_to: carol });
        return { healthy: healthy.length, reassigned: reassigned.length };
      },
      stats: (): SimulatorStats => ({
        servicenowRequests: snow.control.requestCount(),
        servicenowBatchItems: snow.control.batchItemCount(),
        servicenowTicketRows: snow.control
          .requests()
          .filter((r) => /\/table\/(incident|problem|change_request)$/.test(r.path))
          .reduce((n, r) => n + (r.rows ?? 0), 0),
        defenderRequests: defender.control.requestCount(),
      }),
      resetStats: () => {
        snow.control.resetStats();
        defender.control.resetRequestLog();
        return true;
      },
      /** Churn for the soak: an unseeded assessment turns healthy, the one turned healthy before turns unhealthy again. */
      flip: () => {
        const free = pool.slice(next);
        if (free.length === 0) return 0;
        const a = free[flips % free.length]!;
        const before = free[(flips + free.length - 1) % free.length]!;
        if (flips > 0 && before !== a) defender.control.markUnhealthy({ resourceId: before.resourceId, assessmentKey: before.assessmentKey });
        defender.control.markHealthy({ resourceId: a.resourceId, assessmentKey: a.assessmentKey });
        return ++flips;
      },
      setServiceNowLatency: ({ ms }: { ms: number }) => {
        snow.control.setLatency(ms);
        return true;
      },
    },
    close: async () => {
      await Promise.all([defender.close(), snow.close()]);
    },
  };
}

const ServiceNowArgs = z.object({ latencyMs: z.number().int().min(0).default(0) });
export type ServiceNowSimulatorArgs = z.input<typeof ServiceNowArgs>;

/** The ServiceNow simulator alone, in its own process (its latency timers and CPU do not share the bot's event loop). */
export async function serviceNowSimulatorTask(raw: ServiceNowSimulatorArgs): Promise<TaskOutcome> {
  const args = ServiceNowArgs.parse(raw);
  const snow = await startServiceNowSimulator({ httpControl: false });
  snow.control.setLatency(args.latencyMs);
  return {
    ready: { url: snow.url },
    methods: {
      setLatency: ({ ms }: { ms: number }) => snow.control.setLatency(ms),
      resetStats: () => snow.control.resetStats(),
      maxInFlight: () => snow.control.maxInFlight(),
    },
    close: () => snow.close(),
  };
}

const SandboxDefenderArgs = z.object({ clockStart: z.iso.datetime() });
export type SandboxDefenderArgs = z.input<typeof SandboxDefenderArgs>;
/** A resource that a bench assigns: its assessment must exist, or Defender refuses the governance PUT (404). */
export type BenchAssessment = { resourceId: string; assessmentKey: string };

/**
 * The Defender simulator over the built-in sandbox tenant (its directory, role grants and
 * recommendations, as test/harness/sandboxHarness.ts serves them) on a frozen clock at the bot's
 * start time, for the create-assignment bench: Defender's request handling (token, governance
 * GET + PUT per ticket) runs here, not in the bot's process.
 */
export async function sandboxDefenderSimulatorTask(raw: SandboxDefenderArgs): Promise<TaskOutcome> {
  const args = SandboxDefenderArgs.parse(raw);
  const sim = await startDefenderSimulator({ clock: new ManualClock(args.clockStart), quota: 'off', httpControl: false });
  return {
    ready: { url: sim.url, tenantId: sim.tenantId } satisfies DefenderEndpoint,
    methods: {
      addAssessments: ({ items }: { items: BenchAssessment[] }) => sim.control.addUnhealthyAssessments(items).length,
      /** Governance assignments Defender holds on assessments of this recommendation key. */
      governanceCount: ({ assessmentKey }: { assessmentKey: string }) =>
        sim.control.listGovernanceAssignments().filter((g) => g.assessmentKey.toLowerCase() === assessmentKey.toLowerCase()).length,
      requestCount: () => sim.control.requestCount(),
      resetRequestLog: () => sim.control.resetRequestLog(),
    },
    close: () => sim.close(),
  };
}
