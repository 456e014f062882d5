/**
 * Example bodies of the official governanceRules spec (2022-01-01-preview), transcribed from
 * Azure/azure-rest-api-specs (MIT), specification/security/resource-manager/Microsoft.Security/
 * preview/2022-01-01-preview/examples/GovernanceRules/ — the `examples/` folder that
 * /work/shared/specs/azure does not copy. Each constant names its file. BY_TAG_RULE is ours: no
 * official example uses a ByTag owner, so it is written to the same spec (test/core/defenderRules
 * validates it like the others).
 */

/** ListBySubscriptionGovernanceRules_example.json, responses.200.body */
export const LIST_BY_SUBSCRIPTION = {
  value: [
    {
      id: 'subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/governanceRules/ad9a8e26-29d9-4829-bb30-e597a58cdbb8',
      name: 'ad9a8e26-29d9-4829-bb30-e597a58cdbb8',
      type: 'Microsoft.Security/governanceRules',
      properties: {
        tenantId: 'f0b6d37b-e4bc-4719-9291-c066c3194f23',
        displayName: "Admin's rule",
        description: 'A rule on critical recommendations',
        remediationTimeframe: '7.00:00:00',
        isGracePeriod: true,
        rulePriority: 100,
        isDisabled: false,
        ruleType: 'Integrated',
        sourceResourceType: 'Assessments',
        conditionSets: [
          {
            conditions: [
              { property: '$.AssessmentKey', value: '["b1cd27e0-4ecc-4246-939f-49c426d9d72f", "fe83f80b-073d-4ccf-93d9-6797eb870201"]', operator: 'In' },
            ],
          },
        ],
        ownerSource: { type: 'Manually', value: 'user@contoso.com' },
        governanceEmailNotification: { disableManagerEmailNotification: false, disableOwnerEmailNotification: false },
        excludedScopes: [],
        includeMemberScopes: false,
        metadata: {
          createdBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          createdOn: '2022-11-10T08:31:26.7993124Z',
          updatedBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          updatedOn: '2022-11-10T08:31:26.7993124Z',
        },
      },
    },
    {
      id: 'subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/governanceRules/4106f43c-6d82-4fc8-a92c-dcfe50799d1d',
      name: '4106f43c-6d82-4fc8-a92c-dcfe50799d1d',
      type: 'Microsoft.Security/governanceRules',
      properties: {
        tenantId: 'f0b6d37b-e4bc-4719-9291-c066c3194f23',
        displayName: "Admin's rule",
        description: 'A rule on critical recommendations',
        remediationTimeframe: '7.00:00:00',
        isGracePeriod: true,
        rulePriority: 200,
        isDisabled: false,
        ruleType: 'Integrated',
        sourceResourceType: 'Assessments',
        conditionSets: [{ conditions: [{ property: '$.Metadata.Severity', value: 'Low', operator: 'Equals' }] }],
        ownerSource: { type: 'Manually', value: 'user@contoso.com' },
        governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: true },
        excludedScopes: [],
        includeMemberScopes: false,
        metadata: {
          createdBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          createdOn: '2022-11-10T08:31:26.7993124Z',
          updatedBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          updatedOn: '2022-11-10T08:31:26.7993124Z',
        },
      },
    },
  ],
};

/** ListByManagementGroupGovernanceRules_example.json, responses.200.body (the second rule carries `inheritRules`, which the spec does not declare). */
export const LIST_BY_MANAGEMENT_GROUP = {
  value: [
    {
      id: 'providers/Microsoft.Management/managementGroups/contoso/providers/Microsoft.Security/governanceRules/ad9a8e26-29d9-4829-bb30-e597a58cdbb8',
      name: 'ad9a8e26-29d9-4829-bb30-e597a58cdbb8',
      type: 'Microsoft.Security/governanceRules',
      properties: {
        tenantId: 'f0b6d37b-e4bc-4719-9291-c066c3194f23',
        displayName: 'Management group rule',
        description: 'A rule for a management group',
        remediationTimeframe: '7.00:00:00',
        isGracePeriod: true,
        rulePriority: 100,
        isDisabled: false,
        ruleType: 'Integrated',
        sourceResourceType: 'Assessments',
        conditionSets: [
          {
            conditions: [
              { property: '$.AssessmentKey', value: '["b1cd27e0-4ecc-4246-939f-49c426d9d72f", "fe83f80b-073d-4ccf-93d9-6797eb870201"]', operator: 'In' },
            ],
          },
        ],
        ownerSource: { type: 'Manually', value: 'user@contoso.com' },
        governanceEmailNotification: { disableManagerEmailNotification: false, disableOwnerEmailNotification: false },
        metadata: {
          createdBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          createdOn: '2022-11-10T08:31:26.7993124Z',
          updatedBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          updatedOn: '2022-11-10T08:31:26.7993124Z',
        },
      },
    },
    {
      id: 'providers/Microsoft.Management/managementGroups/contoso/providers/Microsoft.Security/governanceRules/4106f43c-6d82-4fc8-a92c-dcfe50799d1d',
      name: '4106f43c-6d82-4fc8-a92c-dcfe50799d1d',
      type: 'Microsoft.Security/governanceRules',
      properties: {
        tenantId: 'f0b6d37b-e4bc-4719-9291-c066c3194f23',
        displayName: 'Management group rule 2',
        description: 'A rule for a management group',
        remediationTimeframe: '7.00:00:00',
        isGracePeriod: true,
        rulePriority: 200,
        isDisabled: false,
        ruleType: 'Integrated',
        sourceResourceType: 'Assessments',
        conditionSets: [{ conditions: [{ property: '$.Metadata.Severity', value: 'Low', operator: 'Equals' }] }],
        ownerSource: { type: 'Manually', value: 'user@contoso.com' },
        governanceEmailNotification: { disableManagerEmailNotification: false, disableOwnerEmailNotification: false },
        excludedScopes: ['/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23'],
        inheritRules: false,
        metadata: {
          createdBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          createdOn: '2022-11-10T08:31:26.7993124Z',
          updatedBy: 'c23b5354-ff0a-4b2a-9f92-6f144effd936',
          updatedOn: '2022-11-10T08:31:26.7993124Z',
        },
      },
    },
  ],
};

