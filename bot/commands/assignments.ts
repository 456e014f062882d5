import { assignmentListCard, type AssignmentListModel } from '../../cards/assignmentCards.js';
import { daysUntil, isOverdue } from '../../core/assignments.js';
import type { Clock } from '../../core/clock.js';
import { MAX_AUTOMATIC_ATTEMPTS } from '../../core/assignmentRetry.js';
import type { Directory, Store } from '../../app/ports.js';
import { callerOf } from '../turn.js';
import { LIVE_ASSIGNMENT_STATUSES, type Assignment } from '../../core/model.js';
import type { Command } from '../commandRouter.js';
import { errorCard } from '../../cards/index.js';
import { readableAssignments, type ReadPolicy } from '../../app/authorization.js';

const MAX_ROWS = 25;

/** `timeZone`: REMINDER_TIMEZONE, where due dates (and so "overdue") are judged; default UTC. */
export function assignmentsCommand(deps: {
  store: Store;
  clock: Clock;
  timeZone?: string;
  directory: Pick<Directory, 'upnOf'>;
  readPolicy: Pick<ReadPolicy, 'subscriptions'>;
}): Command {
  return {
    name: 'assignments',
    usage: 'assignments [mine|overdue]',
    description: 'Open assignments with owner, due date, grace period, status and ticket link.',
    handle: async (ctx) => {
      const now = deps.clock.now();
      const timeZone = deps.timeZone ?? 'UTC';
      const mode = ctx.args.toLowerCase();
      if (mode && mode !== 'mine' && mode !== 'overdue') {
        await ctx.reply({ text: 'Usage: **assignments**, **assignments mine** or **assignments overdue**' });
        return;
      }
      const me = (await deps.directory.upnOf(callerOf(ctx)))?.toLowerCase();
      if (mode === 'mine' && !me) {
        await ctx.reply({ text: 'I do not know your e-mail address yet. Send me a message in a 1:1 chat first, then try again.' });
        return;
      }
      const live = await deps.store.assignments.list({ statuses: LIVE_ASSIGNMENT_STATUSES });
      // Your own assignments are always yours to see; everyone else's need a reading role on their subscription.
      let visible = live.filter((a) => a.owner.toLowerCase() === me);
      let scopeNote = '';
      if (mode !== 'mine') {
        const view = await deps.readPolicy.subscriptions(ctx.actor);
        if (view.refusal) {
          await ctx.reply({
            card: errorCard({ title: 'Not allowed', message: `${view.refusal} Type **assignments mine** to see the assignments you own.`, details: [] }, ctx),
          });
          return;
        }
        visible = readableAssignments(live, view.readable, me);
        if (view.readable.size < view.known) scopeNote = ` (subscriptions you may read: ${view.readable.size} of ${view.known})`;
      }
      const selected = visible
        .filter((a) => (mode === 'overdue' ? isOverdue(a, now, timeZone) : true))
        .sort((a, b) => a.dueDate.localeCompare(b.dueDate) || a.resourceName.localeCompare(b.resourceName));
      const overdue = selected.filter((a) => isOverdue(a, now, timeZone)).length;
      const model: AssignmentListModel = {
        title: mode === 'mine' ? 'Your assignments' : mode === 'overdue' ? 'Overdue assignments' : 'Open assignments',
        summary: (selected.length ? `${selected.length} open, ${overdue} overdue` : 'Nothing here. 🎉') + scopeNote,
        more: Math.max(0, selected.length - MAX_ROWS),
        rows: selected.slice(0, MAX_ROWS).map((a) => row(a, now, timeZone)),
      };
      await ctx.reply({ card: assignmentListCard(model, ctx), summary: model.title });
    },
  };
}

function row(a: Assignment, now: Date, timeZone: string): AssignmentListModel['rows'][number] {
  const days = daysUntil(a.dueDate, now, timeZone);
  const overdue = days < 0;
  return {
    recommendation: a.recommendationName,
    resource: a.resourceName,
    severity: `${a.severity} severity`,
    owner: a.owner,
    dueDate: a.dueDate,
    dueText: overdue ? `${-days} day(s) overdue` : days === 0 ? 'due today' : `${days} day(s) left`,
    grace: a.gracePeriod ? (overdue ? ' · grace period ended (affects secure score)' : ' · in grace period (not affecting secure score)') : '',
    status:
      (a.status === 'failed'
        ? `failed: ${a.lastError ?? ''}${a.attempts >= MAX_AUTOMATIC_ATTEMPTS ? ' (automatic retries stopped: use Retry)' : ''}`
        : a.status) + (a.governance?.status === 'failed' ? ' · Defender not updated yet (retrying)' : ''),
    color: a.status === 'failed' || overdue ? 'Attention' : 'Default',
    ticketNumber: a.ticket?.number ?? '',
    ticketLink: a.ticket?.link ?? '',
  };
}
