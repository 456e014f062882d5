/**
 * The real bot (bot/index.ts createApp: restify + CloudAdapter, routers, cards, jobs, lowdb store)
 * in a child process, for the benchmarks that load it: it must not share an event loop with the
 * load generator, and its RSS is its own. Optionally connected to the simulators (Defender, and
 * ServiceNow through a stored integration), with seeded assignments, scheduled as in production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { writeHeapSnapshot } from 'node:v8';
import type { ScheduledTask } from 'node-cron';
import { loadConfig } from '../compose/config.js';
import { createApp } from '../bot/index.js';
import { createLogger } from '../compose/logger.js';
import { AzureClient } from '../connectors/defender/azureClient.js';
import { simulatorCredential } from '../connectors/defender/credentials.js';
import { ROOT_MANAGEMENT_GROUP } from '../sandbox/defender/dataset.js';
import { DEFAULT_SIMULATOR_CLIENT } from '../sandbox/defender/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../sandbox/servicenow/index.js';
import { systemClock } from '../core/clock.js';
import type { ResolutionReport } from '../app/resolution.js';
import { scheduleJob } from '../jobs/schedule.js';
import { openLowdbStore } from '../storage/lowdbStore.js';
import { SecretBox } from '../storage/secrets.js';
import type { Conversation } from '../core/model.js';
import { cpuAndMemory, memoryAfterGc, watchGc } from './echoBot.js';
import type { TaskOutcome } from './lib/child.js';
import { profiledPhase } from './lib/phase.js';
import { assignmentFromSeed } from './lib/seed.js';
import type { TicketSeed } from './simulatorChild.js';

export const BENCH_KEY = Buffer.alloc(32, 9);
export const BENCH_CHANNEL = '19:bench-security@thread.tacv2';
export const BENCH_INBOX = 'a:bench-inbox';
const SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
const INTEGRATION = 'Bench ITSM';

export interface BotServerArgs {
  /** Log level; the lines go nowhere, but are formatted as in production (default info). */
  logLevel?: string;
  /** Defender simulator to sync and resolve from; without it the bot has no recommendations feed. */
  defender?: { url: string; tenantId: string };
  /** ServiceNow simulator: an integration covering the whole tenant is added at start. */
  servicenowUrl?: string;
  /** A subscribed channel and a 1:1 inbox (where every reminder goes) on this Bot Connector. */
  connectorUrl?: string;
  /** Pace sends on virtual time: the figures are then the work, not Teams' rate windows. */
  virtualSends?: boolean;
}

export interface TickCounts {
  started: number;
  finished: number;
  /** node-cron ticks not run because the previous run was still busy, or missed (the event loop was blocked). */
  overlapped: number;
  missed: number;
  failed: number;
  /** Cron slots (every tick the schedule had, by the wall clock) from startSchedules to this report: the count the events above must account for. */
  dueByClock: number;
  /** Longest run (started to finished or failed, or to this report if still running), ms: how close a job came to overlapping its next tick. */
  longestMs: number;
  /** Wall and process CPU time (user + system, chat turns meanwhile included) of the runs: the mean over `runs` tells load from work. */
  totalMs: number;
  cpuMs: number;
  /** Runs in totalMs and cpuMs: the finished ones, and in a report one still going, with its time so far. */
  runs: number;
  /** Runs longer than the period, as [seconds after startSchedules when it started, ms]: whether they cluster at the start (the first pass, a cold JIT) or anywhere. */
  overPeriod: Array<[number, number]>;
}

/** A task's counts before its first tick. */
export function emptyTickCounts(): TickCounts {
  return { started: 0, finished: 0, overlapped: 0, missed: 0, failed: 0, dueByClock: 0, longestMs: 0, totalMs: 0, cpuMs: 0, runs: 0, overPeriod: [] };
}