/** ListBySecurityConnectorGovernanceRules_example.json, responses.200.body, first rule. */
export const SECURITY_CONNECTOR_RULE = {
  id: 'subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourcegroups/gcpResourceGroup/providers/Microsoft.Security/securityConnectors/gcpconnector/providers/Microsoft.Security/governanceRules/ad9a8e26-29d9-4829-bb30-e597a58cdbb8',
  name: 'ad9a8e26-29d9-4829-bb30-e597a58cdbb8',
  type: 'Microsoft.Security/governanceRules',
  properties: {
    displayName: "Admin's GCP rule",
    description: 'A rule on critical GCP recommendations',
    remediationTimeframe: '7.00:00:00',
    isGracePeriod: true,
    rulePriority: 100,
    isDisabled: false,
    ruleType: 'Integrated',
    sourceResourceType: 'Assessments',
    conditionSets: [
      {
        conditions: [
          { property: '$.AssessmentKey', value: '["b1cd27e0-4ecc-4246-939f-49c426d9d72f", "fe83f80b-073d-4ccf-93d9-6797eb870201"]', operator: 'In' },
        ],
      },
    ],
    ownerSource: { type: 'Manually', value: 'user@contoso.com' },
    governanceEmailNotification: { disableManagerEmailNotification: false, disableOwnerEmailNotification: false },
  },
};

/** PutManagementGroupGovernanceRule_example.json, parameters.governanceRule (a request body). */
export const PUT_MANAGEMENT_GROUP_REQUEST = {
  properties: {
    displayName: 'Management group rule',
    description: 'A rule for a management group',
    remediationTimeframe: '7.00:00:00',
    isGracePeriod: true,
    rulePriority: 200,
    isDisabled: false,
    ruleType: 'Integrated',
    sourceResourceType: 'Assessments',
    conditionSets: [
      {
        conditions: [
          { property: '$.AssessmentKey', value: '["b1cd27e0-4ecc-4246-939f-49c426d9d72f", "fe83f80b-073d-4ccf-93d9-6797eb870201"]', operator: 'In' },
        ],
      },
    ],
    ownerSource: { type: 'Manually', value: 'user@contoso.com' },
    governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: false },
    excludedScopes: ['/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23'],
  },
};

/** Ours, in the spec's shape: owner from a resource tag, severities High or Medium in two OR-ed sets, a 14-day timeframe with hours. */
export const BY_TAG_RULE = {
  id: '/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/governanceRules/0b7e4c1a-9d2f-4e8b-a6c3-5f1d2e3c4b5a',
  name: '0b7e4c1a-9d2f-4e8b-a6c3-5f1d2e3c4b5a',
  type: 'Microsoft.Security/governanceRules',
  properties: {
    displayName: 'Owners from the owner tag',
    remediationTimeframe: '13.12:00:00',
    isGracePeriod: false,
    rulePriority: 0,
    isDisabled: true,
    ruleType: 'ServiceNow',
    sourceResourceType: 'Assessments',
    conditionSets: [
      { conditions: [{ property: '$.Metadata.Severity', value: 'High', operator: 'Equals' }] },
      { conditions: [{ property: '$.Metadata.Severity', value: 'Medium', operator: 'Equals' }] },
    ],
    ownerSource: { type: 'ByTag', value: 'SecurityOwner' },
  },
};
