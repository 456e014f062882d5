/**
 * Azure and Defender for Cloud facts the simulator needs, written from the API reference
 * (/work/shared/reference/defender-api.md and the OpenAPI files), not taken from the client:
 * a simulator that shared the client's constants would agree with the client's mistakes.
 */

/** `properties.status.code` of an assessment (Assessments_Get, Resource Graph `securityresources`). */
export type AssessmentStatusCode = 'Healthy' | 'Unhealthy' | 'NotApplicable';

/** `properties.metadata.severity` / assessment metadata severity. */
export type Severity = 'High' | 'Medium' | 'Low';

/** Built-in role definition GUIDs, from the Azure built-in roles reference page (the same in every tenant). */
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

/** An assessment's ARM id: `{resourceId}/providers/Microsoft.Security/assessments/{assessmentKey}`. */
export function assessmentIdFor(resourceId: string, assessmentKey: string): string {
  return `${resourceId}/providers/Microsoft.Security/assessments/${assessmentKey}`;
}

export interface ArmIdParts {
  subscriptionId: string;
  resourceGroup?: string;
  /** `{namespace}/{type}[/{childType}…]`, e.g. `Microsoft.Sql/servers/databases`. */
  type: string;
  name: string;
}

/**
 * The parts of a subscription-rooted ARM id (`/subscriptions/{id}[/resourceGroups/{rg}]
 * [/providers/{ns}/{type}/{name}[/{childType}/{childName}…]]`); undefined for anything else.
 */
export function armIdParts(id: string): ArmIdParts | undefined {
  const segments = id.split('/');
  if (segments[0] !== '' || segments.slice(1).some((s) => s === '')) return undefined;
  const [, subscriptions, subscriptionId, ...rest] = segments;
  if (subscriptions?.toLowerCase() !== 'subscriptions' || !subscriptionId) return undefined;
  if (rest.length === 0) return { subscriptionId, type: 'Microsoft.Resources/subscriptions', name: subscriptionId };
  let resourceGroup: string | undefined;
  if (rest[0]!.toLowerCase() === 'resourcegroups') {
    resourceGroup = rest[1];
    if (!resourceGroup) return undefined;
    rest.splice(0, 2);
    if (rest.length === 0) return { subscriptionId, resourceGroup, type: 'Microsoft.Resources/resourceGroups', name: resourceGroup };
  }
  if (rest[0]!.toLowerCase() !== 'providers' || rest.length < 4 || rest.length % 2 !== 0) return undefined;
  const namespace = rest[1]!;
  const pairs = rest.slice(2);
  const types: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) types.push(pairs[i]!);
  return { subscriptionId, ...(resourceGroup !== undefined ? { resourceGroup } : {}), type: `${namespace}/${types.join('/')}`, name: pairs[pairs.length - 1]! };
}

/**
 * `GovernanceRuleProperties` of governanceRules.json (2022-01-01-preview): the body the simulator
 * serves for `Microsoft.Security/governanceRules`. Required there: displayName, rulePriority,
 * ruleType, sourceResourceType, conditionSets, ownerSource.
 */
export interface GovernanceRuleProperties {
  displayName: string;
  description?: string;
  /** `d.hh:mm:ss` (pattern `^[0-9]+\.[0-9]{2}:[0-9]{2}:[0-9]{2}$`). */
  remediationTimeframe?: string;
  isGracePeriod?: boolean;
  /** 0–1000. */
  rulePriority: number;
  isDisabled?: boolean;
  ruleType: 'Integrated' | 'ServiceNow';
  sourceResourceType: 'Assessments';
  excludedScopes?: string[];
  /** OR between sets, AND within: `{ conditions: [{ property, value, operator: Equals | In }] }`. */
  conditionSets: Array<{ conditions: Array<{ property: string; value: string; operator: 'Equals' | 'In' }> }>;
  includeMemberScopes?: boolean;
  ownerSource: { type: 'ByTag' | 'Manually'; value: string };
  governanceEmailNotification?: { disableManagerEmailNotification?: boolean; disableOwnerEmailNotification?: boolean };
}

/** The api-version of governance assignments and governance rules (the only one in the specs). */
export const GOVERNANCE_API_VERSION = '2022-01-01-preview';

/** ARM types as Resource Graph's `resourcecontainers` table spells them. */
export const SUBSCRIPTION_CONTAINER_TYPE = 'microsoft.resources/subscriptions';
export const RESOURCE_GROUP_CONTAINER_TYPE = 'microsoft.resources/subscriptions/resourcegroups';
