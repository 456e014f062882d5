/**
 * Creating assignments ("Create assignment" on a card), in two steps:
 *  1. persistPending: validate the form (fields, covering integration, the users in ServiceNow)
 *     and store one pending assignment per resource with the audit entry, in one transaction;
 *  2. createTickets: for stored pending (or failed) assignments, create their ServiceNow tickets
 *     idempotently (correlation id), then write Defender's governance assignments back.
 * A crash or outage between or during the steps leaves pending/failed records that `retry` (the
 * Retry button) and `resumePending` (every cycle) finish. Step 2 runs from the durable work queue
 * (startCreation): the submit answers within Teams' 2 s with what is being created, and the card
 * follows the creation (throttled) until it is done or failed.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import {
  assignmentFormSchema,
  formErrors,
  prefillTexts,
  selectionCorrelationKey,
  ticketFields,
  type AssignmentForm,
  type SeverityImpactUrgency,
} from '../core/assignments.js';
import { dueForAutomaticRetry, MAX_AUTOMATIC_ATTEMPTS } from '../core/assignmentRetry.js';
import {
  creationFailed,
  isLive,
  ownerChanged,
  pendingAssignment,
  retryRequested,
  ticketCreated,
  UNTICKETED_STATUSES,
  type AssignmentInit,
} from '../core/lifecycle.js';
import { withOwnerUpn } from '../core/owner.js';
import { coveringAll, type ResourceLocation } from '../core/scope.js';
import { correlationKey } from '../core/servicenow-rules.js';
import type { Assignment, Integration, Recommendation, ResourceSnapshot, WorkItem } from '../core/model.js';
import { AssignmentGoneError, type AssignmentSession, type AssignmentWriter, type AuditNote, type Change } from './assignmentWriter.js';
import type { GovernanceWriteBack } from './governance.js';
import type { RecommendationCards } from './recommendationCards.js';
import { assignmentOutcomeCard } from '../cards/assignmentCards.js';
import {
  reasonOf,
  ticketErrorKind,
  type Actor,
  type Authorizer,
  type Caller,
  type DefenderPort,
  type Directory,
  type Messenger,
  type Store,
  type TicketSystem,
  type TicketUser,
} from './ports.js';

/** What creating assignments needs of the integrations (IntegrationService). */
export interface IntegrationLookup {
  list(): Promise<{ id: string }[]>;
  find(nameOrId: string): Promise<Integration | undefined>;
  clientFor(integration: Integration): TicketSystem;
  recordSuccess(id: string): Promise<void>;
  recordFailure(id: string, message: string): Promise<void>;
}

export interface CreateAssignmentsDeps {
  store: Store;
  writer: AssignmentWriter;
  governance: GovernanceWriteBack;
  integrations: IntegrationLookup;
  cards: Pick<RecommendationCards, 'refresh'>;
  /** Creating, submitting and retrying need a managing role on every subscription involved. */
  authorizer: Pick<Authorizer, 'canManage'>;
  /** Who the caller is, to prefill the form's Caller field; the UPN of a person picked in the form. */
  directory?: Pick<Directory, 'upnOf' | 'upnOfObjectId'>;
  /** Sandbox: the Caller a form offers when the directory does not know the user (the sandbox's own user). */
  sandboxCaller?: string;
  /** Management-group ancestry for integrations scoped to a management group; subscription scopes only without it. */
  defender?: Pick<DefenderPort, 'getSubscriptionAncestry'>;
  clock: Clock;
  logger: Logger;
  /** REMINDER_TIMEZONE: "after today" on the form is judged there. Default UTC. */
  timeZone?: string;
  /** SEVERITY_IMPACT_URGENCY: the ticket's impact and urgency by severity. */
  severityImpactUrgency?: SeverityImpactUrgency;
  /** Updates the card that shows a background creation. Without it, the card is not followed. */
  messenger?: Pick<Messenger, 'update'>;
  /** Tickets created at once when the client does not say its per-instance limit. Default 4. */
  concurrency?: number;
  /** Milliseconds for throttling card updates (a monotonic clock); default performance.now. */
  monotonic?: () => number;
  /** At least this long between two progress updates of one card. Default 2,000 ms. */
  progressEveryMs?: number;
  /** How long a submit waits for the user check (default USER_CHECK_MS). */
  userCheckMs?: number;
  /** This process's name as a work-queue lease owner. */
  workerId?: string;
  /** WORK_LEASE_SECONDS: a creation whose process died is taken over after this. Default CREATE_TICKETS_LEASE_MS. */
  leaseMs?: number;
}

/** The work-queue kind of step 2 (payload: CreationPayload). */
export const CREATE_TICKETS_WORK = 'assignment.createTickets';
/** A running creation's default lease; a process that died holding it is taken over after this. */
export const CREATE_TICKETS_LEASE_MS = 10 * 60_000;

const DAY_MS = 86_400_000;

/**
 * Forgets the creations that finished more than `retentionDays` before `now`: every done one, and
 * a failed one once it is handled, that is none of its assignments is still pending or failed
 * (the Retry button or resumePending created their tickets, or they were closed). A failed item
 * whose assignments still wait is kept: it is the record of why the creation stopped. Returns how
 * many were forgotten.
 */
export async function pruneFinishedCreations(store: Store, now: Date, retentionDays: number): Promise<number> {
  const before = new Date(now.getTime() - retentionDays * DAY_MS);
  const failed = (await store.work.list({ kind: CREATE_TICKETS_WORK, statuses: ['failed'] })).filter(
    (w) => w.finishedAt !== undefined && Date.parse(w.finishedAt) < before.getTime(),
  );
  const idsOf = (w: WorkItem) => (w.payload as Partial<CreationPayload> | null)?.ids;
  const ids = failed.flatMap((w) => idsOf(w) ?? []);
  const waiting = new Set(ids.length ? (await store.assignments.list({ ids, statuses: ['pending', 'failed'] })).map((a) => a.id) : []);
  // An item whose payload names no list of ids is not understood here: kept.
  const handled = failed.filter((w) => Array.isArray(idsOf(w)) && !idsOf(w)!.some((id) => waiting.has(id))).map((w) => w.id);
  return store.work.prune(CREATE_TICKETS_WORK, before, handled);
}

