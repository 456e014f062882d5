/**
 * Issue 13: restarting the sandbox kept db.json but wiped both simulators, so ticket numbers
 * started over (two open assignments both showed INC0010001). The simulators keep their state in
 * DATA_DIR; here they are stopped and started again on the same folder, over their real HTTP APIs.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { GOVERNANCE_API_VERSION } from '../../sandbox/defender/server.js';
import { SANDBOX_STATE_FILES, startSandbox, type Sandbox } from '../../sandbox/index.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../../sandbox/servicenow/index.js';

const creds = DEFAULT_SIMULATOR_CREDENTIALS;
const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;

async function createIncident(sandbox: Sandbox, description: string): Promise<{ sys_id: string; number: string }> {
  const res = await fetch(`${sandbox.servicenow.url}/api/now/table/incident`, {
    method: 'POST',
    headers: { Authorization: basic, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ short_description: description }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { result: { sys_id: string; number: string } }).result;
}

async function serviceNowToken(sandbox: Sandbox): Promise<string> {
  const res = await fetch(`${sandbox.servicenow.url}/oauth_token.do`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: creds.clientId,
      client_secret: creds.clientSecret,
      username: creds.username,
      password: creds.password,
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function azureToken(sandbox: Sandbox): Promise<string> {
  const res = await fetch(`${sandbox.azure.url}/${sandbox.azure.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sandbox.azure.clientId,
      client_secret: sandbox.azure.clientSecret,
      scope: 'https://management.azure.com/.default',
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('sandbox restart on the same DATA_DIR', () => {
  let dir: string;
  let sandbox: Sandbox | undefined;
  const start = (o: { keepState: boolean } = { keepState: true }) =>
    startSandbox({ defenderPort: 0, servicenowPort: 0, clock: systemClock, logger: silentLogger, ...(o.keepState ? { stateDir: dir } : {}) });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sandbox-restart-'));
  });
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('continues ticket numbers, keeps tickets, work notes, tokens, assessment statuses and governance assignments', async () => {
    sandbox = await start();
    const first = await createIncident(sandbox, 'before the restart');
    expect(first.number).toBe('INC0010001');
    // A human's work note in the UI (in-process control API), saved as well.
    sandbox.servicenow.control.setFields('incident', first.sys_id, { work_notes: 'checked by the on-call engineer' });
    const snToken = await serviceNowToken(sandbox);
    const [fixed, governed] = sandbox.defender.control.listAssessments({ code: 'Unhealthy' });
    expect(sandbox.defender.control.markHealthy({ resourceId: fixed!.resourceId, assessmentKey: fixed!.assessmentKey })).toBe(1);
    const gov = await fetch(
      `${sandbox.azure.url}${governed!.id}/governanceAssignments/11111111-2222-3333-4444-555555555555?api-version=${GOVERNANCE_API_VERSION}`,
      {
        method: 'PUT',
        headers: { Authorization: `Bearer ${await azureToken(sandbox)}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ properties: { owner: 'bob.martinez@contoso.com', remediationDueDate: '2026-12-31T00:00:00Z', isGracePeriod: true } }),
      },
    );
    expect(gov.status).toBe(201);
    await sandbox.close();

    sandbox = await start();
    const second = await createIncident(sandbox, 'after the restart');
    expect(second.number).toBe('INC0010002');
    expect(sandbox.servicenow.control.record('incident', first.sys_id)).toMatchObject({ number: 'INC0010001', short_description: 'before the restart' });
    expect(sandbox.servicenow.control.journal(first.sys_id).map((j) => j.value)).toEqual(['checked by the on-call engineer']);
    // The bot's token from before the restart still works, as on a real instance.
    const read = await fetch(`${sandbox.servicenow.url}/api/now/table/incident/${first.sys_id}`, {
      headers: { Authorization: `Bearer ${snToken}`, Accept: 'application/json' },
    });
    expect(read.status).toBe(200);
    expect(sandbox.defender.control.listAssessments({ assessmentKey: fixed!.assessmentKey }).find((a) => a.id === fixed!.id)?.code).toBe('Healthy');
    expect(sandbox.defender.control.listGovernanceAssignments()).toEqual([
      expect.objectContaining({ assessmentId: governed!.id, properties: expect.objectContaining({ owner: 'bob.martinez@contoso.com' }) }),
    ]);
    // Written by temp file + rename: only the two state files are left in the folder.
    expect((await readdir(dir)).sort()).toEqual([SANDBOX_STATE_FILES.defender, SANDBOX_STATE_FILES.servicenow].sort());
  });

  it("keeps the owner tags set on resources and groups and Defender's governance rules", async () => {
    sandbox = await start();
    const [a] = sandbox.defender.control.listAssessments({ code: 'Unhealthy' });
    const groupId = a!.resourceId.split('/providers/')[0]!;
    expect(sandbox.defender.control.setTags(a!.resourceId, { owner: 'tag.owner@contoso.com' })).toBe(true);
    expect(sandbox.defender.control.setTags(groupId, { SecurityOwner: 'group.owner@contoso.com' })).toBe(true);
    const rules = sandbox.defender.control.listGovernanceRules();
    expect(rules.length).toBeGreaterThan(0);
    await sandbox.close();

    sandbox = await start();
    expect(sandbox.defender.control.listGovernanceRules()).toEqual(rules);
    // Rewritten from the loaded state: what the first run set must have been loaded to be written again.
    const [other] = sandbox.defender.control.listAssessments({ code: 'Unhealthy' }).filter((x) => x.resourceId !== a!.resourceId);
    expect(sandbox.defender.control.setTags(other!.resourceId, { owner: 'other@contoso.com' })).toBe(true);
    const saved = JSON.parse(await readFile(path.join(dir, SANDBOX_STATE_FILES.defender), 'utf8')) as {
      dataset: { resources: { id: string; tags?: Record<string, string> }[]; resourceGroups: { name: string; tags: Record<string, string> }[] };
    };
    expect(saved.dataset.resources.find((r) => r.id.toLowerCase() === a!.resourceId.toLowerCase())?.tags).toEqual({ owner: 'tag.owner@contoso.com' });
    expect(saved.dataset.resourceGroups).toContainEqual(expect.objectContaining({ tags: { SecurityOwner: 'group.owner@contoso.com' } }));
  });

  it('a change made over HTTP is on disk before its response arrives', async () => {
    sandbox = await start();
    const created = await createIncident(sandbox, 'saved before the 201');
    const onDisk = JSON.parse(await readFile(path.join(dir, SANDBOX_STATE_FILES.servicenow), 'utf8')) as { tables: { incident: Array<{ sys_id: string }> } };
    expect(onDisk.tables.incident.map((r) => r.sys_id)).toContain(created.sys_id);
  });

  it('a damaged state file stops the start with an error naming the file', async () => {
    await writeFile(path.join(dir, SANDBOX_STATE_FILES.servicenow), '{"format":"servicenow-simulator/1","tables":');
    await expect(start()).rejects.toThrow(`${path.join(dir, SANDBOX_STATE_FILES.servicenow)} is not valid JSON`);
    await writeFile(path.join(dir, SANDBOX_STATE_FILES.defender), JSON.stringify({ format: 'something else' }));
    await rm(path.join(dir, SANDBOX_STATE_FILES.servicenow));
    await expect(start()).rejects.toThrow(`${path.join(dir, SANDBOX_STATE_FILES.defender)} is not a simulator state file`);
  });

  it('without a data folder (tests, `cli remind`) both start from their seed data every time', async () => {
    sandbox = await start({ keepState: false });
    expect((await createIncident(sandbox, 'one')).number).toBe('INC0010001');
    await sandbox.close();
    sandbox = await start({ keepState: false });
    expect((await createIncident(sandbox, 'two')).number).toBe('INC0010001');
    expect(await readdir(dir)).toEqual([]);
  });
});
