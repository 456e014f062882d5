import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import {
  assignmentFormSchema,
  formErrors,
  governanceProperties,
  prefillTexts,
  selectionCorrelationKey,
  ticketFields,
  type AssignmentForm,
  type SeverityImpactUrgency,
} from '../core/assignments.js';
import { dueForAutomaticRetry, failedAttempt, MAX_AUTOMATIC_ATTEMPTS } from '../core/assignmentRetry.js';
import { coveringAll, type ResourceLocation } from '../core/scope.js';
import { correlationKey } from '../core/servicenow-rules.js';
import { ServiceNowError, type ServiceNowClient } from '../connectors/servicenow/client.js';
import type { Ancestry } from '../core/recommendations.js';
import { refreshPostedCards } from '../jobs/sync.js';
import { GovernanceAssignmentPropertiesSchema, type GovernanceAssignmentBody, type GovernanceAssignmentProperties } from '../connectors/defender/governance.js';
import type { Store } from '../app/ports.js';
import type { Assignment, Integration, Recommendation, ResourceSnapshot } from '../core/model.js';
import type { Actor } from './turn.js';
import type { Messenger } from './messenger.js';

export interface GovernanceWriter {
  /** undefined when it does not exist (404). */
  getGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<{ properties: Record<string, unknown> } | undefined>;
  putGovernanceAssignment(resourceId: string, assessmentName: string, key: string, body: GovernanceAssignmentBody): Promise<unknown>;
  getSubscriptionAncestry(subscriptionIds: readonly string[]): Promise<ReadonlyMap<string, ReadonlyArray<{ name: string }>>>;
}

export interface IntegrationLookup {
  list(): Promise<{ id: string }[]>;
  find(nameOrId: string): Promise<Integration | undefined>;
  clientFor(integration: Integration): ServiceNowClient;
  recordSuccess(id: string): Promise<void>;
  recordFailure(id: string, message: string): Promise<void>;
}

export interface AssignmentServiceDeps {
  store: Store;
  integrations: IntegrationLookup;
  azure?: GovernanceWriter;
  messenger: Messenger;
  clock: Clock;
  logger: Logger;
  /** Subscription display names for re-rendered cards (SyncJob.subscriptionNames); ids are shown without it. */
  subscriptionNames?: () => ReadonlyMap<string, string>;
  /** Management-group ancestry for MG-filtered conversations' cards (SyncJob.ancestry()); none known without it. */
  ancestry?: () => Ancestry;
  timeZone?: string;
  /** SEVERITY_IMPACT_URGENCY: the ticket's impact and urgency by severity. */
  severityImpactUrgency?: SeverityImpactUrgency;
}

export type SubmitOutcome =
  { kind: 'invalid'; errors: Record<string, string> } | { kind: 'done'; batchId: string; assignments: Assignment[]; skipped: Assignment[] };

/** Stands for "every unhealthy resource of the recommendation" in card data. */
export const ALL_RESOURCES = '*';

/** Thrown for a selection the bot cannot assign at all (unknown recommendation/resources). */
export class SelectionError extends Error {}

/**
 * Creating assignments: the records are stored first (pending), then the ServiceNow tickets are
 * created idempotently (correlation id), then Defender's governance assignments are written. A
 * crash or outage leaves pending/failed records that `retry` and `resumePending` finish.
 */
export class AssignmentService {
  private readonly ancestryCache = new Map<string, string[]>();

