import { ServiceNowError } from '../../connectors/servicenow/client.js';
import { userId } from '../../sandbox/servicenow/index.js';
import { correlationKey } from '../../core/servicenow-rules.js';
import { api, harness, rawToken, type Harness } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

const BATCH = '/api/now/v1/batch';
const key = (n: number) => correlationKey('assessment-1', `/subscriptions/s/resourceGroups/rg/providers/x/vm-${n}`);
const corr = (n: number) => ({ correlationId: key(n), correlationDisplay: 'Microsoft Defender for Cloud' });
const incident = { short_description: 'VM has no endpoint protection', impact: 2, urgency: 2, caller_id: userId('alice.owner') };
const notes = (sysId: string) => h.sim.control.journal(sysId).map((j) => j.value);
const resolvingNotes = (sysId: string) => notes(sysId).filter((n) => /Resolving automatically/.test(n));

async function tickets(from: number, count: number) {
  const out = [];
  for (let n = from; n < from + count; n++) out.push(await h.client.createTicket('incident', incident, corr(n)));
  h.sim.control.resetStats();
  return out;
}

const resolveAll = (ts: ReadonlyArray<{ sysId: string }>) => Promise.allSettled(ts.map((t) => h.client.resolveTicket('incident', t.sysId, 'fixed')));
const outcomes = (rs: ReadonlyArray<PromiseSettledResult<{ outcome: string }>>) => rs.map((r) => (r.status === 'fulfilled' ? r.value.outcome : r.reason));

