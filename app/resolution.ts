/**
 * Automatic resolution and two-way sync. Each pass:
 *  1. releases the assignments of removed integrations (work note, ticket left open);
 *  2. learns the assessments of open assignments: healthy (after the debounce) → resolve the
 *     ticket honestly, delete the governance assignment, announce. A full pass (the first one,
 *     with no watermark yet, and the daily full reconcile) reads every one by id and confirms a
 *     missing one with the assessments API (a deleted resource); a normal pass asks Resource Graph
 *     once for what changed since a watermark (with overlap) and reads by id only the assignments
 *     waiting for their next healthy pass (the debounce), those whose ticket changed and those the
 *     last pass left undecided; only these are stepped;
 *  3. follows the tickets of open assignments: closed in ServiceNow while unhealthy → removed,
 *     reassigned in ServiceNow → owner updated, manual closure done → resolved. A normal pass reads
 *     only the tickets changed since a watermark per integration and table (ServiceNow's
 *     sys_updated_on, with overlap); the daily full reconcile, and a table without a watermark
 *     yet, read every open ticket by id;
 *  4. watches recently auto-resolved assignments for a regression (changed-since-watermark
 *     query on normal passes, by id on the daily full reconcile) → reopen or open a follow-up.
 * Each assignment's step runs under its lock (app/assignmentWriter.ts) and changes it only through
 * core/lifecycle.ts, so an admin's due-date change never interleaves with it. State is persisted
 * before the slow or irreversible calls that follow it; every ServiceNow and Defender call is
 * idempotent, so a retry after a crash converges. An announcement is written as a work item with
 * the outcome it tells of and sent at the end of the pass (or, after a crash, by the next pass);
 * it is claimed in the store before it is sent (app/announcements.ts), so it goes out once.
 */
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { splitAssessmentId, type UnhealthyResource } from '../core/defender-model.js';
import {
  awaitingManualClose,
  backToOpen,
  ENDED_ASSIGNMENT_STATUSES,
  healthyPassCounted,
  LIVE_ASSIGNMENT_STATUSES,
  ownerChanged,
  removed,
  reopened,
  reopenedAsNew,
  resolved,
  resolvedBeforeTicket,
  ticketStateSeen,
} from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import {
  announcementKey,
  announcements,
  CLOSE_REASON,
  decideLive,
  decideRegression,
  decideTicket,
  decideUnticketed,
  regressionCorrelationId,
  regressionNote,
  regressionTicketFields,
  resolutionEvidence,
  watchForRegression,
  type AssessmentState,
} from '../core/resolution.js';
import type { TicketTable } from '../core/servicenow-rules.js';
import { GOVERNANCE_STATUSES, type Assignment, type Integration } from '../core/model.js';
import { ANNOUNCEMENT_WORK, announcementIntent, type Announcements } from './announcements.js';
import type { AssignmentSession, AssignmentWriter, AuditNote, Change, CommitGroup } from './assignmentWriter.js';
import type { GovernanceWriteBack } from './governance.js';
import type { RecommendationCards } from './recommendationCards.js';
import { reasonOf, type DefenderPort, type ResolveResult, type Store, type TicketSystem, type TicketWithAssignee, type WorkRequest } from './ports.js';

/** The part of the DefenderPort this job reads (governance writes go through GovernanceWriteBack). */
export type ResolutionAzureClient = Pick<DefenderPort, 'readAssessmentsByIds' | 'queryChangedSince' | 'getAssessment'>;

/** The part of IntegrationService this job calls. */
export interface ResolutionIntegrations {
  find(id: string): Promise<Integration | undefined>;
  clientFor(integration: Integration): TicketSystem;
}

export interface ResolutionSettings {
  /** RESOLVE_AFTER_HEALTHY_PASSES (default 1). */
  resolveAfterHealthyPasses: number;
  /** REOPEN_WINDOW_DAYS (default 14). */
  reopenWindowDays: number;
  /** sys_ids per ServiceNow read (default 50). */
  ticketBatchSize: number;
  /** The changed-since query starts this much before the watermark: Resource Graph ingests late (default 15 min). */
  watermarkOverlapMs: number;
  /** Concurrent assessment reads when confirming that a resource is gone (default 4). */
  confirmConcurrency: number;
  /**
   * The changed-tickets query starts this much before the ticket watermark (default 5 min): a
   * ServiceNow transaction is stamped when it starts and seen when it commits, and the nodes of an
   * instance do not share one clock exactly. Re-reading a few minutes of changes is idempotent.
   */
  ticketWatermarkOverlapMs: number;
  /** Rows per page of the changed-tickets query (default 1,000). */
  changedTicketsPageSize: number;
  /**
   * Assignments whose step runs at the same time (default 32): their ServiceNow and Defender calls
   * overlap (the ServiceNow client keeps its own per-instance limit). It bounds the calls, not the
   * writes: the steps of a phase write together however many there are (see inLanes).
   */
  stepConcurrency: number;
}

export const DEFAULT_RESOLUTION_SETTINGS: ResolutionSettings = {
  resolveAfterHealthyPasses: 1,
  reopenWindowDays: 14,
  ticketBatchSize: 50,
  watermarkOverlapMs: 15 * 60_000,
  confirmConcurrency: 4,
  ticketWatermarkOverlapMs: 5 * 60_000,
  changedTicketsPageSize: 1000,
  stepConcurrency: 32,
};

export interface ResolutionDeps {
  store: Store;
  writer: AssignmentWriter;
  /** Writes and deletes Defender's governance assignments (with the Defender client this job reads). */
  governance: GovernanceWriteBack;
  announcements: Announcements;
  cards: Pick<RecommendationCards, 'refresh'>;
  azure: ResolutionAzureClient;
  integrations: ResolutionIntegrations;
  clock: Clock;
  logger: Logger;
  settings?: Partial<ResolutionSettings>;
  /** ARM scopes (as for the sync job). */
  scopes: readonly string[];
}

