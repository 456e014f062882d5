import type { DashboardRow } from '../core/dashboard.js';
import { SEVERITIES, STATUSES } from '../core/dashboard.js';
import { STATUS_LABELS } from './svg.js';

export interface Filters {
  owner: string;
  severity: string;
  status: string;
  subscription: string;
}

export const EMPTY_FILTERS: Filters = { owner: '', severity: '', status: '', subscription: '' };

/** Status filter values beyond the stored statuses: derived states people ask about most. */
export const DERIVED_STATUSES = { overdue: 'Overdue', 'in-grace': 'In grace period' } as const;

export function matches(row: DashboardRow, f: Filters): boolean {
  if (f.owner && row.owner.toLowerCase() !== f.owner.toLowerCase()) return false;
  if (f.severity && row.severity !== f.severity) return false;
  if (f.subscription && row.subscriptionId !== f.subscription) return false;
  if (f.status === 'overdue') return row.overdue;
  if (f.status === 'in-grace') return row.inGrace;
  if (f.status && row.status !== f.status) return false;
  return true;
}

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function options(select: HTMLSelectElement, values: Array<[string, string]>): void {
  select.replaceChildren(h('option', { value: '' }, 'All'), ...values.map(([v, label]) => h('option', { value: v }, label)));
}

/** Fills the filter drop-downs with the values present in the data. */
export function fillFilters(form: HTMLFormElement, rows: DashboardRow[]): void {
  const uniq = (xs: string[]) => [...new Set(xs)].sort((a, b) => a.localeCompare(b));
  options(
    form.elements.namedItem('owner') as HTMLSelectElement,
    uniq(rows.map((r) => r.owner)).map((o) => [o, o]),
  );
  options(
    form.elements.namedItem('severity') as HTMLSelectElement,
    SEVERITIES.map((s) => [s, s]),
  );
  options(form.elements.namedItem('status') as HTMLSelectElement, [
    ...Object.entries(DERIVED_STATUSES),
    ...STATUSES.map((s): [string, string] => [s, STATUS_LABELS[s]]),
  ]);
  options(
    form.elements.namedItem('subscription') as HTMLSelectElement,
    uniq(rows.map((r) => r.subscriptionId)).map((s) => [s, s]),
  );
}

export function readFilters(form: HTMLFormElement): Filters {
  const v = (name: keyof Filters) => (form.elements.namedItem(name) as HTMLSelectElement).value;
  return { owner: v('owner'), severity: v('severity'), status: v('status'), subscription: v('subscription') };
}

function link(href: string, text: string, label: string): HTMLAnchorElement {
  // Links leave the Teams frame; rel=noopener keeps the opened page away from this one.
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer', 'aria-label': label }, text);
}

function statusCell(row: DashboardRow): HTMLElement {
  const cell = h('td', { 'data-col': 'status' }, h('span', { class: `pill status-${row.status}` }, STATUS_LABELS[row.status]));
  if (row.overdue) cell.append(' ', h('span', { class: 'pill overdue' }, 'Overdue'));
  else if (row.inGrace) cell.append(' ', h('span', { class: 'pill grace' }, 'In grace'));
  return cell;
}

export function renderRows(tbody: HTMLTableSectionElement, rows: DashboardRow[]): void {
  tbody.replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        { 'data-id': r.id, ...(r.overdue ? { class: 'is-overdue' } : {}) },
        h('th', { scope: 'row', 'data-col': 'recommendation' }, r.recommendationName),
        h('td', { 'data-col': 'resource', title: r.resourceId }, r.resourceName),
        h('td', { 'data-col': 'severity' }, h('span', { class: `sev-dot sev-${r.severity}`, 'aria-hidden': 'true' }), r.severity),
        statusCell(r),
        h('td', { 'data-col': 'owner' }, r.owner),
        h('td', { 'data-col': 'due' }, h('time', { datetime: r.dueDate }, r.dueDate)),
        h('td', { 'data-col': 'subscription', class: 'mono' }, r.subscriptionId),
        h(
          'td',
          { 'data-col': 'ticket' },
          r.ticketLink && r.ticketNumber ? link(r.ticketLink, r.ticketNumber, `ServiceNow ticket ${r.ticketNumber}`) : (r.ticketNumber ?? '—'),
        ),
        h('td', { 'data-col': 'defender' }, link(r.defenderLink, 'Open', `Open ${r.recommendationName} in Defender for Cloud`)),
      ),
    ),
  );
}