export interface PassFigures {
  ms: number;
  /** CPU of the bot process while it ran (user + system): the machine's load moves it less than `ms`. */
  cpuMs: number;
  /** Store writes while it ran (lowdb: each is a rewrite of the whole file). */
  writes: number;
  report: Omit<ResolutionReport, 'watermark'>;
}

function conversation(id: string, kind: Conversation['kind'], serviceUrl: string): Conversation {
  const at = new Date().toISOString();
  return {
    id,
    channelId: 'msteams',
    serviceUrl,
    kind,
    name: kind === 'channel' ? 'Security' : 'Inbox',
    reference: {
      channelId: 'msteams',
      serviceUrl,
      conversation: { id, conversationType: kind, isGroup: kind !== 'personal' },
      bot: { id: '28:bench-bot', name: 'Defender bot' },
    },
    subscribed: kind === 'channel',
    filters: { severities: [], scopes: [] },
    ...(kind === 'personal' ? { userUpn: 'bench.user@contoso.com' } : {}),
    createdAt: at,
    updatedAt: at,
  };
}

// The period of an every-N-seconds cron (six fields, seconds first), the only form the soak schedules.
export function everySeconds(cronExpr: string): number {
  const m = /^\*\/(\d+) \* \* \* \* \*$/.exec(cronExpr);
  if (!m) throw new Error(`${cronExpr}: the soak counts the slots of '*/N * * * * *' schedules only`);
  return Number(m[1]);
}

