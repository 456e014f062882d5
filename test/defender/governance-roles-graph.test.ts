import axios from 'axios';
import type { UnhealthyResource } from '../../core/defender-model.js';
import { AzureApiError, ticketNumberFromServiceNow } from '../../connectors/defender/azureClient.js';
import { BUILTIN_SUBSCRIPTIONS, CHILD_MANAGEMENT_GROUP, ROOT_MANAGEMENT_GROUP, userObjectId } from '../../sandbox/defender/dataset.js';
import { startHarness, type Harness } from './helpers.js';

const [PRD, SHD, DEV] = BUILTIN_SUBSCRIPTIONS.map((s) => s.subscriptionId) as [string, string, string];

let h: Harness;
let target: UnhealthyResource;
beforeAll(async () => {
  h = await startHarness();
  const rows: UnhealthyResource[] = [];
  await h.client.queryUnhealthyAssessments([`/subscriptions/${PRD}`], { onPage: (p) => void rows.push(...p) });
  target = rows.find((r) => r.resourceType === 'Microsoft.Compute/virtualMachines')!;
});
afterAll(async () => {
  await h.sim.close();
});

describe('governance assignments', () => {
  const key = 'b3f0c9a2-5d1e-4c77-9a0b-2f6e8d4c1a55';
  const body = {
    properties: {
      owner: 'bob.martinez@contoso.com',
      remediationDueDate: '2025-06-15T00:00:00.000Z',
      isGracePeriod: true,
      governanceEmailNotification: { disableManagerEmailNotification: false, disableOwnerEmailNotification: false },
      remediationEta: { eta: '2025-06-10T00:00:00.000Z', justification: 'Patch window on Tuesday' },
      additionalData: { ticketNumber: 10023, ticketLink: 'https://contoso.service-now.com/nav_to.do?uri=incident.do?sys_id=abc', ticketStatus: 'New' },
    },
  };

  it('PUT creates, PUT again updates, GET reads, DELETE removes', async () => {
    const created = await h.client.putGovernanceAssignment(target.resourceId, target.assessmentKey, key, body);
    expect(created).toMatchObject({
      id: `${target.assessmentId}/governanceAssignments/${key}`,
      name: key,
      type: 'Microsoft.Security/assessments/governanceAssignments',
      properties: { owner: 'bob.martinez@contoso.com', additionalData: { ticketNumber: 10023 } },
    });
    const puts = h.sim.control.requests().filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.status)).toEqual([201]);

    await h.client.putGovernanceAssignment(target.resourceId, target.assessmentKey, key, {
      properties: { ...body.properties, additionalData: { ...body.properties.additionalData, ticketStatus: 'In Progress' } },
    });
    expect(
      h.sim.control
        .requests()
        .filter((r) => r.method === 'PUT')
        .map((r) => r.status),
    ).toEqual([201, 200]);

    const listed = h.sim.control.listGovernanceAssignments();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      resourceId: target.resourceId,
      assessmentKey: target.assessmentKey,
      name: key,
      properties: { additionalData: { ticketStatus: 'In Progress' } },
    });

    const got = await h.client.getGovernanceAssignment(target.resourceId, target.assessmentKey, key);
    expect(got?.properties.additionalData?.ticketStatus).toBe('In Progress');

    expect(await h.client.deleteGovernanceAssignment(target.resourceId, target.assessmentKey, key)).toBe(true);
    expect(await h.client.getGovernanceAssignment(target.resourceId, target.assessmentKey, key)).toBeUndefined();
    expect(await h.client.deleteGovernanceAssignment(target.resourceId, target.assessmentKey, key)).toBe(false);
    expect(h.sim.control.listGovernanceAssignments()).toHaveLength(0);
  });

  it('refuses a body that breaks the spec, on both sides', async () => {
    const bad = { properties: { ...body.properties, additionalData: { ticketNumber: -1 } } };
    h.sim.control.resetRequestLog();
    await expect(h.client.putGovernanceAssignment(target.resourceId, target.assessmentKey, key, bad)).rejects.toThrow();
    expect(h.sim.control.requestCount({ method: 'PUT' })).toBe(0);

    const token = await h.credential.getToken('https://management.azure.com/.default');
    const url = `${h.sim.url}${target.assessmentId}/governanceAssignments/${key}?api-version=2022-01-01-preview`;
    for (const wrong of [
      { properties: { owner: 'x@contoso.com' } }, // remediationDueDate missing
      { properties: { ...body.properties, additionalData: { ticketNumber: 'INC0010023' } } },
      { properties: { ...body.properties, remediationEta: { eta: '2025-06-10T00:00:00Z' } } }, // justification missing
    ]) {
      const resp = await axios.put(url, wrong, { headers: { Authorization: `Bearer ${token.token}` }, validateStatus: () => true });
      expect(resp.status).toBe(400);
      expect(resp.data).toMatchObject({ error: { code: 'InvalidRequestContent' } });
    }
    const wrongVersion = await axios.put(url.replace('2022-01-01-preview', '2021-06-01'), body, {
      headers: { Authorization: `Bearer ${token.token}` },
      validateStatus: () => true,
    });
    expect(wrongVersion.status).toBe(400);
  });

  it('404s on an assessment that does not exist', async () => {
    const err = await h.client
      .putGovernanceAssignment(`/subscriptions/${PRD}/resourceGroups/rg-x/providers/Microsoft.Compute/virtualMachines/ghost`, target.assessmentKey, key, body)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AzureApiError);
    expect(err).toMatchObject({ status: 404 });
  });

  it('maps ServiceNow numbers to the int32 ticketNumber', () => {
    expect(ticketNumberFromServiceNow('INC0010023')).toBe(10023);
    expect(ticketNumberFromServiceNow('CHG0000001')).toBe(1);
    expect(ticketNumberFromServiceNow('INC99999999999')).toBeUndefined();
    expect(ticketNumberFromServiceNow('n/a')).toBeUndefined();
  });
});

