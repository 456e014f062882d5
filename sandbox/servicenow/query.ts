import { CHOICE_FIELDS, JOURNAL_FIELDS, TABLES, allFields, type SimTable } from './schema.js';
import type { SimRow } from './seed.js';

/** Read access the query engine needs; the simulator's store implements it. */
export interface RowSource {
  get(table: SimTable, sysId: string): SimRow | undefined;
  all(table: SimTable): SimRow[];
}

interface Condition {
  field: string;
  op: string;
  value: string;
}

export interface ParsedQuery {
  /** AND of OR-groups: `a^b^ORc` is a AND (b OR c), as on the platform. */
  groups: Condition[][];
  orderBy: Array<{ field: string; desc: boolean }>;
}

/** glide_date_time columns: compared as instants, and a comparison value must be in the raw format. */
const DATE_TIME_COLUMNS = new Set(['sys_created_on', 'sys_updated_on', 'opened_at', 'closed_at', 'resolved_at', 'due_date', 'start_date', 'end_date']);
/** The raw (UTC) format of the Table API, `YYYY-MM-DD HH:MM:SS`, or a bare date meaning its midnight. */
const RAW_DATE_TIME = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$/;
const RANGE_OPS = new Set(['>', '>=', '<', '<=']);
/** String columns that look numeric now and then (a sys_id of only digits) but order as text. */
const TEXT_ORDER_COLUMNS = new Set(['sys_id', 'number', 'correlation_id']);

const TERM = /^([a-z0-9_.]+?)(ISNOTEMPTY|ISEMPTY|NOT IN|NOT LIKE|STARTSWITH|ENDSWITH|LIKE|IN|!=|>=|<=|>|<|=)(.*)$/s;

/**
 * Parses an encoded query. Terms naming unknown fields are dropped, reproducing the platform's
 * dangerous default of ignoring invalid query parts (reference §2.2) so clients must re-check rows.
 */
export function parseEncodedQuery(table: SimTable, query: string | undefined): ParsedQuery {
  const parsed: ParsedQuery = { groups: [], orderBy: [] };
  if (!query) return parsed;
  const known = new Set(allFields(table));
  for (const rawTerm of query.split('^')) {
    if (!rawTerm || rawTerm === 'EQ') continue;
    if (rawTerm.startsWith('ORDERBYDESC')) {
      parsed.orderBy.push({ field: rawTerm.slice('ORDERBYDESC'.length), desc: true });
      continue;
    }
    if (rawTerm.startsWith('ORDERBY')) {
      parsed.orderBy.push({ field: rawTerm.slice('ORDERBY'.length), desc: false });
      continue;
    }
    const isOr = rawTerm.startsWith('OR') && parsed.groups.length > 0;
    const term = isOr ? rawTerm.slice(2) : rawTerm;
    const m = TERM.exec(term);
    if (!m) continue;
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (!known.has(field.split('.')[0]!)) continue;
    // An ISO string, a display-format date or a time zone suffix is not a raw value: the platform
    // ignores such a part of the query (and answers rows it did not filter), and so does this.
    if (DATE_TIME_COLUMNS.has(field) && RANGE_OPS.has(op) && !(RAW_DATE_TIME.test(value) && Number.isFinite(rawInstant(value)))) continue;
    const cond: Condition = { field, op, value };
    if (isOr) parsed.groups[parsed.groups.length - 1]!.push(cond);
    else parsed.groups.push([cond]);
  }
  return parsed;
}

/** Follows `ref.field` dot-walks through reference fields. */
export function fieldValue(src: RowSource, table: SimTable, row: SimRow, path: string): string {
  const [head, ...rest] = path.split('.');
  const value = row[head!] ?? '';
  if (rest.length === 0) return value;
  const refTable = TABLES[table].references[head!];
  if (!refTable || !value) return '';
  const target = src.get(refTable, value);
  return target ? fieldValue(src, refTable, target, rest.join('.')) : '';
}

function rawInstant(value: string): number {
  return Date.parse(`${value.length === 10 ? `${value} 00:00:00` : value}Z`.replace(' ', 'T'));
}

function compareField(field: string, a: string, b: string): number {
  if (TEXT_ORDER_COLUMNS.has(field)) return a < b ? -1 : a > b ? 1 : 0;
  if (DATE_TIME_COLUMNS.has(field) && a !== '' && b !== '') {
    const d = rawInstant(a) - rawInstant(b);
    if (Number.isFinite(d)) return d;
  }
  return compare(a, b);
}