/** Where the card showing a creation is (its activity id once it is posted). */
export interface CardTarget {
  conversationId: string;
  channelId: string;
  activityId?: string;
}

interface CreationPayload {
  batchId: string;
  ids: string[];
  skippedIds: string[];
  recommendationKey: string;
  recommendationName: string;
  target: CardTarget;
  /** Reassign chosen on the form: run first, from the same work item. */
  reassign?: ReassignRequest;
}

/** Reassign as stored in the work item: the new owner, who asked, and each assignment's owner before (its outcome names them). */
interface ReassignRequest {
  owner: string;
  actor: Actor;
  from: Record<string, string>;
}

/** One creation started by a submit: its end, and the card that follows it. */
export interface Creation {
  batchId: string;
  /** Resolves with the rows when the creation has ended within `ms`, else undefined. */
  settled(ms: number): Promise<Assignment[] | undefined>;
  /** The submit answered with the final card: no update of it follows. */
  answeredFinal(): void;
  /** The submit answered with a progress card: the card posted or replaced is this activity. */
  follow(activityId: string | undefined): void;
  /** Reassign's outcome for the final answer (undefined when it was not chosen). */
  reassigned(rows: readonly Assignment[]): Reassigned | undefined;
}

interface Tracker {
  target: CardTarget;
  followed: boolean;
  finalSent: boolean;
  lastUpdate: number;
  done: Promise<Assignment[]>;
  resolve(rows: Assignment[]): void;
  latest?: { rows: Assignment[]; finished: boolean };
  /** Why a reassignment failed, in this process (a resumed one says "not changed"). */
  reassignFailures: Map<string, string>;
}

export type Persisted =
  | { kind: 'invalid'; errors: Record<string, string> }
  | { kind: 'persisted'; batchId: string; recommendationKey: string; pending: Assignment[]; skipped: Assignment[] };

export type SubmitOutcome =
  { kind: 'invalid'; errors: Record<string, string> } | { kind: 'done'; batchId: string; assignments: Assignment[]; skipped: Assignment[] };

/** What Reassign did: the assignments given to the new owner (and whom they had), and the ones it could not change. */
export interface Reassigned {
  reassigned: { assignment: Assignment; from: string }[];
  failed: { assignment: Assignment; reason: string }[];
}

/** The selection a person may assign, or why not. */
export type Selected = { kind: 'refused'; reason: string } | { kind: 'selected'; recommendation: Recommendation; resources: ResourceSnapshot[] };

/** What a Retry click did. */
export type RetryOutcome =
  { kind: 'gone' } | { kind: 'refused'; reason: string } | { kind: 'retried'; recommendation: { key: string; displayName: string }; assignments: Assignment[] };

/** Stands for "every unhealthy resource of the recommendation" in card data. */
export const ALL_RESOURCES = '*';

/** Thrown for a selection the bot cannot assign at all (unknown recommendation/resources). */
export class SelectionError extends Error {}

const USER_ERRORS = new Set(['user-not-found', 'user-ambiguous']);
/** How long the form waits for ServiceNow to confirm the owner and the caller. */
export const USER_CHECK_MS = 1_200;

export class CreateAssignments {
  private readonly ancestryCache = new Map<string, string[]>();
  private readonly trackers = new Map<string, Tracker>();
  private workers = 0;
  private stopping = false;
  private readonly workerId: string;
  private readonly monotonic: () => number;

