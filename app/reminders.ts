/**
 * The reminder pass: owner digests, due-soon nudges, manager escalations and grace-period
 * announcements, planned by core/reminders.ts and sent through the Messenger.
 *
 * Exactly once: every message has a period key (digest:{owner}:{week}, …) that is claimed with
 * store.reminders.markSent BEFORE the send, so two overlapping passes (or two replicas on a
 * shared store) cannot both send it. A send that then fails for good keeps its claim: a lost
 * weekly reminder is better than a duplicate, and the failure is written to the audit log and
 * counted in the report (next week's digest goes out as usual; `digest` shows it on demand).
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { recommendationKeyOf } from '../core/recommendations.js';
import {
  daysText,
  digestKey,
  digestOf,
  escalationOf,
  graceEndedOf,
  managerKey,
  nudgeOf,
  plannedKeys,
  planReminders,
  type OwnerDigestPlan,
  type ReminderItem,
  type ReminderPlan,
  type ReminderSettings,
} from '../core/reminders.js';
import { renderGraceEnded, renderManagerDigest, renderNudge, renderOwnerDigest, type ManagerReport } from '../cards/reminderCards.js';
import type { AdaptiveCard, RenderContext } from '../cards/render.js';
import type { Conversation } from '../core/model.js';
import { REMINDABLE_STATUSES } from '../core/lifecycle.js';
import type { RecommendationCards } from './recommendationCards.js';
import { pruneDeliveredAnnouncements } from './announcements.js';
import { pruneFinishedCreations } from './createAssignments.js';
import { needsOwnerByContact } from './rules.js';
import { sendFailureLevel, type DefenderPort, type Directory, type ManagerInfo, type Messenger, type Store } from './ports.js';

export interface ReminderJobDeps {
  store: Store;
  messenger: Messenger;
  /** Owners' and managers' 1:1 chats (found or created: bot/teamsDirectory.ts). */
  directory: Pick<Directory, 'personalConversationOf' | 'refresh'>;
  /** Microsoft Graph (the DefenderPort); without it, no manager escalations are sent. */
  graph?: Pick<DefenderPort, 'getManager'>;
  /** Re-renders a recommendation's cards when a grace period ends. */
  cards: Pick<RecommendationCards, 'refresh'>;
  clock: Clock;
  logger: Logger;
  settings: ReminderSettings;
  /** IANA timezone of due dates, quiet hours and weeks (REMINDER_TIMEZONE). */
  timezone: string;
  /** WORK_RETENTION_DAYS: finished work items older than this are forgotten by each pass. Default DEFAULT_WORK_RETENTION_DAYS. */
  workRetentionDays?: number;
}

/** WORK_RETENTION_DAYS's default. */
export const DEFAULT_WORK_RETENTION_DAYS = 30;

export interface ReminderReport {
  digests: number;
  managerMessages: number;
  graceAnnouncements: number;
  nudges: number;
  /** Owners and managers the bot could not reach in Teams this pass. */
  unreachable: string[];
  skippedQuietHours: boolean;
  /** Channel notes listing unreachable people. */
  unreachableNotes: number;
  /** Sends that failed after their key was claimed (recorded in the audit log, not retried). */
  failed: number;
  /** Owners with overdue items whose manager Graph does not know. */
  noManager: string[];
  cardsUpdated: number;
  week: string;
  durationMs: number;
}

/**
 * How long sent-reminder keys are kept. Exactly-once only needs the keys of the current period
 * (this ISO week for digests and escalations; the days before a due date, at most
 * REMIND_DAYS_BEFORE = 30, for nudges); 90 days leaves a wide margin for clock or timezone
 * changes and for a pass that is days late, while the log stops growing with every week.
 */
export const REMINDER_LOG_RETENTION_DAYS = 90;

/**
 * Keys that belong to a period that ends (see digestKey, managerKey, nudgeKey in
 * core/reminders.ts). grace-ended:{assignment} and the resolution job's announce:{assignment}:…
 * keys stay: they guard "once per assignment", and dropping one while the assignment is live
 * would send its announcement again.
 */
const PERIOD_KEY_PREFIXES = ['digest:', 'manager:', 'nudge:'] as const;

interface Reach {
  conversationId: string;
  channelId: string;
}

