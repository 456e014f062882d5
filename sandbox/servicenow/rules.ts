import { CHANGE, INCIDENT, PROBLEM, computedPriority, glideDateTime } from './protocol.js';
import { DATE_TIME_FIELDS, JOURNAL_FIELDS, SYSTEM_FIELDS, TABLES, type SimTable } from './schema.js';
import type { SimRow } from './seed.js';

/** Platform behaviour switches the control API can flip. */
export interface RuleSettings {
  /**
   * Since Rome the Table API ignores problem state changes (reference §3.3). `true` simulates an
   * instance where they are allowed (older release or a scripted endpoint), with the data policies.
   */
  problemStateTransitions: boolean;
}

export interface WriteContext {
  table: SimTable;
  existing: SimRow | undefined;
  input: Record<string, unknown>;
  actorSysId: string;
  now: Date;
  settings: RuleSettings;
}

export type WriteOutcome =
  { ok: true; changes: SimRow; journal: Array<{ element: string; value: string }> } | { ok: false; status: number; message: string; detail: string | null };

const GLIDE_DATE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const NOT_WRITABLE = new Set<string>([...SYSTEM_FIELDS, 'number', 'priority']);
const TICKET_TABLES = new Set<SimTable>(['incident', 'problem', 'change_request']);

function coerce(value: unknown): string | undefined {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null && 'value' in value) return coerce((value as { value: unknown }).value);
  return undefined;
}

function dataPolicy(labels: string[]): WriteOutcome {
  return {
    ok: false,
    status: 403,
    message: 'Operation Failed',
    detail: `Data Policy Exception: \n\tThe following fields are mandatory: ${labels.join(', ')}`,
  };
}

function missing(row: SimRow, fields: Array<[string, string]>): string[] {
  return fields.filter(([f]) => !(row[f] ?? '').trim()).map(([, label]) => label);
}

/**
 * Applies one Table API write the way a default instance would: unknown and read-only fields are
 * dropped, journal fields are split off, disallowed state moves are silently ignored and data
 * policies reject a resolution without its mandatory fields.
 */
export function applyWrite(ctx: WriteContext): WriteOutcome {
  const { table, existing, now } = ctx;
  const def = TABLES[table];
  const changes: SimRow = {};
  const journal: Array<{ element: string; value: string }> = [];
  for (const [field, rawValue] of Object.entries(ctx.input)) {
    if (!def.fields.includes(field) || NOT_WRITABLE.has(field)) continue;
    const value = coerce(rawValue);
    if (value === undefined) continue;
    // Raw writes take "YYYY-MM-DD HH:MM:SS" in UTC (§2.3); anything else does not become a date.
    if ((DATE_TIME_FIELDS as readonly string[]).includes(field) && value !== '' && !GLIDE_DATE_TIME.test(value)) continue;
    if ((JOURNAL_FIELDS as readonly string[]).includes(field)) {
      if (value.trim()) journal.push({ element: field, value });
      continue;
    }
    changes[field] = value;
  }

  if (TICKET_TABLES.has(table)) {
    const stamp = glideDateTime(now);
    if (!existing) {
      changes.active ??= 'true';
      changes.impact ??= '3';
      changes.urgency ??= '3';
      changes.opened_at ??= stamp;
      changes.opened_by ??= ctx.actorSysId;
    }
    const before = existing?.state;
    const outcome =
      table === 'incident'
        ? incidentRules(ctx, changes, before, stamp)
        : table === 'problem'
          ? problemRules(ctx, changes, before, stamp)
          : changeRules(ctx, changes, before, stamp);
    if (outcome) return outcome;
    const merged = { ...existing, ...changes };
    changes.priority = computedPriority(merged.impact, merged.urgency);
  }
  return { ok: true, changes, journal };
}

