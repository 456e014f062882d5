import {
  ServiceNowClient,
  ServiceNowError,
  ServiceNowInstances,
  type ServiceNowClientOptions,
  type StoredTokens,
  type TokenCache,
} from '../../connectors/servicenow/client.js';
import { DEFAULT_SIMULATOR_CREDENTIALS as C, userId } from '../../sandbox/servicenow/index.js';
import { correlationKey } from '../../core/servicenow-rules.js';
import { api, harness, rawToken, type Harness } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

const key = (n: number) => correlationKey('assessment-1', `/subscriptions/s/resourceGroups/rg/providers/x/vm-${n}`);
const corr = (n: number) => ({ correlationId: key(n), correlationDisplay: 'Microsoft Defender for Cloud' });
const incident = { short_description: 'VM has no endpoint protection', impact: 2, urgency: 2, caller_id: userId('alice.owner') };

async function caught(p: Promise<unknown>): Promise<ServiceNowError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ServiceNowError) return err;
    throw err;
  }
  throw new Error('expected a ServiceNowError');
}

describe('OAuth', () => {
  it('signs in once and reuses the cached token', async () => {
    h = await harness();
    const result = await h.client.testConnection();
    expect(result.user).toMatchObject({ userName: 'svc.defender', sysId: userId('svc.defender') });
    await h.client.resolveUser('alice.owner@contoso.com');
    expect(h.sim.control.tokenGrants()).toEqual(['password']);
  });

  it('refreshes before expiry instead of waiting for a 401', async () => {
    h = await harness({ sim: { accessTokenLifetimeSec: 1800 } });
    await h.client.testConnection();
    h.clock.advance(1801_000);
    await h.client.testConnection();
    expect(h.sim.control.tokenGrants()).toEqual(['password', 'refresh_token']);
    expect(h.sim.control.requests().filter((r) => r.status === 401)).toEqual([]);
  });

  it('falls back to the password grant when the refresh token is refused', async () => {
    h = await harness();
    await h.client.testConnection();
    h.clock.advance(1801_000);
    h.sim.control.expireTokens({ refresh: true });
    await h.client.testConnection();
    expect(h.sim.control.tokenGrants()).toEqual(['password', 'refresh_token', 'password']);
  });

  it('re-authenticates once on a 401 and retries the request', async () => {
    h = await harness();
    await h.client.testConnection();
    h.sim.control.expireTokens();
    const user = await h.client.resolveUser('bob.manager@contoso.com');
    expect(user.userName).toBe('bob.manager');
    expect(h.sim.control.requests().filter((r) => r.status === 401)).toHaveLength(1);
    expect(h.sim.control.tokenGrants()).toEqual(['password', 'refresh_token']);
  });

  it('gives up after the second 401 with an auth error', async () => {
    h = await harness();
    await h.client.testConnection();
    h.sim.control.failNext({ status: 401, count: 5 });
    const err = await caught(h.client.testConnection());
    expect(err.kind).toBe('auth');
    expect(h.sim.control.requestCount('GET', '/api/now/v2/table/sys_user')).toBe(3);
  });

  it('reports refused credentials without leaking any secret', async () => {
    h = await harness();
    const client = h.makeClient({ password: 'Wr0ng-Pa55word-XYZ' });
    const err = await caught(client.testConnection());
    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/refused the OAuth sign-in.*access_denied/);
    const everything = [err.message, err.reason, JSON.stringify(err), ...h.logs].join('\n');
    for (const secret of ['Wr0ng-Pa55word-XYZ', C.clientSecret, C.password]) expect(everything).not.toContain(secret);
  });

  it('loads and saves tokens through the cache and never logs them', async () => {
    const saved: StoredTokens[] = [];
    h = await harness();
    const token = await rawToken(h.sim);
    const cache: TokenCache = {
      load: async () => ({
        instanceUrl: h.sim.url,
        username: C.username,
        clientId: C.clientId,
        accessToken: token,
        accessTokenExpiresAt: new Date(h.clock.now().getTime() + 1_000_000).toISOString(),
      }),
      save: async (t) => {
        saved.push(t);
      },
    };
    h.sim.control.resetStats();
    const client = h.makeClient({ tokenCache: cache });
    await client.testConnection();
    expect(h.sim.control.tokenGrants()).toEqual([]);
    h.sim.control.expireTokens();
    await client.testConnection();
    expect(saved).toHaveLength(1);
    expect(saved[0]!.accessToken).not.toBe(token);
    expect(h.logs.join('\n')).not.toContain(saved[0]!.accessToken);
    expect(h.logs.join('\n')).not.toContain(token);
  });
});

