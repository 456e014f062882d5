import { HOUR_MS, MINUTE_MS } from '../../core/clock.js';
import { MAX_AUTOMATIC_ATTEMPTS, nextAttemptAfter } from '../../core/assignmentRetry.js';
import { assignmentSchema, type Assignment } from '../../core/model.js';
import { execute } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';

const ADMIN = SANDBOX_ADMIN;
const CHANNEL = { conversationType: 'channel' as const };
const CREATE = { method: 'POST', pathPrefix: '/api/now/v2/table/incident' };

describe('backoff (pure)', () => {
  it('doubles from 10 minutes and is capped at 6 hours', () => {
    const now = new Date('2026-11-26T09:00:00Z');
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => (nextAttemptAfter(n, now).getTime() - now.getTime()) / MINUTE_MS);
    expect(delays).toEqual([10, 20, 40, 80, 160, 320, 360, 360]);
  });

  it('older stored assignments without the new fields still parse', () => {
    const old = {
      id: 'a',
      key: 'k',
      batchId: 'b',
      recommendationKey: 'r',
      recommendationName: 'R',
      severity: 'High',
      assessmentId: 'x',
      resourceId: 'y',
      resourceName: 'n',
      subscriptionId: 's',
      integrationId: 'i',
      ticketType: 'incident',
      owner: 'o',
      caller: 'c',
      dueDate: '2026-12-10',
      gracePeriod: false,
      notifyOwner: true,
      notifyManager: false,
      status: 'failed',
      createdBy: { id: 'u' },
      createdAt: '2026-11-26T09:00:00Z',
      updatedAt: '2026-11-26T09:00:00Z',
    };
    expect(assignmentSchema.parse(old)).toMatchObject({ attempts: 0 });
    expect(assignmentSchema.parse(old).nextAttemptAt).toBeUndefined();
  });
});

describe('failed assignments are retried automatically', () => {
  let h: SandboxHarness;
  beforeEach(async () => {
    h = await startSandboxBot();
  });
  afterEach(() => h.stop());

  async function submitWhileDown(): Promise<{ assignment: Assignment; retryData: Record<string, unknown> }> {
    const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.resources.length <= 10)!;
    h.servicenow.control.failNext({ status: 503, count: 100_000, ...CREATE });
    const res = await h.bot.send(
      execute(
        'submitAssignment',
        { recommendationKey: rec.key, resourceIds: rec.resources[0]!.resourceId, ...assignmentFormValues(h.integrationId, { gracePeriod: 'false' }) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN },
      ),
    );
    const [assignment] = await h.bot.store.assignments.list();
    expect(assignment).toMatchObject({ status: 'failed', attempts: 1, nextAttemptAt: new Date(h.clock.now().getTime() + 10 * MINUTE_MS).toISOString() });
    const retry = res.body.value.actions.find((a: any) => a.verb === 'retryAssignments');
    return { assignment: assignment!, retryData: retry.data };
  }

  it('ServiceNow down then up: a later cycle creates the ticket without the Retry button', async () => {
    const { assignment } = await submitWhileDown();
    const creates = () => h.servicenow.control.requestCount('POST', '/api/now/v2/table/incident');

    // Cycle 1, before the backoff has passed: nothing is tried.
    const before = creates();
    await h.bot.app.runCycle!();
    expect(creates()).toBe(before);
    expect(await h.bot.store.assignments.get(assignment.id)).toMatchObject({ status: 'failed', attempts: 1 });

    // Cycle 2, after it, with ServiceNow back.
    h.servicenow.control.clearFaults();
    h.clock.advance(10 * MINUTE_MS);
    h.bot.connector.reset();
    await h.bot.app.runCycle!();
    const [incident] = h.servicenow.control.records('incident');
    expect(incident).toBeDefined();
    const done = (await h.bot.store.assignments.get(assignment.id))!;
    expect(done).toMatchObject({ status: 'open', attempts: 0, ticket: { number: incident!.number }, governance: { status: 'synced' } });
    expect(done.nextAttemptAt).toBeUndefined();
    // The card shows the new ticket.
    expect(h.bot.connector.activities().some((c) => c.method === 'PUT' && JSON.stringify(c.body).includes(incident!.number))).toBe(true);
  });

  it(`stops after ${MAX_AUTOMATIC_ATTEMPTS} failures; the Retry button still works and starts over`, async () => {
    const { assignment, retryData } = await submitWhileDown();
    for (let n = 2; n <= MAX_AUTOMATIC_ATTEMPTS; n++) {
      h.clock.advance(6 * HOUR_MS);
      expect(await h.bot.app.assignments.resumePending()).toBe(1);
      expect(await h.bot.store.assignments.get(assignment.id)).toMatchObject({ status: 'failed', attempts: n });
    }
    const requests = h.servicenow.control.requestCount();
    h.clock.advance(24 * HOUR_MS);
    expect(await h.bot.app.assignments.resumePending()).toBe(0);
    await h.bot.app.runCycle!();
    expect(
      h.servicenow.control
        .requests()
        .slice(requests)
        .filter((r) => r.method === 'POST' && r.path.startsWith('/api/now/v2/table/incident')),
    ).toEqual([]);
    expect(await h.bot.store.assignments.get(assignment.id)).toMatchObject({
      status: 'failed',
      attempts: MAX_AUTOMATIC_ATTEMPTS,
      lastError: expect.any(String),
    });

    h.servicenow.control.clearFaults();
    await h.bot.send(execute('retryAssignments', retryData, { serviceUrl: h.bot.connector.url, ...CHANNEL, from: ADMIN }));
    expect(await h.bot.store.assignments.get(assignment.id)).toMatchObject({ status: 'open', attempts: 0 });
    expect(h.servicenow.control.records('incident')).toHaveLength(1);
  });

  it('a failed assignment whose resource became healthy is resolved without a ticket', async () => {
    const { assignment } = await submitWhileDown();
    h.defender.control.markHealthy({ resourceId: assignment.resourceId, assessmentKey: assignment.recommendationKey });
    const requests = h.servicenow.control.requests().length;
    h.servicenow.control.clearFaults();
    h.clock.advance(10 * MINUTE_MS);
    await h.bot.app.runCycle!();
    expect(await h.bot.store.assignments.get(assignment.id)).toMatchObject({ status: 'resolved', closeReason: 'resource healthy before a ticket was created' });
    expect(h.servicenow.control.records('incident')).toHaveLength(0);
    expect(
      h.servicenow.control
        .requests()
        .slice(requests)
        .filter((r) => r.path.startsWith('/api/now/v2/table/incident')),
    ).toEqual([]);
    // Nothing left to retry or remind about.
    h.clock.advance(6 * HOUR_MS);
    expect(await h.bot.app.assignments.resumePending()).toBe(0);
  });
});