export class ReminderJob {
  private running: Promise<ReminderReport> | undefined;

  constructor(private readonly deps: ReminderJobDeps) {}

  /** Runs a pass; a call while one runs joins it instead of starting a second one. */
  runOnce(): Promise<ReminderReport> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async pass(): Promise<ReminderReport> {
    const { store, clock, logger, settings, timezone } = this.deps;
    const started = Date.now();
    const now = clock.now();
    await this.pruneLog(now);
    await this.pruneWork(now);
    this.deps.directory.refresh?.();
    const assignments = await store.assignments.list({ statuses: REMINDABLE_STATUSES });
    // The planner is pure: every key it may ask about is read in one go first.
    const sent = await store.reminders.sentAmong(plannedKeys(assignments, now, timezone));
    const plan = planReminders({
      assignments,
      now,
      timezone,
      settings,
      wasSent: (k) => sent.has(k),
      conversations: new Set((await store.conversations.list()).map((c) => c.id)),
    });
    const report: ReminderReport = {
      digests: 0,
      managerMessages: 0,
      graceAnnouncements: 0,
      nudges: 0,
      unreachable: [],
      skippedQuietHours: plan.quiet,
      unreachableNotes: 0,
      failed: 0,
      noManager: [],
      cardsUpdated: 0,
      week: plan.week,
      durationMs: 0,
    };
    if (plan.quiet) {
      logger.info({ timezone, quietHours: settings.quietHours }, 'quiet hours: no reminders sent in this pass');
      report.durationMs = Date.now() - started;
      return report;
    }

    // Channel id → people who could not be reached there (one note per channel per pass).
    const unreachable = new Map<string, Set<string>>();
    const reachCache = new Map<string, Reach | undefined>();
    const reach = async (upn: string, channels: Iterable<string | undefined>): Promise<Reach | undefined> => {
      const key = upn.toLowerCase();
      let r = reachCache.get(key);
      if (!reachCache.has(key)) {
        r = await this.lookup(upn);
        reachCache.set(key, r);
      }
      if (!r) {
        for (const c of channels) {
          if (!c) continue;
          let set = unreachable.get(c);
          if (!set) unreachable.set(c, (set = new Set()));
          set.add(upn);
        }
        if (!report.unreachable.includes(upn)) report.unreachable.push(upn);
      }
      return r;
    };
    const sends: Array<Promise<void>> = [];

    // A rule's fallback contact finds its needs-an-owner list in their digest, digest or not otherwise.
    const unowned = await needsOwnerByContact(store);
    const contacts = [...unowned.keys()].filter((c) => !plan.digests.some((d) => d.owner.toLowerCase() === c));
    const contactKeys = contacts.map((c) => digestKey(c, plan.week));
    const contactSent = contactKeys.length ? await store.reminders.sentAmong(contactKeys) : new Set<string>();
    const sendDigest = async (d: OwnerDigestPlan): Promise<void> => {
      const to = await reach(
        d.owner,
        d.items.map((i) => i.conversationId),
      );
      if (!to) return;
      if (!(await this.claim(d.key, d.owner, now))) return;
      // Nudges covered by this digest are claimed too, so no separate nudge repeats it later.
      for (const k of d.nudgeKeys) await this.claim(k, d.owner, now);
      sends.push(
        this.deliver(
          d.key,
          to,
          () => renderOwnerDigest(d, render(to), { needsOwner: unowned.get(d.owner.toLowerCase()) }),
          `Weekly security assignments: ${d.counts.open} open, ${d.counts.overdue} overdue`,
          report,
          'digests',
        ),
      );
    };
    // Each digest's items are built as it is sent, not all of them before the first goes out.
    for (const d of plan.digests) await sendDigest(digestOf(plan, d));
    for (const [i, owner] of contacts.entries()) {
      const key = contactKeys[i]!;
      if (!contactSent.has(key)) await sendDigest({ key, owner, items: [], counts: { open: 0, overdue: 0, thisWeek: 0, later: 0 }, nudgeKeys: [] });
    }

    for (const planned of plan.nudges) {
      const n = nudgeOf(plan, planned);
      const to = await reach(
        n.owner,
        n.items.map((i) => i.item.conversationId),
      );
      if (!to) continue;
      const claimed: ReminderItem[] = [];
      for (const { key, item } of n.items) if (await this.claim(key, n.owner, now)) claimed.push(item);
      if (claimed.length === 0) continue;
      sends.push(
        this.deliver(
          `nudge:${n.owner}`,
          to,
          () => renderNudge(claimed, render(to)),
          `Due soon: ${claimed[0]!.recommendationName} (${daysText(claimed[0]!.daysLeft)})`,
          report,
          'nudges',
        ),
      );
    }

    await this.escalate(plan, now, reach, report, sends);
    await this.announceGraceEnded(plan, now, report, sends);
    await Promise.all(sends);

    for (const [channel, people] of unreachable) {
      const conv = await store.conversations.get(channel);
      if (!conv || conv.unreachable) continue;
      const list = [...people].sort();
      const text =
        `I could not send reminders to ${list.length === 1 ? 'this person' : 'these people'} in Teams: ${list.join(', ')}. ` +
        'They need the bot installed as a personal app (or to send it a message once); I will try again at the next reminder.';
      try {
        await this.deps.messenger.send(channel, { text });
        report.unreachableNotes++;
      } catch (err) {
        logger[sendFailureLevel(err)]({ err, conversationId: channel }, 'could not post the unreachable-owners note');
      }
    }

    report.durationMs = Date.now() - started;
    logger.info({ reminders: report }, 'reminder pass done');
    return report;
  }