export interface ResolutionReport {
  full: boolean;
  /** Assignments whose assessment was read by id. */
  checked: number;
  waiting: number;
  resolved: number;
  needsManual: number;
  closedAfterManual: number;
  backToOpen: number;
  reopened: number;
  reopenedAsNew: number;
  removedInServiceNow: number;
  ownersChanged: number;
  integrationRemoved: number;
  governanceDeleted: number;
  cardsUpdated: number;
  /** Outcomes announced, and the Teams messages they went out in (one per conversation and pass, app/announcements.ts digestTexts). */
  announcements: number;
  announcementMessages: number;
  errors: number;
  /**
   * Resource Graph answers that were incomplete (truncated, short of totalRecords): what they left
   * out was neither resolved nor treated as gone, and the watermark did not move past them.
   */
  incompleteAnswers: number;
  /** Ticket rows ServiceNow answered (by id on a full read, changed since the watermark otherwise). */
  ticketRowsRead: number;
  /** (integration, table) groups read in full by id, and by changes since their watermark. */
  ticketGroupsReadInFull: number;
  ticketGroupsReadByChanges: number;
  /** Grouped step commits (one store transaction each, however many steps wrote in it). */
  storeCommits: number;
  watermark?: string;
  durationMs: number;
}

export const WATERMARK_KEY = 'resolution.watermark';
/**
 * Assignments a pass could not decide (an assessment state it could not confirm, a step that
 * failed), as a JSON array of ids (Store meta): a normal pass reads them by id, as the changed-
 * since query would not show them again once the watermark moved on.
 */
export const RECHECK_KEY = 'resolution.recheck';
const RecheckIds = z.array(z.string());

/**
 * Where the ticket watermark of one integration and table is kept (Store meta): the ServiceNow
 * time up to which every change of that table has been read, as ISO 8601.
 */
export function ticketWatermarkKey(integrationId: string, table: TicketTable): string {
  return `resolution.tickets.${integrationId}.${table}`;
}
const ACTOR = 'resolution-job';
const lc = (s: string) => s.toLowerCase();
/** Governance records not deleted yet. */
const UNDELETED_GOVERNANCE = GOVERNANCE_STATUSES.filter((s) => s !== 'deleted');
/** The statuses whose ticket is followed. */
const LIVE_TICKET_STATUSES: readonly Assignment['status'][] = ['open', 'awaiting-manual-close'];

export class ResolutionJob {
  private readonly settings: ResolutionSettings;
  private running: { full: boolean; promise: Promise<ResolutionReport> } | undefined;
  private started = false;

  constructor(private readonly deps: ResolutionDeps) {
    this.settings = { ...DEFAULT_RESOLUTION_SETTINGS, ...deps.settings };
  }

  /** A call during a pass joins it; a full reconcile asked for during an incremental one runs right after it. */
  runOnce(opts: { full?: boolean } = {}): Promise<ResolutionReport> {
    const full = opts.full === true;
    if (this.running) {
      if (!full || this.running.full) return this.running.promise;
      return this.running.promise.catch(() => undefined).then(() => this.runOnce({ full: true }));
    }
    const promise = new Pass(this.deps, this.settings, full, !this.started).run().finally(() => {
      this.running = undefined;
    });
    this.started = true;
    this.running = { full, promise };
    return promise;
  }
}

/** One pass: its own report, outbox and set of cards to refresh. */
class Pass {
  private readonly now: Date;
  private readonly report: ResolutionReport;
  private readonly touched = new Set<string>();
  /** Ids of assignments this pass left undecided: read by id on the next one (RECHECK_KEY). */
  private readonly recheck = new Set<string>();
  /** Store meta (watermarks, RECHECK_KEY) set together at the end of the pass: one store write for all. */
  private readonly metaWrites = new Map<string, string>();
  private readonly outbox: Array<Promise<unknown>> = [];
  /** The ticket group a step's errors are charged to, by the step's session (steps of a phase run at once). */
  private readonly sinks = new WeakMap<AssignmentSession, { errors: number }>();
  private readonly log: Logger;

  constructor(
    private readonly deps: ResolutionDeps,
    private readonly settings: ResolutionSettings,
    full: boolean,
    /** The first pass of this process: it sends first what a killed process left queued. */
    private readonly recover = false,
  ) {
    this.now = deps.clock.now();
    this.log = deps.logger;
    this.report = {
      full,
      checked: 0,
      waiting: 0,
      resolved: 0,
      needsManual: 0,
      closedAfterManual: 0,
      backToOpen: 0,
      reopened: 0,
      reopenedAsNew: 0,
      removedInServiceNow: 0,
      ownersChanged: 0,
      integrationRemoved: 0,
      governanceDeleted: 0,
      cardsUpdated: 0,
      announcements: 0,
      announcementMessages: 0,
      errors: 0,
      incompleteAnswers: 0,
      ticketRowsRead: 0,
      ticketGroupsReadInFull: 0,
      ticketGroupsReadByChanges: 0,
      storeCommits: 0,
      durationMs: 0,
    };
  }