describe('retries', () => {
  it('honours Retry-After on 429', async () => {
    h = await harness();
    h.sim.control.failNext({ status: 429, retryAfterSec: 7 });
    await h.client.testConnection();
    expect(h.sleeps).toEqual([7000]);
  });

  it('retries 5xx with exponential backoff and jitter, then succeeds', async () => {
    h = await harness();
    h.sim.control.failNext({ status: 503, count: 2 });
    await h.client.testConnection();
    // base 100 ms, random 0.5 -> half the cap plus half of the jitter range
    expect(h.sleeps).toEqual([75, 150]);
  });

  it('bounds retries and then fails with the last error', async () => {
    h = await harness();
    h.sim.control.failNext({ status: 500, count: 10 });
    const err = await caught(h.client.testConnection());
    expect(err.kind).toBe('server');
    expect(err.status).toBe(500);
    expect(err.reason).toMatch(/gave up after 4 attempts/);
    expect(h.sim.control.requestCount('GET', '/api/')).toBe(4);
    expect(h.sleeps).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond the configured maximum', async () => {
    h = await harness({ client: { maxRetryAfterMs: 10_000 } });
    h.sim.control.failNext({ status: 429, retryAfterSec: 3600 });
    const err = await caught(h.client.testConnection());
    expect(err.kind).toBe('rate-limited');
    expect(h.sleeps).toEqual([]);
  });

  // issue 13 item 9: adding an integration whose host does not exist spent 3.4 s retrying DNS.
  it('does not retry a host name that does not resolve (ENOTFOUND), but does retry a resolver hiccup (EAI_AGAIN)', async () => {
    h = await harness();
    const failingLookup = (code: string) => {
      const calls: string[] = [];
      const lookup = ((hostname: string, _options: unknown, callback: (err: Error) => void) => {
        calls.push(hostname);
        callback(Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, hostname }));
      }) as unknown as NonNullable<ServiceNowClientOptions['lookup']>;
      return { calls, lookup };
    };
    // A host name (an IP literal would not be looked up), with a resolver that fails the given way.
    const client = (lookup: NonNullable<ServiceNowClientOptions['lookup']>) =>
      new ServiceNowClient({
        connection: { ...C, instanceUrl: 'https://contoso-missing.service-now.com' },
        clock: h.clock,
        sleep: async (ms) => void h.sleeps.push(ms),
        options: { maxRetries: 3, baseDelayMs: 100, lookup },
      });
    const missing = failingLookup('ENOTFOUND');
    const err = await caught(client(missing.lookup).testConnection());
    expect(err.kind).toBe('network');
    expect(err.reason).toMatch(/host name does not resolve \(ENOTFOUND/);
    expect(err.reason).not.toMatch(/gave up/);
    expect(missing.calls).toEqual(['contoso-missing.service-now.com']);
    expect(h.sleeps).toEqual([]);

    const hiccup = failingLookup('EAI_AGAIN');
    const again = await caught(client(hiccup.lookup).testConnection());
    expect(again.reason).toMatch(/EAI_AGAIN.*gave up after 4 attempts/);
    expect(hiccup.calls).toHaveLength(4);
    expect(h.sleeps).toHaveLength(3);
  });

  it('treats a 200 HTML page as a hibernating instance, without retrying', async () => {
    h = await harness();
    await h.client.testConnection();
    h.sim.control.resetStats();
    h.sim.control.respondHtmlNext();
    const err = await caught(h.client.testConnection());
    expect(err.kind).toBe('invalid-response');
    expect(err.message).toMatch(/instance returned HTML.*hibernating/);
    expect(h.sim.control.requestCount()).toBe(1);
  });
});

