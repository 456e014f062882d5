/**
 * Creating assignments ("Create assignment" on a card), in two steps:
 *  1. persistPending: validate the form (fields, covering integration, the users in ServiceNow)
 *     and store one pending assignment per resource with the audit entry, in one transaction;
 *  2. createTickets: for stored pending (or failed) assignments, create their ServiceNow tickets
 *     idempotently (correlation id), then write Defender's governance assignments back.
 * A crash or outage between or during the steps leaves pending/failed records that `retry` (the
 * Retry button) and `resumePending` (every cycle) finish. Step 2 takes only assignment ids, so it
 * can run on a work queue instead of inside the user's request.
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
import { creationFailed, pendingAssignment, retryRequested, ticketCreated, UNTICKETED_STATUSES, type AssignmentInit } from '../core/lifecycle.js';
import { coveringAll, type ResourceLocation } from '../core/scope.js';
import { correlationKey } from '../core/servicenow-rules.js';
import type { Assignment, Integration, Recommendation, ResourceSnapshot } from '../core/model.js';
import type { AssignmentSession, AssignmentWriter } from './assignmentWriter.js';
import type { GovernanceWriteBack } from './governance.js';
import type { RecommendationCards } from './recommendationCards.js';
import { reasonOf, ticketErrorKind, type Actor, type Caller, type DefenderPort, type Directory, type Store, type TicketSystem } from './ports.js';

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
  /** Who the caller is, to prefill the form's Caller field. */
  directory?: Pick<Directory, 'upnOf'>;
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
}

export type Persisted =
  | { kind: 'invalid'; errors: Record<string, string> }
  | { kind: 'persisted'; batchId: string; recommendationKey: string; pending: Assignment[]; skipped: Assignment[] };

export type SubmitOutcome =
  { kind: 'invalid'; errors: Record<string, string> } | { kind: 'done'; batchId: string; assignments: Assignment[]; skipped: Assignment[] };

/** Stands for "every unhealthy resource of the recommendation" in card data. */
export const ALL_RESOURCES = '*';

/** Thrown for a selection the bot cannot assign at all (unknown recommendation/resources). */
export class SelectionError extends Error {}

const USER_ERRORS = new Set(['user-not-found', 'user-ambiguous']);

export class CreateAssignments {
  private readonly ancestryCache = new Map<string, string[]>();

  constructor(private readonly deps: CreateAssignmentsDeps) {}

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

  /** Both steps, one after the other (the ticket work still runs inside the user's request). */
  async submit(raw: Record<string, unknown>, actor: Actor, conversationId: string): Promise<SubmitOutcome> {
    const persisted = await this.persistPending(raw, actor, conversationId);
    if (persisted.kind === 'invalid') return persisted;
    const done = await this.createTickets(persisted.pending.map((a) => a.id));
    await this.deps.cards.refresh(persisted.recommendationKey);
    return { kind: 'done', batchId: persisted.batchId, assignments: done, skipped: persisted.skipped };
  }