  async run(): Promise<ResolutionReport> {
    const started = Date.now();
    const { store } = this.deps;
    // Announcements a pass of an earlier process stored with their outcomes and did not send (it
    // was killed): sent now, not after this pass's steps. Only on the first pass of a process: the
    // end of every pass delivers whatever is queued anyway, so later passes need not read for it.
    if (this.recover && (await store.work.list({ kind: ANNOUNCEMENT_WORK, statuses: ['queued'] })).length > 0) this.outbox.push(this.sendAnnouncements());
    await this.releaseRemovedIntegrations();

    const watermark = await store.meta.get(WATERMARK_KEY);
    const full = this.report.full || watermark === undefined;
    const tracked = await store.assignments.list({ statuses: ['open', 'awaiting-manual-close'], hasTicket: true });
    // Failed or unfinished ticket creations: a fix in the meantime makes the ticket unnecessary.
    const unticketed = await store.assignments.list({ statuses: ['pending', 'failed'], hasTicket: false });
    const regressionCandidates = (await store.assignments.list({ statuses: ['resolved'] })).filter((a) =>
      watchForRegression(a, this.now, this.settings.reopenWindowDays),
    );

    const recheckBefore = await store.meta.get(RECHECK_KEY);
    let nextWatermark = watermark;
    let states: Map<string, AssessmentState>;
    if (full) {
      // Every watched assessment by id: also what the changed-since query cannot show (a deleted
      // resource, a change Resource Graph ingested after its window had passed).
      const byId = [...tracked, ...unticketed, ...regressionCandidates];
      states = await this.statesById(byId);
      this.report.checked = byId.length;
      // Everything up to now was just read by id; later passes only need what changes after it.
      nextWatermark = maxIso(watermark, new Date(this.now.getTime()).toISOString());
    } else {
      const changed = await this.changedSince(watermark!, [...tracked, ...unticketed, ...regressionCandidates]);
      if (changed.complete) nextWatermark = maxIso(watermark, changed.latestStatusChange);
      // A healthy pass counted and waiting for the next one: its assessment no longer changes, so
      // the changed-since query would not show it again; read by id each pass until it is decided.
      // And what the last pass could not decide.
      const again = new Set(parseRecheck(recheckBefore));
      const byId = [...tracked, ...unticketed, ...regressionCandidates].filter(
        (a) => again.has(a.id) || (a.status !== 'awaiting-manual-close' && a.status !== 'resolved' && a.healthyPasses > 0),
      );
      states = changed.states;
      for (const [id, state] of await this.statesById(byId)) states.set(id, state);
      this.report.checked = byId.length;
    }

    // Only assignments whose assessment was read (all of them on a full pass; the changed and the
    // pending ones otherwise) are stepped: an unchanged one has nothing to decide. What ServiceNow
    // changed is read before any step, so the Defender-side and the ServiceNow-side steps run as
    // one phase: their writes share rounds (app/assignmentWriter.ts CommitGroup), and the writes of
    // a cycle do not grow with its changes. In the lane of one ticket the Defender side still goes
    // first, and a ticket step re-reads its assignment (one resolved just before is left alone).
    const items: StepItem[] = [
      ...tracked.filter((a) => states.has(lc(a.assessmentId))).map((a): StepItem => ({ kind: 'assessment', a })),
      ...unticketed.filter((a) => states.has(lc(a.assessmentId))).map((a): StepItem => ({ kind: 'unticketed', a })),
    ];
    const ticketGroups = await this.readTickets(states, full, items);
    await this.inLanes(
      items,
      (item, group) => this.stepItem(item, states, group),
      (item) => laneKey(item.a),
    );
    for (const g of ticketGroups) {
      // Moved only after a pass that saw and handled every change: otherwise the same window is read again.
      if (!g.complete || g.errors > 0) continue;
      const next = maxIso(g.watermark, g.upTo);
      if (next && next !== g.watermark) this.metaWrites.set(g.key, next);
    }

    // One lane per finding key: a key's older resolved assignments see what a reopen of another made.
    await this.inLanes(
      regressionCandidates.filter((a) => states.has(lc(a.assessmentId))),
      (a, group) => this.step(a, (s) => this.onRegressionCandidate(s, a.id, states.get(lc(a.assessmentId))!), group),
      (a) => a.key,
    );

    await this.retryGovernanceDeletes();
    if (nextWatermark && nextWatermark !== watermark) this.metaWrites.set(WATERMARK_KEY, nextWatermark);
    const recheck = JSON.stringify([...this.recheck].sort());
    if (recheck !== (recheckBefore ?? '[]')) this.metaWrites.set(RECHECK_KEY, recheck);
    // In one turn of the event loop, so the store writes them together (each write of lowdb
    // rewrites the whole file): the announcements' claims, the cards' first writes and the meta.
    // Every step is done and written by now, each outcome with its announcement's intent; a crash
    // before this point only leaves the watermarks behind (the same windows are read again) and
    // the intents queued, which the next pass delivers first.
    this.outbox.push(this.sendAnnouncements());
    this.refreshCards();
    const meta = Promise.all([...this.metaWrites].map(([key, value]) => store.meta.set(key, value)));
    await Promise.allSettled(this.outbox);
    await meta;
    this.report.watermark = nextWatermark;
    this.report.durationMs = Date.now() - started;
    this.log.info({ resolution: this.report }, 'resolution pass done');
    return this.report;
  }

  // ------------------------------------------------------------------ Defender → ServiceNow

  /**
   * What changed on the Defender side since the watermark (less the overlap), for the watched
   * assessments only: one paged Resource Graph query for all of them, however many are open.
   * `complete` is false when the answer was incomplete or failed: the watermark must stay, so the
   * next pass asks for the same window. The rows of an incomplete answer are current states and
   * are used; a failed read is not acted on at all.
   */
  private async changedSince(
    watermark: string,
    watched: readonly Assignment[],
  ): Promise<{ states: Map<string, AssessmentState>; complete: boolean; latestStatusChange?: string }> {
    const ids = new Set(watched.map((a) => lc(a.assessmentId)));
    const states = new Map<string, AssessmentState>();
    const since = new Date(Date.parse(watermark) - this.settings.watermarkOverlapMs);
    try {
      const summary = await this.deps.azure.queryChangedSince(this.deps.scopes, since, {
        onPage: (rows) => {
          for (const r of rows) if (ids.has(lc(r.assessmentId))) states.set(lc(r.assessmentId), { kind: r.status, statusChangeDate: r.statusChangeDate });
        },
      });
      if (summary.complete === false) {
        this.report.incompleteAnswers++;
        this.log.warn(
          { reason: summary.incomplete },
          "Resource Graph's changed-assessments answer was incomplete; the watermark stays and the window is read again next pass",
        );
        return { states, complete: false };
      }
      return { states, complete: true, ...(summary.latestStatusChange ? { latestStatusChange: summary.latestStatusChange } : {}) };
    } catch (err) {
      // Nothing learned from Defender this pass; the watermark stays, so the next pass asks for the same window.
      this.report.errors++;
      this.log.warn({ err: reasonOf(err) }, 'could not read changed assessments; Defender-side changes are picked up next pass');
      return { states: new Map(), complete: false };
    }
  }

  /**
   * Current state by assessment id (lower case). An id Resource Graph does not return is only
   * "gone" once the assessments API answers 404: a row dropped as malformed, or one Resource
   * Graph has not ingested yet, looks the same in the by-id result. Ids whose state could not be
   * confirmed are absent from the map, and their assignments are left as they are this pass.
   */
  private async statesById(assignments: readonly Assignment[]): Promise<Map<string, AssessmentState>> {
    const out = new Map<string, AssessmentState>();
    if (assignments.length === 0) return out;
    const byId = new Map(assignments.map((a) => [lc(a.assessmentId), a]));
    let rows: UnhealthyResource[];
    let unconfirmed: Set<string>;
    try {
      const result = await this.deps.azure.readAssessmentsByIds(
        [...byId.values()].map((a) => a.assessmentId),
        this.deps.scopes,
      );
      rows = result.rows;
      unconfirmed = new Set(result.unconfirmed.map(lc));
      if (result.incomplete) {
        this.report.incompleteAnswers++;
        this.log.warn(
          { reason: result.incomplete, unconfirmed: unconfirmed.size },
          "Resource Graph's answer by id was incomplete; assessments it left out are neither resolved nor treated as gone this pass",
        );
      }
    } catch (err) {
      // No state is confirmed, so nothing is decided on it; the rest of the pass still runs.
      this.report.errors++;
      this.log.warn({ err: reasonOf(err), count: byId.size }, 'could not read assessments by id; assignments are left unchanged this pass');
      for (const a of assignments) this.recheck.add(a.id);
      return out;
    }
    for (const r of rows) out.set(lc(r.assessmentId), { kind: r.status, statusChangeDate: r.statusChangeDate });
    // Left out of an incomplete answer: not even worth an assessments API read each; next pass asks again.
    const missing = [...byId].filter(([id]) => !out.has(id) && !unconfirmed.has(id)).map(([, a]) => a);
    let next = 0;
    const worker = async () => {
      while (next < missing.length) {
        const a = missing[next++]!;
        const state = await this.confirmMissing(a);
        if (state) out.set(lc(a.assessmentId), state);
      }
    };
    await Promise.all(Array.from({ length: Math.min(missing.length, Math.max(1, this.settings.confirmConcurrency)) }, worker));
    for (const a of assignments) if (!out.has(lc(a.assessmentId))) this.recheck.add(a.id);
    return out;
  }

