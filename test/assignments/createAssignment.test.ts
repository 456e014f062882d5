import { SPEC, validateOperationRequest } from '../defender/openapi.js';
import { execute, message, submit, TENANT } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, SANDBOX_READER, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { cardProblems } from '../cards/validate.js';

const CHANNEL = { conversationType: 'channel' as const };
const GOV_PATH = '/{scope}/providers/Microsoft.Security/assessments/{assessmentName}/governanceAssignments/{assignmentKey}';
/** Teams users carry an Entra object id; these come from the Defender simulator's directory. */
const ADMIN = SANDBOX_ADMIN;
const READER = SANDBOX_READER;

async function recWith(h: SandboxHarness, predicate: (n: number) => boolean) {
  const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && predicate(r.resources.length));
  if (!rec) throw new Error('no recommendation fits');
  return rec;
}

const inputsOf = (card: any): Record<string, any> => {
  const out: Record<string, any> = {};
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (typeof n.type === 'string' && n.type.startsWith('Input.') && n.id) out[n.id] = n;
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
};

/** Every element with an id (inputs and the error lines under them). */
const elementsOf = (card: any): Record<string, any> => {
  const out: Record<string, any> = {};
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (typeof n.type === 'string' && n.id) out[n.id] = n;
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
};

describe('Create assignment (Teams, Action.Execute)', () => {
  let h: SandboxHarness;
  beforeEach(async () => {
    h = await startSandboxBot();
  });
  afterEach(() => h.stop());

  it('opens the form with fixed input ids, pre-filled texts and covering integrations', async () => {
    const rec = await recWith(h, (n) => n >= 2 && n <= 10);
    const res = await h.bot.send(
      execute(
        'createAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
    const card = res.body.value;
    expect(cardProblems(card)).toEqual([]);
    const inputs = inputsOf(card);
    for (const id of [
      'integrationId',
      'ticketType',
      'assignedTo',
      'caller',
      'shortDescription',
      'description',
      'dueDate',
      'gracePeriod',
      'notifyOwner',
      'notifyManager',
      'grouping',
    ])
      expect(inputs[id]).toBeDefined();
    expect(inputs.assignmentGroup).toBeUndefined();
    expect(inputs.integrationId.choices).toEqual([{ title: expect.stringContaining('Contoso ServiceNow'), value: h.integrationId }]);
    expect(inputs.ticketType.choices.map((c: any) => c.value)).toEqual(['incident', 'change_request', 'problem']);
    expect(inputs.shortDescription.value).toContain(rec.displayName);
    expect(inputs.shortDescription.value).toContain(rec.resources[0].name);
    expect(inputs.description.value).toContain('Remediation steps');
    const days = { High: 7, Medium: 14, Low: 30 }[rec.severity];
    expect(inputs.dueDate.value).toBe(new Date(Date.parse('2026-11-26') + days * 86_400_000).toISOString().slice(0, 10));
    const submitAction = card.actions.find((a: any) => a.verb === 'submitAssignment');
    expect(submitAction.type).toBe('Action.Execute');
    expect(submitAction.title).toMatch(/Create/);
  });

  it.each(['incident', 'change_request', 'problem'] as const)(
    'creates a %s, links it on the card and writes the governance assignment back',
    async (ticketType) => {
      const rec = await recWith(h, (n) => n >= 2 && n <= 10);
      const resource = rec.resources[0];
      const res = await h.bot.send(
        execute(
          'submitAssignment',
          { recommendationKey: rec.key, resourceIds: resource.resourceId, ...assignmentFormValues(h.integrationId, { ticketType }) },
          { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
        ),
      );
      const card = res.body.value;
      expect(JSON.stringify(card)).toMatch(/1 resource\(s\) assigned/);

      const tickets = h.servicenow.control.records(ticketType);
      expect(tickets).toHaveLength(1);
      const ticket = tickets[0];
      expect(ticket.short_description).toBe('Fix it');
      expect(ticket.correlation_id).toMatch(/^mdc-[0-9a-f]{40}$/);
      expect(ticket.assigned_to).toBe(h.servicenow.control.records('sys_user').find((u) => u.user_name === 'bob.martinez')!.sys_id);
      const callerField = { incident: 'caller_id', change_request: 'requested_by', problem: 'opened_by' }[ticketType];
      expect(ticket[callerField]).toBe(h.servicenow.control.records('sys_user').find((u) => u.user_name === 'alice.johnson')!.sys_id);
      expect(JSON.stringify(card)).toContain(`[${ticket.number}](`);
      expect(JSON.stringify(card)).toContain(`nav_to.do?uri=%2F${ticketType}.do%3Fsys_id%3D${ticket.sys_id}`);

      const [assignment] = await h.bot.store.assignments.list();
      expect(assignment).toMatchObject({
        status: 'open',
        owner: 'bob.martinez@contoso.com',
        dueDate: '2026-12-10',
        gracePeriod: true,
        ticket: { number: ticket.number },
        governance: { status: 'synced' },
        conversationId: '19:channel-1@thread.tacv2',
      });

      // The governance write-back as Defender would receive it, checked against Microsoft's schema.
      const put = h.defender.control.requests().find((r) => r.method === 'PUT' && r.path.includes('/governanceAssignments/'));
      expect(validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', put!.body)).toEqual([]);
      expect(put!.body).toMatchObject({
        properties: {
          owner: 'bob.martinez@contoso.com',
          remediationDueDate: '2026-12-10T23:59:59Z',
          isGracePeriod: true,
          governanceEmailNotification: { disableOwnerEmailNotification: false, disableManagerEmailNotification: true },
          additionalData: { ticketNumber: Number(ticket.number.replace(/\D/g, '')), ticketLink: expect.stringContaining(ticket.sys_id) },
        },
      });

      // Everyone sees the ticket on the recommendation card, updated in place.
      const update = h.bot.connector.calls.filter((c) => c.method === 'PUT').pop();
      expect(JSON.stringify(update!.body)).toContain(ticket.number);
      expect(JSON.stringify(update!.body)).toContain('Due 2026-12-10 · in grace period (not affecting secure score)');
      expect((await h.bot.store.audit.list(5)).some((e) => e.action === 'assignment.create')).toBe(true);
    },
  );

  it('a retried governance write keeps what was changed in the Defender portal', async () => {
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    const resource = rec.resources[0];
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: resource.resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    const [a] = await h.bot.store.assignments.list();
    expect(a.governance).toMatchObject({ status: 'synced' });

    // Someone sets a remediation ETA in the portal (a PUT of the whole resource, as the portal does).
    const portal = await h.azure.getGovernanceAssignment(a.resourceId, a.recommendationKey, a.governance!.key);
    const portalEta = { eta: '2026-12-20T00:00:00Z', justification: 'Agreed with the app team in the portal' };
    await h.azure.putGovernanceAssignment(a.resourceId, a.recommendationKey, a.governance!.key, {
      properties: { ...portal!.properties, remediationEta: portalEta },
    });
    // A later write-back of ours was recorded as failed (e.g. its response was lost), so it is retried.
    await h.bot.store.assignments.upsertMany([{ ...a, governance: { key: a.governance!.key, status: 'failed', lastError: 'socket hang up' } }]);
    h.defender.control.resetRequestLog();

    expect(await h.bot.app.assignments.resumePending()).toBe(1);

    const puts = h.defender.control.requests().filter((r) => r.method === 'PUT' && r.path.includes('/governanceAssignments/'));
    expect(puts).toHaveLength(1);
    expect(validateOperationRequest(SPEC.governanceAssignments, GOV_PATH, 'put', puts[0]!.body)).toEqual([]);
    const [gov] = h.defender.control.listGovernanceAssignments();
    expect(gov!.properties).toMatchObject({
      owner: 'bob.martinez@contoso.com',
      remediationDueDate: '2026-12-10T23:59:59Z',
      isGracePeriod: true,
      remediationEta: portalEta,
    });
    expect((await h.bot.store.assignments.get(a.id))!.governance).toMatchObject({ status: 'synced' });
  });

  it('refuses a user without Owner, Contributor or Security Admin, and creates nothing', async () => {
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: READER },
      ),
    );
    expect(res.status).toBe(200);
    expect(JSON.stringify(h.bot.connector.cards().pop())).toContain('Owner, Contributor or Security Admin');
    expect(h.servicenow.control.records('incident')).toHaveLength(0);
    expect(await h.bot.store.assignments.list()).toHaveLength(0);
    const open = await h.bot.send(execute('createAssignment', { recommendationKey: rec.key }, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: READER }));
    expect(open.body.type).not.toBe('application/vnd.microsoft.card.adaptive');
  });

  it('returns field errors on the same form, keeping what the user typed', async () => {
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        {
          recommendationKey: rec.key,
          resourceIds: rec.resources[0].resourceId,
          ...assignmentFormValues(h.integrationId, { dueDate: '2026-11-01', assignedTo: '', shortDescription: 'My words' }),
        },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    // Each message sits right under its input, with the field's label, and the line by the buttons says nothing was created.
    const errors = elementsOf(res.body.value);
    expect(errors.dueDateError?.text).toBe('Remediation due date: pick a date after today');
    expect(errors.assignedToError?.text).toBe('Assigned to: required');
    expect(errors.callerError).toBeUndefined();
    expect(JSON.stringify(errors.formProblems)).toContain('No ticket was created: fix the 2 fields marked above');
    expect(inputsOf(res.body.value).shortDescription.value).toBe('My words');
    expect(await h.bot.store.assignments.list()).toHaveLength(0);

    const unknown = await h.bot.send(
      execute(
        'submitAssignment',
        {
          recommendationKey: rec.key,
          resourceIds: rec.resources[0].resourceId,
          ...assignmentFormValues(h.integrationId, { assignedTo: 'nobody@contoso.com' }),
        },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    expect(elementsOf(unknown.body.value).assignedToError?.text).toBe("Assigned to: No ServiceNow user matches 'nobody@contoso.com'");
    expect(h.servicenow.control.records('incident')).toHaveLength(0);
  });

  it('a crafted submit with huge values (under the 256 KB activity limit) gets the form back with its errors, under the card size limit', async () => {
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        {
          recommendationKey: rec.key,
          resourceIds: rec.resources[0].resourceId,
          ...assignmentFormValues(h.integrationId, { shortDescription: 's'.repeat(20_000), description: 'd'.repeat(100_000), ticketType: 't'.repeat(50_000) }),
        },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    expect(res.status).toBe(200);
    const card = res.body.value;
    expect(JSON.stringify(card).length).toBeLessThan(28 * 1024);
    const errors = elementsOf(card);
    expect(errors.shortDescriptionError?.text).toContain('at most 160 characters');
    expect(errors.descriptionError?.text).toContain('at most 4000 characters');
    expect(inputsOf(card).shortDescription.value).toBe('s'.repeat(160));
    expect(await h.bot.store.assignments.list()).toHaveLength(0);
    expect(h.bot.logs.some((l) => l.includes('card action failed'))).toBe(false);
  });

  it('never creates a second ticket for a repeated submission', async () => {
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    const activity = () =>
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      );
    await Promise.all([h.bot.send(activity()), h.bot.send(activity())]);
    const again = await h.bot.send(activity());
    expect(h.servicenow.control.records('incident')).toHaveLength(1);
    expect(await h.bot.store.assignments.list({ statuses: ['open'] })).toHaveLength(1);
    expect(JSON.stringify(again.body.value)).toContain('already assigned');
  });

  it('remembers the channel, not the thread the form was submitted from, so announcements reach it', async () => {
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, conversationId: '19:channel-1@thread.tacv2;messageid=1732611111111', from: ADMIN },
      ),
    );
    expect((await h.bot.store.assignments.list())[0].conversationId).toBe('19:channel-1@thread.tacv2');
  });

  it('lets only security admins subscribe or unsubscribe once Defender data is known', async () => {
    await h.bot.send(message('unsubscribe', { serviceUrl: h.bot.connector.url, ...CHANNEL, from: READER }));
    expect(JSON.stringify(h.bot.connector.cards().pop())).toContain('Owner, Contributor or Security Admin');
    expect((await h.bot.store.conversations.get('19:channel-1@thread.tacv2'))!.subscribed).toBe(true);
    await h.bot.send(message('subscribe', { serviceUrl: h.bot.connector.url, conversationId: 'a:erin', from: READER }));
    expect((await h.bot.store.conversations.get('a:erin'))?.subscribed ?? false).toBe(false);
    await h.bot.send(message('unsubscribe', { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    expect((await h.bot.store.conversations.get('19:channel-1@thread.tacv2'))!.subscribed).toBe(false);
  });

  it('opens one ticket for the whole selection when asked', async () => {
    const rec = await recWith(h, (n) => n >= 3 && n <= 10);
    const ids = rec.resources
      .slice(0, 3)
      .map((r) => r.resourceId)
      .join(',');
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: ids, ...assignmentFormValues(h.integrationId, { grouping: 'single' }) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    expect(h.servicenow.control.records('incident')).toHaveLength(1);
    const assignments = await h.bot.store.assignments.list();
    expect(assignments).toHaveLength(3);
    expect(new Set(assignments.map((a) => a.ticket?.number)).size).toBe(1);
    expect(h.defender.control.listGovernanceAssignments()).toHaveLength(3);
  });

  it('asks for confirmation before assigning more than 10 resources at once', async () => {
    const rec = await recWith(h, (n) => n > 10);
    const res = await h.bot.send(execute('createAssignment', { recommendationKey: rec.key }, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    const card = res.body.value;
    expect(JSON.stringify(card)).toContain(`Assign all ${rec.resources.length} unhealthy resources?`);
    const confirm = card.actions.find((a: any) => a.verb === 'createAssignment');
    const form = await h.bot.send(execute('createAssignment', confirm.data, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    expect(inputsOf(form.body.value).assignedTo).toBeDefined();
    // "All" travels as "*" so the card stays small however many resources there are.
    const submitData = form.body.value.actions.find((a: any) => a.verb === 'submitAssignment').data;
    expect(submitData.resourceIds).toBe('*');
    await h.bot.send(
      execute(
        'submitAssignment',
        { ...submitData, ...assignmentFormValues(h.integrationId, { grouping: 'single' }) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    expect(await h.bot.store.assignments.list()).toHaveLength(rec.resources.length);
    expect(h.servicenow.control.records('incident')).toHaveLength(1);
  });

  it('keeps the work when ServiceNow is down, and Retry finishes it', async () => {
    const rec = await recWith(h, (n) => n >= 2 && n <= 10);
    const ids = rec.resources
      .slice(0, 2)
      .map((r) => r.resourceId)
      .join(',');
    // Users resolve, then every create fails.
    h.servicenow.control.failNext({ status: 503, count: 100, method: 'POST', pathPrefix: '/api/now/v2/table/incident' });
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: ids, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    const card = res.body.value;
    expect(JSON.stringify(card)).toContain('No ticket could be created');
    expect(await h.bot.store.assignments.list({ statuses: ['failed'] })).toHaveLength(2);
    const retry = card.actions.find((a: any) => a.verb === 'retryAssignments');
    expect(retry.title).toBe('Retry failed (2)');

    h.servicenow.control.clearFaults();
    const done = await h.bot.send(execute('retryAssignments', retry.data, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    expect(JSON.stringify(done.body.value)).toContain('2 resource(s) assigned');
    expect(h.servicenow.control.records('incident')).toHaveLength(2);
    expect(await h.bot.store.assignments.list({ statuses: ['open'] })).toHaveLength(2);
  });
});

describe('Create assignment (Emulator, Action.Submit) and crash recovery', () => {
  let h: SandboxHarness;
  afterEach(() => h.stop());

  it('works from the Emulator with a customized integration (group, impact, urgency)', async () => {
    h = await startSandboxBot({ fieldMode: 'customized' });
    const emulator = { serviceUrl: h.bot.connector.url, channelId: 'emulator' as const, conversationId: 'emu-1', from: { id: 'emulator-user', name: 'User' } };
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    await h.bot.send(submit({ verb: 'createAssignment', recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId }, emulator));
    const formCard = h.bot.connector
      .cards()
      .filter((c) => JSON.stringify(c).includes('"id":"assignedTo"'))
      .pop();
    expect(JSON.stringify(formCard)).not.toContain('Action.Execute');
    const inputs = inputsOf(formCard);
    expect(inputs.assignmentGroup).toBeDefined();
    expect(inputs.caller.value).toBe('alice.johnson@contoso.com');
    const submitAction = formCard.actions.find((a: any) => a.data?.verb === 'submitAssignment');
    await h.bot.send(
      submit(
        {
          ...submitAction.data,
          ...assignmentFormValues(h.integrationId, { ticketType: 'incident', assignmentGroup: 'Cloud Security Operations', impact: '1', urgency: '2' }),
        },
        emulator,
      ),
    );
    const [incident] = h.servicenow.control.records('incident');
    expect(incident).toMatchObject({ impact: '1', urgency: '2', priority: '2' });
    expect(incident.assignment_group).toBe(h.servicenow.control.records('sys_user_group')[0].sys_id);
    expect(
      JSON.stringify(
        h.bot.connector
          .cards()
          .filter((c) => JSON.stringify(c).includes('assigned'))
          .pop(),
      ),
    ).toContain(incident.number);
  });

  it('finishes assignments a crash left pending, without duplicating tickets', async () => {
    h = await startSandboxBot();
    const rec = await recWith(h, (n) => n >= 1 && n <= 10);
    const r = rec.resources[0];
    // A first attempt created the ticket, then the process died before recording it.
    h.servicenow.control.dropNextCreateResponse();
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: r.resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN, tenantId: TENANT },
      ),
    );
    // Simulate the crash state: the stored record is still pending.
    const [a] = await h.bot.store.assignments.list();
    await h.bot.store.assignments.upsertMany([{ ...a, status: 'pending', ticket: undefined, governance: { key: a.id, status: 'pending' } }]);
    const restarted = await h.bot.restart();
    h.bot = restarted;
    // A fresh app resumes on start (main.ts does the same call).
    expect(await restarted.app.assignments.resumePending()).toBe(1);
    expect(h.servicenow.control.records('incident')).toHaveLength(1);
    expect((await restarted.store.assignments.list())[0]).toMatchObject({ status: 'open', governance: { status: 'synced' } });
  });

  it('lists assignments, mine and overdue', async () => {
    h = await startSandboxBot();
    const rec = await recWith(h, (n) => n >= 2 && n <= 10);
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0].resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    // Reading assignments needs a reading role (README "Access control"): the Reader may.
    await h.bot.send(message('assignments', { serviceUrl: h.bot.connector.url, ...CHANNEL, from: READER }));
    const list = JSON.stringify(h.bot.connector.cards().pop());
    expect(list).toContain('1 open, 0 overdue');
    expect(list).toContain(rec.resources[0].name);
    h.clock.set('2026-12-20T09:00:00Z');
    await h.bot.send(message('assignments overdue', { serviceUrl: h.bot.connector.url, ...CHANNEL, from: READER }));
    expect(JSON.stringify(h.bot.connector.cards().pop())).toContain('10 day(s) overdue');
    // The Emulator user has no Entra identity; in the sandbox they act as the sandbox user.
    await h.bot.send(
      message('assignments mine', {
        serviceUrl: h.bot.connector.url,
        channelId: 'emulator',
        conversationId: 'emu-2',
        from: { id: 'emulator-user', name: 'User' },
      }),
    );
    expect(JSON.stringify(h.bot.connector.cards().pop())).toContain('Nothing here');
  });
});

describe('the whole lifecycle in the sandbox', () => {
  let h: SandboxHarness;
  afterEach(() => h.stop());

  it('assign → "simulate fix" → ticket resolved in ServiceNow and announced where it was created', async () => {
    h = await startSandboxBot();
    const rec = await recWith(h, (n) => n >= 2 && n <= 10);
    const resource = rec.resources[0];
    await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: resource.resourceId, ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    const [incident] = h.servicenow.control.records('incident');
    h.bot.connector.reset();

    await h.bot.send(message(`simulate fix ${resource.name}`, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    await h.bot.app.messenger.drain();
    expect(h.servicenow.control.record('incident', incident.sys_id)).toMatchObject({ state: '6', close_code: 'Solution provided' });
    const texts = h.bot.connector.activities().map((a) => JSON.stringify(a.body));
    expect(texts.some((t) => t.includes(`${incident.number} resolved automatically`))).toBe(true);
    expect((await h.bot.store.assignments.list())[0]).toMatchObject({ status: 'resolved' });
    expect(h.defender.control.listGovernanceAssignments()).toHaveLength(0);
  });
});