  /**
   * Step 1: validates the submitted form and stores the pending assignments with their audit
   * entry (one transaction). Users that do not exist in ServiceNow are a form error: nothing is
   * stored for them. Findings that already have a ticket are skipped (double clicks and repeated
   * submissions never make a second ticket); a live one without a ticket is replaced.
   */
  async persistPending(raw: Record<string, unknown>, actor: Actor, conversationId: string): Promise<Persisted> {
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

    const batchId = randomUUID();
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
   */
  async createTickets(ids: readonly string[]): Promise<Assignment[]> {
    const rows = (await Promise.all(ids.map((id) => this.deps.store.assignments.get(id)))).filter((a): a is Assignment => a !== undefined);
    // Grouped by batch + grouping so a "single ticket" batch creates its one shared ticket.
    const groups = new Map<string, string[]>();
    for (const a of rows) {
      const k = a.ticketGrouping === 'single' ? `single:${a.batchId}` : `one:${a.id}`;
      groups.set(k, [...(groups.get(k) ?? []), a.id]);
    }
    const results: Assignment[] = [];
    for (const group of groups.values()) results.push(...(await this.deps.writer.withLocks(group, (s) => this.createGroupTicket(s, group))));
    return results;
  }

  /** Retries the failed or pending assignments of a batch; a person asking starts the automatic attempts over. */
  async retry(batchId: string, actor: Actor): Promise<Assignment[]> {
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
      if (batch[0]) await this.deps.cards.refresh(batch[0].recommendationKey);
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
    // One query in list order (the order tickets are created in), refined here.
    const todo = (await this.deps.store.assignments.list({ statuses: ['pending', 'failed', 'open'] })).filter(
      (a) =>
        a.status === 'pending' ||
        dueForAutomaticRetry(a, now) ||
        (a.status === 'open' && (a.governance?.status === 'pending' || a.governance?.status === 'failed')),
    );
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
    for (const [field, identity] of [
      ['assignedTo', form.assignedTo],
      ['caller', form.caller],
    ] as const) {
      try {
        await client.resolveUser(identity);
      } catch (err) {
        if (USER_ERRORS.has(ticketErrorKind(err) ?? '')) errors[field] = reasonOf(err);
        // ServiceNow unreachable: the users cannot be checked now. The assignments are still
        // stored; creating their tickets fails them with the reason, and the cycle's
        // resumePending (or the Retry button) creates the tickets once ServiceNow answers.
        else break;
      }
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

  /** One ticket for the group (under the group's locks), then the governance write-backs. */
  private async createGroupTicket(s: AssignmentSession, ids: readonly string[]): Promise<Assignment[]> {
    const group = (await Promise.all(ids.map((id) => s.get(id)))).filter((a): a is Assignment => a !== undefined);
    const todo = group.filter((a) => !a.ticket && UNTICKETED_STATUSES.includes(a.status));
    if (todo.length > 0) {
      const first = todo[0]!;
      const integration = await this.deps.integrations.find(first.integrationId);
      const at = this.deps.clock.now();
      if (!integration || integration.removedAt) {
        await s.write(todo.map((a) => creationFailed(a, 'the ServiceNow integration was removed', at)));
        return this.current(s, ids);
      }
      try {
        const ticket = await this.createTicket(integration, todo);
        await s.write(
          todo.map((a) => ticketCreated(a, { table: ticket.table, sysId: ticket.sysId, number: ticket.number, link: ticket.link, state: '1' }, at)),
        );
        await this.deps.integrations.recordSuccess(integration.id);
      } catch (err) {
        const message = reasonOf(err);
        this.deps.logger.warn({ err, integration: integration.name, resources: todo.length }, 'ticket creation failed');
        await this.deps.integrations.recordFailure(integration.id, message);
        const failed = todo.map((a) => creationFailed(a, message, this.deps.clock.now()));
        const attempts = Math.max(...failed.map((a) => a.attempts));
        if (attempts >= MAX_AUTOMATIC_ATTEMPTS)
          this.deps.logger.warn(
            { integration: integration.name, resources: todo.length, attempts },
            'ticket creation gave up after the last automatic attempt; the Retry button can still create it',
          );
        await s.write(failed);
        return this.current(s, ids);
      }
    }
    // Mirrors each ticket in Defender; a failure never loses the ticket and is retried by the cycle.
    for (const id of ids) {
      const a = await s.get(id);
      if (a?.status === 'open' && a.governance?.status !== 'synced') await this.deps.governance.syncIn(s, id, { ifMissing: 'create' });
    }
    return this.current(s, ids);
  }

  private async createTicket(integration: Integration, group: readonly Assignment[]) {
    const first = group[0]!;
    const client = this.deps.integrations.clientFor(integration);
    const [owner, caller] = [await client.resolveUser(first.owner), await client.resolveUser(first.caller)];
    let groupSysId: string | undefined;
    if (first.customFields.assignment_group) groupSysId = (await client.resolveGroup(first.customFields.assignment_group)).sysId;
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

  private async current(s: AssignmentSession, ids: readonly string[]): Promise<Assignment[]> {
    return (await Promise.all(ids.map((id) => s.get(id)))).filter((a): a is Assignment => a !== undefined);
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
