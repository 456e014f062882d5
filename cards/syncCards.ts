/**
 * What the `sync` and `simulate` replies say. Each count is named for what it counts:
 * recommendations (resolved = no unhealthy resource left) are not tickets (resolved = their
 * resource is healthy again), and cards handed to the sender are queued, not yet delivered.
 */
import type { NoticeModel } from './models.js';

/** The parts of the sync job's report (app/syncRecommendations.ts SyncReport) the replies use. */
export interface SyncCounts {
  recommendations: number;
  /** (recommendation, resource) pairs. */
  resources: number;
  new: number;
  changed: number;
  resolved: number;
  cardsPosted: number;
  cardsUpdated: number;
  incomplete?: string;
  heldBack: number;
  /** The same cycle's resolution pass (app/resolution.ts ResolutionReport), when it ran. */
  tickets?: TicketCounts;
}

export interface TicketCounts {
  resolved: number;
  reopened: number;
  reopenedAsNew?: number;
  needsManual?: number;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function ticketFacts(t: TicketCounts | undefined): NoticeModel['facts'] {
  if (!t) return [];
  const reopened = t.reopened + (t.reopenedAsNew ?? 0);
  return [
    { title: 'Tickets resolved automatically', value: String(t.resolved) },
    ...(reopened ? [{ title: 'Tickets reopened', value: String(reopened) }] : []),
    ...(t.needsManual ? [{ title: 'Tickets to close by hand', value: String(t.needsManual) }] : []),
  ];
}

export function syncReplyModel(r: SyncCounts): NoticeModel {
  const facts = [
    { title: 'New recommendations', value: String(r.new) },
    { title: 'Changed recommendations', value: String(r.changed) },
    { title: 'Recommendations resolved', value: String(r.resolved) },
    ...(r.incomplete ? [{ title: 'Recommendations held back (pass incomplete)', value: String(r.heldBack) }] : []),
    ...ticketFacts(r.tickets),
    { title: 'Cards queued to post', value: String(r.cardsPosted) },
    { title: 'Card updates queued', value: String(r.cardsUpdated) },
  ];
  const delivery = r.cardsPosted + r.cardsUpdated > 0 ? ' Queued cards are being delivered now, paced to Teams limits; they appear over the next seconds.' : '';
  const found = `${plural(r.recommendations, 'unhealthy recommendation')} with ${plural(r.resources, 'unhealthy finding')} (resource × recommendation).`;
  return r.incomplete
    ? {
        title: 'Sync incomplete: nothing was resolved',
        text:
          `This pass did not get the complete set from Defender for Cloud (${r.incomplete}), so no recommendation was marked resolved ` +
          `and no resource was taken off a card. ${plural(r.resources, 'unhealthy finding')} were received; the next complete pass resolves what is really fixed.${delivery}`,
        facts,
      }
    : { title: 'Sync finished', text: `${found} A recommendation is resolved when none of its resources is unhealthy any more.${delivery}`, facts };
}

/** The `simulate fix|break` reply, after the whole cycle ran. */
export function simulateReplyText(changedAssessments: number, resourceName: string, action: 'fix' | 'break', r: SyncCounts): string {
  const state = action === 'fix' ? 'Healthy' : 'Unhealthy';
  const recs = `${plural(r.changed, 'recommendation')} changed, ${plural(r.resolved, 'recommendation')} resolved (no unhealthy resource left)`;
  const t = r.tickets;
  const reopened = t ? t.reopened + (t.reopenedAsNew ?? 0) : 0;
  const tickets = t ? `; tickets: ${t.resolved} resolved automatically${reopened ? `, ${reopened} reopened` : ''}` : '';
  return `Simulated: ${plural(changedAssessments, 'assessment')} of ${resourceName} ${changedAssessments === 1 ? 'is' : 'are'} now ${state}. Sync: ${recs}${tickets}.`;
}