  private async confirmMissing(a: Assignment): Promise<AssessmentState | undefined> {
    const parts = splitAssessmentId(a.assessmentId) ?? { resourceId: a.resourceId, assessmentKey: a.recommendationKey };
    try {
      const found = await this.deps.azure.getAssessment(parts.resourceId, parts.assessmentKey);
      if (!found) return { kind: 'gone' };
      const status = found.properties.status;
      this.log.warn({ assignmentId: a.id, status: status.code }, 'assessment missing from Resource Graph but present in the assessments API; using its status');
      return { kind: status.code, statusChangeDate: status.statusChangeDate ?? this.now.toISOString() };
    } catch (err) {
      this.report.errors++;
      this.log.warn(
        { assignmentId: a.id, err: reasonOf(err) },
        'assessment missing from Resource Graph and the assessments API could not be read; left unchanged this pass',
      );
      return undefined;
    }
  }

  private async onAssessment(s: AssignmentSession, id: string, state: AssessmentState): Promise<void> {
    const a = await s.get(id);
    if (!a) return;
    const decision = decideLive(a, state, this.settings.resolveAfterHealthyPasses);
    if (await this.debounce(s, a, decision, state)) return;
    switch (decision.kind) {
      case 'resolve':
        await this.resolve(s, a, state, decision.healthyPasses);
        return;
      case 'back-to-open': {
        this.report.backToOpen++;
        const next = await this.apply(
          s,
          a,
          (x) => backToOpen(x, this.now),
          'assignment.unhealthy-again',
          { status: state.kind },
          state.kind === 'gone'
            ? undefined
            : (x) => ({ transition: 'still-open', n: state.statusChangeDate, text: announcements.stillOpen(x, x.ticket!.number) }),
        );
        await this.putGovernance(s, next);
        this.touched.add(next.recommendationKey);
        return;
      }
    }
  }

  /**
   * The steps every decision shares before anything is resolved: nothing to do, a healthy pass
   * counted (debounce), or the count reset. Returns true when the decision was one of these.
   */
  private async debounce(s: AssignmentSession, a: Assignment, decision: { kind: string; healthyPasses?: number }, state: AssessmentState): Promise<boolean> {
    switch (decision.kind) {
      case 'none':
        return true;
      case 'reset':
        await this.apply(s, a, (x) => healthyPassCounted(x, 0, this.now), 'assignment.debounce-reset', {});
        return true;
      case 'wait':
        this.report.waiting++;
        await this.apply(s, a, (x) => healthyPassCounted(x, decision.healthyPasses!, this.now), 'assignment.healthy-pass', {
          healthyPasses: decision.healthyPasses,
          status: state.kind,
        });
        return true;
      default:
        return false;
    }
  }

  /** A pending/failed assignment whose resource got fixed before its ticket existed: resolved, no ServiceNow call. */
  private async onUnticketed(s: AssignmentSession, id: string, state: AssessmentState): Promise<void> {
    const a = await s.get(id);
    if (!a) return;
    const decision = decideUnticketed(a, state, this.settings.resolveAfterHealthyPasses);
    if (await this.debounce(s, a, decision, state)) return;
    if (decision.kind !== 'resolve') return;
    this.report.resolved++;
    const next = await this.apply(
      s,
      a,
      (x) => resolvedBeforeTicket(x, { closeReason: CLOSE_REASON.healthyBeforeTicket, healthyPasses: decision.healthyPasses }, this.now),
      'assignment.resolve',
      { reason: CLOSE_REASON.healthyBeforeTicket, previousStatus: a.status, lastError: a.lastError, status: state.kind },
    );
    await this.deleteGovernance(s, next);
    this.touched.add(next.recommendationKey);
  }

