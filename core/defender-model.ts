/**
 * Domain types for Defender for Cloud recommendations. Pure: no I/O, so the sync job, cards and
 * storage can share them without pulling in HTTP clients.
 */

export type Severity = 'High' | 'Medium' | 'Low';
export const SEVERITIES: readonly Severity[] = ['High', 'Medium', 'Low'];

export type AssessmentStatusCode = 'Healthy' | 'Unhealthy' | 'NotApplicable';

/** Azure built-in role definition GUIDs (identical in every tenant). */
export const BUILTIN_ROLE_IDS = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  'Security Admin': 'fb1c8493-542b-48eb-b624-b4c8fea62acd',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  'Security Reader': '39bc4728-0917-49c7-9d2c-d95423bc2eb4',
  'Security Assessment Contributor': '612c2aa1-cb24-443b-ac28-3ab7272de6f5',
} as const;
export type BuiltInRoleName = keyof typeof BUILTIN_ROLE_IDS;

/** Roles that may create governance assignments / tickets (Defender docs: Owner, Contributor, Security Admin). */
export const MANAGING_ROLES: readonly BuiltInRoleName[] = ['Owner', 'Contributor', 'Security Admin'];

/**
 * Roles that may read Defender for Cloud findings of a subscription (its recommendations,
 * assignments, owners and tickets): the managing roles plus the two built-in read roles.
 */
export const READING_ROLES: readonly BuiltInRoleName[] = [...MANAGING_ROLES, 'Security Reader', 'Reader'];

/** Role name for a roleDefinitionId; compares the trailing GUID only because the prefix varies by scope. */
export function roleNameFromDefinitionId(roleDefinitionId: string): string {
  const guid = roleDefinitionId.split('/').pop()?.toLowerCase() ?? '';
  for (const [name, id] of Object.entries(BUILTIN_ROLE_IDS)) if (id === guid) return name;
  return guid;
}

/**
 * One assessment type's metadata, independent of resources: what Defender calls a recommendation.
 * The bot's recommendation (with its unhealthy resources, as cards show it) is core/model.ts#Recommendation.
 */
export interface AssessmentMetadata {
  /** Assessment key (GUID) = name of the assessmentMetadata resource. */
  assessmentKey: string;
  displayName: string;
  severity: Severity;
  description: string;
  /** HTML as Defender ships it; converting it is the renderer's job. */
  remediationSteps: string;
  categories: string[];
  portalLink: string;
}

/**
 * One assessment of one resource. Named after the common case (the sync job mostly sees
 * Unhealthy rows), but by-id and changed-since queries also return Healthy/NotApplicable ones.
 */
export interface UnhealthyResource {
  /** Full ARM id of the assessment: `{resourceId}/providers/Microsoft.Security/assessments/{key}`. */
  assessmentId: string;
  assessmentKey: string;
  resourceId: string;
  resourceName: string;
  resourceType: string;
  subscriptionId: string;
  /** Undefined for subscription-level assessments. */
  resourceGroup?: string;
  tenantId?: string;
  severity: Severity;
  status: AssessmentStatusCode;
  statusCause?: string;
  statusDescription?: string;
  /** ISO 8601 UTC, as Defender reports it. */
  statusChangeDate: string;
  firstEvaluationDate?: string;
  displayName: string;
  description: string;
  remediationSteps: string;
  portalLink: string;
}

export type AssessmentRecord = UnhealthyResource;

export interface ParsedResourceId {
  /** The id as given (casing preserved: ARM ids are case-insensitive but people read them). */
  id: string;
  subscriptionId: string;
  resourceGroup?: string;
  /** e.g. `Microsoft.Compute/virtualMachines`, `Microsoft.Sql/servers/databases`. */
  type: string;
  name: string;
  /** Resource provider namespace, e.g. `Microsoft.Compute`; absent for subscriptions / groups. */
  provider?: string;
}