  constructor(private readonly deps: CreateAssignmentsDeps) {
    this.workerId = deps.workerId ?? `bot-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.monotonic = deps.monotonic ?? (() => performance.now());
  }

  async recommendation(key: string): Promise<Recommendation> {
    const rec = await this.deps.store.recommendations.get(key.toLowerCase());
    if (!rec || rec.status !== 'unhealthy') throw new SelectionError('This recommendation has no unhealthy resources any more.');
    return rec;
  }

  /** The selected resources (all unhealthy ones when none is selected, or with ALL_RESOURCES). */
  selection(rec: Recommendation, resourceIds: readonly string[]): ResourceSnapshot[] {
    if (resourceIds.length === 0 || (resourceIds.length === 1 && resourceIds[0] === ALL_RESOURCES)) return rec.resources;
    const byId = new Map(rec.resources.map((r) => [r.resourceId.toLowerCase(), r]));
    const picked: ResourceSnapshot[] = [];
    const unknown: string[] = [];
    for (const id of resourceIds) {
      const r = byId.get(id.toLowerCase());
      if (r) picked.push(r);
      else unknown.push(id.split('/').pop() ?? id);
    }
    if (unknown.length) throw new SelectionError(`These resources are no longer unhealthy for this recommendation: ${unknown.join(', ')}. Refresh the card.`);
    return picked;
  }

  /**
   * The recommendation and the selected resources, if the actor may assign them (a managing role
   * on each of their subscriptions). SelectionError for a selection that cannot be assigned at all.
   */
  async select(actor: Actor, recommendationKey: string, resourceIds: readonly string[]): Promise<Selected> {
    const recommendation = await this.recommendation(recommendationKey);
    const resources = this.selection(recommendation, resourceIds);
    const decision = await this.mayManage(actor, resources);
    return decision.allowed ? { kind: 'selected', recommendation, resources } : { kind: 'refused', reason: decision.reason };
  }

  /** The Retry button: a person with a managing role on the batch's subscriptions retries its failed or pending assignments. */
  async retryAsked(batchId: string, actor: Actor, clicked?: CardTarget): Promise<RetryOutcome> {
    const batch = await this.deps.store.assignments.list({ batchId });
    if (batch.length === 0) return { kind: 'gone' };
    const decision = await this.mayManage(actor, batch);
    if (!decision.allowed) return { kind: 'refused', reason: decision.reason };
    const assignments = await this.retry(batchId, actor, clicked);
    return { kind: 'retried', recommendation: { key: batch[0]!.recommendationKey, displayName: batch[0]!.recommendationName }, assignments };
  }

  private mayManage(actor: Actor, resources: readonly { subscriptionId: string }[]) {
    return this.deps.authorizer.canManage(actor, [...new Set(resources.map((r) => r.subscriptionId))]);
  }

  /** Integrations whose scope covers every selected resource, nearest scope first. */
  async coveringIntegrations(resources: readonly ResourceSnapshot[]): Promise<Integration[]> {
    const active: Integration[] = [];
    for (const { id } of await this.deps.integrations.list()) {
      const integration = await this.deps.integrations.find(id);
      if (integration) active.push(integration);
    }
    return coveringAll(active, await this.locations(resources));
  }

  prefill(rec: Recommendation, resources: readonly ResourceSnapshot[]) {
    return prefillTexts(rec, resources);
  }

  /** The form's default Caller: the person filling it in, as far as the bot knows them. */
  async defaultCaller(caller: Caller): Promise<string | undefined> {
    return (await this.deps.directory?.upnOf(caller)) ?? this.deps.sandboxCaller;
  }

  /**
   * The form data with a person picked in Teams' people picker (an Entra object id) replaced by
   * their UPN (the Directory port asks Graph). An id it cannot turn into a UPN stays, and the form
   * refuses it next to the field.
   */
  async withPickedOwner<T extends Record<string, unknown>>(data: T): Promise<T> {
    const directory = this.deps.directory;
    return withOwnerUpn(data, directory?.upnOfObjectId ? (objectId) => directory.upnOfObjectId!(objectId) : undefined);
  }

  /** The live assignments that already have a ticket, of these resources (the form lists them and offers Reassign). */
  async assignedAlready(resources: readonly ResourceSnapshot[]): Promise<Assignment[]> {
    const live = await this.deps.store.assignments.findLiveByKeys(resources.map((r) => correlationKey(r.assessmentId, r.resourceId)));
    return [...live.values()].filter((a) => a.ticket);
  }

  /**
   * Reassign: gives these live assignments (with a ticket, another owner) to `newOwner`. Each under
   * its lock: the ticket's assignee changes in ServiceNow with a work note saying who reassigned it
   * from whom, then the stored owner (ownerChanged, with its audit entry), then Defender's
   * governance owner. A failure leaves that assignment as it was and is reported, never thrown.
   */
  async reassign(assignments: readonly Assignment[], newOwner: string, actor: Actor, opts: { resumed?: boolean; refresh?: boolean } = {}): Promise<Reassigned> {
    const owner = newOwner.trim().toLowerCase();
    const out: Reassigned = { reassigned: [], failed: [] };
    const lookups = new ResolveOnce();
    const who = actor.name ?? actor.id;
    // A few at once (each its own lock): Teams wants the answer within 2 s.
    const todo = assignments.filter((a) => a.owner.toLowerCase() !== owner);
    const outcomes = await mapPool(todo, this.deps.concurrency ?? 4, async (candidate) => {
      try {
        const done = await this.deps.writer.withLock(candidate.id, async (s) => {
          const a = await s.get(candidate.id);
          if (!a || !isLive(a) || !a.ticket || a.owner.toLowerCase() === owner) return undefined;
          const integration = await this.deps.integrations.find(a.integrationId);
          if (!integration || integration.removedAt) throw new Error('its ServiceNow integration was removed');
          const client = this.deps.integrations.clientFor(integration);
          const user = await lookups.get(`${integration.id}|user|${owner}`, () => client.resolveUser(owner));
          // Resumed after a crash between ServiceNow's update and ours: the ticket already has the
          // new assignee, so it is not updated again (one work note per reassignment).
          const [current] = opts.resumed ? await client.getTicketsWithAssignees(a.ticket.table, [a.ticket.sysId]) : [];
          if (current?.assignee?.toLowerCase() !== owner)
            await client.reassignTicket(a.ticket.table, a.ticket.sysId, user.sysId, `Reassigned from ${a.owner} to ${owner} by ${who} (Microsoft Teams).`);
          await s.apply(a.id, (x) => ownerChanged(x, owner, this.deps.clock.now()), {
            actor: who,
            action: 'assignment.reassign',
            details: { ticket: a.ticket.number, from: a.owner, to: owner },
          });
          // Defender's copy follows the stored owner (the one merge rule); a failure there is retried by the cycle.
          return (await this.deps.governance.syncIn(s, a.id, { ifMissing: 'create' })).assignment ?? (await s.get(a.id));
        });
        return done ? { ok: { assignment: done, from: candidate.owner } } : {};
      } catch (err) {
        this.deps.logger.warn({ err, assignmentId: candidate.id }, 'reassignment failed');
        return { failed: { assignment: candidate, reason: reasonOf(err) } };
      }
    });
    for (const o of outcomes) {
      if (o.ok) out.reassigned.push(o.ok);
      if (o.failed) out.failed.push(o.failed);
    }
    if (out.reassigned.length && opts.refresh !== false) await this.deps.cards.refresh(out.reassigned[0]!.assignment.recommendationKey);
    return out;
  }

  /** Both steps, one after the other (the ticket work still runs inside the user's request). */
  async submit(raw: Record<string, unknown>, actor: Actor, conversationId: string): Promise<SubmitOutcome> {
    const persisted = await this.persistPending(raw, actor, conversationId);
    if (persisted.kind === 'invalid') return persisted;
    const done = await this.createTickets(persisted.pending.map((a) => a.id));
    await this.deps.cards.refresh(persisted.recommendationKey);
    return { kind: 'done', batchId: persisted.batchId, assignments: done, skipped: persisted.skipped };
  }

  /**
   * Step 2 from the work queue: the item is stored before anything runs (a crash or a restart
   * resumes it: resumeQueued), then this process starts it at once. Idempotent: tickets are
   * created by correlation id under the assignments' locks.
   */
  async startCreation(persisted: Extract<Persisted, { kind: 'persisted' }>, target: CardTarget, reassign?: { owner: string; actor: Actor }): Promise<Creation> {
    const owner = reassign?.owner.trim().toLowerCase();
    const from = owner ? Object.fromEntries(persisted.skipped.filter((a) => a.owner.toLowerCase() !== owner).map((a) => [a.id, a.owner])) : {};
    const payload: CreationPayload = {
      batchId: persisted.batchId,
      ids: persisted.pending.map((a) => a.id),
      skippedIds: persisted.skipped.map((a) => a.id),
      recommendationKey: persisted.recommendationKey,
      recommendationName: persisted.pending[0]?.recommendationName ?? persisted.skipped[0]?.recommendationName ?? persisted.recommendationKey,
      target,
      ...(owner && reassign && Object.keys(from).length ? { reassign: { owner, actor: reassign.actor, from } } : {}),
    };
    const tracker = this.track(payload);
    if (payload.ids.length === 0 && !payload.reassign) tracker.resolve(persisted.skipped);
    else {
      await this.deps.store.work.enqueue([{ kind: CREATE_TICKETS_WORK, key: persisted.batchId, payload }]);
      this.kick();
    }
    return {
      batchId: persisted.batchId,
      settled: (ms) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), ms);
        });
        return Promise.race([tracker.done, timeout]).finally(() => clearTimeout(timer));
      },
      answeredFinal: () => {
        tracker.finalSent = true;
        this.trackers.delete(persisted.batchId);
      },
      follow: (activityId) => {
        if (activityId) tracker.target = { ...tracker.target, activityId };
        tracker.followed = true;
        // Progress that came while the answer was on its way is shown now.
        if (tracker.latest) void this.showProgress(payload, tracker, tracker.latest.rows, tracker.latest.finished, true);
      },
      reassigned: (rows) => reassignedOf(payload, rows, tracker),
    };
  }

  /** The batch a form already created (a second submit of it, e.g. an old copy in Web Chat), if any. */
  async alreadySubmitted(formId: string): Promise<Assignment[] | undefined> {
    const rows = await this.deps.store.assignments.list({ batchId: formId });
    return rows.length ? rows : undefined;
  }

  /** Creations a stopped process left in the queue (at start, and each cycle). Returns how many were found. */
  async resumeQueued(): Promise<number> {
    const queued = await this.deps.store.work.list({ kind: CREATE_TICKETS_WORK, statuses: ['queued', 'running'] });
    if (queued.length) this.kick();
    return queued.length;
  }

  /** Resolves when this process runs no creation any more (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.workers > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Shutdown: running creations stop after their current chunk and go back to the queue, so the
   * next start (this or another process) resumes them at once instead of after the lease.
   */
  async stopWorkers(): Promise<void> {
    this.stopping = true;
    await this.idle();
  }

  private track(payload: CreationPayload): Tracker {
    let resolve!: (rows: Assignment[]) => void;
    const done = new Promise<Assignment[]>((r) => (resolve = r));
    const tracker: Tracker = {
      target: payload.target,
      followed: false,
      finalSent: false,
      lastUpdate: -Infinity,
      done,
      resolve,
      reassignFailures: new Map(),
    };
    this.trackers.set(payload.batchId, tracker);
    return tracker;
  }

  /** Up to two creations at once per process (each bounded by its instance's limit). */
  private kick(): void {
    while (!this.stopping && this.workers < 2) {
      this.workers++;
      void this.workLoop().finally(() => this.workers--);
    }
  }

  private async workLoop(): Promise<void> {
    while (!this.stopping) {
      let items: WorkItem[];
      try {
        items = await this.deps.store.work.claim(CREATE_TICKETS_WORK, this.workerId, 1, this.deps.leaseMs ?? CREATE_TICKETS_LEASE_MS);
      } catch (err) {
        this.deps.logger.warn({ err }, 'could not read the work queue');
        return;
      }
      const item = items[0];
      if (!item) return;
      await this.runItem(item);
    }
  }

  private async runItem(item: WorkItem): Promise<void> {
    const payload = item.payload as CreationPayload;
    // A creation resumed by another start follows the card it knows of (Teams: the clicked card's id).
    let tracker = this.trackers.get(payload.batchId);
    if (!tracker) {
      tracker = this.track(payload);
      tracker.followed = !!payload.target.activityId;
    }
    try {
      const readSkipped = async () => {
        const byId = await this.rowsOf(payload.skippedIds);
        return payload.skippedIds.map((id) => byId.get(id)).filter((a): a is Assignment => !!a);
      };
      let skipped = await readSkipped();
      // Reassign (already-ticketed rows) and creation (the others) touch different assignments: at once.
      const [rows] = await Promise.all([
        this.createTickets(payload.ids, (current) => this.showProgress(payload, tracker, [...current, ...skipped], false)),
        payload.reassign ? this.runReassign(payload.reassign, tracker, item.attempts > 1) : undefined,
      ]);
      if (payload.reassign) skipped = await readSkipped();
      if (this.stopping) {
        await this.deps.store.work.fail(item.id, this.workerId, 'the process stopped', this.deps.clock.now());
        return;
      }
      await this.deps.store.work.complete(item.id, this.workerId);
      await this.deps.cards
        .refresh(payload.recommendationKey, tracker.target)
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not refresh the card'));
      await this.showProgress(payload, tracker, [...rows, ...skipped], true);
      tracker.resolve([...rows, ...skipped]);
    } catch (err) {
      // The assignments stay pending/failed: the Retry button and resumePending finish them.
      this.deps.logger.warn({ err, batchId: payload.batchId }, 'ticket creation stopped');
      await this.deps.store.work.fail(item.id, this.workerId, reasonOf(err)).catch(() => undefined);
      const rows = await this.deps.store.assignments.list({ batchId: payload.batchId });
      await this.showProgress(payload, tracker, rows, true);
      tracker.resolve(rows);
    } finally {
      if (this.trackers.get(payload.batchId) === tracker && (tracker.finalSent || !tracker.followed)) this.trackers.delete(payload.batchId);
    }
  }

  /**
   * Reassign from the work item. Idempotent: an assignment already given to the owner is left
   * alone, and a resumed run asks ServiceNow first (see reassign). A failure is said on the card.
   */
  private async runReassign(request: ReassignRequest, tracker: Tracker, resumed: boolean): Promise<void> {
    const rows = (await Promise.all(Object.keys(request.from).map((id) => this.deps.store.assignments.get(id)))).filter((a): a is Assignment => !!a);
    const outcome = await this.reassign(rows, request.owner, request.actor, { resumed, refresh: false });
    for (const f of outcome.failed) tracker.reassignFailures.set(f.assignment.id, f.reason);
  }

  /** Updates the creation's card: throttled while it runs, always at the end, never after the final answer. */
  private async showProgress(payload: CreationPayload, tracker: Tracker, rows: Assignment[], finished: boolean, force = false): Promise<void> {
    tracker.latest = { rows, finished };
    const { messenger } = this.deps;
    const activityId = tracker.target.activityId;
    if (!messenger || tracker.finalSent || !tracker.followed || !activityId) return;
    const now = this.monotonic();
    if (!finished && !force && now - tracker.lastUpdate < (this.deps.progressEveryMs ?? 2_000)) return;
    tracker.lastUpdate = now;
    if (finished) tracker.finalSent = true;
    const card = assignmentOutcomeCard(
      {
        recommendationKey: payload.recommendationKey,
        recommendationName: payload.recommendationName,
        batchId: payload.batchId,
        total: payload.ids.length,
        rows,
        skippedIds: payload.skippedIds,
        finished,
        requestedOwner: payload.reassign?.owner ?? rows.find((a) => !payload.skippedIds.includes(a.id))?.owner,
        ...reassignMapsOf(payload, rows, tracker, finished),
      },
      { channelId: tracker.target.channelId },
    );
    try {
      await messenger.update(tracker.target.conversationId, activityId, { card });
    } catch (err) {
      this.deps.logger.warn({ err, batchId: payload.batchId }, 'could not update the creation card');
    }
    if (finished) this.trackers.delete(payload.batchId);
  }

  /**
   * Step 1: validates the submitted form and stores the pending assignments with their audit
   * entry (one transaction). Users that do not exist in ServiceNow are a form error: nothing is
   * stored for them. Findings that already have a ticket are skipped (double clicks and repeated
   * submissions never make a second ticket); a live one without a ticket is replaced.
   */
  async persistPending(raw: Record<string, unknown>, actor: Actor, conversationId: string, formId?: string): Promise<Persisted> {
    const now = this.deps.clock.now();
    const parsed = assignmentFormSchema(now, this.deps.timeZone ?? 'UTC').safeParse(raw);
    if (!parsed.success) return { kind: 'invalid', errors: formErrors(parsed.error) };
    const form = parsed.data;
    const rec = await this.recommendation(form.recommendationKey);
    const resources = this.selection(rec, form.resourceIds);

    const covering = await this.coveringIntegrations(resources);
    const integration = covering.find((i) => i.id === form.integrationId);
    if (!integration) return { kind: 'invalid', errors: { integrationId: 'this integration does not cover every selected resource' } };
    const userErrors = await this.checkUsers(integration, form);
    if (Object.keys(userErrors).length) return { kind: 'invalid', errors: userErrors };

    // The form's own id: the same form submitted twice names the same batch (see alreadySubmitted).
    const batchId = formId ?? randomUUID();
    const customized = integration.fieldMode === 'customized';
    const userEditedText = (() => {
      const p = prefillTexts(rec, resources);
      return p.shortDescription !== form.shortDescription || p.description !== form.description;
    })();
    const liveByKey = await this.deps.store.assignments.findLiveByKeys(resources.map((r) => correlationKey(r.assessmentId, r.resourceId)));
    const skipped: Assignment[] = [];
    const inits: Array<{ init: AssignmentInit; replacing?: Assignment }> = [];
    for (const r of resources) {
      const key = correlationKey(r.assessmentId, r.resourceId);
      const live = liveByKey.get(key);
      if (live?.ticket) {
        skipped.push(live);
        continue;
      }
      const texts =
        form.grouping === 'perResource' && !userEditedText
          ? prefillTexts(rec, [r])
          : { shortDescription: form.shortDescription, description: form.description };
      inits.push({
        replacing: live,
        init: {
          id: randomUUID(),
          key,
          batchId,
          recommendationKey: rec.key,
          recommendationName: rec.displayName,
          severity: rec.severity,
          assessmentId: r.assessmentId,
          resourceId: r.resourceId,
          resourceName: r.name,
          subscriptionId: r.subscriptionId,
          integrationId: integration.id,
          ticketType: form.ticketType,
          owner: form.assignedTo.toLowerCase(),
          caller: form.caller.toLowerCase(),
          dueDate: form.dueDate,
          gracePeriod: form.gracePeriod,
          notifyOwner: form.notifyOwner,
          notifyManager: form.notifyManager,
          customFields: customized
            ? {
                ...(form.assignmentGroup ? { assignment_group: form.assignmentGroup } : {}),
                ...(form.impact ? { impact: form.impact } : {}),
                ...(form.urgency ? { urgency: form.urgency } : {}),
              }
            : {},
          ticketGrouping: form.grouping,
          shortDescription: texts.shortDescription,
          description: texts.description,
          conversationId,
          createdBy: { id: actor.id, name: actor.name, aadObjectId: actor.aadObjectId },
        },
      });
    }

    // Persist before calling out: a crash from here on is finished by resumePending().
    const ids = inits.map(({ init, replacing }) => replacing?.id ?? init.id);
    const pending = await this.deps.writer.withLocks(ids, async (s) => {
      const rows: Assignment[] = [];
      for (const { init, replacing } of inits) {
        // Re-read under the lock: a live assignment that got its ticket meanwhile is not replaced (the transition refuses).
        const current = replacing ? await s.get(replacing.id) : undefined;
        rows.push(pendingAssignment(current ? init : { ...init, id: replacing?.id ?? init.id }, now, current));
      }
      await s.write(rows, {
        actor: actor.name ?? actor.id,
        action: 'assignment.create',
        target: batchId,
        details: {
          recommendation: rec.key,
          resources: rows.length,
          integration: integration.name,
          ticketType: form.ticketType,
          owner: form.assignedTo,
          dueDate: form.dueDate,
        },
      });
      return rows;
    });
    return { kind: 'persisted', batchId, recommendationKey: rec.key, pending, skipped };
  }

  /**
   * Step 2: creates the tickets of these assignments (one per resource, or one shared by a
   * "single ticket" batch), then writes Defender's governance assignments. Assignments another
   * writer finished meanwhile are left as they are. Returns the assignments as they are now.
   * Tickets are created in chunks (each chunk holds its assignments' locks and stores its tickets
   * in one write), several chunks at once sharing one pool of the instance's concurrency: the
   * instance stays busy while a finished chunk writes its tickets and mirrors them in Defender,
   * instead of waiting at each chunk's end. Users and groups are resolved once per call.
   */
  async createTickets(ids: readonly string[], onProgress?: (rows: Assignment[]) => Promise<void>): Promise<Assignment[]> {
    const byId = await this.rowsOf(ids);
    const rows = ids.map((id) => byId.get(id)).filter((a): a is Assignment => a !== undefined);
    // Grouped by batch + grouping so a "single ticket" batch creates its one shared ticket.
    const groups = new Map<string, Assignment[]>();
    for (const a of rows) {
      const k = a.ticketGrouping === 'single' ? `single:${a.batchId}` : `one:${a.id}`;
      const group = groups.get(k);
      if (group) group.push(a);
      else groups.set(k, [a]);
    }
    const byIntegration = new Map<string, string[][]>();
    for (const group of groups.values()) {
      const list = byIntegration.get(group[0]!.integrationId) ?? [];
      list.push(group.map((a) => a.id));
      byIntegration.set(group[0]!.integrationId, list);
    }
    const lookups = new ResolveOnce();
    const results = new Map<string, Assignment>();
    for (const [integrationId, list] of byIntegration) {
      const integration = await this.deps.integrations.find(integrationId);
      const limit = Math.max(1, (integration && this.deps.integrations.clientFor(integration).concurrency) || this.deps.concurrency || 4);
      // Chunks of a few rounds: the card and the store hear of each chunk. A large creation has
      // fewer, larger chunks: each store write rewrites the whole file (lowdb), so a fixed size
      // would make the writes grow with the square of the tickets.
      const size = Math.min(limit * MAX_ROUNDS_PER_CHUNK, Math.max(limit * 5, Math.ceil(list.length / CHUNKS_PER_CREATION)));
      const chunks: string[][][] = [];
      for (let i = 0; i < list.length; i += size) chunks.push(list.slice(i, i + size));
      const pools: ChunkPools = { tickets: new Semaphore(limit), governance: new Semaphore(limit) };
      let left = chunks.length;
      await mapPool(chunks, CHUNKS_AT_ONCE, async (chunk) => {
        // A stopping process finishes the chunks it started; the rest go back to the queue.
        if (this.stopping) return;
        const done = await this.deps.writer.withLocks(chunk.flat(), (s) => this.createChunk(s, integration, chunk, pools, lookups));
        for (const a of done) results.set(a.id, a);
        if (onProgress && --left > 0 && !this.stopping) await onProgress(rows.map((a) => results.get(a.id) ?? a));
      });
      if (this.stopping) break;
    }
    return rows.map((a) => results.get(a.id)).filter((a): a is Assignment => a !== undefined);
  }

  /** Retries the failed or pending assignments of a batch; a person asking starts the automatic attempts over. */
  async retry(batchId: string, actor: Actor, clicked?: CardTarget): Promise<Assignment[]> {
    const batch = await this.deps.store.assignments.list({ batchId });
    const todo = batch.filter((a) => a.status === 'failed' || a.status === 'pending' || (a.status === 'open' && a.governance?.status === 'failed'));
    if (todo.length) {
      const failed = todo.filter((a) => a.status === 'failed').map((a) => a.id);
      await this.deps.writer.withLocks(failed, async (s) => {
        const rows: Assignment[] = [];
        for (const id of failed) {
          const a = await s.get(id);
          if (a?.status === 'failed') rows.push(retryRequested(a, this.deps.clock.now()));
        }
        await s.write(rows, { actor: actor.name ?? actor.id, action: 'assignment.retry', target: batchId, details: { count: todo.length } });
      });
      await this.createTickets(todo.map((a) => a.id));
      if (batch[0]) await this.deps.cards.refresh(batch[0].recommendationKey, clicked);
    }
    return this.deps.store.assignments.list({ batchId });
  }

  /**
   * Finishes work a crash or an outage left behind (run at start and after each sync pass):
   * pending records, governance write-backs, and failed tickets whose backoff has passed (until
   * MAX_AUTOMATIC_ATTEMPTS failures; then only the Retry button tries again).
   */
  async resumePending(): Promise<number> {
    const now = this.deps.clock.now();
    // Indexed queries by status, each in list order (the order tickets are created in): at start a
    // store of 100k open assignments must not be read whole to find the few left unfinished.
    const unticketed = await this.deps.store.assignments.list({ statuses: ['pending', 'failed'] });
    const writeBacks = await this.deps.store.assignments.list({ statuses: ['open'], governanceStatuses: ['pending', 'failed'] });
    let todo = [...unticketed.filter((a) => a.status === 'pending' || dueForAutomaticRetry(a, now)), ...writeBacks];
    // Creations still in the work queue are resumed from there (with their card).
    const queued = await this.deps.store.work.list({ kind: CREATE_TICKETS_WORK, statuses: ['queued', 'running'] });
    if (queued.length) this.kick();
    const owned = new Set(queued.flatMap((w) => (w.payload as CreationPayload).ids));
    todo = todo.filter((a) => !owned.has(a.id));
    if (todo.length === 0) return 0;
    this.deps.logger.info({ count: todo.length }, 'resuming unfinished assignments');
    const results = await this.createTickets(todo.map((a) => a.id));
    // Cards show tickets only: refresh where one was created, not on every failed attempt.
    const hadTicket = new Set(todo.filter((a) => a.ticket).map((a) => a.id));
    for (const key of new Set(results.filter((a) => a.ticket && !hadTicket.has(a.id)).map((a) => a.recommendationKey))) await this.deps.cards.refresh(key);
    return todo.length;
  }

  private async checkUsers(integration: Integration, form: AssignmentForm): Promise<Record<string, string>> {
    const client = this.deps.integrations.clientFor(integration);
    const errors: Record<string, string> = {};
    // Both at once, and for at most USER_CHECK_MS: Teams wants the answer within 2 s. Not checked
    // in time is like unreachable below: the ticket step reports a user it cannot find on the card.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.deps.userCheckMs ?? USER_CHECK_MS);
    });
    const checks = await Promise.race([Promise.allSettled([client.resolveUser(form.assignedTo), client.resolveUser(form.caller)]), late]).finally(() =>
      clearTimeout(timer),
    );
    if (!checks) {
      this.deps.logger.info({ integration: integration.name }, 'ServiceNow did not confirm the users in time; the ticket step checks them');
      return errors;
    }
    for (const [i, field] of (['assignedTo', 'caller'] as const).entries()) {
      const c = checks[i]!;
      // ServiceNow unreachable: the users cannot be checked now. The assignments are still
      // stored; creating their tickets fails them with the reason, and the cycle's
      // resumePending (or the Retry button) creates the tickets once ServiceNow answers.
      if (c.status === 'rejected' && USER_ERRORS.has(ticketErrorKind(c.reason) ?? '')) errors[field] = reasonOf(c.reason);
    }
    if (integration.fieldMode === 'customized' && form.assignmentGroup && Object.keys(errors).length === 0) {
      try {
        await client.resolveGroup(form.assignmentGroup);
      } catch (err) {
        if (USER_ERRORS.has(ticketErrorKind(err) ?? '')) errors.assignmentGroup = reasonOf(err);
      }
    }
    return errors;
  }

  /** The tickets of a chunk of groups (under their locks), stored in one write, then the governance write-backs. */
  private async createChunk(
    s: AssignmentSession,
    integration: Integration | undefined,
    chunk: readonly (readonly string[])[],
    pools: ChunkPools,
    lookups: ResolveOnce,
  ): Promise<Assignment[]> {
    const ids = chunk.flat();
    const health: (() => Promise<void>)[] = [];
    // Rows and outcomes of this chunk, stored together at its end.
    const buffered = new BufferedSession(s);
    const mirrors: Promise<unknown>[] = [];
    const mirrored = new Set<string>();
    const mirror = (id: string) => {
      mirrored.add(id);
      return settle(pools.governance.run(() => this.deps.governance.syncIn(buffered, id, { ifMissing: 'create' })));
    };
    // The chunk's rows in one query (its locks are held, so they are current), not one per ticket.
    const current = await this.rowsOf(ids);
    buffered.seed(current.values());
    const todos: Assignment[][] = [];
    for (const group of chunk) {
      const todo = group.map((id) => current.get(id)).filter((a): a is Assignment => !!a && !a.ticket && UNTICKETED_STATUSES.includes(a.status));
      if (todo.length) todos.push(todo);
    }
    if (todos.length) {
      const at = this.deps.clock.now();
      if (!integration || integration.removedAt) {
        const failed = todos.flat().map((a) => creationFailed(a, 'the ServiceNow integration was removed', at));
        await s.write(failed);
        const written = new Map(failed.map((a) => [a.id, a]));
        return ids.map((id) => written.get(id) ?? current.get(id)).filter((a): a is Assignment => a !== undefined);
      }
      const outcomes = await Promise.all(
        todos.map((todo) =>
          pools.tickets.run(async () => {
            // A stopping process finishes the tickets in flight; these stay pending for the next start.
            if (this.stopping) return { todo, stopped: true };
            try {
              const t = await this.createTicket(integration, todo, lookups);
              const rows = todo.map((a) =>
                ticketCreated(a, { table: t.table, sysId: t.sysId, number: t.number, link: t.link, state: '1' }, this.deps.clock.now()),
              );
              await buffered.write(rows);
              // Defender is told at once, while the instance's slot goes to the next ticket.
              mirrors.push(...rows.map((a) => mirror(a.id)));
              return { todo, rows };
            } catch (err) {
              this.deps.logger.warn({ err, integration: integration.name, resources: todo.length }, 'ticket creation failed');
              const error = reasonOf(err);
              const rows = todo.map((a) => creationFailed(a, error, this.deps.clock.now()));
              await buffered.write(rows);
              return { todo, rows, error };
            }
          }),
        ),
      );
      const written = outcomes.flatMap((o) => o.rows ?? []);
      const failed = written.filter((a) => a.status === 'failed');
      if (failed.length) {
        const lastError = outcomes.filter((o) => o.error).pop()!.error!;
        health.push(() => this.deps.integrations.recordFailure(integration.id, lastError));
        const attempts = Math.max(...failed.map((a) => a.attempts));
        if (attempts >= MAX_AUTOMATIC_ATTEMPTS)
          this.deps.logger.warn(
            { integration: integration.name, resources: failed.length, attempts },
            'ticket creation gave up after the last automatic attempt; the Retry button can still create it',
          );
      }
      if (failed.length < written.length) health.push(() => this.deps.integrations.recordSuccess(integration.id));
    }
    // Open ones whose earlier write-back failed or was lost are mirrored too; a failure never loses the ticket and is retried by the cycle.
    for (const id of ids) {
      const a = await buffered.get(id);
      if (a?.status === 'open' && a.governance?.status !== 'synced' && !mirrored.has(id)) mirrors.push(mirror(id));
    }
    const mirroredOutcomes = await Promise.all(mirrors);
    // The tickets, their write-backs' outcomes and the integration's health: one store write per
    // chunk (a crash before it is finished by the next start: the tickets are found by correlation id).
    const recorded = health.map((record) => settle(record()));
    await buffered.flush();
    for (const outcome of [...mirroredOutcomes, ...(await Promise.all(recorded))]) if (outcome instanceof Failed) throw outcome.error;
    // What was just stored, under the locks still held: no read back.
    return buffered.known(ids);
  }

  private async createTicket(integration: Integration, group: readonly Assignment[], lookups: ResolveOnce) {
    const first = group[0]!;
    const client = this.deps.integrations.clientFor(integration);
    const [owner, caller] = await Promise.all([
      lookups.get(`${integration.id}|user|${first.owner}`, () => client.resolveUser(first.owner)),
      lookups.get(`${integration.id}|user|${first.caller}`, () => client.resolveUser(first.caller)),
    ]);
    let groupSysId: string | undefined;
    const groupName = first.customFields.assignment_group;
    if (groupName) groupSysId = (await lookups.get(`${integration.id}|group|${groupName}`, () => client.resolveGroup(groupName))).sysId;
    const fields = ticketFields(
      {
        ticketType: first.ticketType,
        shortDescription: first.shortDescription,
        description: first.description,
        assignmentGroup: first.customFields.assignment_group,
        impact: first.customFields.impact as never,
        urgency: first.customFields.urgency as never,
        severity: first.severity,
        dueDate: first.dueDate,
      },
      { ownerSysId: owner.sysId, callerSysId: caller.sysId, groupSysId },
      integration.fieldMode === 'customized',
      { severityImpactUrgency: this.deps.severityImpactUrgency, timeZone: this.deps.timeZone },
    );
    const correlationId =
      first.ticketGrouping === 'single'
        ? selectionCorrelationKey(
            first.recommendationKey,
            group.map((a) => a.resourceId),
          )
        : first.key;
    const display = `Defender for Cloud: ${first.recommendationName} / ${group.length === 1 ? first.resourceName : `${group.length} resources`}`.slice(0, 100);
    return client.createTicket(first.ticketType, fields, { correlationId, correlationDisplay: display });
  }

  /** Rows by id in one query (absent: gone). */
  private async rowsOf(ids: readonly string[]): Promise<Map<string, Assignment>> {
    if (ids.length === 0) return new Map();
    return new Map((await this.deps.store.assignments.list({ ids })).map((a) => [a.id, a]));
  }

  private async locations(resources: readonly ResourceSnapshot[]): Promise<ResourceLocation[]> {
    const missing = [...new Set(resources.map((r) => r.subscriptionId.toLowerCase()))].filter((s) => !this.ancestryCache.has(s));
    if (missing.length && this.deps.defender) {
      try {
        const ancestry = await this.deps.defender.getSubscriptionAncestry(missing);
        for (const [sub, chain] of ancestry)
          this.ancestryCache.set(
            sub.toLowerCase(),
            chain.map((g) => g.name),
          );
      } catch (err) {
        this.deps.logger.warn({ err }, 'could not read management-group ancestry; matching subscription scopes only');
      }
    }
    return resources.map((r) => ({
      resourceId: r.resourceId,
      subscriptionId: r.subscriptionId,
      managementGroups: this.ancestryCache.get(r.subscriptionId.toLowerCase()) ?? [],
    }));
  }
}

/**
 * A session whose writes wait for flush(): the governance outcomes of a chunk in one store write.
 * It also remembers the rows read under the chunk's locks (seed) and those it wrote, so reading
 * them again costs no query: nobody else writes them while the locks are held.
 */
class BufferedSession implements AssignmentSession {
  private readonly rows = new Map<string, Assignment>();
  private readonly stored = new Map<string, Assignment>();
  private readonly audits: AuditNote[] = [];

  constructor(private readonly inner: AssignmentSession) {}

  seed(rows: Iterable<Assignment>): void {
    for (const r of rows) this.stored.set(r.id, r);
  }

  /** The rows of these ids as this session knows them (written or seeded); unknown ones are left out. */
  known(ids: readonly string[]): Assignment[] {
    return ids.map((id) => this.rows.get(id) ?? this.stored.get(id)).filter((a): a is Assignment => a !== undefined);
  }

  async get(id: string): Promise<Assignment | undefined> {
    return this.rows.get(id) ?? this.stored.get(id) ?? this.inner.get(id);
  }

  async apply(id: string, change: Change, audit?: AuditNote): Promise<Assignment> {
    const current = await this.get(id);
    if (!current) throw new AssignmentGoneError(id);
    const next = change(current);
    this.rows.set(id, next);
    if (audit) this.audits.push(audit);
    return next;
  }

  async write(rows: readonly Assignment[], audit?: AuditNote): Promise<void> {
    for (const r of rows) this.rows.set(r.id, r);
    if (audit) this.audits.push(audit);
  }

  async flush(): Promise<void> {
    const [first, ...rest] = this.audits;
    if (this.rows.size || first) await this.inner.write([...this.rows.values()], first);
    for (const audit of rest) await this.inner.write([], audit);
    this.seed(this.rows.values());
    this.rows.clear();
    this.audits.length = 0;
  }
}

/** Look-ups shared by every ticket of one call (owner, caller, group); a failed one is asked again. */
class ResolveOnce {
  private readonly cache = new Map<string, Promise<unknown>>();

  get<T extends TicketUser | { sysId: string }>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }
}

/** A large creation is cut into about this many chunks (store writes and card updates)… */
const CHUNKS_PER_CREATION = 10;
/** …of at most this many rounds of the instance's limit (a stopping process finishes its chunks). */
const MAX_ROUNDS_PER_CHUNK = 25;

/** Chunks of one creation in progress at once: while one is stored and mirrored in Defender, the next ones use the instance. */
const CHUNKS_AT_ONCE = 3;

/** The shared limits of one creation: ServiceNow tickets at once (the instance's limit) and Defender write-backs at once. */
interface ChunkPools {
  tickets: Semaphore;
  governance: Semaphore;
}

/** A rejection held as a value, so a promise awaited later is never an unhandled rejection meanwhile. */
class Failed {
  constructor(readonly error: unknown) {}
}

function settle(p: Promise<unknown>): Promise<unknown> {
  return p.catch((err: unknown) => new Failed(err));
}

/** At most `size` tasks at once, the others started in the order they asked. */
class Semaphore {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** fn over items, at most `size` at once, results in input order. */
async function mapPool<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, lane));
  return out;
}

/** What Reassign did, from the stored rows: those now with the new owner, and the others with why. */
function reassignedOf(payload: CreationPayload, rows: readonly Assignment[], tracker: Tracker): Reassigned | undefined {
  const request = payload.reassign;
  if (!request) return undefined;
  const out: Reassigned = { reassigned: [], failed: [] };
  for (const a of rows) {
    const from = request.from[a.id];
    if (from === undefined) continue;
    if (a.owner.toLowerCase() === request.owner) out.reassigned.push({ assignment: a, from });
    else out.failed.push({ assignment: a, reason: tracker.reassignFailures.get(a.id) ?? 'not changed' });
  }
  return out;
}

function reassignMapsOf(payload: CreationPayload, rows: readonly Assignment[], tracker: Tracker, finished: boolean) {
  if (!payload.reassign) return {};
  if (!finished) return { reassigning: Object.keys(payload.reassign.from).length };
  const r = reassignedOf(payload, rows, tracker)!;
  return {
    reassigned: new Map(r.reassigned.map((x) => [x.assignment.id, x.from])),
    reassignFailed: new Map(r.failed.map((x) => [x.assignment.id, x.reason])),
  };
}