  /** Never rejects: a store that cannot prune now still lets the reminders go out. */
  private async pruneLog(now: Date): Promise<void> {
    const olderThan = new Date(now.getTime() - REMINDER_LOG_RETENTION_DAYS * 86_400_000);
    try {
      const removed = await this.deps.store.reminders.prune(olderThan, PERIOD_KEY_PREFIXES);
      if (removed > 0) this.deps.logger.info({ removed, olderThan: olderThan.toISOString() }, 'pruned old sent-reminder keys');
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not prune the sent-reminder log; trying again next pass');
    }
  }

  /**
   * The work queue's leftovers: delivered announcements and finished ticket creations (failed
   * ones once handled). Here because the pass runs on one replica per tick and rarely (weekly by
   * default): on lowdb a prune that forgets something costs one whole-file write. Never rejects.
   */
  private async pruneWork(now: Date): Promise<void> {
    const days = this.deps.workRetentionDays ?? DEFAULT_WORK_RETENTION_DAYS;
    const prunes = { announcements: pruneDeliveredAnnouncements, creations: pruneFinishedCreations };
    for (const [what, prune] of Object.entries(prunes)) {
      try {
        const removed = await prune(this.deps.store, now, days);
        if (removed > 0) this.deps.logger.info({ removed, retentionDays: days }, `pruned finished work items (${what})`);
      } catch (err) {
        this.deps.logger.warn({ err }, `could not prune finished work items (${what}); trying again next pass`);
      }
    }
  }

  private async lookup(upn: string): Promise<Reach | undefined> {
    try {
      const id = await this.deps.directory.personalConversationOf(upn, { create: true });
      if (!id) return undefined;
      const conv: Conversation | undefined = await this.deps.store.conversations.get(id);
      // A chat the bot was removed from (or blocked in) reaches nobody: the person is reported unreachable.
      if (conv?.unreachable) return undefined;
      return { conversationId: id, channelId: conv?.channelId ?? 'msteams' };
    } catch (err) {
      this.deps.logger.warn({ err }, 'directory look-up failed; the person is treated as unreachable for this pass');
      return undefined;
    }
  }

  private async claim(key: string, recipient: string, now: Date): Promise<boolean> {
    return this.deps.store.reminders.markSent({ key, recipient, sentAt: now.toISOString() });
  }

  /** Never rejects: one failed send must not stop the others. */
  private async deliver(
    key: string,
    to: Reach,
    card: () => AdaptiveCard,
    summary: string,
    report: ReminderReport,
    counter: 'digests' | 'nudges' | 'managerMessages' | 'graceAnnouncements',
  ): Promise<void> {
    try {
      await this.deps.messenger.send(to.conversationId, { card: card(), summary });
      report[counter]++;
    } catch (err) {
      report.failed++;
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.logger[sendFailureLevel(err)]({ err, key, conversationId: to.conversationId }, 'reminder could not be delivered; not retried this period');
      await this.deps.store.audit
        .append({
          at: this.deps.clock.now().toISOString(),
          actor: 'reminders',
          action: 'reminder.failed',
          target: key,
          details: { conversationId: to.conversationId, reason },
        })
        .catch(() => undefined);
    }
  }

