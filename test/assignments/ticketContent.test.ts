import { execute } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import type { Severity } from '../../core/model.js';

/**
 * What lands in the ticket, through the real server, the real ServiceNow client and the simulator
 * (which computes the priority from impact and urgency with the base lookup, as an instance does).
 */
const CHANNEL = { conversationType: 'channel' as const };

async function submitFor(h: SandboxHarness, severity: Severity, over: Record<string, string> = {}, resource = 0) {
  const rec = (await h.bot.store.recommendations.list()).find((r) => r.status === 'unhealthy' && r.severity === severity);
  if (!rec) throw new Error(`no ${severity} recommendation in the sandbox`);
  const res = await h.bot.send(
    execute(
      'submitAssignment',
      { recommendationKey: rec.key, resourceIds: rec.resources[resource]!.resourceId, ...assignmentFormValues(h.integrationId, over) },
      { serviceUrl: h.bot.connector.url, ...CHANNEL, from: SANDBOX_ADMIN },
    ),
  );
  expect(JSON.stringify(res.body.value)).toMatch(/resource\(s\) assigned/);
  const table = (over.ticketType ?? 'incident') as 'incident' | 'change_request' | 'problem';
  const rows = h.servicenow.control.records(table);
  return rows[rows.length - 1]!;
}

describe('ticket content (default field set)', () => {
  let h: SandboxHarness;
  afterEach(() => h?.stop());

  it('a High recommendation becomes priority 1 and the ticket carries the due date; Medium 3, Low 5', async () => {
    h = await startSandboxBot();
    expect(await submitFor(h, 'High')).toMatchObject({ impact: '1', urgency: '1', priority: '1', due_date: '2026-12-10 23:59:59' });
    expect(await submitFor(h, 'Medium', { dueDate: '2026-12-11' })).toMatchObject({
      impact: '2',
      urgency: '2',
      priority: '3',
      due_date: '2026-12-11 23:59:59',
    });
    expect(await submitFor(h, 'Low', { ticketType: 'problem' })).toMatchObject({ impact: '3', urgency: '3', priority: '5', due_date: '2026-12-10 23:59:59' });
  });

  it('writes the due date on change requests too, as the end of the due day in REMINDER_TIMEZONE (UTC on the wire)', async () => {
    h = await startSandboxBot({ env: { REMINDER_TIMEZONE: 'Europe/Berlin' } });
    expect(await submitFor(h, 'High', { ticketType: 'change_request' })).toMatchObject({ priority: '1', due_date: '2026-12-10 22:59:59' });
  });

  it('SEVERITY_IMPACT_URGENCY changes the mapping', async () => {
    h = await startSandboxBot({ env: { SEVERITY_IMPACT_URGENCY: 'High=2/1' } });
    expect(await submitFor(h, 'High')).toMatchObject({ impact: '2', urgency: '1', priority: '2' });
  });

  it("a customized integration's impact and urgency inputs win over the severity's", async () => {
    h = await startSandboxBot({ fieldMode: 'customized' });
    expect(await submitFor(h, 'High', { impact: '3', urgency: '2' })).toMatchObject({
      impact: '3',
      urgency: '2',
      priority: '4',
      due_date: '2026-12-10 23:59:59',
    });
    expect(await submitFor(h, 'High', { dueDate: '2026-12-12' }, 1)).toMatchObject({ impact: '1', urgency: '1', priority: '1' });
  });
});