function incidentRules(ctx: WriteContext, changes: SimRow, before: string | undefined, stamp: string): WriteOutcome | undefined {
  if (!ctx.existing) changes.state ??= INCIDENT.new;
  // A closed incident is final; reopening is only possible from Resolved.
  if (before === INCIDENT.closed && changes.state !== undefined && changes.state !== before) delete changes.state;
  const target = changes.state;
  if (target === undefined || target === before) return undefined;
  const merged = { ...ctx.existing, ...changes };
  if (target === INCIDENT.resolved || target === INCIDENT.closed) {
    const absent = missing(merged, [
      ['close_code', 'Resolution code'],
      ['close_notes', 'Resolution notes'],
    ]);
    if (absent.length) return dataPolicy(absent);
  }
  changes.incident_state = target;
  if (target === INCIDENT.resolved) {
    changes.resolved_at = stamp;
    changes.resolved_by = ctx.actorSysId;
  }
  if (target === INCIDENT.closed || target === INCIDENT.canceled) {
    changes.active = 'false';
    changes.closed_at = stamp;
    changes.closed_by = ctx.actorSysId;
  } else {
    changes.active = 'true';
  }
  if (['1', '2', '3'].includes(target)) {
    changes.resolved_at = '';
    changes.resolved_by = '';
  }
  return undefined;
}

function problemRules(ctx: WriteContext, changes: SimRow, before: string | undefined, stamp: string): WriteOutcome | undefined {
  if (!ctx.existing) {
    if (!ctx.settings.problemStateTransitions || changes.state === undefined) changes.state = PROBLEM.new;
  } else if (!ctx.settings.problemStateTransitions) {
    delete changes.state;
    delete changes.problem_state;
  }
  const target = changes.state;
  if (target === undefined || target === before) return undefined;
  const merged = { ...ctx.existing, ...changes };
  const required: Array<[string, string]> = [['short_description', 'Short description']];
  if (Number(target) > Number(PROBLEM.new)) required.push(['assigned_to', 'Assigned to']);
  if (target === PROBLEM.fixInProgress) required.push(['cause_notes', 'Cause notes'], ['fix_notes', 'Fix notes']);
  if (target === PROBLEM.resolved || target === PROBLEM.closed) {
    required.push(['resolution_code', 'Resolution code']);
    const code = merged.resolution_code;
    if (code === 'fix_applied') required.push(['cause_notes', 'Cause notes'], ['fix_notes', 'Fix notes']);
    if (code === 'risk_accepted') required.push(['cause_notes', 'Cause notes'], ['close_notes', 'Close notes']);
    if (code === 'canceled') required.push(['close_notes', 'Close notes']);
    if (code === 'duplicate') required.push(['duplicate_of', 'Duplicate of']);
  }
  const absent = missing(merged, required);
  if (absent.length) return dataPolicy(absent);
  changes.problem_state = target;
  if (target === PROBLEM.resolved) {
    changes.resolved_at = stamp;
    changes.resolved_by = ctx.actorSysId;
  }
  if (target === PROBLEM.closed) {
    changes.active = 'false';
    changes.closed_at = stamp;
    changes.closed_by = ctx.actorSysId;
  }
  return undefined;
}

/**
 * Change model: standard changes are pre-authorised and move freely; normal and emergency changes
 * only move once approved (the control API approves them), otherwise the state stays put with 200.
 */
function changeRules(ctx: WriteContext, changes: SimRow, before: string | undefined, stamp: string): WriteOutcome | undefined {
  if (!ctx.existing) {
    changes.type ??= 'normal';
    changes.chg_model ??= changes.type;
    changes.approval = changes.type === 'standard' ? 'approved' : 'not requested';
    changes.state = CHANGE.new;
    return undefined;
  }
  // Type can only change while New.
  if (changes.type !== undefined && before !== CHANGE.new) delete changes.type;
  delete changes.approval;
  const target = changes.state;
  if (target === undefined || target === before) return undefined;
  const merged = { ...ctx.existing, ...changes };
  const allowed = merged.type === 'standard' || merged.approval === 'approved' || target === CHANGE.canceled;
  const finished = before === CHANGE.closed || before === CHANGE.canceled || (target === CHANGE.canceled && before === CHANGE.review);
  if (!allowed || finished) {
    delete changes.state;
    return undefined;
  }
  if (target === CHANGE.closed) {
    const absent = missing(merged, [
      ['close_code', 'Close code'],
      ['close_notes', 'Close notes'],
    ]);
    if (absent.length) return dataPolicy(absent);
  }
  if (target === CHANGE.closed || target === CHANGE.canceled) {
    changes.active = 'false';
    changes.closed_at = stamp;
    changes.closed_by = ctx.actorSysId;
  }
  return undefined;
}