describe('updates of one turn as Batch API requests', () => {
  it('sends the resolving PATCHes of resolutions started together as one batch request, each item run like a direct PATCH', async () => {
    h = await harness();
    const ts = await tickets(0, 4);
    expect(outcomes(await resolveAll(ts))).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
    // One joined read, one batch request carrying the four PATCHes.
    expect(
      h.sim.control
        .requests()
        .filter((r) => !r.inBatch)
        .map((r) => `${r.method} ${r.path}`),
    ).toEqual(['GET /api/now/v2/table/incident', `POST ${BATCH}`]);
    expect(h.sim.control.batchItemCount('PATCH')).toBe(4);
    for (const t of ts) {
      expect(h.sim.control.record('incident', t.sysId)).toMatchObject({ state: '6', close_code: 'Solution provided', close_notes: 'fixed' });
      expect(resolvingNotes(t.sysId)).toHaveLength(1);
    }
    // Idempotent: resolving again reads, sees them resolved and writes nothing.
    h.sim.control.resetStats();
    expect(outcomes(await resolveAll(ts))).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
    expect(h.sim.control.requests().map((r) => r.method)).toEqual(['GET']);
    for (const t of ts) expect(resolvingNotes(t.sysId)).toHaveLength(1);
  });

  it('bounds the items per batch request', async () => {
    h = await harness({ client: { updateBatchSize: 2 } });
    const ts = await tickets(10, 5);
    expect(outcomes(await resolveAll(ts))).toEqual(['resolved', 'resolved', 'resolved', 'resolved', 'resolved']);
    // 2 + 2 in batches, the fifth on its own.
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(2);
    expect(h.sim.control.batchItemCount('PATCH')).toBe(4);
    expect(h.sim.control.requestCount('PATCH')).toBe(1);
  });

  it("judges each item on its own: a refused item fails only its ticket, with ServiceNow's error parsed; a forbidden one is reported for manual closure as after a single PATCH; a 5xx item is resent alone", async () => {
    h = await harness();
    const ts = await tickets(20, 4);
    h.sim.control.failNext({ status: 400, method: 'PATCH', pathPrefix: `/api/now/v2/table/incident/${ts[1]!.sysId}` });
    h.sim.control.failNext({ status: 503, method: 'PATCH', pathPrefix: `/api/now/v2/table/incident/${ts[2]!.sysId}` });
    // Refused as forbidden: resolveTicket reports it for a manual closure, as after a single PATCH.
    h.sim.control.failNext({ status: 403, method: 'PATCH', pathPrefix: `/api/now/v2/table/incident/${ts[3]!.sysId}` });
    const rs = await resolveAll(ts);
    expect(rs[0]).toMatchObject({ status: 'fulfilled', value: { outcome: 'resolved' } });
    expect(rs[1]).toMatchObject({ status: 'rejected', reason: { kind: 'bad-request', status: 400, operation: 'ticket update' } });
    expect((rs[1] as PromiseRejectedResult).reason).toBeInstanceOf(ServiceNowError);
    expect((rs[1] as PromiseRejectedResult).reason.snDetail).toBe('Simulated fault');
    expect(rs[2]).toMatchObject({ status: 'fulfilled', value: { outcome: 'resolved' } });
    expect(h.sim.control.record('incident', ts[1]!.sysId)!.state).not.toBe('6');
    expect(h.sim.control.record('incident', ts[2]!.sysId)!.state).toBe('6');
    // The 503 item once in the batch, then alone (and its note written once, by the resend).
    expect(
      h.sim.control
        .requests()
        .filter((r) => r.path.endsWith(ts[2]!.sysId))
        .map((r) => [r.inBatch !== undefined, r.status]),
    ).toEqual([
      [true, 503],
      [false, 200],
    ]);
    expect(resolvingNotes(ts[2]!.sysId)).toHaveLength(1);
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(1);
    expect(rs[3]).toMatchObject({ status: 'fulfilled', value: { outcome: 'needs-manual', reason: expect.stringContaining('not allowed') } });
    expect(notes(ts[3]!.sysId).filter((n) => /did not take effect/.test(n))).toHaveLength(1);
  });

  it('resends one by one the items the instance did not get to (unserviced_requests)', async () => {
    h = await harness();
    const ts = await tickets(30, 4);
    h.sim.control.setBatch({ serviceAtMost: 1 });
    expect(outcomes(await resolveAll(ts))).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(1);
    expect(h.sim.control.batchItemCount('PATCH')).toBe(1);
    expect(h.sim.control.requestCount('PATCH')).toBe(3);
    for (const t of ts) {
      expect(h.sim.control.record('incident', t.sysId)!.state).toBe('6');
      expect(resolvingNotes(t.sysId)).toHaveLength(1);
    }
  });

  it.each([400, 403, 404, 405] as const)('falls back to single PATCHes when the instance answers the batch endpoint %i, and remembers it', async (status) => {
    h = await harness();
    const ts = await tickets(40, 6);
    h.sim.control.setBatch({ disabledWith: status });
    expect(outcomes(await resolveAll(ts.slice(0, 3)))).toEqual(['resolved', 'resolved', 'resolved']);
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(1);
    expect(h.sim.control.requestCount('PATCH')).toBe(3);
    expect(outcomes(await resolveAll(ts.slice(3)))).toEqual(['resolved', 'resolved', 'resolved']);
    // The client does not ask the batch endpoint again.
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(1);
    expect(h.sim.control.requestCount('PATCH')).toBe(6);
    expect(h.sim.control.batchItemCount()).toBe(0);
    for (const t of ts) expect(resolvingNotes(t.sysId)).toHaveLength(1);
  });

  it('fails every item of a batch answered 5xx without sending it again whole (its items may have run; the next pass resends them)', async () => {
    h = await harness({ client: { maxRetries: 3 } });
    const ts = await tickets(50, 2);
    h.sim.control.failNext({ status: 500, method: 'POST', pathPrefix: BATCH, count: 1 });
    const rs = await resolveAll(ts);
    expect(rs.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(rs[0]).toMatchObject({ reason: { kind: 'server', operation: 'ticket update' } });
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(1);
    for (const t of ts) expect(h.sim.control.record('incident', t.sysId)!.state).not.toBe('6');
  });

  it('sends a batch again after a 429 (the instance ran none of it)', async () => {
    h = await harness({ client: { maxRetries: 3 } });
    const ts = await tickets(50, 2);
    h.sim.control.failNext({ status: 429, method: 'POST', pathPrefix: BATCH, count: 1 });
    const rs = await resolveAll(ts);
    expect(rs.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(h.sim.control.requestCount('POST', BATCH)).toBe(2);
    for (const t of ts) expect(resolvingNotes(t.sysId)).toHaveLength(1);
  });
});

describe('the simulated Batch API', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
  const unb64 = (s: string) => JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as { result?: Record<string, string>; error?: { message: string } };

  it('runs each item through the Table API with the batch request’s credentials and answers 200 with per-item statuses', async () => {
    h = await harness();
    const [t] = await tickets(60, 1);
    const token = await rawToken(h.sim);
    const res = await api(h.sim, token, 'POST', BATCH, {
      batch_request_id: 'b1',
      rest_requests: [
        {
          id: 'a',
          method: 'GET',
          url: `/api/now/v2/table/incident/${t!.sysId}?sysparm_fields=number`,
          headers: [{ name: 'Accept', value: 'application/json' }],
        },
        {
          id: 'b',
          method: 'PATCH',
          url: `/api/now/v2/table/incident/${t!.sysId}`,
          headers: [{ name: 'Content-Type', value: 'application/json' }],
          body: b64({ state: '6' }),
        },
        { id: 'c', method: 'GET', url: `/api/now/v2/table/incident/${'0'.repeat(32)}` },
      ],
    });
    expect(res.status).toBe(200);
    const served = res.json.serviced_requests as Array<{ id: string; status_code: number; body: string }>;
    expect(served.map((s) => [s.id, s.status_code])).toEqual([
      ['a', 200],
      ['b', 403],
      ['c', 404],
    ]);
    expect(unb64(served[0]!.body).result).toEqual({ number: t!.number });
    // The data policy of a direct PATCH applies to the item.
    expect(unb64(served[1]!.body).error!.message).toBe('Operation Failed');
    expect(res.json.unserviced_requests).toEqual([]);
    // Without credentials the batch itself is refused.
    expect((await api(h.sim, 'nope', 'POST', BATCH, { rest_requests: [] })).status).toBe(401);
  });
});
