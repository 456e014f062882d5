/**
 * Deterministic Defender/Azure dataset used by the simulator (tests, sandbox, benchmarks).
 * Everything derives from a fixed seed, so two runs produce byte-identical data.
 */
import { createHash } from 'node:crypto';
import { BUILTIN_ROLE_IDS, type AssessmentStatusCode, type BuiltInRoleName, type GovernanceRuleProperties, type Severity } from './protocol.js';

export { BUILTIN_ROLE_IDS, type BuiltInRoleName };

export interface DatasetManagementGroup {
  name: string;
  displayName: string;
  /** Parent group name; undefined = directly under the tenant root group. */
  parent?: string;
}

export interface DatasetSubscription {
  subscriptionId: string;
  displayName: string;
  managementGroup: string;
  tags?: Record<string, string>;
}

export interface DatasetRecommendation {
  key: string;
  displayName: string;
  severity: Severity;
  description: string;
  remediationDescription: string;
  categories: Array<'Compute' | 'Networking' | 'Data' | 'IdentityAndAccess' | 'IoT'>;
  threats: string[];
  userImpact: 'Low' | 'Moderate' | 'High';
  implementationEffort: 'Low' | 'Moderate' | 'High';
  policyDefinitionId?: string;
  /** ARM type the recommendation assesses (`Microsoft.Resources/subscriptions` for subscription-level). */
  resourceType: string;
  /** Share of matching resources that are Unhealthy in the built-in data. */
  unhealthyRate: number;
}

export interface DatasetResource {
  id: string;
  name: string;
  type: string;
  subscriptionId: string;
  resourceGroup?: string;
  location: string;
  /** ARM tags (Resource Graph's `tags` column). */
  tags?: Record<string, string>;
}

/** Tags of a resource group (Resource Graph's `resourcecontainers`). */
export interface DatasetResourceGroup {
  subscriptionId: string;
  name: string;
  tags: Record<string, string>;
}

/** A Defender governance rule defined at a management group or subscription scope. */
export interface DatasetGovernanceRule {
  /** `/providers/Microsoft.Management/managementGroups/{name}` or `/subscriptions/{id}`. */
  scope: string;
  /** The rule id (a GUID). */
  name: string;
  properties: GovernanceRuleProperties;
  createdOn: string;
}

export interface DatasetAssessment {
  resourceId: string;
  key: string;
  code: AssessmentStatusCode;
  cause?: string;
  statusDescription?: string;
  firstEvaluationDate: string;
  statusChangeDate: string;
}

export interface DatasetUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string;
  surname: string;
  mail: string;
  jobTitle: string;
  department: string;
  officeLocation: string;
  managerId?: string;
}

export interface DatasetRoleAssignment {
  /** Role assignment name (GUID). */
  name: string;
  principalId: string;
  roleDefinitionGuid: string;
  /** `/providers/Microsoft.Management/managementGroups/x`, `/subscriptions/x` or `/subscriptions/x/resourceGroups/y`. */
  scope: string;
}

export interface DefenderDataset {
  tenantId: string;
  managementGroups: DatasetManagementGroup[];
  subscriptions: DatasetSubscription[];
  recommendations: DatasetRecommendation[];
  resources: DatasetResource[];
  assessments: DatasetAssessment[];
  users: DatasetUser[];
  roleAssignments: DatasetRoleAssignment[];
  /** Resource groups that carry tags (others have none). */
  resourceGroups?: DatasetResourceGroup[];
  governanceRules?: DatasetGovernanceRule[];
}

// ---------------------------------------------------------------------------------------------
// Deterministic helpers