describe('concurrency', () => {
  it('keeps at most `concurrency` requests in flight per instance, across client objects', async () => {
    h = await harness({ client: { concurrency: 2 } });
    const other = h.makeClient({ options: { concurrency: 10 } });
    await Promise.all([h.client.testConnection(), other.testConnection()]);
    h.sim.control.resetStats();
    h.sim.control.setLatency(30);
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? h.client : other).resolveUser('carol.nguyen@contoso.com')));
    expect(h.sim.control.requestCount('GET')).toBe(8);
    expect(h.sim.control.maxInFlight()).toBe(2);
  });

  it('keeps no budget in module state: a client of another composition root (its own ServiceNowInstances) gets its own', async () => {
    h = await harness({ client: { concurrency: 1 } });
    await h.client.testConnection();
    const elsewhere = new ServiceNowClient({
      connection: { instanceUrl: h.sim.url, ...C },
      clock: h.clock,
      instances: new ServiceNowInstances(),
      options: { concurrency: 3 },
    });
    await elsewhere.testConnection();
    h.sim.control.resetStats();
    h.sim.control.setLatency(30);
    await Promise.all(Array.from({ length: 6 }, () => elsewhere.resolveUser('carol.nguyen@contoso.com')));
    expect(h.sim.control.maxInFlight()).toBe(3);
  });
});

describe('users', () => {
  beforeEach(async () => {
    h = await harness();
  });

  it('resolves by email (case-insensitively) and then by user_name', async () => {
    expect(await h.client.resolveUser('alice.owner@contoso.com')).toEqual({
      sysId: userId('alice.owner'),
      userName: 'alice.owner',
      email: 'alice.owner@contoso.com',
      name: 'Alice Owner',
    });
    expect((await h.client.resolveUser('Alice.Owner@Contoso.com')).userName).toBe('alice.owner');
    expect((await h.client.resolveUser('bob.manager')).sysId).toBe(userId('bob.manager'));
    // The inactive duplicate account does not make Dave ambiguous.
    expect((await h.client.resolveUser('dave.okafor@contoso.com')).userName).toBe('dave.okafor');
  });

  it('names the person when nobody or several users match', async () => {
    const missing = await caught(h.client.resolveUser('nobody@contoso.com'));
    expect(missing.kind).toBe('user-not-found');
    expect(missing.message).toContain("No ServiceNow user matches 'nobody@contoso.com'");
    const ambiguous = await caught(h.client.resolveUser('sam.rivera@contoso.com'));
    expect(ambiguous.kind).toBe('user-ambiguous');
    expect(ambiguous.message).toContain("2 active ServiceNow users match 'sam.rivera@contoso.com'");
  });

  it('refuses identities that would inject query terms', async () => {
    const err = await caught(h.client.resolveUser('x@contoso.com^ORactive=true'));
    expect(err.kind).toBe('invalid-input');
    expect(h.sim.control.requestCount('GET', '/api/')).toBe(0);
  });
});

describe('createTicket', () => {
  beforeEach(async () => {
    h = await harness();
  });

  it('creates once, then finds the existing ticket by correlation id', async () => {
    const first = await h.client.createTicket('incident', incident, corr(1));
    expect(first).toMatchObject({ number: 'INC0010001', table: 'incident', created: true });
    expect(first.link).toBe(`${h.sim.url}/nav_to.do?uri=%2Fincident.do%3Fsys_id%3D${first.sysId}`);
    const again = await h.client.createTicket('incident', incident, corr(1));
    expect(again).toEqual({ ...first, created: false });
    const rows = h.sim.control.records('incident');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ correlation_id: key(1), correlation_display: 'Microsoft Defender for Cloud', priority: '3' });
    expect(h.sim.control.journal(first.sysId)).toHaveLength(1);
  });

  it('makes exactly one ticket when the create response is lost', async () => {
    h.sim.control.dropNextCreateResponse();
    const result = await h.client.createTicket('incident', incident, corr(2));
    expect(result.created).toBe(true);
    expect(h.sim.control.records('incident')).toHaveLength(1);
    expect(h.sim.control.records('incident')[0]!.sys_id).toBe(result.sysId);
    expect(h.sim.control.requestCount('POST', '/api/')).toBe(1);
  });

  it('retries a create that failed before committing', async () => {
    h.sim.control.failNext({ status: 500, method: 'POST' });
    const result = await h.client.createTicket('problem', { short_description: 'p' }, corr(3));
    expect(result).toMatchObject({ number: 'PRB0010001', created: true });
    expect(h.sim.control.requestCount('POST', '/api/')).toBe(2);
    expect(h.sim.control.records('problem')).toHaveLength(1);
  });

  it('does not race two concurrent creates of the same finding', async () => {
    const [a, b] = await Promise.all([h.client.createTicket('incident', incident, corr(4)), h.makeClient().createTicket('incident', incident, corr(4))]);
    expect(a.sysId).toBe(b.sysId);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(h.sim.control.records('incident')).toHaveLength(1);
  });

  it('rejects correlation ids longer than 100 characters', async () => {
    const err = await caught(h.client.createTicket('incident', incident, { correlationId: 'x'.repeat(101), correlationDisplay: 'd' }));
    expect(err.kind).toBe('invalid-input');
  });
});