  private async escalate(
    plan: ReminderPlan,
    now: Date,
    reach: (upn: string, channels: Iterable<string | undefined>) => Promise<Reach | undefined>,
    report: ReminderReport,
    sends: Array<Promise<void>>,
  ): Promise<void> {
    const { graph, logger } = this.deps;
    if (!graph || plan.escalations.length === 0) return;
    const byManager = new Map<string, { upn: string; displayName?: string; reports: ManagerReport[] }>();
    for (const planned of plan.escalations) {
      const e = escalationOf(plan, planned);
      let manager: ManagerInfo | undefined;
      try {
        manager = await graph.getManager(e.owner);
      } catch (err) {
        // Graph down: nothing is claimed, so the next pass of the week tries again.
        logger.warn({ err }, 'manager look-up failed; escalation skipped for this pass');
        continue;
      }
      const upn = manager?.userPrincipalName ?? manager?.mail;
      if (!upn) {
        report.noManager.push(e.owner);
        continue;
      }
      const key = upn.toLowerCase();
      let m = byManager.get(key);
      if (!m) byManager.set(key, (m = { upn, ...(manager?.displayName ? { displayName: manager.displayName } : {}), reports: [] }));
      m.reports.push({ owner: e.owner, items: e.items });
    }
    for (const m of byManager.values()) {
      const key = managerKey(m.upn, plan.week);
      if (await this.deps.store.reminders.wasSent(key)) continue;
      const to = await reach(
        m.upn,
        m.reports.flatMap((r) => r.items.map((i) => i.conversationId)),
      );
      if (!to) continue;
      if (!(await this.claim(key, m.upn, now))) continue;
      const total = m.reports.reduce((n, r) => n + r.items.length, 0);
      sends.push(
        this.deliver(
          key,
          to,
          () => renderManagerDigest(m, m.reports, render(to)),
          `${total} overdue security items of your reports`,
          report,
          'managerMessages',
        ),
      );
    }
  }

  private async announceGraceEnded(plan: ReminderPlan, now: Date, report: ReminderReport, sends: Array<Promise<void>>): Promise<void> {
    const { store } = this.deps;
    const recKeys = new Set<string>();
    for (const planned of plan.graceEnded) {
      const g = graceEndedOf(plan, planned);
      const conv = await store.conversations.get(g.conversationId);
      // Unclaimed while the bot is out of the conversation, so a reinstall still gets the announcement.
      if (!conv || conv.unreachable) continue;
      const claimed: ReminderItem[] = [];
      for (const { key, item } of g.items) if (await this.claim(key, conv.id, now)) claimed.push(item);
      if (claimed.length === 0) continue;
      for (const i of claimed) recKeys.add(recommendationKeyOf(i.recommendationKey));
      const to = { conversationId: conv.id, channelId: conv.channelId };
      sends.push(
        this.deliver(
          `grace-ended:${conv.id}`,
          to,
          () => renderGraceEnded(claimed, render(to)),
          `Grace period ended for ${claimed.length} assignment(s)`,
          report,
          'graceAnnouncements',
        ).then(() => this.audit(claimed, now)),
      );
    }
    for (const key of recKeys) sends.push(this.refreshCards(key, report));
  }

  private async audit(items: readonly ReminderItem[], now: Date): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      for (const i of items) {
        await tx.audit.append({
          at: now.toISOString(),
          actor: 'reminders',
          action: 'assignment.grace-ended',
          target: i.assignmentId,
          details: { dueDate: i.dueDate, owner: i.owner },
        });
      }
    });
  }

  /** Re-renders the recommendation's cards so their tickets show the overdue state. */
  private async refreshCards(recommendationKey: string, report: ReminderReport): Promise<void> {
    const r = await this.deps.cards.refresh(recommendationKey);
    report.cardsUpdated += r.updated;
  }
}

function render(to: Reach): RenderContext {
  return { channelId: to.channelId };
}