  private async resolve(s: AssignmentSession, a: Assignment, state: AssessmentState, healthyPasses: number): Promise<void> {
    const ticket = a.ticket!;
    const client = await this.clientOf(a);
    const evidence = resolutionEvidence(a, state, this.now);
    // One ticket for a whole batch (ticketGrouping 'single'): it stays open while any of its resources is not fixed.
    const siblings = (await this.deps.store.assignments.list({ statuses: ['open'], integrationId: a.integrationId, ticketSysId: ticket.sysId })).filter(
      (x) => x.id !== a.id,
    );
    if (siblings.length > 0) {
      this.report.resolved++;
      const next = await this.apply(
        s,
        a,
        (x) => resolved(x, { closeReason: CLOSE_REASON.autoResolved, healthyPasses }, this.now),
        'assignment.resolve',
        { ticket: ticket.number, outcome: 'shared-ticket-left-open', openSiblings: siblings.length, evidence },
        (x) => ({
          transition: 'resolved',
          n: state.kind === 'gone' ? 'gone' : state.statusChangeDate,
          text: announcements.resolvedShared(x, state, ticket.number, siblings.length),
        }),
      );
      await this.noteQuietly(
        client,
        ticket.table,
        ticket.sysId,
        `[Defender for Cloud bot] ${evidence} ${siblings.length} other resource(s) of this ticket are still open, so it stays open.`,
      );
      await this.deleteGovernance(s, next);
      this.touched.add(next.recommendationKey);
      return;
    }
    // The intent first, durable before ServiceNow is asked: the healthy pass is counted on the row,
    // so after a crash between the call and the outcome the next pass reads this assessment by id
    // again (however far the watermark moved) and finishes the step; resolveTicket reads first and
    // reports "already resolved", so that retry does not resolve twice.
    await this.apply(s, a, (x) => healthyPassCounted(x, healthyPasses, this.now), 'assignment.resolving', { ticket: ticket.number, status: state.kind });
    // Defender's governance assignment goes whatever ServiceNow answers (resolved or needs-manual),
    // so it is deleted while the ticket is resolved and recorded with the outcome, in one unit: one
    // round trip and one write fewer per resolution. A retry after a crash deletes again (a 204).
    const governance = this.deps.governance.deleteRemote(a, ACTOR);
    let result: ResolveResult;
    try {
      result = await client.resolveTicket(ticket.table, ticket.sysId, evidence);
    } catch (err) {
      // The step fails and is retried next pass; what Defender did is audited all the same (the
      // row keeps its governance status: the retry deletes again, a regression re-creates it).
      const gov = await governance;
      this.countGovernance(s, gov.outcome);
      if (gov.record) await s.write([], { ...gov.record.audit, target: a.id, details: { ...gov.record.audit.details, ticketStep: 'failed' } });
      throw err;
    }
    const gov = await governance;
    this.countGovernance(s, gov.outcome);
    const n = state.kind === 'gone' ? 'gone' : state.statusChangeDate;
    let next: Assignment;
    if (result.outcome === 'resolved') {
      this.report.resolved++;
      next = await this.apply(
        s,
        a,
        (x) => resolved(x, { closeReason: CLOSE_REASON.autoResolved, healthyPasses, ticketState: result.state }, this.now),
        'assignment.resolve',
        { ticket: ticket.number, outcome: result.outcome, reason: result.reason, evidence },
        (x) => ({ transition: 'resolved', n, text: announcements.resolved(x, state, result.number) }),
        gov.record,
      );
    } else {
      this.report.needsManual++;
      next = await this.apply(
        s,
        a,
        (x) => awaitingManualClose(x, { healthyPasses, reason: result.reason, ticketState: result.state }, this.now),
        'assignment.awaiting-manual-close',
        { ticket: ticket.number, outcome: result.outcome, reason: result.reason, evidence },
        (x) => ({ transition: 'needs-manual', n, text: announcements.needsManual(x, state, result.number, result.link, result.reason) }),
        gov.record,
      );
    }
    this.touched.add(next.recommendationKey);
  }

  // ------------------------------------------------------------------ ServiceNow → bot

  /**
   * Reads what ServiceNow says about the tickets of open assignments, per integration and table
   * (all of them by id on a full pass or without a watermark, the changed ones otherwise), and
   * queues their steps onto `items`. The returned groups say whether their watermark may move,
   * once the steps have run (a step of the group that fails keeps it).
   */
  private async readTickets(states: Map<string, AssessmentState>, full: boolean, items: StepItem[]): Promise<TicketGroup[]> {
    const { store } = this.deps;
    const groups = new Map<string, { integration: Integration; table: TicketTable; assignments: Assignment[] }>();
    const integrations = new Map<string, Integration | undefined>();
    for (const a of await store.assignments.list({ statuses: ['open', 'awaiting-manual-close'], hasTicket: true })) {
      if (!integrations.has(a.integrationId)) integrations.set(a.integrationId, await this.deps.integrations.find(a.integrationId));
      const integration = integrations.get(a.integrationId);
      if (!integration || integration.removedAt) continue;
      const key = `${integration.id}\u0000${a.ticket!.table}`;
      const g = groups.get(key) ?? { integration, table: a.ticket!.table, assignments: [] };
      g.assignments.push(a);
      groups.set(key, g);
    }
    const out: TicketGroup[] = [];
    for (const g of groups.values()) {
      let client: TicketSystem;
      try {
        client = this.deps.integrations.clientFor(g.integration);
      } catch (err) {
        // E.g. a secret that no longer decrypts: this integration waits, the others are polled.
        this.report.errors++;
        this.log.warn({ err: reasonOf(err), integration: g.integration.name }, 'no ServiceNow client for this integration; its tickets are polled next pass');
        continue;
      }
      const key = ticketWatermarkKey(g.integration.id, g.table);
      const watermark = await store.meta.get(key);
      const group: TicketGroup = { key, ...(watermark ? { watermark } : {}), complete: true, errors: 0 };
      const errorsBefore = this.report.errors;
      const byChanges = !full && watermark !== undefined;
      const read = byChanges ? await this.readChangedTickets(client, g, watermark) : await this.readAllTickets(client, g);
      const work: StepItem[] = read.work.map(({ a, t }) => ({ kind: 'ticket', a, t, group }));
      // What the ticket steps need: the states of their assessments the pass does not know yet (a
      // full read knows every state the pass could read).
      if (byChanges)
        items.push(
          ...(await this.readStatesOfChangedTickets(
            read.work.map((w) => w.a),
            states,
            group,
          )),
        );
      items.push(...work);
      group.complete = read.complete;
      group.errors = this.report.errors - errorsBefore;
      if (read.upTo) group.upTo = read.upTo;
      out.push(group);
    }
    return out;
  }

  /** One queued step; a failure, or an error counted inside it, is charged to its ticket group. */
  private async stepItem(item: StepItem, states: ReadonlyMap<string, AssessmentState>, group: CommitGroup): Promise<void> {
    const { a } = item;
    const sink = item.group;
    switch (item.kind) {
      case 'assessment':
        return this.step(a, (s) => this.onAssessment(s, a.id, states.get(lc(a.assessmentId))!), group, sink);
      case 'unticketed':
        return this.step(a, (s) => this.onUnticketed(s, a.id, states.get(lc(a.assessmentId))!), group, sink);
      case 'ticket': {
        const state = states.get(lc(a.assessmentId));
        // Without a confirmed assessment state, "closed while unhealthy" cannot be told apart from a fix.
        if (!state) {
          item.group.complete = false;
          return;
        }
        return this.step(a, (s) => this.onTicket(s, a.id, item.t.ticket.state, item.t.assignee, state), group, sink);
      }
    }
  }