describe('reads and updates', () => {
  beforeEach(async () => {
    h = await harness({ client: { batchSize: 2 } });
  });

  it('reads tickets in sys_idIN batches and skips unknown ids', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await h.client.createTicket('incident', incident, corr(10 + i)));
    h.sim.control.resetStats();
    const tickets = await h.client.getTickets('incident', [...created.map((c) => c.sysId), 'f'.repeat(32)]);
    expect(tickets.map((t) => t.number).sort()).toEqual(created.map((c) => c.number).sort());
    expect(h.sim.control.requestCount('GET', '/api/now/v2/table/incident')).toBe(3);
  });

  it('reads changed tickets page by page from a moment, with the instance clock as horizon and the latest copy of one changed mid-read', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await h.client.createTicket('incident', incident, corr(30 + i)));
    h.clock.advance(60_000);
    // Three rows share 09:01:00; the one of them first in sys_id order (so on the first page) is
    // changed again while the read is under way: it comes back later, and only that copy is kept.
    const [first, , third] = created.slice(0, 3).sort((x, y) => (x.sysId < y.sysId ? -1 : 1)) as [(typeof created)[0], unknown, (typeof created)[0]];
    for (const c of created.slice(0, 3)) h.sim.control.setFields('incident', c.sysId, { urgency: '1' });
    h.sim.control.afterNextList('incident', () => {
      h.clock.advance(1000);
      h.sim.control.setFields('incident', first.sysId, { state: '2' });
    });
    h.sim.control.resetStats();
    const read = await h.client.getTicketsChangedSince('incident', new Date('2025-03-01T09:00:30.999Z'), { pageSize: 2 });
    expect(read.horizon).toBe('2025-03-01T09:01:00.000Z');
    expect(read.tickets.map((t) => t.ticket.number).sort()).toEqual(
      created
        .slice(0, 3)
        .map((c) => c.number)
        .sort(),
    );
    expect(read.tickets.find((t) => t.ticket.sysId === first.sysId)).toMatchObject({ ticket: { state: '2' }, updatedAt: '2025-03-01T09:01:01.000Z' });
    expect(read.tickets.find((t) => t.ticket.sysId === third.sysId)?.updatedAt).toBe('2025-03-01T09:01:00.000Z');
    // The moment is rounded down to the second, as the raw format has no fractions.
    expect(h.sim.control.requests()[0]?.query).toBe('sys_updated_on>=2025-03-01 09:00:30^ORDERBYsys_updated_on^ORDERBYsys_id');
    expect(read.pages).toBe(h.sim.control.requestCount('GET', '/api/now/v2/table/incident'));
  });

  it('reports fields ServiceNow silently ignored and appends work notes', async () => {
    const prb = await h.client.createTicket('problem', { short_description: 'p' }, corr(20));
    const res = await h.client.updateTicket('problem', prb.sysId, { state: '104', workaround: 'restrict NSG', u_custom: 'x' });
    expect(res.notApplied.sort()).toEqual(['state', 'u_custom']);
    expect(res.record.fields.workaround).toBe('restrict NSG');
    await h.client.addWorkNote('problem', prb.sysId, 'checked by the bot');
    expect(h.sim.control.journal(prb.sysId).map((j) => j.value)).toContain('checked by the bot');
  });

  it('rejects malformed sys_ids before calling ServiceNow', async () => {
    expect((await caught(h.client.getTicket('incident', 'INC0010001'))).kind).toBe('invalid-input');
  });
});