function compare(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function matches(actual: string, cond: Condition): boolean {
  const { op, value } = cond;
  // An empty date is not before or after anything.
  if (RANGE_OPS.has(op) && DATE_TIME_COLUMNS.has(cond.field) && actual === '') return false;
  switch (op) {
    case '=':
      return actual === value;
    case '!=':
      return actual !== value;
    case 'IN':
      return value.split(',').includes(actual);
    case 'NOT IN':
      return !value.split(',').includes(actual);
    case 'LIKE':
      return actual.toLowerCase().includes(value.toLowerCase());
    case 'NOT LIKE':
      return !actual.toLowerCase().includes(value.toLowerCase());
    case 'STARTSWITH':
      return actual.toLowerCase().startsWith(value.toLowerCase());
    case 'ENDSWITH':
      return actual.toLowerCase().endsWith(value.toLowerCase());
    case 'ISEMPTY':
      return actual === '';
    case 'ISNOTEMPTY':
      return actual !== '';
    case '>':
      return compareField(cond.field, actual, value) > 0;
    case '>=':
      return compareField(cond.field, actual, value) >= 0;
    case '<':
      return compareField(cond.field, actual, value) < 0;
    case '<=':
      return compareField(cond.field, actual, value) <= 0;
    default:
      return false;
  }
}

export function runQuery(src: RowSource, table: SimTable, query: ParsedQuery): SimRow[] {
  const rows = src.all(table).filter((row) => query.groups.every((group) => group.some((cond) => matches(fieldValue(src, table, row, cond.field), cond))));
  if (query.orderBy.length > 0) {
    rows.sort((x, y) => {
      for (const { field, desc } of query.orderBy) {
        const c = compareField(field, fieldValue(src, table, x, field), fieldValue(src, table, y, field));
        if (c !== 0) return desc ? -c : c;
      }
      return 0;
    });
  }
  return rows;
}

export type DisplayMode = 'false' | 'true' | 'all';

export interface RenderOptions {
  baseUrl: string;
  fields?: string[];
  display: DisplayMode;
  excludeReferenceLink: boolean;
}

function choiceLabel(src: RowSource, table: SimTable, field: string, value: string): string {
  const row = src.all('sys_choice').find((c) => c.name === table && c.element === field && c.value === value);
  return row?.label ?? value;
}

function displayOf(src: RowSource, table: SimTable, sysId: string): string {
  const target = src.get(table, sysId);
  return target ? (target[TABLES[table].displayField] ?? '') : '';
}

function renderValue(src: RowSource, table: SimTable, row: SimRow, path: string, opts: RenderOptions): unknown {
  const segments = path.split('.');
  const last = segments[segments.length - 1]!;
  let ownerTable: SimTable = table;
  let owner: SimRow | undefined = row;
  for (const seg of segments.slice(0, -1)) {
    const refTable = TABLES[ownerTable].references[seg];
    const id: string = owner?.[seg] ?? '';
    if (!refTable) return '';
    owner = id ? src.get(refTable, id) : undefined;
    ownerTable = refTable;
  }
  const raw = (JOURNAL_FIELDS as readonly string[]).includes(last) ? '' : (owner?.[last] ?? '');
  const refTable = TABLES[ownerTable].references[last];
  if (refTable) {
    if (raw === '') return '';
    const link = `${opts.baseUrl}/api/now/table/${refTable}/${raw}`;
    const display = displayOf(src, refTable, raw);
    if (opts.display === 'false') return opts.excludeReferenceLink ? raw : { link, value: raw };
    if (opts.display === 'true') return opts.excludeReferenceLink ? display : { display_value: display, link };
    return opts.excludeReferenceLink ? { display_value: display, value: raw } : { display_value: display, value: raw, link };
  }
  if (opts.display === 'false') return raw;
  const display = (CHOICE_FIELDS as readonly string[]).includes(last) ? choiceLabel(src, ownerTable, last, raw) : raw;
  return opts.display === 'true' ? display : { display_value: display, value: raw };
}

export function renderRow(src: RowSource, table: SimTable, row: SimRow, opts: RenderOptions): Record<string, unknown> {
  const known = new Set(allFields(table));
  const wanted = opts.fields && opts.fields.length > 0 ? opts.fields.filter((f) => known.has(f.split('.')[0]!)) : allFields(table);
  const out: Record<string, unknown> = {};
  for (const field of wanted) out[field] = renderValue(src, table, row, field, opts);
  return out;
}
