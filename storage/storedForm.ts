/**
 * How the lowdb file stores assignments (schema version 4): each one a JSON array of its field
 * values in the fixed order of ASSIGNMENT_FIELDS instead of an object keyed by id, with fields at
 * their default (or absent) as null and trailing nulls left off, and the assessment id packed as
 * `~name` when it is the resource's assessment of that name. Field names were ~40 % of each row
 * and the id was there twice: the file is about half the size, so a start parses half the text and
 * a write stringifies, hashes and writes half the bytes.
 *
 * The in-memory Database keeps the model's shape (storage/schema.ts). A stored row is turned into
 * the full one when the engine first reads it (toAssignment, through the engine's `complete`
 * hook), so a start does not build 100,000 objects it may not need yet.
 */
import { assignmentSchema, type Assignment } from '../core/model.js';

/**
 * Positions in the stored array. Never reorder or remove an entry (files written before would be
 * read wrongly): a field added to the model goes at the end, or stays in the trailing object of
 * fields not listed here (test/storage/storedForm.test.ts checks that every model field is listed).
 */
export const ASSIGNMENT_FIELDS = [
  'id',
  'key',
  'batchId',
  'recommendationKey',
  'recommendationName',
  'severity',
  'assessmentId',
  'resourceId',
  'resourceName',
  'subscriptionId',
  'integrationId',
  'ticketType',
  'owner',
  'caller',
  'dueDate',
  'gracePeriod',
  'notifyOwner',
  'notifyManager',
  'status',
  'createdAt',
  'updatedAt',
  'ticket',
  'governance',
  'conversationId',
  'createdBy',
  'customFields',
  'ticketGrouping',
  'shortDescription',
  'description',
  'lastError',
  'eta',
  'healthyPasses',
  'resolvedAt',
  'closeReason',
  'previousTicket',
  'attempts',
  'nextAttemptAt',
  'byRule',
] as const satisfies ReadonlyArray<keyof Assignment>;

/** What the fingerprint of the file schema includes, so a change here never trusts an older seal. */
export const STORED_FORM_SIGNATURE = `assignments:${ASSIGNMENT_FIELDS.join(',')}`;

const LISTED: ReadonlySet<string> = new Set(ASSIGNMENT_FIELDS);
/** Fields with their stored position, in the model's key order (the order zod gives a validated row). */
const READ_ORDER: ReadonlyArray<readonly [(typeof ASSIGNMENT_FIELDS)[number], number]> = [
  ...Object.keys(assignmentSchema.shape).filter((k) => LISTED.has(k)),
  ...ASSIGNMENT_FIELDS.filter((k) => !Object.hasOwn(assignmentSchema.shape, k)),
].map((k) => [k as (typeof ASSIGNMENT_FIELDS)[number], ASSIGNMENT_FIELDS.indexOf(k as (typeof ASSIGNMENT_FIELDS)[number])] as const);
const ID = 0;
const EXTRA = ASSIGNMENT_FIELDS.length;

/** Values the model fills in when a field is absent (core/model.ts defaults): stored as null. */
const DEFAULTS: Partial<Record<(typeof ASSIGNMENT_FIELDS)[number], unknown>> = {
  customFields: Object.freeze({}),
  ticketGrouping: 'perResource',
  shortDescription: '',
  description: '',
  healthyPasses: 0,
  attempts: 0,
};

const ASSESSMENT = '/providers/Microsoft.Security/assessments/';

/** A stored assignment: an array, where a full row is an object. */
export type StoredAssignment = unknown[];

export const isStoredAssignment = (value: unknown): value is StoredAssignment => Array.isArray(value);

