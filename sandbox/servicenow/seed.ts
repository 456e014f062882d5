import { createHash } from 'node:crypto';
import type { SimTable } from './schema.js';

export type SimRow = Record<string, string>;
/** Rows per table; a row without `sys_id` gets a derived one. */
export type SimulatorSeed = Partial<Record<SimTable, SimRow[]>>;

export interface SimulatorCredentials {
  username: string;
  password: string;
  clientId: string;
  clientSecret: string;
}

/** Sandbox-only values; they guard nothing but a local simulator. */
export const DEFAULT_SIMULATOR_CREDENTIALS: SimulatorCredentials = {
  username: 'svc.defender',
  password: 'sandbox-password',
  clientId: 'sandbox-client-id',
  clientSecret: 'sandbox-client-secret',
};

/** Deterministic 32-hex ids so tests and the sandbox can refer to seeded rows by a stable id. */
export function seedSysId(table: string, key: string): string {
  return createHash('md5').update(`${table}:${key}`).digest('hex');
}

export const userId = (userName: string): string => seedSysId('sys_user', userName);
export const groupId = (name: string): string => seedSysId('sys_user_group', name);

interface UserSpec {
  user_name: string;
  first_name: string;
  last_name: string;
  email: string;
  title: string;
  manager?: string;
  active?: boolean;
  web_service_access_only?: boolean;
}

/**
 * Users of the default dataset.
 *
 * Ambiguity: `email` is not unique in ServiceNow (reference §3.5), and the realistic way to get two
 * matches is a duplicate account of the same person left behind by an import. Sam Rivera therefore
 * has two active accounts (`sam.rivera` and `srivera`) sharing `sam.rivera@contoso.com` and the
 * same name, so resolving that email is ambiguous. Dave's second, inactive account shows that
 * inactive rows must not count as a match.
 */
const USERS: UserSpec[] = [
  { user_name: 'admin', first_name: 'System', last_name: 'Administrator', email: 'admin@contoso.com', title: 'ServiceNow administrator' },
  {
    user_name: 'svc.defender',
    first_name: 'Defender',
    last_name: 'Integration',
    email: 'svc.defender@contoso.com',
    title: 'Integration account',
    web_service_access_only: true,
  },
  { user_name: 'bob.manager', first_name: 'Bob', last_name: 'Manager', email: 'bob.manager@contoso.com', title: 'Head of Cloud Operations' },
  { user_name: 'alice.owner', first_name: 'Alice', last_name: 'Owner', email: 'alice.owner@contoso.com', title: 'Cloud engineer', manager: 'bob.manager' },
  { user_name: 'carol.nguyen', first_name: 'Carol', last_name: 'Nguyen', email: 'carol.nguyen@contoso.com', title: 'Security analyst', manager: 'bob.manager' },
  { user_name: 'sam.rivera', first_name: 'Sam', last_name: 'Rivera', email: 'sam.rivera@contoso.com', title: 'Platform engineer', manager: 'bob.manager' },
  { user_name: 'srivera', first_name: 'Sam', last_name: 'Rivera', email: 'sam.rivera@contoso.com', title: 'Platform engineer (imported)' },
  { user_name: 'dave.okafor', first_name: 'Dave', last_name: 'Okafor', email: 'dave.okafor@contoso.com', title: 'Network engineer', manager: 'bob.manager' },
  { user_name: 'dokafor.old', first_name: 'Dave', last_name: 'Okafor', email: 'dave.okafor@contoso.com', title: 'Network engineer', active: false },
  // The people of the Defender simulator's directory, so the sandbox is one consistent company.
  {
    user_name: 'alice.johnson',
    first_name: 'Alice',
    last_name: 'Johnson',
    email: 'alice.johnson@contoso.com',
    title: 'Cloud Security Lead',
    manager: 'carol.nguyen',
  },
  {
    user_name: 'bob.martinez',
    first_name: 'Bob',
    last_name: 'Martinez',
    email: 'bob.martinez@contoso.com',
    title: 'Platform Engineer',
    manager: 'alice.johnson',
  },
  {
    user_name: 'frank.osei',
    first_name: 'Frank',
    last_name: 'Osei',
    email: 'frank.osei@contoso.com',
    title: 'Security Operations Engineer',
    manager: 'alice.johnson',
  },
  { user_name: 'dave.kim', first_name: 'Dave', last_name: 'Kim', email: 'dave.kim@contoso.com', title: 'Software Developer', manager: 'bob.martinez' },
  { user_name: 'erin.walsh', first_name: 'Erin', last_name: 'Walsh', email: 'erin.walsh@contoso.com', title: 'IT Auditor', manager: 'carol.nguyen' },
  { user_name: 'grace.lee', first_name: 'Grace', last_name: 'Lee', email: 'grace.lee@contoso.com', title: 'Junior Developer', manager: 'bob.martinez' },
];

