import { assignmentListCard, type AssignmentListModel } from '../../cards/assignmentCards.js';
import { daysUntil } from '../../core/assignments.js';
import type { Clock } from '../../core/clock.js';
import { MAX_AUTOMATIC_ATTEMPTS } from '../../core/assignmentRetry.js';
import type { Directory } from '../../app/ports.js';
import { callerOf } from '../turn.js';
import type { Assignment } from '../../core/model.js';
import type { Command } from '../commandRouter.js';
import { errorCard } from '../../cards/index.js';
import type { AssignmentListQuery } from '../../app/queries/assignmentList.js';

const MAX_ROWS = 25;

/** `timeZone`: REMINDER_TIMEZONE, where due dates (and so "overdue") are judged; default UTC. */
export function assignmentsCommand(deps: { list: AssignmentListQuery; clock: Clock; timeZone?: string; directory: Pick<Directory, 'upnOf'> }): Command {
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
      const found = await deps.list.list(ctx.actor, me, mode === 'mine' || mode === 'overdue' ? mode : 'all');
      if (found.kind === 'refused') {
        await ctx.reply({
          card: errorCard({ title: 'Not allowed', message: `${found.reason} Type **assignments mine** to see the assignments you own.`, details: [] }, ctx),
        });
        return;
      }
      const { assignments: selected, overdue } = found;
      const scopeNote = found.partial ? ` (subscriptions you may read: ${found.partial.readable} of ${found.partial.known})` : '';
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