/** bench/worker.ts task. */
export async function botServerTask(args: BotServerArgs | null): Promise<TaskOutcome> {
  const a = args ?? {};
  watchGc();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-bot-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: a.logLevel ?? 'info',
    ...(a.connectorUrl ? { SANDBOX_REMINDER_INBOX: BENCH_INBOX } : {}),
    ...(a.servicenowUrl ? { SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true' } : {}),
  });
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
  const logger = createLogger({ level: config.LOG_LEVEL, destination: sink });
  const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger });
  if (a.connectorUrl) {
    await store.conversations.upsert(conversation(BENCH_CHANNEL, 'channel', a.connectorUrl));
    await store.conversations.upsert(conversation(BENCH_INBOX, 'personal', a.connectorUrl));
  }
  const azure = a.defender
    ? new AzureClient({
        credential: simulatorCredential(a.defender.url, a.defender.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret),
        armBaseUrl: a.defender.url,
        graphBaseUrl: a.defender.url,
        logger,
      })
    : undefined;
  const virtual = { now: 0 };
  const app = createApp({
    config,
    store,
    clock: systemClock,
    logger,
    secrets: new SecretBox(BENCH_KEY),
    version: 'bench',
    azure,
    defenderScopes: [SCOPE],
    ...(a.virtualSends
      ? {
          messengerTiming: {
            now: () => virtual.now,
            sleep: async (ms: number) => {
              virtual.now += ms;
            },
          },
        }
      : {}),
  });
  if (a.servicenowUrl) await app.integrations.add({ name: INTEGRATION, scope: SCOPE, instanceUrl: a.servicenowUrl, ...DEFAULT_SIMULATOR_CREDENTIALS }, 'bench');
  const url = await app.listen(0, '127.0.0.1');

  const tasks: ScheduledTask[] = [];
  const slots: Record<string, { t: TickCounts; everyMs: number; since: number; runningSince?: number; cpuSince?: NodeJS.CpuUsage }> = {};
  const watch = (name: string, task: ScheduledTask, everyMs: number) => {
    const t = emptyTickCounts();
    const slot: (typeof slots)[string] = { t, everyMs, since: Date.now() };
    const startedAt = performance.now();
    slots[name] = slot;
    const ended = (count: 'finished' | 'failed') => () => {
      t[count]++;
      if (slot.runningSince !== undefined && slot.cpuSince) {
        const ms = performance.now() - slot.runningSince;
        const cpu = process.cpuUsage(slot.cpuSince);
        t.longestMs = Math.max(t.longestMs, ms);
        t.totalMs += ms;
        t.runs++;
        t.cpuMs += (cpu.user + cpu.system) / 1000;
        if (ms > everyMs) t.overPeriod.push([Math.round((slot.runningSince - startedAt) / 1000), Math.round(ms)]);
      }
      slot.runningSince = undefined;
    };
    task.on('execution:started', () => {
      t.started++;
      slot.runningSince = performance.now();
      slot.cpuSince = process.cpuUsage();
    });
    task.on('execution:finished', ended('finished'));
    task.on('execution:overlap', () => void t.overlapped++);
    task.on('execution:missed', () => void t.missed++);
    task.on('execution:failed', ended('failed'));
    tasks.push(task);
  };
  const resolutionPass = async (full: boolean): Promise<PassFigures> => {
    if (!app.resolution) throw new Error('no resolution job: the bot was started without the Defender simulator');
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const writes0 = store.status().writes;
    const resolution = app.resolution;
    const { watermark: _w, ...report } = await profiledPhase(full ? 'resolution-full-pass' : 'resolution-cycle', () => resolution.runOnce({ full }));
    const cpu = process.cpuUsage(cpu0);
    return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, writes: store.status().writes - writes0, report };
  };

  return {
    ready: { url },
    methods: {
      cpu: () => cpuAndMemory(),
      /** Open assignments for seeded tickets (needs servicenowUrl), stored in one write. */
      seedAssignments: async ({ seeds }: { seeds: TicketSeed[] }) => {
        const integration = await store.integrations.findByName(INTEGRATION);
        if (!integration || !a.servicenowUrl) throw new Error('no ServiceNow integration to seed assignments for');
        const at = new Date().toISOString();
        await store.assignments.upsertMany(
          seeds.map((s) => assignmentFromSeed(s, { integrationId: integration.id, servicenowUrl: a.servicenowUrl!, conversationId: BENCH_CHANNEL, at })),
        );
        return seeds.length;
      },
      resolutionPass: ({ full }: { full: boolean }) => resolutionPass(full),
      /** The production scheduler and overlap policy (jobs/schedule.ts) at soak speed: 6-field cron, seconds first. */
      startSchedules: ({ syncCron, reminderCron }: { syncCron: string; reminderCron: string }) => {
        if (app.runCycle) watch('sync cycle', scheduleJob('sync', syncCron, app.runCycle, logger), everySeconds(syncCron) * 1000);
        watch(
          'reminders',
          scheduleJob('reminders', reminderCron, () => app.reminders.runOnce(), logger),
          everySeconds(reminderCron) * 1000,
        );
        return Object.keys(slots);
      },
      ticks: () => {
        const now = Date.now();
        const report: Record<string, TickCounts> = {};
        for (const [name, s] of Object.entries(slots)) {
          const t = { ...s.t, dueByClock: Math.floor(now / s.everyMs) - Math.floor(s.since / s.everyMs) };
          // A run still going counts with its time so far: a slow last cycle must not hide, and a short soak still has one run measured.
          if (s.runningSince !== undefined && s.cpuSince) {
            const ms = performance.now() - s.runningSince;
            const cpu = process.cpuUsage(s.cpuSince);
            Object.assign(t, {
              longestMs: Math.max(t.longestMs, ms),
              totalMs: t.totalMs + ms,
              cpuMs: t.cpuMs + (cpu.user + cpu.system) / 1000,
              runs: t.runs + 1,
            });
          }
          report[name] = t;
        }
        return report;
      },
      /** process.memoryUsage() after a full collection (the child needs --expose-gc): what is still reachable. */
      memoryAfterGc: () => memoryAfterGc(),
      /** A V8 heap snapshot to `file` (diagnostics: blocks the bot for seconds and doubles its heap meanwhile). */
      heapSnapshot: ({ file }: { file: string }) => writeHeapSnapshot(file),
    },
    close: async () => {
      for (const t of tasks) await t.destroy();
      await app.stop();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
