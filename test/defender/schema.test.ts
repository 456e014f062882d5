/**
 * Contract checks against Microsoft's OpenAPI files: what the client sends and what the
 * simulator answers must both fit the official definitions.
 */
import axios from 'axios';
import type { UnhealthyResource } from '../../core/defender-model.js';
import { BUILTIN_SUBSCRIPTIONS } from '../../sandbox/defender/dataset.js';
import { SPEC, validateDefinition, validateOperationRequest, validateOperationResponse } from './openapi.js';
import { startHarness, type Harness } from './helpers.js';

const PRD = BUILTIN_SUBSCRIPTIONS[0]!.subscriptionId;
const ARG_PATH = '/providers/Microsoft.ResourceGraph/resources';
const GOV_PATH = '/{scope}/providers/Microsoft.Security/assessments/{assessmentName}/governanceAssignments/{assignmentKey}';
const ASSESSMENT_PATH = '/{resourceId}/providers/Microsoft.Security/assessments/{assessmentName}';

let h: Harness;
let token: string;
let target: UnhealthyResource;
const rawArgResponses: unknown[] = [];

beforeAll(async () => {
  h = await startHarness({ pageSize: 50 });
  const rows: UnhealthyResource[] = [];
  await h.client.queryUnhealthyAssessments([`/subscriptions/${PRD}`, '/providers/Microsoft.Management/managementGroups/mg-contoso'], {
    onPage: (p) => void rows.push(...p),
  });
  target = rows[0]!;
  token = (await h.credential.getToken('https://management.azure.com/.default')).token;
  // Replay the client's own request bodies to capture the simulator's raw responses.
  for (const r of h.sim.control
    .requests()
    .filter((x) => x.kind === 'resourceGraph')
    .slice(0, 2)) {
    const resp = await axios.post(`${h.sim.url}${ARG_PATH}?api-version=2024-04-01`, r.body, { headers: { Authorization: `Bearer ${token}` } });
    rawArgResponses.push(resp.data);
  }
});
afterAll(async () => {
  await h.sim.close();
});

describe('the validator itself', () => {
  it('catches wrong types, enums, missing required fields and readOnly fields in requests', () => {
    expect(validateDefinition(SPEC.resourceGraph, 'QueryResponse', { totalRecords: 1, count: 1, resultTruncated: false, data: [] }).join()).toMatch(
      /resultTruncated/,
    );
    expect(validateDefinition(SPEC.resourceGraph, 'QueryRequest', { options: {} }).join()).toMatch(/missing required 'query'/);
    expect(validateDefinition(SPEC.resourceGraph, 'QueryRequest', { query: 'x', options: { $top: 5000 } }).join()).toMatch(/maximum/);
    expect(
      validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', {
        properties: { remediationDueDate: '2025-01-01T00:00:00Z', additionalData: { ticketNumber: 'INC1' } },
      }).join(),
    ).toMatch(/ticketNumber: expected integer/);
    expect(
      validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', { id: '/x', properties: { remediationDueDate: '2025-01-01T00:00:00Z' } }).join(),
    ).toMatch(/readOnly/);
    expect(
      validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', {
        properties: { remediationDueDate: '2025-01-01T00:00:00Z', ticketNumber: 1 },
      }).join(),
    ).toMatch(/not declared/);
    expect(
      validateDefinition(SPEC.assessments, 'SecurityAssessmentResponse', { properties: { resourceDetails: { source: 'Mars' }, status: { code: 'Broken' } } })
        .length,
    ).toBe(2);
  });
});

