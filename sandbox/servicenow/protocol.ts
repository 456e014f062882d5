/**
 * ServiceNow platform facts the simulator needs, written from the API reference
 * (/work/shared/reference/servicenow-api.md §2.3, §3), not taken from the client: a simulator
 * that shared the client's constants would agree with the client's mistakes instead of catching
 * them.
 */

/** incident.state (§3.2, incident state model). */
export const INCIDENT = {
  new: '1',
  inProgress: '2',
  onHold: '3',
  resolved: '6',
  closed: '7',
  canceled: '8',
} as const;

/** problem.state, the Madrid+ state model that is the default on current instances (§3.3). */
export const PROBLEM = {
  new: '101',
  assess: '102',
  rootCauseAnalysis: '103',
  fixInProgress: '104',
  resolved: '106',
  closed: '107',
} as const;

/** change_request.state (§3.4, change state model). */
export const CHANGE = {
  new: '-5',
  assess: '-4',
  authorize: '-3',
  scheduled: '-2',
  implement: '-1',
  review: '0',
  closed: '3',
  canceled: '4',
} as const;

/** Base Priority Lookup Rules (§3.1): rows impact 1–3, columns urgency 1–3. */
const PRIORITY_LOOKUP = [
  ['1', '2', '3'],
  ['2', '3', '4'],
  ['3', '4', '5'],
] as const;

/** The priority the platform computes from impact and urgency; anything else counts as 3 (Low), the default. */
export function computedPriority(impact: string | undefined, urgency: string | undefined): string {
  const level = (v: string | undefined) => (v === '1' || v === '2' || v === '3' ? Number(v) - 1 : 2);
  return PRIORITY_LOOKUP[level(impact)]![level(urgency)]!;
}

/** Raw date-time values are `YYYY-MM-DD HH:MM:SS` in UTC (§2.3). */
export function glideDateTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