const GUIDISH = /^[0-9a-fA-F-]{8,}$/;

/**
 * Parses an ARM resource id. Returns undefined for anything that is not a subscription-rooted id,
 * because callers use it on data from outside and must not throw on a bad row.
 */
export function parseResourceId(id: string): ParsedResourceId | undefined {
  if (typeof id !== 'string' || !id.startsWith('/')) return undefined;
  const parts = id.split('/').slice(1);
  if (parts.some((p) => p.length === 0)) return undefined;
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'subscriptions') return undefined;
  const subscriptionId = parts[1]!;
  if (!GUIDISH.test(subscriptionId)) return undefined;
  if (parts.length === 2) {
    return { id, subscriptionId, type: 'Microsoft.Resources/subscriptions', name: subscriptionId };
  }
  let i = 2;
  let resourceGroup: string | undefined;
  if (parts[i]!.toLowerCase() === 'resourcegroups') {
    resourceGroup = parts[i + 1];
    if (!resourceGroup) return undefined;
    i += 2;
    if (i === parts.length) {
      return { id, subscriptionId, resourceGroup, type: 'Microsoft.Resources/resourceGroups', name: resourceGroup };
    }
  }
  if (parts[i]!.toLowerCase() !== 'providers') return undefined;
  const provider = parts[i + 1];
  const rest = parts.slice(i + 2);
  // type/name pairs after the namespace: Microsoft.Sql/servers/s1/databases/db1
  if (!provider || rest.length < 2 || rest.length % 2 !== 0) return undefined;
  const typeSegments: string[] = [];
  for (let j = 0; j < rest.length; j += 2) typeSegments.push(rest[j]!);
  return {
    id,
    subscriptionId,
    ...(resourceGroup !== undefined ? { resourceGroup } : {}),
    provider,
    type: `${provider}/${typeSegments.join('/')}`,
    name: rest[rest.length - 1]!,
  };
}

const ASSESSMENT_SUFFIX = /\/providers\/Microsoft\.Security\/assessments\/([^/]+)$/i;

/** Splits an assessment id into the assessed resource id and the assessment key. */
export function splitAssessmentId(assessmentId: string): { resourceId: string; assessmentKey: string } | undefined {
  const m = ASSESSMENT_SUFFIX.exec(assessmentId);
  if (!m || m.index === 0) return undefined;
  return { resourceId: assessmentId.slice(0, m.index), assessmentKey: m[1]! };
}

export function assessmentIdFor(resourceId: string, assessmentKey: string): string {
  return `${resourceId}/providers/Microsoft.Security/assessments/${assessmentKey}`;
}

/** Portal deep link used when the source row carries none. */
export function recommendationPortalLink(assessmentKey: string): string {
  return `https://portal.azure.com/#view/Microsoft_Azure_Security/GenericRecommendationDetailsBlade/assessmentKey/${assessmentKey}`;
}

/** Groups per-resource rows into recommendations, keeping the highest severity seen. */
export function groupByRecommendation(rows: readonly UnhealthyResource[]): Map<string, { recommendation: AssessmentMetadata; resources: UnhealthyResource[] }> {
  const out = new Map<string, { recommendation: AssessmentMetadata; resources: UnhealthyResource[] }>();
  for (const r of rows) {
    const key = r.assessmentKey.toLowerCase();
    let g = out.get(key);
    if (!g) {
      g = {
        recommendation: {
          assessmentKey: r.assessmentKey,
          displayName: r.displayName,
          severity: r.severity,
          description: r.description,
          remediationSteps: r.remediationSteps,
          categories: [],
          portalLink: recommendationPortalLink(r.assessmentKey),
        },
        resources: [],
      };
      out.set(key, g);
    }
    if (SEVERITIES.indexOf(r.severity) < SEVERITIES.indexOf(g.recommendation.severity)) g.recommendation.severity = r.severity;
    g.resources.push(r);
  }
  return out;
}