describe('role checks', () => {
  const oid = (upn: string) => userObjectId(upn);

  it('inherits Owner from the management group', async () => {
    for (const sub of [PRD, SHD, DEV]) expect(await h.client.userRolesOnSubscription(oid('alice.johnson@contoso.com'), sub)).toEqual(['Owner']);
    expect(await h.client.canManage(oid('alice.johnson@contoso.com'), [PRD, SHD, DEV])).toBe(true);
  });

  it('a Reader cannot manage', async () => {
    expect(await h.client.userRolesOnSubscription(oid('erin.walsh@contoso.com'), PRD)).toEqual(['Reader']);
    expect(await h.client.canManage(oid('erin.walsh@contoso.com'), [PRD])).toBe(false);
  });

  it('requires a managing role on every subscription, ignoring resource-group grants', async () => {
    expect(await h.client.canManage(oid('bob.martinez@contoso.com'), [PRD, SHD])).toBe(true);
    expect(await h.client.canManage(oid('bob.martinez@contoso.com'), [PRD, DEV])).toBe(false);
    expect(await h.client.userRolesOnSubscription(oid('frank.osei@contoso.com'), SHD)).toEqual(['Security Admin']);
    expect(await h.client.userRolesOnSubscription(oid('frank.osei@contoso.com'), DEV)).toEqual([]);
    expect(await h.client.canManage(oid('dave.kim@contoso.com'), [DEV])).toBe(true);
    expect(await h.client.canManage(oid('dave.kim@contoso.com'), [PRD])).toBe(false);
    expect(await h.client.canManage(oid('grace.lee@contoso.com'), [DEV])).toBe(false);
    expect(await h.client.canManage(oid('alice.johnson@contoso.com'), [])).toBe(false);
  });

  it("lists a user's grants at a management group with those above and below it, or only at and above with atScope()", async () => {
    const root = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
    const child = `/providers/Microsoft.Management/managementGroups/${CHILD_MANAGEMENT_GROUP}`;
    const lc = (s: string) => s.toLowerCase();
    h.sim.control.resetRequestLog();
    // Frank: Security Admin on the child group, Contributor on a resource group of Development: both below the root.
    const frank = await h.client.roles.grantsAtScope(oid('frank.osei@contoso.com'), root);
    expect(frank).toEqual(
      expect.arrayContaining([
        { role: 'Security Admin', scope: lc(child) },
        { role: 'Contributor', scope: lc(`/subscriptions/${DEV}/resourceGroups/rg-dev-web`) },
      ]),
    );
    expect(frank).toHaveLength(2);
    expect(await h.client.roles.grantsAtScope(oid('frank.osei@contoso.com'), root, { atScopeOnly: true })).toEqual([]);
    // Alice: Owner on the root, which is above the child group.
    expect(await h.client.roles.grantsAtScope(oid('alice.johnson@contoso.com'), child, { atScopeOnly: true })).toEqual([{ role: 'Owner', scope: lc(root) }]);
    // Bob: subscription grants are below the child group, and his Shared Services grant is not under Development.
    expect(await h.client.roles.grantsAtScope(oid('bob.martinez@contoso.com'), child)).toHaveLength(2);
    expect(await h.client.roles.grantsAtScope(oid('bob.martinez@contoso.com'), `/subscriptions/${DEV}`)).toEqual([]);
    const reqs = h.sim.control.requests();
    expect(reqs[0]!.path).toBe(`${root}/providers/Microsoft.Authorization/roleAssignments`);
    expect(reqs[0]!.status).toBe(200);
    const err = await h.client.roles
      .grantsAtScope(oid('bob.martinez@contoso.com'), '/providers/Microsoft.Management/managementGroups/nope')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404 });
  });

  it('sends the documented filter and api-version', async () => {
    h.sim.control.resetRequestLog();
    await h.client.userRolesOnSubscription(oid('erin.walsh@contoso.com'), PRD);
    const reqs = h.sim.control.requests();
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.path).toBe(`/subscriptions/${PRD}/providers/Microsoft.Authorization/roleAssignments`);
  });
});

describe('Microsoft Graph', () => {
  it('finds a user and their manager', async () => {
    const bob = await h.client.getUser('bob.martinez@contoso.com');
    expect(bob).toMatchObject({ displayName: 'Bob Martinez', userPrincipalName: 'bob.martinez@contoso.com', id: userObjectId('bob.martinez@contoso.com') });
    const mgr = await h.client.getManager('bob.martinez@contoso.com');
    expect(mgr).toMatchObject({ userPrincipalName: 'alice.johnson@contoso.com', displayName: 'Alice Johnson' });
    expect(await h.client.getManager(bob!.id)).toMatchObject({ userPrincipalName: 'alice.johnson@contoso.com' });
  });

  it('returns undefined for a missing manager or user (Graph 404)', async () => {
    expect(await h.client.getManager('carol.nguyen@contoso.com')).toBeUndefined();
    expect(await h.client.getUser('nobody@contoso.com')).toBeUndefined();
    expect(await h.client.getManager('nobody@contoso.com')).toBeUndefined();
    const token = await h.credential.getToken('https://graph.microsoft.com/.default');
    const raw = await axios.get(`${h.sim.url}/v1.0/users/nobody@contoso.com/manager`, {
      headers: { Authorization: `Bearer ${token.token}` },
      validateStatus: () => true,
    });
    expect(raw.status).toBe(404);
    expect(raw.data).toMatchObject({ error: { code: 'Request_ResourceNotFound' } });
  });
});
