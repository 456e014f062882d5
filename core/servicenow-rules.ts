import { createHash } from 'node:crypto';

/**
 * Pure ServiceNow rules shared by the connector and its simulator.
 *
 * Hashing lives here on purpose: sha256 is deterministic and does no I/O, so `correlationKey`
 * is as pure as string concatenation and both sides (client and simulator tests) can use it.
 */

export const TICKET_TABLES = ['incident', 'problem', 'change_request'] as const;
export type TicketTable = (typeof TICKET_TABLES)[number];

export function isTicketTable(value: string): value is TicketTable {
  return (TICKET_TABLES as readonly string[]).includes(value);
}

export const INCIDENT_STATE = {
  new: '1',
  inProgress: '2',
  onHold: '3',
  resolved: '6',
  closed: '7',
  canceled: '8',
} as const;

/** Madrid+ problem state model, the default on current instances. */
export const PROBLEM_STATE = {
  new: '101',
  assess: '102',
  rootCauseAnalysis: '103',
  fixInProgress: '104',
  resolved: '106',
  closed: '107',
} as const;

export const CHANGE_STATE = {
  new: '-5',
  assess: '-4',
  authorize: '-3',
  scheduled: '-2',
  implement: '-1',
  review: '0',
  closed: '3',
  canceled: '4',
} as const;

/** States in which a ticket counts as done from the bot's point of view. */
export function isResolvedState(table: TicketTable, state: string): boolean {
  switch (table) {
    case 'incident':
      return state === INCIDENT_STATE.resolved || state === INCIDENT_STATE.closed;
    case 'problem':
      return state === PROBLEM_STATE.resolved || state === PROBLEM_STATE.closed;
    case 'change_request':
      return state === CHANGE_STATE.closed;
  }
}

const PRIORITY_MATRIX: Record<string, Record<string, string>> = {
  '1': { '1': '1', '2': '2', '3': '3' },
  '2': { '1': '2', '2': '3', '3': '4' },
  '3': { '1': '3', '2': '4', '3': '5' },
};

/**
 * ServiceNow's base priority lookup (impact x urgency). Priority is read-only on real instances,
 * so the bot sets impact/urgency and only uses this to predict or display the result.
 * Unknown inputs fall back to the platform default of 3/3.
 */
export function priorityFor(impact: string | number | undefined, urgency: string | number | undefined): string {
  const valid = (v: string | number | undefined) => (['1', '2', '3'].includes(String(v)) ? String(v) : '3');
  return PRIORITY_MATRIX[valid(impact)]![valid(urgency)]!;
}

/** correlation_id is a 100-character String field on task. */
export const CORRELATION_ID_MAX = 100;

/**
 * Stable key of one Defender finding (assessment x resource) for `correlation_id`.
 * Azure resource ids are case-insensitive and arrive in mixed case from different APIs, so both
 * parts are lower-cased before hashing; the hash keeps the key far below the 100-char limit and
 * avoids leaking subscription ids into a free-text field.
 */
export function correlationKey(assessmentId: string, resourceId: string): string {
  const a = assessmentId.trim().toLowerCase();
  const r = resourceId.trim().toLowerCase();
  if (!a || !r) throw new Error('correlationKey needs a non-empty assessment id and resource id');
  const digest = createHash('sha256').update(`${a}\n${r}`).digest('hex');
  return `mdc-${digest.slice(0, 40)}`;
}

/**
 * Classic UI16 link; the inner uri is encoded so it keeps working once extra parameters are added.
 * The origin is used as given so an http:// simulator URL yields a clickable link too.
 */
export function recordLink(instanceUrl: string, table: string, sysId: string): string {
  const origin = new URL(instanceUrl).origin;
  return `${origin}/nav_to.do?uri=${encodeURIComponent(`/${table}.do?sys_id=${sysId}`)}`;
}

export function isSysId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value);
}

/** ServiceNow's raw (GMT) date-time format: `YYYY-MM-DD HH:MM:SS`. */
export function formatGlideDateTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