  /** Every open ticket of the group by id (the daily reconcile, or no watermark yet). */
  private async readAllTickets(client: TicketSystem, g: { integration: Integration; table: TicketTable; assignments: Assignment[] }): Promise<TicketsRead> {
    this.report.ticketGroupsReadInFull++;
    const work: TicketsRead['work'] = [];
    let complete = true;
    // ServiceNow's clock before the read (the Date of an answer): every change stamped earlier is
    // in what follows, so the next normal pass starts there rather than at the oldest ticket's stamp.
    const upTo = await this.serviceNowNow(client, g.table);
    for (let i = 0; i < g.assignments.length; i += this.settings.ticketBatchSize) {
      const batch = g.assignments.slice(i, i + this.settings.ticketBatchSize);
      let tickets: TicketWithAssignee[];
      try {
        tickets = await client.getTicketsWithAssignees(
          g.table,
          batch.map((a) => a.ticket!.sysId),
        );
      } catch (err) {
        complete = false;
        this.report.errors++;
        this.log.warn(
          { err, integration: g.integration.name, table: g.table, count: batch.length },
          'could not read tickets from ServiceNow; retrying next pass',
        );
        continue;
      }
      this.report.ticketRowsRead += tickets.length;
      const bySysId = new Map(tickets.map((t) => [t.ticket.sysId, t]));
      for (const a of batch) {
        const t = bySysId.get(a.ticket!.sysId);
        if (!t) {
          this.log.warn({ assignmentId: a.id, ticket: a.ticket!.number }, 'ticket not found in ServiceNow (deleted or not readable); left as is');
          continue;
        }
        work.push({ a, t });
      }
    }
    return { complete, work, ...(upTo ? { upTo } : {}) };
  }

  /** The ticket system's "now": the horizon of a read of the last moments' changes (their rows are not needed). */
  private async serviceNowNow(client: TicketSystem, table: TicketTable): Promise<string | undefined> {
    try {
      return (await client.getTicketsChangedSince(table, this.now)).horizon;
    } catch (err) {
      // The full read still runs; without a horizon the watermark just stays where it was.
      this.log.warn({ err: reasonOf(err), table }, "could not read ServiceNow's clock; the ticket watermark stays");
      return undefined;
    }
  }

  /** Only the tickets of the group's table changed since its watermark (less the overlap). */
  private async readChangedTickets(
    client: TicketSystem,
    g: { integration: Integration; table: TicketTable; assignments: Assignment[] },
    watermark: string,
  ): Promise<TicketsRead> {
    this.report.ticketGroupsReadByChanges++;
    const since = new Date(Date.parse(watermark) - this.settings.ticketWatermarkOverlapMs);
    let changed;
    try {
      changed = await client.getTicketsChangedSince(g.table, since, { pageSize: this.settings.changedTicketsPageSize });
    } catch (err) {
      // Nothing of a partial read is acted on; the watermark stays, so the next pass reads the same window.
      this.report.errors++;
      this.log.warn(
        { err, integration: g.integration.name, table: g.table, since: since.toISOString() },
        'could not read changed tickets from ServiceNow; retrying next pass',
      );
      return { complete: false, work: [] };
    }
    this.report.ticketRowsRead += changed.tickets.length;
    // One ticket can stand for several assignments (a batch's single ticket).
    const bySysId = new Map<string, Assignment[]>();
    for (const a of g.assignments) bySysId.set(a.ticket!.sysId, [...(bySysId.get(a.ticket!.sysId) ?? []), a]);
    let upTo: string | undefined;
    const work: TicketsRead['work'] = [];
    for (const t of changed.tickets) {
      upTo = maxIso(upTo, t.updatedAt);
      for (const a of bySysId.get(t.ticket.sysId) ?? []) work.push({ a, t });
    }
    // ServiceNow's own clock when the read began: the next window starts there whatever ours says.
    return { complete: true, work, ...(changed.horizon ? { upTo: maxIso(upTo, changed.horizon) } : upTo ? { upTo } : {}) };
  }

  /**
   * A changed ticket is judged against its assessment's state (closed while unhealthy is not a
   * fix): an incremental pass knows only the changed and pending assessments, so the others of
   * these assignments are read by id now, in one batch. What that read shows is acted on as well
   * (it may be a fix the changed-since window no longer shows): the steps returned, to run before
   * the ticket steps.
   */
  private async readStatesOfChangedTickets(assignments: readonly Assignment[], states: Map<string, AssessmentState>, group: TicketGroup): Promise<StepItem[]> {
    const unknown = [...new Map(assignments.filter((a) => !states.has(lc(a.assessmentId))).map((a) => [a.id, a])).values()];
    if (unknown.length === 0) return [];
    const read = await this.statesById(unknown);
    this.report.checked += unknown.length;
    for (const [id, state] of read) states.set(id, state);
    return unknown.filter((a) => read.has(lc(a.assessmentId))).map((a) => ({ kind: 'assessment', a, group }));
  }

  private async onTicket(s: AssignmentSession, id: string, ticketState: string, assignee: string | undefined, state: AssessmentState): Promise<void> {
    const a = await s.get(id);
    // Resolved earlier in this pass (by what the assessment read showed): the ticket row read before that is stale.
    if (!a?.ticket || !LIVE_TICKET_STATUSES.includes(a.status)) return;
    const decision = decideTicket(a, { state: ticketState, ...(assignee ? { assignee } : {}) }, state.kind === 'Unhealthy');
    switch (decision.kind) {
      case 'none':
        if (a.ticket.state !== ticketState)
          await this.apply(s, a, (x) => ticketStateSeen(x, ticketState, this.now), 'assignment.ticket-state', { ticket: a.ticket.number, state: ticketState });
        return;
      case 'remove': {
        this.report.removedInServiceNow++;
        const next = await this.apply(
          s,
          a,
          (x) => removed(x, { closeReason: CLOSE_REASON.closedInServiceNow, ticketState }, this.now),
          'assignment.remove',
          { reason: CLOSE_REASON.closedInServiceNow, ticket: a.ticket.number, state: ticketState },
          (x) => ({ transition: 'closed-in-servicenow', n: x.ticket!.number, text: announcements.closedInServiceNow(x, x.ticket!.number) }),
        );
        await this.deleteGovernance(s, next);
        this.touched.add(next.recommendationKey);
        return;
      }
      case 'close-awaiting': {
        this.report.closedAfterManual++;
        const next = await this.apply(
          s,
          a,
          (x) => resolved(x, { closeReason: CLOSE_REASON.closedAfterHealthy, ticketState }, this.now),
          'assignment.resolve',
          { reason: CLOSE_REASON.closedAfterHealthy, ticket: a.ticket.number, state: ticketState },
          (x) => ({ transition: 'manually-closed', n: x.ticket!.number, text: announcements.manuallyClosed(x, x.ticket!.number) }),
        );
        await this.deleteGovernance(s, next);
        this.touched.add(next.recommendationKey);
        return;
      }
      case 'owner': {
        this.report.ownersChanged++;
        const next = await this.apply(
          s,
          a,
          (x) => ownerChanged(x, decision.owner, this.now, ticketState),
          'assignment.owner-changed',
          { from: a.owner, to: decision.owner.toLowerCase(), source: 'servicenow' },
          (x) => ({ transition: 'owner', n: lc(decision.owner), text: announcements.ownerChanged(x, x.ticket!.number, decision.owner) }),
        );
        if (next.status === 'open') await this.putGovernance(s, next);
        this.touched.add(next.recommendationKey);
        return;
      }
    }
  }