describe('lifecycle', () => {
  beforeEach(async () => {
    h = await harness({ client: { closeCode: 'Workaround provided' } });
  });

  const notes = (sysId: string) => h.sim.control.journal(sysId).map((j) => j.value);

  it('resolves an incident with the configured close code and notes, verified by the record the PATCH answers', async () => {
    const inc = await h.client.createTicket('incident', incident, corr(30));
    h.sim.control.resetStats();
    const result = await h.client.resolveTicket('incident', inc.sysId, 'Endpoint protection installed on vm-30.');
    expect(result).toEqual({ outcome: 'resolved', state: '6', number: inc.number, link: inc.link });
    // Read, then one PATCH that resolves and carries the work note (its answer is the read-back).
    expect(h.sim.control.requestCount(undefined, '/api/')).toBe(2);
    expect(h.sim.control.requestCount('GET')).toBe(1);
    expect(h.sim.control.requestCount('PATCH')).toBe(1);
    expect(h.sim.control.record('incident', inc.sysId)).toMatchObject({
      state: '6',
      close_code: 'Workaround provided',
      close_notes: 'Endpoint protection installed on vm-30.',
    });
    expect(notes(inc.sysId).filter((n) => /Resolving automatically\. Evidence: Endpoint protection installed on vm-30\./.test(n))).toHaveLength(1);
    // A raw Table API client that forgets the close fields gets the data policy 403.
    const other = await h.client.createTicket('incident', incident, corr(31));
    const raw = await api(h.sim, await rawToken(h.sim), 'PATCH', `/api/now/table/incident/${other.sysId}`, { state: '6' });
    expect(raw.status).toBe(403);
    expect(raw.json.error.detail).toContain('Data Policy Exception');
  });

  it('joins the reads of resolutions started together into one sys_idIN read; a missing ticket fails only its own', async () => {
    const tickets = await Promise.all([40, 41, 42].map((n) => h.client.createTicket('incident', incident, corr(n))));
    h.sim.control.setFields('incident', tickets[2]!.sysId, { state: '6', close_code: 'Solution provided', close_notes: 'by hand' });
    h.sim.control.resetStats();
    const missing = 'f'.repeat(32);
    const results = await Promise.allSettled([
      ...tickets.map((t) => h.client.resolveTicket('incident', t.sysId, 'fixed')),
      h.client.resolveTicket('incident', missing, 'fixed'),
    ]);
    expect(results.slice(0, 3).map((r) => (r.status === 'fulfilled' ? r.value.outcome : r.reason))).toEqual(['resolved', 'resolved', 'resolved']);
    expect(results[2]).toMatchObject({ value: { reason: 'already resolved in ServiceNow' } });
    expect(results[3]).toMatchObject({ status: 'rejected', reason: { kind: 'not-found' } });
    const reads = h.sim.control.requests().filter((r) => r.method === 'GET');
    expect(reads).toHaveLength(1);
    expect(reads[0]!.query).toBe(`sys_idIN${[...tickets.map((t) => t.sysId), missing].join(',')}`);
    // The two open ones resolved, each with its one note, in one Batch API request; the one resolved by hand was left alone.
    expect(h.sim.control.requestCount('POST', '/api/now/v1/batch')).toBe(1);
    expect(h.sim.control.batchItemCount('PATCH')).toBe(2);
    for (const t of tickets.slice(0, 2)) expect(h.sim.control.record('incident', t.sysId)!.state).toBe('6');
    expect(notes(tickets[2]!.sysId).filter((n) => /automatically\. Evidence/.test(n))).toEqual([]);
  });

  it('reports needs-manual when a data policy still rejects the resolution', async () => {
    await h.close();
    h = await harness({ client: { closeCode: '' } });
    const inc = await h.client.createTicket('incident', incident, corr(32));
    const result = await h.client.resolveTicket('incident', inc.sysId, 'fixed');
    expect(result.outcome).toBe('needs-manual');
    expect(result.reason).toMatch(/data policy.*Resolution code/);
    expect(result.state).toBe('1');
    expect(notes(inc.sysId).some((n) => /did not take effect/.test(n))).toBe(true);
  });

  it('does not claim a problem resolution the Table API ignored', async () => {
    const prb = await h.client.createTicket('problem', { short_description: 'p' }, corr(33));
    h.sim.control.resetStats();
    const result = await h.client.resolveTicket('problem', prb.sysId, 'Patched all hosts.');
    expect(result).toMatchObject({ outcome: 'needs-manual', state: '101' });
    // The 200 with the state left as it was is seen in the PATCH's own answer, without a read-back.
    expect(h.sim.control.requestCount('GET')).toBe(1);
    expect(h.sim.control.requestCount('PATCH')).toBe(2);
    expect(result.reason).toMatch(/problem/);
    expect(h.sim.control.record('problem', prb.sysId)).toMatchObject({ state: '101', resolution_code: 'fix_applied', fix_notes: 'Patched all hosts.' });
    expect(notes(prb.sysId).some((n) => /resolve it manually/.test(n))).toBe(true);
  });

  it('resolves a problem where the instance allows state moves', async () => {
    h.sim.control.setRules({ problemStateTransitions: true });
    const prb = await h.client.createTicket('problem', { short_description: 'p', assigned_to: userId('carol.nguyen') }, corr(34));
    const result = await h.client.resolveTicket('problem', prb.sysId, 'Patched all hosts.');
    expect(result).toMatchObject({ outcome: 'resolved', state: '106' });
    expect(h.sim.control.record('problem', prb.sysId)).toMatchObject({ resolution_code: 'fix_applied', fix_notes: 'Patched all hosts.' });
    expect(h.sim.control.record('problem', prb.sysId)!.cause_notes).not.toBe('');
  });

  it('closes a change only when its model allows it', async () => {
    const chg = await h.client.createTicket('change_request', { short_description: 'c', type: 'normal' }, corr(35));
    const blocked = await h.client.resolveTicket('change_request', chg.sysId, 'done');
    expect(blocked).toMatchObject({ outcome: 'needs-manual', state: '-5' });
    expect(blocked.reason).toMatch(/approval/);
    h.sim.control.approveChange(chg.sysId);
    const closed = await h.client.resolveTicket('change_request', chg.sysId, 'done');
    expect(closed).toMatchObject({ outcome: 'resolved', state: '3' });
    expect(h.sim.control.record('change_request', chg.sysId)).toMatchObject({ close_code: 'successful', close_notes: 'done' });
    const std = await h.client.createTicket('change_request', { short_description: 's', type: 'standard' }, corr(36));
    expect((await h.client.resolveTicket('change_request', std.sysId, 'done')).outcome).toBe('resolved');
  });

  it('does nothing when a human already resolved the ticket', async () => {
    const inc = await h.client.createTicket('incident', incident, corr(37));
    h.sim.control.setFields('incident', inc.sysId, { state: '7', close_code: 'Solution provided', close_notes: 'by hand' });
    h.sim.control.resetStats();
    const result = await h.client.resolveTicket('incident', inc.sysId, 'fixed');
    expect(result).toMatchObject({ outcome: 'resolved', state: '7', reason: 'already resolved in ServiceNow' });
    expect(h.sim.control.requestCount('PATCH')).toBe(0);
  });

  it('reopens resolved incidents, reports closed ones, and refuses other tables', async () => {
    const inc = await h.client.createTicket('incident', incident, corr(38));
    expect((await h.client.reopenTicket('incident', inc.sysId, 'still unhealthy')).outcome).toBe('already-open');
    await h.client.resolveTicket('incident', inc.sysId, 'fixed');
    const reopened = await h.client.reopenTicket('incident', inc.sysId, 'Defender reports the VM unhealthy again');
    expect(reopened).toMatchObject({ outcome: 'reopened', state: '2' });
    expect(notes(inc.sysId).some((n) => n.includes('Defender reports the VM unhealthy again'))).toBe(true);

    h.sim.control.setFields('incident', inc.sysId, { state: '7' });
    const closed = await h.client.reopenTicket('incident', inc.sysId, 'again');
    expect(closed).toMatchObject({ outcome: 'needs-manual', state: '7' });

    const prb = await h.client.createTicket('problem', { short_description: 'p' }, corr(39));
    expect(await h.client.reopenTicket('problem', prb.sysId, 'x')).toEqual({ outcome: 'not-reopenable', link: prb.link });
  });

  it('lists choice values from sys_choice', async () => {
    const codes = await h.client.getChoices('incident', 'close_code');
    expect(codes.map((c) => c.value)).toContain('Solution provided');
    expect(codes).toHaveLength(10);
  });
});

describe('timeouts', () => {
  it('retries a read that timed out, then reports a timeout', async () => {
    h = await harness({ client: { timeoutMs: 40, maxRetries: 1 } });
    await h.client.testConnection();
    h.sim.control.setLatency(150);
    const err = await caught(h.client.testConnection());
    expect(err.kind).toBe('timeout');
    expect(err.reason).toMatch(/gave up after 2 attempts/);
    expect(h.sleeps).toHaveLength(1);
  });
});