describe('Resource Graph', () => {
  it('the client sends QueryRequest bodies', () => {
    const sent = h.sim.control.requests().filter((r) => r.kind === 'resourceGraph');
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const r of sent) expect(validateOperationRequest(SPEC.resourceGraph, ARG_PATH, 'post', r.body)).toEqual([]);
    const first = sent[0]!.body as { subscriptions: string[]; managementGroups: string[]; options: Record<string, unknown> };
    expect(first.subscriptions).toEqual([PRD]);
    expect(first.managementGroups).toEqual(['mg-contoso']);
    expect(first.options).toMatchObject({ resultFormat: 'objectArray', $top: 1000 });
  });

  it('the simulator answers QueryResponse, with documented assessment rows', () => {
    expect(rawArgResponses).toHaveLength(2);
    for (const body of rawArgResponses) {
      expect(validateOperationResponse(SPEC.resourceGraph, ARG_PATH, 'post', '200', body, { noExtra: true })).toEqual([]);
      const resp = body as { resultTruncated: string; $skipToken?: string; facets: unknown[]; data: Array<Record<string, unknown>> };
      expect(resp.resultTruncated).toBe('false');
      expect(resp.$skipToken).toEqual(expect.any(String));
      expect(resp.facets).toEqual([]);
      for (const row of resp.data) {
        expect(Object.keys(row).sort()).toEqual(['id', 'name', 'properties', 'resourceGroup', 'subscriptionId', 'tenantId', 'type']);
        const props = row['properties'] as Record<string, unknown>;
        expect(validateDefinition(SPEC.assessments, 'AssessmentStatusResponse', props['status'], { noExtra: true })).toEqual([]);
        expect(validateDefinition(SPEC.assessmentMetadata, 'SecurityAssessmentMetadataProperties', props['metadata'], { noExtra: true })).toEqual([]);
        expect(props['resourceDetails']).toMatchObject({ Source: 'Azure', Id: expect.stringMatching(/^\/subscriptions\//) });
      }
    }
  });

  it('throttling and error bodies match ErrorResponse', async () => {
    h.sim.control.injectFaults({ count: 1, status: 429, retryAfterSeconds: 3 });
    const resp = await axios.post(
      `${h.sim.url}${ARG_PATH}?api-version=2024-04-01`,
      { query: 'securityresources' },
      { headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true },
    );
    expect(resp.status).toBe(429);
    expect(resp.headers['retry-after']).toBe('3');
    expect(validateOperationResponse(SPEC.resourceGraph, ARG_PATH, 'post', 'default', resp.data, { noExtra: true })).toEqual([]);
    const bad = await axios.post(
      `${h.sim.url}${ARG_PATH}?api-version=2024-04-01`,
      { query: 'Resources | take 5' },
      { headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true },
    );
    expect(bad.status).toBe(400);
    expect(validateOperationResponse(SPEC.resourceGraph, ARG_PATH, 'post', 'default', bad.data, { noExtra: true })).toEqual([]);
  });
});

describe('Resource Graph: partial answers the simulator can inject', () => {
  const post = async (body: unknown) =>
    (await axios.post(`${h.sim.url}${ARG_PATH}?api-version=2024-04-01`, body, { headers: { Authorization: `Bearer ${token}` } })).data as {
      totalRecords: number;
      count: number;
      resultTruncated: string;
      $skipToken?: string;
      data: unknown[];
    };
  const request = () => h.sim.control.requests().find((x) => x.kind === 'resourceGraph')!.body as { options: Record<string, unknown> };
  afterEach(() => h.sim.control.clearFaults());

  it('every fault answer is a valid QueryResponse, and says as much about itself as the real service would', async () => {
    const normal = await post(request());
    expect(normal.totalRecords).toBeGreaterThan(100);
    const answers: Record<string, Awaited<ReturnType<typeof post>>> = {};
    for (const kind of ['truncated', 'short', 'skipPage', 'empty'] as const) {
      h.sim.control.injectResultFault({ count: 1, kind, query: 'unhealthy' });
      answers[kind] = await post(request());
      expect(validateOperationResponse(SPEC.resourceGraph, ARG_PATH, 'post', '200', answers[kind], { noExtra: true })).toEqual([]);
      expect(answers[kind]!.count).toBe(answers[kind]!.data.length);
    }
    const { truncated, short, skipPage, empty } = answers;
    expect(truncated).toMatchObject({ resultTruncated: 'true', totalRecords: normal.totalRecords });
    expect(truncated!.$skipToken).toBeUndefined();
    expect(truncated!.data.length).toBeLessThan(normal.totalRecords);
    expect(short).toMatchObject({ resultTruncated: 'false', totalRecords: normal.totalRecords });
    expect(short!.$skipToken).toBeUndefined();
    expect(short!.data.length).toBeLessThan(normal.totalRecords);
    // skipPage: a normal first page whose token jumps over the second one.
    expect(skipPage).toMatchObject({ resultTruncated: 'false', totalRecords: normal.totalRecords, count: normal.count });
    const second = await post({ ...request(), options: { ...request().options, $skipToken: normal.$skipToken } });
    const third = await post({ ...request(), options: { ...request().options, $skipToken: skipPage!.$skipToken } });
    expect(third.data[0]).not.toEqual(second.data[0]);
    expect(third.data).not.toContainEqual(second.data[0]);
    expect(empty).toEqual({ totalRecords: 0, count: 0, resultTruncated: 'false', facets: [], data: [] });
    // The fault hits only the query it names, and only as often as asked.
    h.sim.control.injectResultFault({ count: 1, kind: 'empty', query: 'ids' });
    expect((await post(request())).totalRecords).toBe(normal.totalRecords);
  });
});

describe('Security REST', () => {
  it('governance assignment PUT body and GET response', async () => {
    const key = '6f3c2a1b-0d4e-4f5a-8b9c-7d6e5f4a3b2c';
    await h.client.putGovernanceAssignment(target.resourceId, target.assessmentKey, key, {
      properties: {
        owner: 'frank.osei@contoso.com',
        remediationDueDate: '2025-06-30T00:00:00.000Z',
        isGracePeriod: false,
        governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: false },
        additionalData: { ticketNumber: 10023, ticketLink: 'https://contoso.service-now.com/incident.do?sys_id=1', ticketStatus: 'New' },
      },
    });
    const put = h.sim.control
      .requests()
      .filter((r) => r.method === 'PUT')
      .pop()!;
    expect(validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', put.body)).toEqual([]);
    const got = await axios.get(`${h.sim.url}${target.assessmentId}/governanceAssignments/${key}?api-version=2022-01-01-preview`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(validateOperationResponse(SPEC.governanceAssignments, GOV_PATH, 'get', '200', got.data, { noExtra: true })).toEqual([]);
    const missing = await axios.get(`${h.sim.url}${target.assessmentId}/governanceAssignments/nope?api-version=2022-01-01-preview`, {
      headers: { Authorization: `Bearer ${token}` },
      validateStatus: () => true,
    });
    expect(missing.status).toBe(404);
    expect(validateOperationResponse(SPEC.governanceAssignments, GOV_PATH, 'get', 'default', missing.data, { noExtra: true })).toEqual([]);
  });

  it('assessment GET response (plain and expanded) and client parsing', async () => {
    for (const expand of ['', '&$expand=links', '&$expand=metadata', '&$expand=links,metadata']) {
      const resp = await axios.get(`${h.sim.url}${target.assessmentId}?api-version=2021-06-01${expand}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(validateOperationResponse(SPEC.assessments, ASSESSMENT_PATH, 'get', '200', resp.data, { noExtra: true })).toEqual([]);
    }
    const viaClient = await h.client.getAssessment(target.resourceId, target.assessmentKey, 'links,metadata');
    expect(viaClient).toMatchObject({ name: target.assessmentKey, properties: { status: { code: 'Unhealthy' }, metadata: { severity: target.severity } } });
    expect(await h.client.getAssessment(target.resourceId, '00000000-0000-0000-0000-000000000000')).toBeUndefined();
  });

  it('assessment metadata GET response', async () => {
    const resp = await axios.get(`${h.sim.url}/providers/Microsoft.Security/assessmentMetadata/${target.assessmentKey}?api-version=2021-06-01`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(
      validateOperationResponse(SPEC.assessmentMetadata, '/providers/Microsoft.Security/assessmentMetadata/{assessmentMetadataName}', 'get', '200', resp.data, {
        noExtra: true,
      }),
    ).toEqual([]);
    expect(resp.data).toMatchObject({
      name: target.assessmentKey,
      properties: { displayName: target.displayName, severity: target.severity, assessmentType: 'BuiltIn' },
    });
  });
});