  // ------------------------------------------------------------------ regressions

  private async onRegressionCandidate(s: AssignmentSession, id: string, state: AssessmentState): Promise<void> {
    const a = await s.get(id);
    if (!a?.ticket) return;
    const decision = decideRegression(a, state, this.now, this.settings.reopenWindowDays);
    if (decision.kind !== 'reopen' || state.kind === 'gone') return;
    // Someone assigned it again meanwhile: that assignment owns the finding now.
    const live = await this.deps.store.assignments.findLiveByKey(a.key);
    if (live && live.id !== a.id) return;
    const client = await this.clientOf(a);
    const old = a.ticket;
    const note = regressionNote(a, state.statusChangeDate);
    const r = await client.reopenTicket(old.table, old.sysId, note);
    if (r.outcome === 'reopened' || r.outcome === 'already-open') {
      this.report.reopened++;
      const next = await this.apply(
        s,
        a,
        (x) => reopened(x, this.now, r.state || undefined),
        'assignment.reopen',
        { ticket: old.number, outcome: r.outcome, statusChangeDate: state.statusChangeDate },
        (x) => ({ transition: 'reopened', n: state.statusChangeDate, text: announcements.reopened(x, old.number) }),
      );
      await this.putGovernance(s, next);
      this.touched.add(next.recommendationKey);
      return;
    }
    const ids = {
      assignedTo: await this.userSysId(client, a.owner),
      caller: await this.userSysId(client, a.caller),
    };
    const created = await client.createTicket(old.table, regressionTicketFields(a, old, state.statusChangeDate, ids), {
      correlationId: regressionCorrelationId(a.key, old.number),
      correlationDisplay: `Defender for Cloud: ${a.recommendationName} / ${a.resourceName}`,
    });
    this.report.reopenedAsNew++;
    const next = await this.apply(
      s,
      a,
      (x) => reopenedAsNew(x, { table: created.table, sysId: created.sysId, number: created.number, link: created.link }, this.now),
      'assignment.reopen-as-new',
      { previousTicket: old.number, ticket: created.number, outcome: r.outcome, reason: r.reason, statusChangeDate: state.statusChangeDate },
      (x) => ({ transition: 'reopened', n: state.statusChangeDate, text: announcements.reopenedAsNew(x, old.number, created.number, created.link) }),
    );
    if (created.created)
      await this.noteQuietly(client, old.table, old.sysId, `[Defender for Cloud bot] ${note} This ticket could not be reopened; follow-up: ${created.number}.`);
    await this.putGovernance(s, next);
    this.touched.add(next.recommendationKey);
  }

  private async userSysId(client: TicketSystem, identity: string): Promise<string | undefined> {
    try {
      return (await client.resolveUser(identity)).sysId;
    } catch (err) {
      this.log.warn({ err: reasonOf(err) }, 'could not find a ServiceNow user for the follow-up ticket; leaving the field empty');
      return undefined;
    }
  }

  // ------------------------------------------------------------------ integration removed

  private async releaseRemovedIntegrations(): Promise<void> {
    // A handful of integrations for thousands of live assignments: each is looked up once.
    const integrations = new Map<string, Promise<Integration | undefined>>();
    const released: Array<{ listed: Assignment; integration: Integration | undefined }> = [];
    for (const listed of await this.deps.store.assignments.list({ statuses: LIVE_ASSIGNMENT_STATUSES })) {
      if (!integrations.has(listed.integrationId)) integrations.set(listed.integrationId, this.deps.integrations.find(listed.integrationId));
      const integration = await integrations.get(listed.integrationId);
      if (!integration || integration.removedAt) released.push({ listed, integration });
    }
    await this.inLanes(
      released,
      ({ listed, integration }, group) =>
        this.step(
          listed,
          async (s) => {
            const a = await s.get(listed.id);
            if (!a || !LIVE_ASSIGNMENT_STATUSES.includes(a.status)) return;
            this.report.integrationRemoved++;
            const next = await this.apply(
              s,
              a,
              (x) => removed(x, { closeReason: CLOSE_REASON.integrationRemoved }, this.now),
              'assignment.remove',
              { reason: CLOSE_REASON.integrationRemoved, integration: integration?.name ?? a.integrationId },
              (x) => ({
                transition: 'integration-removed',
                n: integration?.removedAt ?? 'missing',
                text: announcements.integrationRemoved(x, integration?.name ?? a.integrationId, x.ticket?.number),
              }),
            );
            if (next.ticket && integration) {
              await this.noteQuietly(
                this.deps.integrations.clientFor(integration),
                next.ticket.table,
                next.ticket.sysId,
                `[Defender for Cloud bot] The ServiceNow integration "${integration.name}" was removed from the Defender for Cloud bot; this ticket is no longer tracked and is left open.`,
              );
            }
            await this.deleteGovernance(s, next);
            this.touched.add(next.recommendationKey);
          },
          group,
        ),
      ({ listed }) => laneKey(listed),
    );
  }

  // ------------------------------------------------------------------ governance

  private async deleteGovernance(s: AssignmentSession, a: Assignment): Promise<void> {
    this.countGovernance(s, await this.deps.governance.deleteIn(s, a.id, ACTOR));
  }

  private countGovernance(s: AssignmentSession, outcome: 'deleted' | 'failed' | 'nothing'): void {
    if (outcome === 'deleted') this.report.governanceDeleted++;
    if (outcome === 'failed') this.countError(s);
  }

  private async retryGovernanceDeletes(): Promise<void> {
    const ended = await this.deps.store.assignments.list({ statuses: ENDED_ASSIGNMENT_STATUSES, governanceStatuses: UNDELETED_GOVERNANCE });
    await this.inLanes(ended, (a, group) => this.step(a, (s) => this.deleteGovernance(s, a), group));
  }

  /** Re-creates or updates the governance assignment of a live assignment (owner, ticket): the one write-back (app/governance.ts). */
  private async putGovernance(s: AssignmentSession, a: Assignment): Promise<void> {
    const outcome = await this.deps.governance.syncIn(s, a.id, { ifMissing: 'create', auditActor: ACTOR });
    if (!outcome.ok) this.countError(s);
  }