/** mulberry32: tiny, fast, good enough to make data look varied while staying reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Name-based GUID, so ids stay stable when the list of things around them changes. */
export function stableGuid(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

// ---------------------------------------------------------------------------------------------
// Built-in catalogue

export const TENANT_ID = '72f988bf-0000-4c1e-9a5b-3f6d2c8e1a40';
export const ROOT_MANAGEMENT_GROUP = 'mg-contoso';
export const CHILD_MANAGEMENT_GROUP = 'mg-contoso-prod';

export const BUILTIN_SUBSCRIPTIONS: DatasetSubscription[] = [
  { subscriptionId: '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2', displayName: 'Contoso Production', managementGroup: CHILD_MANAGEMENT_GROUP },
  { subscriptionId: 'a7d4e9f0-2b6c-4f18-8e53-1c9d7b2a6f04', displayName: 'Contoso Shared Services', managementGroup: CHILD_MANAGEMENT_GROUP },
  { subscriptionId: 'c5e1a3b7-9f2d-4c06-b8e4-6d0f2a9c1e73', displayName: 'Contoso Development', managementGroup: ROOT_MANAGEMENT_GROUP },
];

const VM = 'Microsoft.Compute/virtualMachines';
const VMSS = 'Microsoft.Compute/virtualMachineScaleSets';
const STORAGE = 'Microsoft.Storage/storageAccounts';
const SQL = 'Microsoft.Sql/servers';
const KV = 'Microsoft.KeyVault/vaults';
const AKS = 'Microsoft.ContainerService/managedClusters';
const WEB = 'Microsoft.Web/sites';
const VNET = 'Microsoft.Network/virtualNetworks';
const SUB = 'Microsoft.Resources/subscriptions';

function policy(id: string): string {
  return `/providers/Microsoft.Authorization/policyDefinitions/${id}`;
}

function steps(intro: string, items: string[], link?: string): string {
  const li = items.map((s) => `<li>${s}</li>`).join('');
  const more = link ? `<br>For more information, see <a href="${link}" target="_blank">the documentation</a>.` : '';
  return `${intro}<br><ol>${li}</ol>${more}`;
}

type RecSpec = Omit<DatasetRecommendation, 'key'> & { key?: string };

/**
 * Keys with a literal value are the real Defender assessment keys (from Microsoft's recommendation
 * reference pages); the others get a name-derived GUID because no source was at hand to confirm them.
 */
const RECOMMENDATION_SPECS: RecSpec[] = [
  {
    key: '21300918-b2e3-0346-785f-c77ff57d243b',
    displayName: 'Install endpoint protection solution on virtual machine scale sets',
    severity: 'Medium',
    resourceType: VMSS,
    unhealthyRate: 0.5,
    description: 'Install an endpoint protection solution on your virtual machines scale sets, to protect them from threats and vulnerabilities.',
    remediationDescription: steps('To install an endpoint protection solution:', [
      'Follow the instructions in <a href="https://learn.microsoft.com/azure/security-center/security-center-endpoint-protection">How do I turn on antimalware in my virtual machine scale set</a>.',
    ]),
    categories: ['Compute'],
    threats: ['dataExfiltration', 'dataSpillage', 'maliciousInsider'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('26a828e1-e88f-464e-bbb3-c134a282b9de'),
  },
  {
    key: 'd1db3318-01ff-16de-29eb-28b344515626',
    displayName: 'Log Analytics agent should be installed on virtual machines',
    severity: 'High',
    resourceType: VM,
    unhealthyRate: 0.3,
    description:
      'Defender for Cloud collects data from your Azure virtual machines (VMs) to monitor for security vulnerabilities and threats. Data is collected using the Log Analytics agent, which reads security-related configurations and event logs from the machine.',
    remediationDescription: steps('To install the agent:', [
      'Go to <b>Environment settings</b> and select the subscription.',
      'Turn on <b>auto provisioning</b> for the Log Analytics agent.',
      'Or install the agent manually from the virtual machine <b>Extensions</b> blade.',
    ]),
    categories: ['Compute'],
    threats: ['dataExfiltration', 'threatResistance'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('a4fe33eb-e377-4efb-ab31-0784311bc499'),
  },
  {
    key: 'c476dc48-8110-4139-91af-c8d940896b98',
    displayName: 'Machines should be configured securely',
    severity: 'Low',
    resourceType: VM,
    unhealthyRate: 0.6,
    description: 'Remediate vulnerabilities in security configuration on your machines to protect them from attacks.',
    remediationDescription: steps('To remediate the security configuration findings:', [
      'Select a machine from the unhealthy list.',
      'Review the failed rules and the expected values.',
      'Apply the recommended configuration through Group Policy or your configuration management tool.',
    ]),
    categories: ['Compute'],
    threats: ['elevationOfPrivilege', 'maliciousInsider'],
    userImpact: 'Moderate',
    implementationEffort: 'Moderate',
    policyDefinitionId: policy('e1e5fd5d-3e4c-4ce1-8661-7d1873ae6b15'),
  },
  {
    key: 'ffff0522-1e88-47fc-8382-2a80ba848f5d',
    displayName: 'Machines should have a vulnerability assessment solution',
    severity: 'Medium',
    resourceType: VM,
    unhealthyRate: 0.35,
    description:
      "Defender for Cloud regularly checks your connected machines to ensure they're running vulnerability assessment tools. Use this recommendation to deploy a vulnerability assessment solution.",
    remediationDescription: steps('To deploy the integrated scanner:', [
      'Select the unhealthy machines.',
      'Select <b>Fix</b> and choose <b>Microsoft Defender Vulnerability Management</b>.',
      'Select <b>Proceed</b>; findings appear within a few hours.',
    ]),
    categories: ['Compute'],
    threats: ['dataExfiltration', 'elevationOfPrivilege'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('501541f7-f7e7-4cd6-868c-4190fdad3ac9'),
  },
  {
    key: '1195afff-c881-495e-9bc5-1486211ae03f',
    displayName: 'Machines should have vulnerability findings resolved',
    severity: 'Low',
    resourceType: VM,
    unhealthyRate: 0.55,
    description: 'Resolve the findings from the vulnerability assessment solutions on your virtual machines.',
    remediationDescription: steps('To resolve the findings:', [
      'Open the recommendation and review the <b>Security checks</b> list.',
      'Apply the vendor patch or configuration change for each finding.',
      'Wait for the next scan to confirm the fix.',
    ]),
    categories: ['Compute'],
    threats: ['dataExfiltration', 'elevationOfPrivilege'],
    userImpact: 'Moderate',
    implementationEffort: 'Moderate',
    policyDefinitionId: policy('501541f7-f7e7-4cd6-868c-4190fdad3ac9'),
  },
  {
    key: '805651bc-6ecd-4c73-9b55-97a19d0582d0',
    displayName: 'Management ports of virtual machines should be protected with just-in-time network access control',
    severity: 'High',
    resourceType: VM,
    unhealthyRate: 0.45,
    description:
      'Defender for Cloud has identified some overly permissive inbound rules for management ports in your Network Security Group. Enable just-in-time access control to protect your VM from internet-based brute-force attacks.',
    remediationDescription: steps(
      'To enable JIT VM access:',
      [
        'Select the virtual machines from the <b>Unhealthy resources</b> tab.',
        'Select <b>Enable JIT on VMs</b>.',
        'Keep the default ports (22, 3389, 5985, 5986) or add your own, then select <b>Save</b>.',
      ],
      'https://learn.microsoft.com/azure/defender-for-cloud/just-in-time-access-usage',
    ),
    categories: ['Networking'],
    threats: ['accountBreach', 'dataExfiltration'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('b0f33259-77d7-4c9e-aac6-3aabcfae693c'),
  },
  {
    key: '56a6e81f-7413-4f72-9a1b-aaeeaa87c872',
    displayName: 'Microsoft Defender for servers should be enabled',
    severity: 'High',
    resourceType: SUB,
    unhealthyRate: 0.67,
    description:
      'Microsoft Defender for servers provides real-time threat protection for your server workloads and generates hardening recommendations as well as alerts about suspicious activities.',
    remediationDescription: steps('To enable Defender for Servers:', [
      'Open <b>Environment settings</b> and select the subscription.',
      'Set the <b>Servers</b> plan to <b>On</b>.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Compute'],
    threats: ['threatResistance'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('4da35fc9-c9e7-4960-aec9-797fe7d9051d'),
  },
  {
    key: '69ad830b-d98c-b1cf-2158-9d69d38c7093',
    displayName: 'Secure Boot should be enabled on supported Windows virtual machines',
    severity: 'Low',
    resourceType: VM,
    unhealthyRate: 0.3,
    description:
      'Enable Secure Boot on supported Windows virtual machines to mitigate against malicious and unauthorized changes to the boot chain. Once enabled, only trusted bootloaders, kernel, and kernel drivers will be allowed to run.',
    remediationDescription: steps('To enable Secure Boot:', [
      'Stop the virtual machine.',
      'Under <b>Configuration</b>, set <b>Secure boot</b> to enabled.',
      'Start the virtual machine.',
    ]),
    categories: ['Compute'],
    threats: ['elevationOfPrivilege'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    key: 'bd20bd91-aaf1-7f14-b6e4-866de2f43146',
    displayName: 'System updates on virtual machine scale sets should be installed',
    severity: 'High',
    resourceType: VMSS,
    unhealthyRate: 0.5,
    description: 'Install missing system security and critical updates to secure your Windows and Linux virtual machine scale sets.',
    remediationDescription: steps('To install the missing updates:', [
      'Review the list of missing updates.',
      'Update the scale set image or enable automatic OS image upgrades.',
      'Upgrade the instances to the latest model.',
    ]),
    categories: ['Compute'],
    threats: ['dataExfiltration', 'elevationOfPrivilege'],
    userImpact: 'Moderate',
    implementationEffort: 'Moderate',
    policyDefinitionId: policy('c3f317a7-a95c-4547-b7e7-11017ebdf2fe'),
  },
  {
    key: '4ab6e3c5-74dd-8b35-9ab9-f61b30875b27',
    displayName: 'System updates should be installed on your machines',
    severity: 'High',
    resourceType: VM,
    unhealthyRate: 0.5,
    description: 'Install missing system security and critical updates to secure your Windows and Linux virtual machines and computers.',
    remediationDescription: steps(
      'To install the missing system updates:',
      [
        'Select a machine to see the missing updates.',
        'Select <b>Install updates</b> (Azure Update Manager).',
        'Schedule a maintenance window for recurring patching.',
      ],
      'https://learn.microsoft.com/azure/update-manager/overview',
    ),
    categories: ['Compute'],
    threats: ['dataExfiltration', 'elevationOfPrivilege', 'maliciousInsider'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('86b3d65f-7626-441e-b690-81a8b71cff60'),
  },
  {
    key: '8941d121-f740-35f6-952c-6561d2b38d36',
    displayName: 'Virtual machine scale sets should be configured securely',
    severity: 'High',
    resourceType: VMSS,
    unhealthyRate: 0.4,
    description: 'Remediate vulnerabilities in security configuration on your virtual machine scale sets to protect them from attacks.',
    remediationDescription: steps('To remediate:', [
      'Review the failed OS configuration rules.',
      'Fix the configuration in the scale set image.',
      'Roll the new image out to all instances.',
    ]),
    categories: ['Compute'],
    threats: ['elevationOfPrivilege'],
    userImpact: 'Moderate',
    implementationEffort: 'High',
    policyDefinitionId: policy('3c735d8a-a4ba-4a3a-b7cf-db7754cf57f4'),
  },
  {
    key: 'b7604066-ed76-45f9-a5c1-c97e4812dc55',
    displayName: 'Virtual machines guest attestation status should be healthy',
    severity: 'Medium',
    resourceType: VM,
    unhealthyRate: 0.15,
    description:
      'Guest attestation is performed by sending a trusted log (TCGLog) to an attestation server. The server uses these logs to determine whether boot components are trustworthy.',
    remediationDescription: steps('To investigate:', [
      'Check the guest attestation extension status.',
      'Compare boot components against a known-good baseline.',
      'Redeploy the machine from a trusted image if the boot chain is compromised.',
    ]),
    categories: ['Compute'],
    threats: ['elevationOfPrivilege'],
    userImpact: 'Low',
    implementationEffort: 'Moderate',
  },
  {
    key: '69133b6b-695a-43eb-a763-221e19556755',
    displayName: "Virtual machines' Guest Configuration extension should be deployed with system-assigned managed identity",
    severity: 'Medium',
    resourceType: VM,
    unhealthyRate: 0.25,
    description:
      'The Guest Configuration extension requires a system assigned managed identity. Azure virtual machines will be non-compliant when they have the extension installed but do not have a system assigned managed identity.',
    remediationDescription: steps('To enable the identity:', [
      'Open the virtual machine and select <b>Identity</b>.',
      'Set <b>System assigned</b> to <b>On</b> and select <b>Save</b>.',
    ]),
    categories: ['Compute'],
    threats: ['elevationOfPrivilege'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('d26f7642-7545-4e18-9b75-8c9bbdee3a9a'),
  },
  {
    key: '45d313c3-3fca-5040-035f-d61928366d31',
    displayName: 'Access to storage accounts with firewall and virtual network configurations should be restricted',
    severity: 'Low',
    resourceType: STORAGE,
    unhealthyRate: 0.5,
    description:
      'Review the settings of network access in your storage account firewall settings. We recommended configuring network rules so that only applications from allowed networks can access the storage account.',
    remediationDescription: steps('To restrict network access:', [
      'Open the storage account and select <b>Networking</b>.',
      'Select <b>Enabled from selected virtual networks and IP addresses</b>.',
      'Add the allowed virtual networks and IP ranges, then <b>Save</b>.',
    ]),
    categories: ['Networking', 'Data'],
    threats: ['dataExfiltration'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('34c877ad-507e-4c82-993e-3452a6e0ad3c'),
  },
  {
    key: 'f9f0eed0-f143-47bf-b856-671ea2eeed62',
    displayName: 'Adaptive network hardening recommendations should be applied on internet facing virtual machines',
    severity: 'High',
    resourceType: VM,
    unhealthyRate: 0.2,
    description:
      'Defender for Cloud has analyzed the internet traffic communication patterns of the virtual machines and determined that the existing rules in the NSGs associated to them are overly permissive, resulting in an increased potential attack surface.',
    remediationDescription: steps('To apply the hardening rules:', [
      'Select a virtual machine.',
      'Review the suggested rules on the <b>Rules</b> tab.',
      'Select <b>Enforce</b>.',
    ]),
    categories: ['Networking'],
    threats: ['dataExfiltration', 'denialOfService'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('08e6af2d-db70-460a-bfe9-d5bd474ba9d6'),
  },
  {
    key: '3b20e985-f71f-483b-b078-f30d73936d43',
    displayName: 'All network ports should be restricted on network security groups associated to your virtual machine',
    severity: 'High',
    resourceType: VM,
    unhealthyRate: 0.25,
    description:
      "Defender for Cloud has identified some of your network security groups' inbound rules to be too permissive. Inbound rules should not allow access from 'Any' or 'Internet' ranges.",
    remediationDescription: steps('To restrict the rules:', [
      'Open the network security group of the machine.',
      'Edit the inbound rules whose source is <code>Any</code> or <code>Internet</code>.',
      'Limit the source to the address ranges that need access.',
    ]),
    categories: ['Networking'],
    threats: ['dataExfiltration', 'accountBreach'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('9daedab3-fb2d-461e-b861-71790eead4f6'),
  },
  {
    key: 'e3de1cc0-f4dd-3b34-e496-8b5381ba2d70',
    displayName: 'Azure DDoS Protection Standard should be enabled',
    severity: 'Medium',
    resourceType: VNET,
    unhealthyRate: 0.6,
    description:
      'Defender for Cloud has discovered virtual networks with Application Gateway resources unprotected by the DDoS protection service. These resources contain public IPs.',
    remediationDescription: steps('To enable DDoS protection:', [
      'Create a DDoS protection plan.',
      'Open the virtual network and select <b>DDoS protection</b>.',
      'Select <b>Enable</b> and pick the plan.',
    ]),
    categories: ['Networking'],
    threats: ['denialOfService'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('a7aca53f-2ed4-4466-a25e-0b45ade68efd'),
  },
  {
    key: '483f12ed-ae23-447e-a2de-a67a10db4353',
    displayName: 'Internet-facing virtual machines should be protected with network security groups',
    severity: 'High',
    resourceType: VM,
    unhealthyRate: 0.2,
    description:
      'Protect your VM from potential threats by restricting access to it with a network security group (NSG). NSGs contain a list of Access Control List (ACL) rules that allow or deny network traffic to your VM.',
    remediationDescription: steps('To enable an NSG:', [
      'Select a virtual machine.',
      'Under <b>Networking</b>, associate a network security group with the network interface or subnet.',
      'Add rules that allow only the required traffic.',
    ]),
    categories: ['Networking'],
    threats: ['dataExfiltration', 'maliciousInsider'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('f6de0be7-9a8a-4b8a-b349-43cf02d22f7c'),
  },
  {
    key: 'c3b51c94-588b-426b-a892-24696f9e54cc',
    displayName: 'IP forwarding on your virtual machine should be disabled',
    severity: 'Medium',
    resourceType: VM,
    unhealthyRate: 0.1,
    description:
      'Defender for Cloud has discovered that IP forwarding is enabled on some of your virtual machines. IP forwarding is rarely required, and therefore, this should be reviewed by the network security team.',
    remediationDescription: steps('To disable IP forwarding:', [
      'Open the network interface of the machine.',
      'Select <b>IP configurations</b>.',
      'Set <b>IP forwarding</b> to <b>Disabled</b> and <b>Save</b>.',
    ]),
    categories: ['Networking'],
    threats: ['dataExfiltration'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('bd352bd5-2853-4985-bf0d-73806b4a5744'),
  },
  {
    key: 'bc303248-3d14-44c2-96a0-55f5c326b5fe',
    displayName: 'Management ports should be closed on your virtual machines',
    severity: 'Medium',
    resourceType: VM,
    unhealthyRate: 0.3,
    description:
      'Open remote management ports are exposing your VM to a high level of risk from Internet-based attacks. These attacks attempt to brute force credentials to gain admin access to the machine.',
    remediationDescription: steps('To close the ports:', [
      'Open the network security group of the machine.',
      'Remove or restrict the inbound rules for ports 22 and 3389.',
      'Use just-in-time access or Azure Bastion for administration.',
    ]),
    categories: ['Networking'],
    threats: ['accountBreach'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    policyDefinitionId: policy('22730e10-96f6-4aac-ad84-9383d35b5917'),
  },
  {
    key: 'a9341235-9389-42f0-a0bf-9bfb57960d44',
    displayName: 'Non-internet-facing virtual machines should be protected with network security groups',
    severity: 'Low',
    resourceType: VM,
    unhealthyRate: 0.35,
    description: 'Protect your non-internet-facing virtual machine from potential threats by restricting access to it with a network security group (NSG).',
    remediationDescription: steps('To enable an NSG:', [
      'Select a virtual machine.',
      'Associate a network security group with its subnet or network interface.',
    ]),
    categories: ['Networking'],
    threats: ['maliciousInsider'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('bb91dfba-c30d-4263-9add-9c2384e659a6'),
  },
  {
    key: '1c5de8e1-f68d-6a17-e0d2-ec259c42768c',
    displayName: 'Secure transfer to storage accounts should be enabled',
    severity: 'High',
    resourceType: STORAGE,
    unhealthyRate: 0.3,
    description:
      'Secure transfer is an option that forces your storage account to accept requests only from secure connections (HTTPS). Use of HTTPS ensures authentication between the server and the service and protects data in transit.',
    remediationDescription: steps('To enable secure transfer:', [
      'Open the storage account and select <b>Configuration</b>.',
      'Set <b>Secure transfer required</b> to <b>Enabled</b>.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data'],
    threats: ['dataExfiltration', 'dataSpillage'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('404c3081-a854-4457-ae30-26a93ef643f9'),
  },
  {
    key: 'eade5b56-eefd-444f-95c8-23f29e5d93cb',
    displayName: 'Subnets should be associated with a network security group',
    severity: 'Low',
    resourceType: VNET,
    unhealthyRate: 0.5,
    description: 'Protect your subnet from potential threats by restricting access to it with a network security group (NSG).',
    remediationDescription: steps('To associate an NSG:', [
      'Open the virtual network and select <b>Subnets</b>.',
      'Select the subnet and choose a network security group.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Networking'],
    threats: ['dataExfiltration'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    policyDefinitionId: policy('e71308d3-144b-4262-b144-efdc3cc90517'),
  },
  {
    key: 'f67fb4ed-d481-44d7-91e5-efadf504f74a',
    displayName: 'Virtual networks should be protected by Azure Firewall',
    severity: 'Low',
    resourceType: VNET,
    unhealthyRate: 0.75,
    description:
      "Some of your virtual networks aren't protected with a firewall. Use Azure Firewall to restrict access to your virtual networks and prevent potential threats.",
    remediationDescription: steps('To protect the network:', [
      'Deploy Azure Firewall in a hub network.',
      'Route the spoke network traffic through the firewall with a user-defined route.',
    ]),
    categories: ['Networking'],
    threats: ['dataExfiltration'],
    userImpact: 'Low',
    implementationEffort: 'High',
    policyDefinitionId: policy('fc5e4038-4584-4632-8c85-c0448d374b2c'),
  },
  // Keys below are name-derived (not confirmed against Microsoft's catalogue).
  {
    displayName: 'Storage account public access should be disallowed',
    severity: 'Medium',
    resourceType: STORAGE,
    unhealthyRate: 0.35,
    description:
      'Anonymous public read access to containers and blobs in Azure Storage is a convenient way to share data but might present security risks. Disallow public access at the account level.',
    remediationDescription: steps('To disallow public access:', [
      'Open the storage account and select <b>Configuration</b>.',
      'Set <b>Allow Blob anonymous access</b> to <b>Disabled</b>.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data'],
    threats: ['dataExfiltration', 'dataSpillage'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Storage account should use a private link connection',
    severity: 'Medium',
    resourceType: STORAGE,
    unhealthyRate: 0.6,
    description: 'Private links enforce secure communication, by providing private connectivity to the storage account.',
    remediationDescription: steps('To add a private endpoint:', [
      'Open the storage account and select <b>Networking</b> &gt; <b>Private endpoint connections</b>.',
      'Select <b>+ Private endpoint</b> and follow the wizard.',
    ]),
    categories: ['Data', 'Networking'],
    threats: ['dataExfiltration'],
    userImpact: 'Moderate',
    implementationEffort: 'Moderate',
  },
  {
    displayName: 'Key vaults should have purge protection enabled',
    severity: 'Medium',
    resourceType: KV,
    unhealthyRate: 0.5,
    description:
      'Malicious deletion of a key vault can lead to permanent data loss. Purge protection enforces a mandatory retention period for soft deleted key vaults.',
    remediationDescription: steps('To enable purge protection:', [
      'Open the key vault and select <b>Properties</b>.',
      'Select <b>Enable purge protection</b>.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data'],
    threats: ['dataSpillage', 'maliciousInsider'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Key vaults should have soft delete enabled',
    severity: 'High',
    resourceType: KV,
    unhealthyRate: 0.2,
    description: 'Deleting a key vault without soft delete enabled permanently deletes all secrets, keys, and certificates stored in the key vault.',
    remediationDescription: steps('To enable soft delete:', ['Run <code>az keyvault update --name &lt;vault&gt; --enable-soft-delete true</code>.']),
    categories: ['Data'],
    threats: ['dataSpillage'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Firewall should be enabled on Key Vault',
    severity: 'Medium',
    resourceType: KV,
    unhealthyRate: 0.45,
    description:
      "Key vault's firewall prevents unauthorized traffic from reaching your key vault and provides an additional layer of protection for your secrets.",
    remediationDescription: steps('To enable the firewall:', [
      'Open the key vault and select <b>Networking</b>.',
      'Select <b>Allow public access from specific virtual networks and IP addresses</b>.',
      'Add the allowed networks and <b>Apply</b>.',
    ]),
    categories: ['Data', 'Networking'],
    threats: ['dataExfiltration'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
  },
  {
    displayName: 'SQL servers should have an Azure Active Directory administrator provisioned',
    severity: 'High',
    resourceType: SQL,
    unhealthyRate: 0.35,
    description:
      'Provision an Azure AD administrator for your SQL server to enable Azure AD authentication. Azure AD authentication enables simplified permission management and centralized identity management.',
    remediationDescription: steps('To provision an administrator:', [
      'Open the SQL server and select <b>Microsoft Entra ID</b>.',
      'Select <b>Set admin</b> and choose a user or group.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data', 'IdentityAndAccess'],
    threats: ['accountBreach', 'maliciousInsider'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Auditing on SQL server should be enabled',
    severity: 'Low',
    resourceType: SQL,
    unhealthyRate: 0.4,
    description: 'Enable auditing on your SQL Server to track database activities across all databases on the server and save them in an audit log.',
    remediationDescription: steps('To enable auditing:', [
      'Open the SQL server and select <b>Auditing</b>.',
      'Turn on <b>Enable Azure SQL Auditing</b> and pick a destination.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data'],
    threats: ['maliciousInsider'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'SQL databases should have vulnerability findings resolved',
    severity: 'High',
    resourceType: SQL,
    unhealthyRate: 0.5,
    description:
      'SQL Vulnerability assessment scans your database for security vulnerabilities, and exposes any deviations from best practices such as misconfigurations, excessive permissions, and unprotected sensitive data.',
    remediationDescription: steps('To resolve the findings:', [
      'Open the recommendation and select a database.',
      'Apply the remediation script of each failed check.',
      'Or approve the current state as a baseline.',
    ]),
    categories: ['Data'],
    threats: ['dataExfiltration', 'elevationOfPrivilege'],
    userImpact: 'Moderate',
    implementationEffort: 'Moderate',
  },
  {
    displayName: 'Azure Kubernetes Service clusters should have Defender profile enabled',
    severity: 'High',
    resourceType: AKS,
    unhealthyRate: 0.5,
    description:
      'Microsoft Defender for Containers provides cloud-native Kubernetes security capabilities including environment hardening, workload protection, and run-time protection.',
    remediationDescription: steps('To enable the profile:', [
      'Run <code>az aks update --enable-defender --resource-group &lt;rg&gt; --name &lt;cluster&gt;</code>.',
    ]),
    categories: ['Compute'],
    threats: ['threatResistance'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Authorized IP ranges should be defined on Kubernetes Services',
    severity: 'High',
    resourceType: AKS,
    unhealthyRate: 0.5,
    description: 'Restrict access to the Kubernetes Service Management API by granting API access only to IP addresses in specific ranges.',
    remediationDescription: steps('To define authorized ranges:', [
      'Run <code>az aks update --api-server-authorized-ip-ranges &lt;cidrs&gt;</code> for the cluster.',
    ]),
    categories: ['Compute', 'Networking'],
    threats: ['dataExfiltration', 'accountBreach'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Role-Based Access Control should be used on Kubernetes Services',
    severity: 'High',
    resourceType: AKS,
    unhealthyRate: 0.25,
    description:
      'To provide granular filtering on the actions that users can perform, use Role-Based Access Control (RBAC) to manage permissions in Kubernetes Service Clusters.',
    remediationDescription: steps('To use RBAC:', [
      'RBAC can only be enabled when the cluster is created.',
      'Recreate the cluster with <code>--enable-rbac</code> and migrate the workloads.',
    ]),
    categories: ['Compute', 'IdentityAndAccess'],
    threats: ['elevationOfPrivilege'],
    userImpact: 'High',
    implementationEffort: 'High',
  },
  {
    displayName: 'Web Application should only be accessible over HTTPS',
    severity: 'Medium',
    resourceType: WEB,
    unhealthyRate: 0.3,
    description: 'Use of HTTPS ensures server/service authentication and protects data in transit from network layer eavesdropping attacks.',
    remediationDescription: steps('To redirect HTTP to HTTPS:', [
      'Open the app and select <b>Configuration</b> &gt; <b>General settings</b>.',
      'Set <b>HTTPS Only</b> to <b>On</b>.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data'],
    threats: ['dataExfiltration'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
  },
  {
    displayName: 'TLS should be updated to the latest version for web apps',
    severity: 'High',
    resourceType: WEB,
    unhealthyRate: 0.3,
    description: 'Upgrade to the latest TLS version to benefit from security fixes and improved performance.',
    remediationDescription: steps('To update TLS:', [
      'Open the app and select <b>Configuration</b> &gt; <b>General settings</b>.',
      'Set <b>Minimum Inbound TLS Version</b> to <b>1.2</b> or later.',
      'Select <b>Save</b>.',
    ]),
    categories: ['Data'],
    threats: ['dataExfiltration'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'FTPS should be required in web apps',
    severity: 'High',
    resourceType: WEB,
    unhealthyRate: 0.4,
    description: 'Enforce FTPS for enhanced security.',
    remediationDescription: steps('To require FTPS:', [
      'Open the app and select <b>Configuration</b> &gt; <b>General settings</b>.',
      'Set <b>FTP state</b> to <b>FTPS only</b> or <b>Disabled</b>.',
    ]),
    categories: ['Data'],
    threats: ['dataExfiltration'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Managed identity should be used in web apps',
    severity: 'Medium',
    resourceType: WEB,
    unhealthyRate: 0.55,
    description:
      'For enhanced authentication security, use a managed identity. On Azure, managed identities eliminate the need for developers to have to manage credentials.',
    remediationDescription: steps('To turn on a managed identity:', ['Open the app and select <b>Identity</b>.', 'Set <b>System assigned</b> to <b>On</b>.']),
    categories: ['IdentityAndAccess'],
    threats: ['accountBreach'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
  {
    displayName: 'Diagnostic logs in App Service should be enabled',
    severity: 'Low',
    resourceType: WEB,
    unhealthyRate: 0.6,
    description:
      'Audit enabling of diagnostic logs on the app. This enables you to recreate activity trails for investigation purposes if a security incident occurs or your network is compromised.',
    remediationDescription: steps('To enable diagnostic logs:', [
      'Open the app and select <b>Diagnostic settings</b>.',
      'Add a setting that sends the HTTP and app logs to a Log Analytics workspace.',
    ]),
    categories: ['Compute'],
    threats: ['maliciousInsider'],
    userImpact: 'Low',
    implementationEffort: 'Low',
  },
];

export const BUILTIN_RECOMMENDATIONS: DatasetRecommendation[] = RECOMMENDATION_SPECS.map((r) => ({
  ...r,
  key: r.key ?? stableGuid('recommendation', r.displayName),
}));

const LOCATIONS = ['westeurope', 'northeurope', 'eastus2', 'swedencentral'] as const;

interface ResourcePlan {
  type: string;
  count: number;
  prefix: string;
  rgs: string[];
}

/** Names follow the Cloud Adoption Framework abbreviations so they read like a real estate. */
function planFor(env: 'prd' | 'shd' | 'dev'): ResourcePlan[] {
  return [
    { type: VM, count: 25, prefix: `vm-${env}-`, rgs: [`rg-${env}-web`, `rg-${env}-app`, `rg-${env}-batch`] },
    { type: VMSS, count: 4, prefix: `vmss-${env}-`, rgs: [`rg-${env}-app`] },
    { type: STORAGE, count: 14, prefix: `st${env}contoso`, rgs: [`rg-${env}-data`] },
    { type: SQL, count: 6, prefix: `sql-${env}-`, rgs: [`rg-${env}-data`] },
    { type: KV, count: 8, prefix: `kv-${env}-`, rgs: [`rg-${env}-security`] },
    { type: AKS, count: 4, prefix: `aks-${env}-`, rgs: [`rg-${env}-aks`] },
    { type: WEB, count: 10, prefix: `app-${env}-`, rgs: [`rg-${env}-web`] },
    { type: VNET, count: 4, prefix: `vnet-${env}-`, rgs: [`rg-${env}-network`] },
  ];
}

const WORKLOADS = ['portal', 'orders', 'billing', 'crm', 'hr', 'search', 'api', 'reports', 'etl', 'identity', 'payments', 'catalog', 'mail'];

const BASE_DATE = Date.parse('2025-06-01T00:00:00Z');
const DAY = 86_400_000;

const STATUS_TEXT: Record<AssessmentStatusCode, { cause?: string; description?: string }> = {
  Healthy: {},
  Unhealthy: {},
  NotApplicable: {
    cause: 'OffByPolicy',
    description: 'The effective policy for the assessment was evaluated to off - use Microsoft.Authorization/policyAssignments to turn this assessment on',
  },
};

function assess(rnd: () => number, resourceId: string, key: string, unhealthyRate: number): DatasetAssessment {
  const roll = rnd();
  const code: AssessmentStatusCode = roll < unhealthyRate ? 'Unhealthy' : roll > 0.96 ? 'NotApplicable' : 'Healthy';
  const first = BASE_DATE - Math.floor(30 + rnd() * 300) * DAY - Math.floor(rnd() * DAY);
  const change = Math.min(BASE_DATE - 3_600_000, first + Math.floor(rnd() * 30) * DAY + Math.floor(rnd() * DAY));
  return {
    resourceId,
    key,
    code,
    ...STATUS_TEXT[code],
    firstEvaluationDate: new Date(first).toISOString(),
    statusChangeDate: new Date(change).toISOString(),
  };
}

const USERS: Array<Omit<DatasetUser, 'id' | 'mail' | 'managerId'> & { manager?: string }> = [
  {
    userPrincipalName: 'carol.nguyen@contoso.com',
    displayName: 'Carol Nguyen',
    givenName: 'Carol',
    surname: 'Nguyen',
    jobTitle: 'Chief Information Security Officer',
    department: 'Security',
    officeLocation: 'Seattle',
  },
  {
    userPrincipalName: 'alice.johnson@contoso.com',
    displayName: 'Alice Johnson',
    givenName: 'Alice',
    surname: 'Johnson',
    jobTitle: 'Cloud Security Lead',
    department: 'Security',
    officeLocation: 'Seattle',
    manager: 'carol.nguyen@contoso.com',
  },
  {
    userPrincipalName: 'bob.martinez@contoso.com',
    displayName: 'Bob Martinez',
    givenName: 'Bob',
    surname: 'Martinez',
    jobTitle: 'Platform Engineer',
    department: 'Cloud Platform',
    officeLocation: 'Dublin',
    manager: 'alice.johnson@contoso.com',
  },
  {
    userPrincipalName: 'frank.osei@contoso.com',
    displayName: 'Frank Osei',
    givenName: 'Frank',
    surname: 'Osei',
    jobTitle: 'Security Operations Engineer',
    department: 'Security',
    officeLocation: 'London',
    manager: 'alice.johnson@contoso.com',
  },
  {
    userPrincipalName: 'dave.kim@contoso.com',
    displayName: 'Dave Kim',
    givenName: 'Dave',
    surname: 'Kim',
    jobTitle: 'Software Developer',
    department: 'Engineering',
    officeLocation: 'Dublin',
    manager: 'bob.martinez@contoso.com',
  },
  {
    userPrincipalName: 'erin.walsh@contoso.com',
    displayName: 'Erin Walsh',
    givenName: 'Erin',
    surname: 'Walsh',
    jobTitle: 'IT Auditor',
    department: 'Compliance',
    officeLocation: 'London',
    manager: 'carol.nguyen@contoso.com',
  },
  {
    userPrincipalName: 'grace.lee@contoso.com',
    displayName: 'Grace Lee',
    givenName: 'Grace',
    surname: 'Lee',
    jobTitle: 'Junior Developer',
    department: 'Engineering',
    officeLocation: 'Dublin',
    manager: 'bob.martinez@contoso.com',
  },
];

export function userObjectId(upn: string): string {
  return stableGuid('user', upn.toLowerCase());
}

const [PRD, SHD, DEV] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];

/** Who may manage what: the doc-level summary the lead needs is in the report; this is the source. */
const ROLE_PLAN: Array<{ upn: string; role: BuiltInRoleName; scope: string }> = [
  { upn: 'alice.johnson@contoso.com', role: 'Owner', scope: `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}` },
  { upn: 'carol.nguyen@contoso.com', role: 'Security Admin', scope: `/subscriptions/${PRD}` },
  { upn: 'carol.nguyen@contoso.com', role: 'Security Admin', scope: `/subscriptions/${SHD}` },
  { upn: 'carol.nguyen@contoso.com', role: 'Security Admin', scope: `/subscriptions/${DEV}` },
  { upn: 'bob.martinez@contoso.com', role: 'Contributor', scope: `/subscriptions/${PRD}` },
  { upn: 'bob.martinez@contoso.com', role: 'Contributor', scope: `/subscriptions/${SHD}` },
  { upn: 'frank.osei@contoso.com', role: 'Security Admin', scope: `/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}` },
  { upn: 'frank.osei@contoso.com', role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-dev-web` },
  { upn: 'dave.kim@contoso.com', role: 'Contributor', scope: `/subscriptions/${DEV}` },
  { upn: 'dave.kim@contoso.com', role: 'Reader', scope: `/subscriptions/${PRD}` },
  { upn: 'erin.walsh@contoso.com', role: 'Reader', scope: `/subscriptions/${PRD}` },
  { upn: 'erin.walsh@contoso.com', role: 'Reader', scope: `/subscriptions/${SHD}` },
  { upn: 'erin.walsh@contoso.com', role: 'Reader', scope: `/subscriptions/${DEV}` },
];

function buildUsers(): DatasetUser[] {
  return USERS.map((u) => {
    const { manager, ...rest } = u;
    return {
      ...rest,
      id: userObjectId(u.userPrincipalName),
      mail: u.userPrincipalName,
      ...(manager ? { managerId: userObjectId(manager) } : {}),
    };
  });
}

function buildRoleAssignments(): DatasetRoleAssignment[] {
  return ROLE_PLAN.map((r) => ({
    name: stableGuid('role-assignment', r.upn, r.role, r.scope),
    principalId: userObjectId(r.upn),
    roleDefinitionGuid: BUILTIN_ROLE_IDS[r.role],
    scope: r.scope,
  }));
}

/** A number in [0, 1) from a name, so tags do not disturb the seeded sequence the rest of the data comes from. */
function unitHash(...parts: string[]): number {
  return createHash('sha1').update(parts.join('|')).digest().readUInt32BE(0) / 2 ** 32;
}

/** Users that exist in the sandbox's Entra and ServiceNow alike. */
const TAG_OWNERS = ['alice.johnson', 'bob.martinez', 'frank.osei', 'dave.kim', 'grace.lee', 'erin.walsh'].map((u) => `${u}@contoso.com`);
const NOT_EMAILS = ['Team Payments', 'platform-team', 'n/a'];
/** Owners ServiceNow cannot assign: two active accounts share sam.rivera's e-mail; the other left. */
const UNASSIGNABLE = ['sam.rivera@contoso.com', 'former.employee@contoso.com'];
const ENV_TAG: Record<string, string> = { prd: 'production', shd: 'shared', dev: 'development' };

/**
 * Tags of a built-in resource, so every path of governance rules shows in the sandbox: an `owner`
 * tag on ~60% (an e-mail on 50%, mostly spelt `owner`, some `Owner`; not an e-mail on 5%; an owner
 * ServiceNow cannot assign on 5%), a `SecurityOwner` e-mail on another 15%, none on the rest.
 */
export function builtInResourceTags(id: string, env: string): Record<string, string> {
  const h = unitHash('owner-tag', id.toLowerCase());
  const who = TAG_OWNERS[Math.floor(unitHash('owner-who', id.toLowerCase()) * TAG_OWNERS.length)]!;
  const tags: Record<string, string> = { environment: ENV_TAG[env] ?? env };
  if (h < 0.1) tags.Owner = who;
  else if (h < 0.5) tags.owner = who;
  else if (h < 0.55) tags.owner = NOT_EMAILS[Math.floor(((h - 0.5) / 0.05) * NOT_EMAILS.length)]!;
  else if (h < 0.6) tags.owner = UNASSIGNABLE[h < 0.575 ? 0 : 1]!;
  else if (h < 0.75) tags.SecurityOwner = who;
  return tags;
}

/** Resource groups with owner tags of their own (inherited by their untagged resources). */
function builtInResourceGroups(): DatasetResourceGroup[] {
  const envs = ['prd', 'shd', 'dev'];
  return BUILTIN_SUBSCRIPTIONS.flatMap((sub, i): DatasetResourceGroup[] => [
    { subscriptionId: sub.subscriptionId, name: `rg-${envs[i]}-security`, tags: { owner: 'frank.osei@contoso.com', environment: ENV_TAG[envs[i]!]! } },
    { subscriptionId: sub.subscriptionId, name: `rg-${envs[i]}-network`, tags: { SecurityOwner: 'bob.martinez@contoso.com' } },
  ]);
}

const SUBSCRIPTION_TAGS: Record<string, Record<string, string>> = {
  [BUILTIN_SUBSCRIPTIONS[1]!.subscriptionId]: { SecurityOwner: 'alice.johnson@contoso.com', environment: 'shared' },
};

/**
 * Defender's own governance rules in the sandbox: one owner-by-tag rule on the root management
 * group, one by e-mail on the production subscription (a ServiceNow rule), one disabled.
 */
function builtInGovernanceRules(): DatasetGovernanceRule[] {
  const [prd, , dev] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];
  const kvKeys = BUILTIN_RECOMMENDATIONS.filter((r) => r.resourceType === KV).map((r) => r.key);
  return [
    {
      scope: `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`,
      name: stableGuid('governance-rule', 'high-by-owner-tag'),
      createdOn: '2025-05-02T08:15:00.0000000Z',
      properties: {
        displayName: 'High severity: owner from the owner tag',
        description: 'Every high-severity recommendation goes to the owner named in the resource tag.',
        remediationTimeframe: '14.00:00:00',
        isGracePeriod: true,
        rulePriority: 100,
        isDisabled: false,
        ruleType: 'Integrated',
        sourceResourceType: 'Assessments',
        excludedScopes: [],
        includeMemberScopes: true,
        conditionSets: [{ conditions: [{ property: '$.Metadata.Severity', value: 'High', operator: 'Equals' }] }],
        ownerSource: { type: 'ByTag', value: 'owner' },
        governanceEmailNotification: { disableManagerEmailNotification: false, disableOwnerEmailNotification: false },
      },
    },
    {
      scope: `/subscriptions/${prd}`,
      name: stableGuid('governance-rule', 'key-vaults-to-frank'),
      createdOn: '2025-05-09T13:40:00.0000000Z',
      properties: {
        displayName: 'Key Vault findings to Frank Osei',
        description: 'Key Vault recommendations in production, with a ServiceNow ticket.',
        remediationTimeframe: '7.00:00:00',
        isGracePeriod: false,
        rulePriority: 200,
        isDisabled: false,
        ruleType: 'ServiceNow',
        sourceResourceType: 'Assessments',
        conditionSets: [{ conditions: [{ property: '$.AssessmentKey', value: JSON.stringify(kvKeys), operator: 'In' }] }],
        ownerSource: { type: 'Manually', value: 'frank.osei@contoso.com' },
        governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: false },
      },
    },
    {
      scope: `/subscriptions/${dev}`,
      name: stableGuid('governance-rule', 'low-severity-backlog'),
      createdOn: '2025-04-21T10:05:00.0000000Z',
      properties: {
        displayName: 'Low severity backlog (disabled)',
        remediationTimeframe: '90.00:00:00',
        isGracePeriod: true,
        rulePriority: 300,
        isDisabled: true,
        ruleType: 'Integrated',
        sourceResourceType: 'Assessments',
        conditionSets: [{ conditions: [{ property: '$.Metadata.Severity', value: 'Low', operator: 'Equals' }] }],
        ownerSource: { type: 'Manually', value: 'dave.kim@contoso.com' },
        governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: true },
      },
    },
  ];
}

function builtInManagementGroups(): DatasetManagementGroup[] {
  return [
    { name: ROOT_MANAGEMENT_GROUP, displayName: 'Contoso' },
    { name: CHILD_MANAGEMENT_GROUP, displayName: 'Contoso Production', parent: ROOT_MANAGEMENT_GROUP },
  ];
}

/** The realistic dataset: 3 subscriptions, 40 recommendations, ~225 resources, ~1,600 assessments. */
export function builtInDataset(seed = 20250601): DefenderDataset {
  const rnd = seededRandom(seed);
  const resources: DatasetResource[] = [];
  const envs: Array<'prd' | 'shd' | 'dev'> = ['prd', 'shd', 'dev'];
  BUILTIN_SUBSCRIPTIONS.forEach((sub, i) => {
    const env = envs[i]!;
    resources.push({ id: `/subscriptions/${sub.subscriptionId}`, name: sub.subscriptionId, type: SUB, subscriptionId: sub.subscriptionId, location: 'global' });
    for (const plan of planFor(env)) {
      for (let n = 1; n <= plan.count; n++) {
        const workload = WORKLOADS[(n + i * 3) % WORKLOADS.length]!;
        const seq = String(n).padStart(2, '0');
        // Storage account names allow only lower-case letters and digits.
        const name = plan.type === STORAGE ? `${plan.prefix}${workload}${seq}` : `${plan.prefix}${workload}-${seq}`;
        const rg = pick(rnd, plan.rgs);
        const [ns, ...typeParts] = plan.type.split('/');
        resources.push({
          id: `/subscriptions/${sub.subscriptionId}/resourceGroups/${rg}/providers/${ns}/${typeParts.join('/')}/${name}`,
          name,
          type: plan.type,
          subscriptionId: sub.subscriptionId,
          resourceGroup: rg,
          location: pick(rnd, LOCATIONS),
        });
      }
    }
  });
  // After the seeded loop: tags come from name hashes, so the rest of the data is what it was before they existed.
  for (const r of resources) {
    const env = envs[BUILTIN_SUBSCRIPTIONS.findIndex((s) => s.subscriptionId === r.subscriptionId)]!;
    if (r.type !== SUB) r.tags = builtInResourceTags(r.id, env);
  }
  const assessments: DatasetAssessment[] = [];
  for (const rec of BUILTIN_RECOMMENDATIONS) {
    for (const res of resources) {
      if (res.type !== rec.resourceType) continue;
      assessments.push(assess(rnd, res.id, rec.key, rec.unhealthyRate));
    }
  }
  return {
    tenantId: TENANT_ID,
    managementGroups: builtInManagementGroups(),
    subscriptions: BUILTIN_SUBSCRIPTIONS.map((s) => ({
      ...s,
      ...(SUBSCRIPTION_TAGS[s.subscriptionId] ? { tags: { ...SUBSCRIPTION_TAGS[s.subscriptionId] } } : {}),
    })),
    recommendations: BUILTIN_RECOMMENDATIONS.map((r) => ({ ...r, categories: [...r.categories], threats: [...r.threats] })),
    resources,
    assessments,
    users: buildUsers(),
    roleAssignments: buildRoleAssignments(),
    resourceGroups: builtInResourceGroups(),
    governanceRules: builtInGovernanceRules(),
  };
}

export interface GenerateDatasetOptions {
  recommendations: number;
  /** Number of assessments (rows). Must not exceed resources × recommendations. */
  assessments: number;
  /** Defaults to one resource per 10 assessments. */
  resources?: number;
  /** Share of Unhealthy assessments; benchmarks usually want all of them (default 1). */
  unhealthyRatio?: number;
  seed?: number;
}

/**
 * Large synthetic dataset for benchmarks. Same tenant, groups, subscriptions, users and roles as the
 * built-in one, so role/graph calls keep working; recommendations and resources are synthetic.
 */
export function generateDataset(opts: GenerateDatasetOptions): DefenderDataset {
  const rnd = seededRandom(opts.seed ?? 42);
  const recCount = Math.max(1, opts.recommendations);
  const resCount = Math.max(1, opts.resources ?? Math.ceil(opts.assessments / 10));
  if (opts.assessments > recCount * resCount) {
    throw new Error(`cannot place ${opts.assessments} assessments on ${resCount} resources × ${recCount} recommendations`);
  }
  const unhealthyRatio = opts.unhealthyRatio ?? 1;
  const types = [VM, STORAGE, SQL, KV, AKS, WEB, VNET, VMSS];
  const sevs: Severity[] = ['High', 'Medium', 'Low'];
  const recommendations: DatasetRecommendation[] = [];
  for (let i = 0; i < recCount; i++) {
    const base = BUILTIN_RECOMMENDATIONS[i % BUILTIN_RECOMMENDATIONS.length]!;
    recommendations.push({
      ...base,
      key: stableGuid('generated-recommendation', String(i)),
      displayName: i < BUILTIN_RECOMMENDATIONS.length ? base.displayName : `${base.displayName} (variant ${Math.floor(i / BUILTIN_RECOMMENDATIONS.length)})`,
      severity: sevs[i % 3]!,
      resourceType: types[i % types.length]!,
      categories: [...base.categories],
      threats: [...base.threats],
    });
  }
  const resources: DatasetResource[] = [];
  for (let i = 0; i < resCount; i++) {
    const sub = BUILTIN_SUBSCRIPTIONS[i % BUILTIN_SUBSCRIPTIONS.length]!;
    const type = types[i % types.length]!;
    const rg = `rg-bench-${String(i % 40).padStart(2, '0')}`;
    const name = type === STORAGE ? `stbench${String(i).padStart(7, '0')}` : `bench-${type.split('/')[1]!.toLowerCase()}-${String(i).padStart(7, '0')}`;
    const [ns, ...typeParts] = type.split('/');
    resources.push({
      id: `/subscriptions/${sub.subscriptionId}/resourceGroups/${rg}/providers/${ns}/${typeParts.join('/')}/${name}`,
      name,
      type,
      subscriptionId: sub.subscriptionId,
      resourceGroup: rg,
      location: pick(rnd, LOCATIONS),
    });
  }
  const assessments: DatasetAssessment[] = [];
  for (let j = 0; j < opts.assessments; j++) {
    const r = j % resCount;
    const k = Math.floor(j / resCount);
    // (k + r) mod N is unique per resource for k < N, so no resource gets the same key twice.
    const rec = recommendations[(k + r) % recCount]!;
    assessments.push(assess(rnd, resources[r]!.id, rec.key, unhealthyRatio));
  }
  return {
    tenantId: TENANT_ID,
    managementGroups: builtInManagementGroups(),
    subscriptions: BUILTIN_SUBSCRIPTIONS.map((s) => ({ ...s })),
    recommendations,
    resources,
    assessments,
    users: buildUsers(),
    roleAssignments: buildRoleAssignments(),
  };
}