function isDefault(field: string, value: unknown): boolean {
  const d = DEFAULTS[field as keyof typeof DEFAULTS];
  if (d === undefined) return false;
  if (typeof d !== 'object') return value === d;
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

/** `~name` for `<resourceId>/providers/Microsoft.Security/assessments/<name>`; any other id as it is (`~~` before one that starts with `~`). */
function packAssessmentId(assessmentId: string, resourceId: unknown): string {
  if (typeof resourceId === 'string' && assessmentId.startsWith(resourceId) && assessmentId.startsWith(ASSESSMENT, resourceId.length)) {
    const name = assessmentId.slice(resourceId.length + ASSESSMENT.length);
    if (name !== '' && !name.includes('/') && !name.startsWith('~')) return `~${name}`;
  }
  return assessmentId.startsWith('~') ? `~${assessmentId}` : assessmentId;
}

function unpackAssessmentId(stored: string, resourceId: unknown): string {
  if (!stored.startsWith('~')) return stored;
  if (stored.startsWith('~~')) return stored.slice(1);
  if (typeof resourceId !== 'string') throw new Error('a packed assessmentId needs a resourceId');
  return `${resourceId}${ASSESSMENT}${stored.slice(1)}`;
}

/** The stored form of a full (validated) assignment. */
export function toStoredAssignment(a: Assignment): StoredAssignment {
  const row = a as unknown as Record<string, unknown>;
  const out: unknown[] = new Array(EXTRA);
  let last = 0;
  for (let i = 0; i < EXTRA; i++) {
    const field = ASSIGNMENT_FIELDS[i]!;
    let v = row[field];
    if (v === undefined || isDefault(field, v)) {
      out[i] = null;
      continue;
    }
    if (field === 'assessmentId' && typeof v === 'string') v = packAssessmentId(v, row.resourceId);
    out[i] = v;
    last = i;
  }
  let extra: Record<string, unknown> | undefined;
  for (const k in row) {
    if (!LISTED.has(k) && row[k] !== undefined) (extra ??= {})[k] = row[k];
  }
  if (extra) {
    out.push(extra);
    return out;
  }
  out.length = last + 1;
  return out;
}

/**
 * The full row of a stored one, keys in the model's order. For a file nobody vouches for (no
 * valid seal) the result is validated with the schema afterwards; this only refuses what cannot
 * be turned into an object at all.
 */
export function toAssignment(stored: StoredAssignment): Assignment {
  if (stored.length > EXTRA + 1) throw new Error(`a stored assignment has ${stored.length} values, at most ${EXTRA + 1} are known`);
  const resourceId = stored[7];
  const out: Record<string, unknown> = {};
  for (const [field, i] of READ_ORDER) {
    const v = stored[i];
    if (v === null || v === undefined) {
      const d = DEFAULTS[field];
      if (d !== undefined) out[field] = typeof d === 'object' ? {} : d;
    } else out[field] = field === 'assessmentId' && typeof v === 'string' ? unpackAssessmentId(v, resourceId) : v;
  }
  const extra = stored[EXTRA];
  if (extra !== undefined && extra !== null) {
    if (typeof extra !== 'object' || Array.isArray(extra)) throw new Error('the last value of a stored assignment must be an object of further fields');
    for (const [k, v] of Object.entries(extra))
      if (!LISTED.has(k)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out as unknown as Assignment;
}

/** A stored field's value as the full row has it. */
function valueAt(stored: StoredAssignment, field: (typeof ASSIGNMENT_FIELDS)[number], i: number): unknown {
  const v = stored[i];
  if (v === null || v === undefined) return DEFAULTS[field];
  return field === 'assessmentId' && typeof v === 'string' ? unpackAssessmentId(v, stored[7]) : v;
}

/** Getters for every listed field over the stored array in `s` (the prototype of every view). */
const VIEW: object = Object.create(
  null,
  Object.fromEntries(
    READ_ORDER.map(([field, i]) => [
      field,
      {
        get(this: { s: StoredAssignment }) {
          return valueAt(this.s, field, i);
        },
        enumerable: true,
      },
    ]),
  ),
);

/**
 * A read-only stand-in for a stored assignment: its fields read from the array when asked, so
 * building an index reads the few fields it needs without completing the row. Not a row to hand
 * out (its nested values are not frozen, fields outside ASSIGNMENT_FIELDS are not there).
 */
export function storedAssignmentView(stored: StoredAssignment): Assignment {
  const view = Object.create(VIEW) as { s: StoredAssignment };
  view.s = stored;
  return view as unknown as Assignment;
}

/** The id of a stored assignment (what the record of assignments is keyed by). */
export function storedAssignmentId(stored: StoredAssignment): string {
  const id = stored[ID];
  if (typeof id !== 'string') throw new Error('a stored assignment does not start with its id');
  return id;
}

/**
 * The rows of a version-4 file's array by id, still in stored form (a Map: building an object of
 * 100,000 keys cost more than the parse). Throws on an entry that is not a stored row or repeats an id.
 */
export function assignmentsFromStored(stored: unknown): Map<string, unknown> {
  if (!Array.isArray(stored)) throw new Error('assignments: must be an array of stored assignments');
  const out = new Map<string, unknown>();
  for (let i = 0; i < stored.length; i++) {
    const row = stored[i] as unknown;
    if (!isStoredAssignment(row)) throw new Error(`assignments.${i}: must be an array`);
    let id: string;
    try {
      id = storedAssignmentId(row);
    } catch (err) {
      throw new Error(`assignments.${i}: ${(err as Error).message}`);
    }
    if (out.has(id)) throw new Error(`assignments.${i}: id ${id} is stored twice`);
    out.set(id, row);
  }
  return out;
}