  // ------------------------------------------------------------------ Teams

  /**
   * The announcement of a stored outcome, as the work item written in the outcome's own unit
   * (app/announcements.ts announcementIntent): a crash after the outcome cannot lose it, as the
   * next pass delivers what a pass left. Sent at the end of the pass (sendAnnouncements), claimed
   * in one transaction with the key of each (at most once, even across restarts and replicas).
   */
  private announce(a: Assignment, tell: Tell): WorkRequest[] {
    const intent = announcementIntent(a.conversationId, announcementKey(a.id, tell.transition, tell.n), tell.text);
    return intent ? [intent] : [];
  }

  private sendAnnouncements(): Promise<void> {
    return this.deps.announcements.deliverPending(this.now, ACTOR).then((sent) => {
      this.report.announcements += sent.announced;
      this.report.announcementMessages += sent.messages;
    });
  }

  private refreshCards(): void {
    for (const key of this.touched) {
      this.outbox.push(
        this.deps.cards.refresh(key).then((r) => {
          this.report.cardsUpdated += r.updated;
        }),
      );
    }
  }

  // ------------------------------------------------------------------ plumbing

  /** An error inside a step: the report's count, and that of the step's ticket group (its watermark stays). */
  private countError(s: AssignmentSession): void {
    this.report.errors++;
    const sink = this.sinks.get(s);
    if (sink) sink.errors++;
  }

  private async clientOf(a: Assignment): Promise<TicketSystem> {
    const integration = await this.deps.integrations.find(a.integrationId);
    if (!integration || integration.removedAt) throw new Error(`the ServiceNow integration of assignment ${a.id} is gone`);
    return this.deps.integrations.clientFor(integration);
  }

  /**
   * One lifecycle transition and its audit entry: one unit, one write. `tell` (given the changed
   * row) is the announcement of the outcome: its intent is written in that same unit (see announce).
   * `also` is a second change recorded in the same unit after it (a governance deletion), with its own audit entry.
   */
  private apply(
    s: AssignmentSession,
    a: Assignment,
    change: Change,
    action: string,
    details: Record<string, unknown>,
    tell?: (next: Assignment) => Tell,
    also?: { change: Change; audit: AuditNote },
  ): Promise<Assignment> {
    const audit: AuditNote = { actor: ACTOR, action, details };
    return s.apply(
      a.id,
      also ? (x) => also.change(change(x)) : change,
      also ? [audit, also.audit] : audit,
      tell && ((next) => this.announce(next, tell(next))),
    );
  }

  private async noteQuietly(client: TicketSystem, table: TicketTable, sysId: string, note: string): Promise<void> {
    try {
      await client.addWorkNote(table, sysId, note);
    } catch (err) {
      this.log.warn({ err: reasonOf(err), table }, 'could not add a ServiceNow work note');
    }
  }

  /**
   * Runs `fn` over `items`, every lane at once but at most settings.stepConcurrency steps running
   * (their ServiceNow and Defender calls overlap, bounded); items of one lane (one ticket, which
   * several assignments of a batch can share) run one after another, in order. The steps' writes
   * go through one CommitGroup (app/assignmentWriter.ts): each step still waits until its write is
   * durable before it calls out, but the writes of all steps waiting at the same point share one
   * store transaction, so a phase costs one write per round of its steps (a resolution: intent,
   * outcome, governance deleted), not one per change.
   */
  private async inLanes<T>(
    items: readonly T[],
    fn: (item: T, group: CommitGroup) => Promise<void>,
    laneOf: (item: T) => string = (item) => laneKey(item),
  ): Promise<void> {
    if (items.length === 0) return;
    const lanes = new Map<string, T[]>();
    for (const item of items) {
      const key = laneOf(item);
      const lane = lanes.get(key);
      if (lane) lane.push(item);
      else lanes.set(key, [item]);
    }
    const group = this.deps.writer.commitGroup(this.settings.stepConcurrency);
    await Promise.all(
      [...lanes.values()].map(async (lane) => {
        for (const item of lane) await fn(item, group);
      }),
    );
    this.report.storeCommits += group.commits;
  }

  /**
   * One assignment's step, under its lock (no other writer of it interleaves, see
   * app/assignmentWriter.ts). Its failure is logged and counted; the pass goes on with the others.
   */
  private async step(a: Assignment, op: (s: AssignmentSession) => Promise<void>, group?: CommitGroup, sink?: { errors: number }): Promise<void> {
    try {
      await this.deps.writer.withLock(
        a.id,
        (s) => {
          if (sink) this.sinks.set(s, sink);
          return op(s);
        },
        group,
      );
    } catch (err) {
      this.report.errors++;
      if (sink) sink.errors++;
      this.recheck.add(a.id);
      this.log.warn({ assignmentId: a.id, ticket: a.ticket?.number, err: reasonOf(err) }, 'resolution step failed for one assignment; retrying next pass');
    }
  }
}

/** The announcement of a step's outcome: its key's transition and discriminator, and its text. */
interface Tell {
  transition: string;
  n: string;
  text: string;
}

/** One ticket table of one integration, as read this pass: may its watermark move after the steps? */
interface TicketGroup {
  /** Its Store meta key (ticketWatermarkKey). */
  key: string;
  watermark?: string;
  /** Every page read and every ticket judged (its assessment state known). */
  complete: boolean;
  /** Errors counted while reading it and in its steps. */
  errors: number;
  upTo?: string;
}

interface TicketsRead {
  complete: boolean;
  work: Array<{ a: Assignment; t: TicketWithAssignee }>;
  upTo?: string;
}

/** A step of the pass's one phase: by assessment state, of an unticketed assignment, or by its ticket. */
type StepItem =
  | { kind: 'assessment'; a: Assignment; group?: TicketGroup }
  | { kind: 'unticketed'; a: Assignment; group?: undefined }
  | { kind: 'ticket'; a: Assignment; t: TicketWithAssignee; group: TicketGroup };

/** The lane of an assignment: its ticket when it has one (shared by a batch's assignments), else itself. */
function laneKey(item: unknown): string {
  const a = item as Assignment;
  return a.ticket ? `${a.ticket.table}:${a.ticket.sysId}` : a.id;
}

/** The ids of RECHECK_KEY; an unreadable value is dropped (the daily full reconcile reads everything anyway). */
function parseRecheck(value: string | undefined): string[] {
  if (value === undefined) return [];
  try {
    const parsed = RecheckIds.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

function maxIso(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
