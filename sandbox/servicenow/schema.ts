/**
 * The slice of the ServiceNow data dictionary the simulator knows. Fields not listed here are
 * dropped silently on write, as a real instance does with unknown columns.
 */

export type SimTable = 'incident' | 'problem' | 'change_request' | 'sys_user' | 'sys_user_group' | 'sys_choice' | 'sys_journal_field';

export const SIM_TABLES: readonly SimTable[] = ['incident', 'problem', 'change_request', 'sys_user', 'sys_user_group', 'sys_choice', 'sys_journal_field'];

export function isSimTable(name: string): name is SimTable {
  return (SIM_TABLES as readonly string[]).includes(name);
}

export interface TableDef {
  fields: readonly string[];
  /** field -> referenced table */
  references: Readonly<Record<string, SimTable>>;
  /** field whose value is shown as the record's display value */
  displayField: string;
  numberPrefix?: string;
}

export const SYSTEM_FIELDS = ['sys_id', 'sys_created_on', 'sys_created_by', 'sys_updated_on', 'sys_updated_by', 'sys_mod_count', 'sys_class_name'] as const;

/** Written through to sys_journal_field; the record itself always reads back "". */
export const JOURNAL_FIELDS = ['work_notes', 'comments'] as const;

const TASK_FIELDS = [
  'number',
  'short_description',
  'description',
  'state',
  'active',
  'impact',
  'urgency',
  'priority',
  'assigned_to',
  'assignment_group',
  'opened_by',
  'opened_at',
  'closed_at',
  'closed_by',
  'close_notes',
  'work_notes',
  'comments',
  'watch_list',
  'correlation_id',
  'correlation_display',
  'cmdb_ci',
  'company',
  'category',
  'due_date',
] as const;

/** glide_date_time fields a client may write; a value not in the raw format is ignored, not stored. */
export const DATE_TIME_FIELDS = ['due_date', 'start_date', 'end_date'] as const;

const TASK_REFS: Record<string, SimTable> = {
  assigned_to: 'sys_user',
  assignment_group: 'sys_user_group',
  opened_by: 'sys_user',
  closed_by: 'sys_user',
};

export const TABLES: Readonly<Record<SimTable, TableDef>> = {
  incident: {
    fields: [
      ...TASK_FIELDS,
      'caller_id',
      'subcategory',
      'contact_type',
      'hold_reason',
      'close_code',
      'resolved_by',
      'resolved_at',
      'incident_state',
      'problem_id',
    ],
    references: { ...TASK_REFS, caller_id: 'sys_user', resolved_by: 'sys_user', problem_id: 'problem' },
    displayField: 'number',
    numberPrefix: 'INC',
  },
  problem: {
    fields: [
      ...TASK_FIELDS,
      'cause_notes',
      'fix_notes',
      'resolution_code',
      'duplicate_of',
      'workaround',
      'known_error',
      'problem_state',
      'resolved_at',
      'resolved_by',
    ],
    references: { ...TASK_REFS, duplicate_of: 'problem', resolved_by: 'sys_user' },
    displayField: 'number',
    numberPrefix: 'PRB',
  },
  change_request: {
    fields: [
      ...TASK_FIELDS,
      'type',
      'chg_model',
      'requested_by',
      'start_date',
      'end_date',
      'risk',
      'approval',
      'backout_plan',
      'test_plan',
      'implementation_plan',
      'close_code',
      'on_hold',
      'on_hold_reason',
    ],
    references: { ...TASK_REFS, requested_by: 'sys_user' },
    displayField: 'number',
    numberPrefix: 'CHG',
  },
  sys_user: {
    fields: ['user_name', 'email', 'name', 'first_name', 'last_name', 'title', 'department', 'manager', 'active', 'locked_out', 'web_service_access_only'],
    references: { manager: 'sys_user' },
    displayField: 'name',
  },
  sys_user_group: {
    fields: ['name', 'description', 'email', 'manager', 'active'],
    references: { manager: 'sys_user' },
    displayField: 'name',
  },
  sys_choice: {
    fields: ['name', 'element', 'value', 'label', 'language', 'inactive', 'sequence'],
    references: {},
    displayField: 'label',
  },
  sys_journal_field: {
    fields: ['element_id', 'element', 'name', 'value'],
    references: {},
    displayField: 'value',
  },
};

/** Fields rendered through sys_choice labels when display values are requested. */
export const CHOICE_FIELDS = ['state', 'impact', 'urgency', 'priority', 'close_code', 'resolution_code', 'type', 'approval'] as const;

export function allFields(table: SimTable): string[] {
  return [...SYSTEM_FIELDS, ...TABLES[table].fields];
}