export const DEFAULT_GROUP_NAME = 'Cloud Security Operations';

function choices(table: string, element: string, pairs: Array<[string, string]>): SimRow[] {
  return pairs.map(([value, label], i) => ({
    sys_id: seedSysId('sys_choice', `${table}.${element}.${value}`),
    name: table,
    element,
    value,
    label,
    language: 'en',
    inactive: 'false',
    sequence: String(i + 1),
  }));
}

const IMPACT: Array<[string, string]> = [
  ['1', '1 - High'],
  ['2', '2 - Medium'],
  ['3', '3 - Low'],
];
const URGENCY = IMPACT;
const PRIORITY: Array<[string, string]> = [
  ['1', '1 - Critical'],
  ['2', '2 - High'],
  ['3', '3 - Moderate'],
  ['4', '4 - Low'],
  ['5', '5 - Planning'],
];

export function defaultSeed(): SimulatorSeed {
  const sys_user: SimRow[] = USERS.map((u) => ({
    sys_id: userId(u.user_name),
    user_name: u.user_name,
    first_name: u.first_name,
    last_name: u.last_name,
    name: `${u.first_name} ${u.last_name}`,
    email: u.email,
    title: u.title,
    department: 'IT',
    manager: u.manager ? userId(u.manager) : '',
    active: String(u.active ?? true),
    locked_out: 'false',
    web_service_access_only: String(u.web_service_access_only ?? false),
  }));
  const sys_user_group: SimRow[] = [
    {
      sys_id: groupId(DEFAULT_GROUP_NAME),
      name: DEFAULT_GROUP_NAME,
      description: 'Owns remediation of Defender for Cloud findings',
      email: 'cloudsecops@contoso.com',
      manager: userId('bob.manager'),
      active: 'true',
    },
  ];
  const sys_choice: SimRow[] = [
    ...choices('incident', 'state', [
      ['1', 'New'],
      ['2', 'In Progress'],
      ['3', 'On Hold'],
      ['6', 'Resolved'],
      ['7', 'Closed'],
      ['8', 'Canceled'],
    ]),
    ...choices('problem', 'state', [
      ['101', 'New'],
      ['102', 'Assess'],
      ['103', 'Root Cause Analysis'],
      ['104', 'Fix in Progress'],
      ['106', 'Resolved'],
      ['107', 'Closed'],
    ]),
    ...choices('change_request', 'state', [
      ['-5', 'New'],
      ['-4', 'Assess'],
      ['-3', 'Authorize'],
      ['-2', 'Scheduled'],
      ['-1', 'Implement'],
      ['0', 'Review'],
      ['3', 'Closed'],
      ['4', 'Canceled'],
    ]),
    ...['incident', 'problem', 'change_request'].flatMap((t) => [
      ...choices(t, 'impact', IMPACT),
      ...choices(t, 'urgency', URGENCY),
      ...choices(t, 'priority', PRIORITY),
    ]),
    ...choices('incident', 'close_code', [
      ['Duplicate', 'Duplicate'],
      ['Known error', 'Known error'],
      ['No resolution provided', 'No resolution provided'],
      ['Resolved by caller', 'Resolved by caller'],
      ['Resolved by change', 'Resolved by change'],
      ['Resolved by problem', 'Resolved by problem'],
      ['Resolved by request', 'Resolved by request'],
      ['Solution provided', 'Solution provided'],
      ['Workaround provided', 'Workaround provided'],
      ['User error', 'User error'],
    ]),
    ...choices('problem', 'resolution_code', [
      ['fix_applied', 'Fix Applied'],
      ['risk_accepted', 'Risk Accepted'],
      ['duplicate', 'Duplicate'],
      ['canceled', 'Canceled'],
    ]),
    ...choices('change_request', 'close_code', [
      ['successful', 'Successful'],
      ['successful_issues', 'Successful with issues'],
      ['unsuccessful', 'Unsuccessful'],
    ]),
    ...choices('change_request', 'type', [
      ['standard', 'Standard'],
      ['normal', 'Normal'],
      ['emergency', 'Emergency'],
    ]),
    ...choices('change_request', 'approval', [
      ['not requested', 'Not Yet Requested'],
      ['requested', 'Requested'],
      ['approved', 'Approved'],
      ['rejected', 'Rejected'],
    ]),
  ];
  return { sys_user, sys_user_group, sys_choice };
}