  constructor(private readonly deps: AssignmentServiceDeps) {}

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
    const locations = await this.locations(resources);
    return coveringAll(active, locations);
  }

  prefill(rec: Recommendation, resources: readonly ResourceSnapshot[]) {
    return prefillTexts(rec, resources);
  }

  async submit(raw: Record<string, unknown>, actor: Actor, conversationId: string): Promise<SubmitOutcome> {
    const now = this.deps.clock.now();
    const parsed = assignmentFormSchema(now, this.deps.timeZone ?? 'UTC').safeParse(raw);
    if (!parsed.success) return { kind: 'invalid', errors: formErrors(parsed.error) };
    const form = parsed.data;
    const rec = await this.recommendation(form.recommendationKey);
    const resources = this.selection(rec, form.resourceIds);

    const covering = await this.coveringIntegrations(resources);
    const integration = covering.find((i) => i.id === form.integrationId);
    if (!integration) return { kind: 'invalid', errors: { integrationId: 'this integration does not cover every selected resource' } };
    const customized = integration.fieldMode === 'customized';

    // Users that do not exist in ServiceNow are a form error: nothing is stored for them.
    const client = this.deps.integrations.clientFor(integration);
    const userErrors: Record<string, string> = {};
    for (const [field, identity] of [
      ['assignedTo', form.assignedTo],
      ['caller', form.caller],
    ] as const) {
      try {
        await client.resolveUser(identity);
      } catch (err) {
        if (err instanceof ServiceNowError && (err.kind === 'user-not-found' || err.kind === 'user-ambiguous')) userErrors[field] = err.reason;
        // ServiceNow unreachable: the users cannot be checked now. The assignments are still
        // stored; creating their tickets below fails them with the reason, and the cycle's
        // resumePending (or the Retry button) creates the tickets once ServiceNow answers.
        else break;
      }
    }
    if (customized && form.assignmentGroup && Object.keys(userErrors).length === 0) {
      try {
        await client.resolveGroup(form.assignmentGroup);
      } catch (err) {
        if (err instanceof ServiceNowError && (err.kind === 'user-not-found' || err.kind === 'user-ambiguous')) userErrors.assignmentGroup = err.reason;
      }
    }
    if (Object.keys(userErrors).length) return { kind: 'invalid', errors: userErrors };

    const batchId = randomUUID();
    const stamp = now.toISOString();
    const skipped: Assignment[] = [];
    const toCreate: Assignment[] = [];
    const userEditedText = (() => {
      const p = prefillTexts(rec, resources);
      return p.shortDescription !== form.shortDescription || p.description !== form.description;
    })();
    const liveByKey = await this.deps.store.assignments.findLiveByKeys(resources.map((r) => correlationKey(r.assessmentId, r.resourceId)));
    for (const r of resources) {
      const key = correlationKey(r.assessmentId, r.resourceId);
      const live = liveByKey.get(key);
      // Double clicks and repeated submissions never make a second ticket for the same finding.
      if (live?.ticket) {
        skipped.push(live);
        continue;
      }
      const texts =
        form.grouping === 'perResource' && !userEditedText
          ? prefillTexts(rec, [r])
          : { shortDescription: form.shortDescription, description: form.description };
      toCreate.push({
        id: live?.id ?? randomUUID(),
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
        status: 'pending',
        governance: { key: live?.governance?.key ?? live?.id ?? '', status: 'pending' },
        conversationId,
        createdBy: { id: actor.id, name: actor.name, aadObjectId: actor.aadObjectId },
        createdAt: live?.createdAt ?? stamp,
        updatedAt: stamp,
        healthyPasses: 0,
        attempts: 0,
      });
    }
    for (const a of toCreate) if (!a.governance!.key) a.governance!.key = a.id;

    // Persist before calling out: a crash from here on is finished by resumePending().
    await this.deps.store.transaction(async (tx) => {
      await tx.assignments.upsertMany(toCreate);
      await tx.audit.append({
        at: this.deps.clock.now().toISOString(),
        actor: actor.name ?? actor.id,
        action: 'assignment.create',
        target: batchId,
        details: {
          recommendation: rec.key,
          resources: toCreate.length,
          integration: integration.name,
          ticketType: form.ticketType,
          owner: form.assignedTo,
          dueDate: form.dueDate,
        },
      });
    });
    const done = await this.process(toCreate);
    await this.refreshCards(rec.key);
    return { kind: 'done', batchId, assignments: done, skipped };
  }

  /** Retries the failed or pending assignments of a batch; a person asking starts the automatic attempts over. */
  async retry(batchId: string, actor: Actor): Promise<Assignment[]> {
    const batch = await this.deps.store.assignments.list({ batchId });
    const todo = batch
      .filter((a) => a.status === 'failed' || a.status === 'pending' || a.governance?.status === 'failed')
      .map((a) => (a.status === 'failed' ? { ...a, attempts: 0, nextAttemptAt: undefined } : a));
    if (todo.length) {
      await this.audit(actor.name ?? actor.id, 'assignment.retry', batchId, { count: todo.length });
      await this.process(todo);
      if (batch[0]) await this.refreshCards(batch[0].recommendationKey);
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
    const results = await this.process(todo);
    // Cards show tickets only: refresh where one was created, not on every failed attempt.
    const hadTicket = new Set(todo.filter((a) => a.ticket).map((a) => a.id));
    for (const key of new Set(results.filter((a) => a.ticket && !hadTicket.has(a.id)).map((a) => a.recommendationKey))) await this.refreshCards(key);
    return todo.length;
  }

  private async process(assignments: Assignment[]): Promise<Assignment[]> {
    const results: Assignment[] = [];
    // Group by batch + grouping so a "single ticket" batch creates its one shared ticket.
    const groups = new Map<string, Assignment[]>();
    for (const a of assignments) {
      const k = a.ticketGrouping === 'single' ? `single:${a.batchId}` : `one:${a.id}`;
      groups.set(k, [...(groups.get(k) ?? []), a]);
    }
    for (const group of groups.values()) results.push(...(await this.processGroup(group)));
    return results;
  }

  private async processGroup(group: Assignment[]): Promise<Assignment[]> {
    const first = group[0];
    const integration = await this.deps.integrations.find(first.integrationId);
    const now = () => this.deps.clock.now().toISOString();
    if (!integration || integration.removedAt) {
      const at = this.deps.clock.now();
      const failed = group.map((a) => ({
        ...a,
        status: 'failed' as const,
        lastError: 'the ServiceNow integration was removed',
        ...failedAttempt(a, at),
        updatedAt: at.toISOString(),
      }));
      await this.deps.store.assignments.upsertMany(failed);
      return failed;
    }
    let updated = group;
    if (!first.ticket) {
      try {
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
        const display = `Defender for Cloud: ${first.recommendationName} / ${group.length === 1 ? first.resourceName : `${group.length} resources`}`.slice(
          0,
          100,
        );
        const ticket = await client.createTicket(first.ticketType, fields, { correlationId, correlationDisplay: display });
        updated = group.map((a) => ({
          ...a,
          status: 'open' as const,
          ticket: { table: ticket.table, sysId: ticket.sysId, number: ticket.number, link: ticket.link, state: '1' },
          lastError: undefined,
          attempts: 0,
          nextAttemptAt: undefined,
          updatedAt: now(),
        }));
        await this.deps.integrations.recordSuccess(integration.id);
      } catch (err) {
        const message = err instanceof ServiceNowError ? err.reason : (err as Error).message;
        this.deps.logger.warn({ err, integration: integration.name, resources: group.length }, 'ticket creation failed');
        await this.deps.integrations.recordFailure(integration.id, message);
        const at = this.deps.clock.now();
        updated = group.map((a) => ({ ...a, status: 'failed' as const, lastError: message, ...failedAttempt(a, at), updatedAt: at.toISOString() }));
        const attempts = Math.max(...updated.map((a) => a.attempts));
        if (attempts >= MAX_AUTOMATIC_ATTEMPTS)
          this.deps.logger.warn(
            { integration: integration.name, resources: group.length, attempts },
            'ticket creation gave up after the last automatic attempt; the Retry button can still create it',
          );
        await this.deps.store.assignments.upsertMany(updated);
        return updated;
      }
      await this.deps.store.assignments.upsertMany(updated);
    }
    return this.writeGovernance(updated);
  }

  /**
   * Mirrors each ticket in Defender; a failure never loses the ticket and is retried later. PUT
   * replaces the whole resource, so what is there (e.g. an ETA set in the portal) is read first
   * and kept where we have nothing to say.
   */
  private async writeGovernance(group: Assignment[]): Promise<Assignment[]> {
    const azure = this.deps.azure;
    if (!azure) return group;
    const out: Assignment[] = [];
    for (const a of group) {
      const key = a.governance?.key ?? a.id;
      try {
        const current = await azure.getGovernanceAssignment(a.resourceId, a.recommendationKey, key);
        await azure.putGovernanceAssignment(a.resourceId, a.recommendationKey, key, { properties: mergedGovernance(current?.properties, a) });
        out.push({ ...a, governance: { key, status: 'synced' }, updatedAt: this.deps.clock.now().toISOString() });
      } catch (err) {
        this.deps.logger.warn({ err, assignment: a.id }, 'governance write-back failed; will retry');
        out.push({
          ...a,
          governance: { key, status: 'failed', lastError: (err as Error).message.slice(0, 300) },
          updatedAt: this.deps.clock.now().toISOString(),
        });
      }
    }
    await this.deps.store.assignments.upsertMany(out);
    return out;
  }

  /** Shows the new tickets on every posted card of the recommendation, through each conversation's filters. */
  async refreshCards(recommendationKey: string): Promise<void> {
    const { store, messenger, logger, clock } = this.deps;
    await refreshPostedCards(
      {
        store,
        messenger,
        logger,
        now: clock.now(),
        timeZone: this.deps.timeZone,
        ancestry: this.deps.ancestry?.(),
        subscriptionNames: this.deps.subscriptionNames?.(),
      },
      recommendationKey,
    );
  }

  private async locations(resources: readonly ResourceSnapshot[]): Promise<ResourceLocation[]> {
    const missing = [...new Set(resources.map((r) => r.subscriptionId.toLowerCase()))].filter((s) => !this.ancestryCache.has(s));
    if (missing.length && this.deps.azure) {
      try {
        const ancestry = await this.deps.azure.getSubscriptionAncestry(missing);
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

  private audit(actor: string, action: string, target: string, details: Record<string, unknown>) {
    return this.deps.store.audit.append({ at: this.deps.clock.now().toISOString(), actor, action, target, details });
  }
}

/**
 * Our fields over the current governance assignment. Only the declared, writable properties of
 * the current one go back (read-only or unknown ones would be rejected), and a field we leave
 * unset (no ticket yet, no ETA) keeps the portal's value instead of erasing it.
 */
export function mergedGovernance(current: Record<string, unknown> | undefined, a: Assignment): GovernanceAssignmentProperties {
  const ours = Object.fromEntries(Object.entries(governanceProperties(a)).filter(([, v]) => v !== undefined));
  if (!current) return GovernanceAssignmentPropertiesSchema.parse(ours);
  // A current value that does not parse is dropped (safeParse per field), never sent back broken.
  const kept: Record<string, unknown> = {};
  const shape = GovernanceAssignmentPropertiesSchema.shape;
  for (const [name, field] of Object.entries(shape)) {
    const parsed = field.safeParse(current[name]);
    if (parsed.success && parsed.data !== undefined) kept[name] = parsed.data;
  }
  return GovernanceAssignmentPropertiesSchema.parse({ ...kept, ...ours });
}

export type { AssignmentForm };
