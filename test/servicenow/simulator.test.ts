import { HOUR_MS } from '../../core/clock.js';
import { DEFAULT_SIMULATOR_CREDENTIALS as C, defaultSeed, groupId, userId } from '../../sandbox/servicenow/index.js';
import { api, harness, rawToken, type Harness } from './helpers.js';

let h: Harness;
let token: string;
beforeEach(async () => {
  h = await harness({ sim: { accessTokenLifetimeSec: 1800 } });
  token = await rawToken(h.sim);
});
afterEach(() => h.close());

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

describe('oauth_token.do', () => {
  it('issues Bearer tokens for the password grant and only an access token for the refresh grant', async () => {
    const res = await fetch(
      `${h.sim.url}/oauth_token.do`,
      form({ grant_type: 'password', client_id: C.clientId, client_secret: C.clientSecret, username: C.username, password: C.password }),
    );
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'useraccount', expires_in: 1800 });
    expect(body.access_token).toBe(token); // the current token is handed out again while valid
    const refreshed = await fetch(
      `${h.sim.url}/oauth_token.do`,
      form({ grant_type: 'refresh_token', client_id: C.clientId, client_secret: C.clientSecret, refresh_token: String(body.refresh_token) }),
    );
    const rbody = (await refreshed.json()) as Record<string, unknown>;
    expect(refreshed.status).toBe(200);
    expect(rbody.access_token).toEqual(expect.any(String));
    expect(rbody).not.toHaveProperty('refresh_token');
  });

  it('answers 401 access_denied for bad credentials and refuses JSON bodies', async () => {
    const bad = await fetch(
      `${h.sim.url}/oauth_token.do`,
      form({ grant_type: 'password', client_id: C.clientId, client_secret: C.clientSecret, username: C.username, password: 'wrong' }),
    );
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error_description: 'access_denied', error: 'server_error' });
    const json = await fetch(`${h.sim.url}/oauth_token.do`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password', client_id: C.clientId, client_secret: C.clientSecret, username: C.username, password: C.password }),
    });
    expect(json.status).toBe(400);
  });
});

describe('Table API authentication', () => {
  const notAuthenticated = { error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' }, status: 'failure' };

  it('rejects missing, unknown and clock-expired tokens with ServiceNow’s 401 body', async () => {
    const none = await fetch(`${h.sim.url}/api/now/table/incident`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual(notAuthenticated);
    expect((await api(h.sim, 'nope', 'GET', '/api/now/table/incident')).status).toBe(401);
    expect((await api(h.sim, token, 'GET', '/api/now/table/incident')).status).toBe(200);
    h.clock.advance(HOUR_MS);
    const expired = await api(h.sim, token, 'GET', '/api/now/table/incident');
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual(notAuthenticated);
  });
});

describe('Table API writes', () => {
  it('creates a record with number, sys_id, clock dates, computed priority and journal write-through', async () => {
    const res = await api(h.sim, token, 'POST', '/api/now/table/incident', {
      short_description: 'Storage account allows public access',
      impact: '2',
      urgency: 2,
      priority: '1',
      caller_id: userId('alice.owner'),
      assignment_group: groupId('Cloud Security Operations'),
      work_notes: 'first note',
      u_not_a_field: 'dropped',
      correlation_id: 'mdc-abc',
      correlation_display: 'Microsoft Defender for Cloud',
    });
    expect(res.status).toBe(201);
    const r = res.json.result;
    expect(res.headers.get('location')).toBe(`${h.sim.url}/api/now/table/incident/${r.sys_id}`);
    expect(r.sys_id).toMatch(/^[0-9a-f]{32}$/);
    expect(r.number).toBe('INC0010001');
    expect(r.priority).toBe('3');
    expect(r.state).toBe('1');
    expect(r.sys_created_on).toBe('2025-03-01 09:00:00');
    expect(r.work_notes).toBe('');
    expect(r).not.toHaveProperty('u_not_a_field');
    expect(r.correlation_id).toBe('mdc-abc');
    expect(r.caller_id).toEqual({ link: `${h.sim.url}/api/now/table/sys_user/${userId('alice.owner')}`, value: userId('alice.owner') });
    expect(h.sim.control.journal(r.sys_id).map((j) => [j.element, j.value])).toEqual([['work_notes', 'first note']]);

    const second = await api(h.sim, token, 'POST', '/api/now/table/problem', { short_description: 'x' });
    expect(second.json.result.number).toBe('PRB0010001');
    expect(second.json.result.state).toBe('101');
  });

  it('refuses to resolve an incident without close_code and close_notes (data policy 403)', async () => {
    const inc = (await api(h.sim, token, 'POST', '/api/now/table/incident', { short_description: 'x' })).json.result;
    const res = await api(h.sim, token, 'PATCH', `/api/now/table/incident/${inc.sys_id}`, { state: '6', close_notes: 'done' });
    expect(res.status).toBe(403);
    expect(res.json.status).toBe('failure');
    expect(res.json.error.detail).toMatch(/^Data Policy Exception: .*mandatory: Resolution code/s);
    expect(h.sim.control.record('incident', inc.sys_id)?.state).toBe('1');
    const ok = await api(h.sim, token, 'PATCH', `/api/now/table/incident/${inc.sys_id}`, { state: '6', close_code: 'Solution provided', close_notes: 'done' });
    expect(ok.status).toBe(200);
    expect(ok.json.result.state).toBe('6');
    expect(ok.json.result.resolved_at).toBe('2025-03-01 09:00:00');
  });

  it('ignores problem state changes through the Table API but keeps the other fields', async () => {
    const prb = (await api(h.sim, token, 'POST', '/api/now/table/problem', { short_description: 'x' })).json.result;
    const res = await api(h.sim, token, 'PATCH', `/api/now/table/problem/${prb.sys_id}`, {
      state: '106',
      resolution_code: 'fix_applied',
      fix_notes: 'patched',
    });
    expect(res.status).toBe(200);
    expect(res.json.result.state).toBe('101');
    expect(res.json.result.fix_notes).toBe('patched');
    h.sim.control.setRules({ problemStateTransitions: true });
    const refused = await api(h.sim, token, 'PATCH', `/api/now/table/problem/${prb.sys_id}`, { state: '106' });
    expect(refused.status).toBe(403);
    expect(refused.json.error.detail).toMatch(/Assigned to, Cause notes/);
  });

  it('moves normal changes only once approved; standard changes move freely', async () => {
    const normal = (await api(h.sim, token, 'POST', '/api/now/table/change_request', { short_description: 'n', type: 'normal' })).json.result;
    expect(normal.approval).toBe('not requested');
    const close = { state: '3', close_code: 'successful', close_notes: 'done' };
    const ignored = await api(h.sim, token, 'PATCH', `/api/now/table/change_request/${normal.sys_id}`, { state: '3' });
    expect([ignored.status, ignored.json.result.state]).toEqual([200, '-5']);
    h.sim.control.approveChange(normal.sys_id);
    expect((await api(h.sim, token, 'PATCH', `/api/now/table/change_request/${normal.sys_id}`, { state: '3' })).status).toBe(403);
    expect((await api(h.sim, token, 'PATCH', `/api/now/table/change_request/${normal.sys_id}`, close)).json.result.state).toBe('3');
    const std = (await api(h.sim, token, 'POST', '/api/now/table/change_request', { short_description: 's', type: 'standard' })).json.result;
    expect((await api(h.sim, token, 'PATCH', `/api/now/table/change_request/${std.sys_id}`, { state: '-1' })).json.result.state).toBe('-1');
  });
});

describe('Table API reads', () => {
  it('pages with sysparm_limit/offset, X-Total-Count and Link headers', async () => {
    const res = await api(
      h.sim,
      token,
      'GET',
      '/api/now/table/sys_user?sysparm_query=ORDERBYuser_name&sysparm_limit=3&sysparm_offset=3&sysparm_fields=user_name',
    );
    expect(res.headers.get('x-total-count')).toBe(String(defaultSeed().sys_user!.length));
    expect(res.json.result).toEqual([{ user_name: 'bob.manager' }, { user_name: 'bob.martinez' }, { user_name: 'carol.nguyen' }]);
    const links = Object.fromEntries(
      (res.headers.get('link') ?? '').split(',').map((part) => {
        const m = /^<([^>]+)>;rel="(\w+)"$/.exec(part.trim());
        const u = new URL(m![1]!);
        return [m![2], `${u.searchParams.get('sysparm_offset')}/${u.searchParams.get('sysparm_limit')}/${u.searchParams.get('sysparm_query')}`];
      }),
    );
    expect(links).toEqual({
      first: '0/3/ORDERBYuser_name',
      prev: '0/3/ORDERBYuser_name',
      next: '6/3/ORDERBYuser_name',
      last: '12/3/ORDERBYuser_name',
    });
  });

  it('evaluates encoded queries: AND, OR, IN, !=, LIKE, ORDERBYDESC, dot-walk; ignores unknown fields', async () => {
    const names = async (q: string) =>
      (await api(h.sim, token, 'GET', `/api/now/table/sys_user?sysparm_fields=user_name&sysparm_query=${encodeURIComponent(q)}`)).json.result.map(
        (r: { user_name: string }) => r.user_name,
      );
    expect(await names('email=sam.rivera@contoso.com^active=true^ORDERBYDESCuser_name')).toEqual(['srivera', 'sam.rivera']);
    expect(await names('user_nameINadmin,bob.manager^ORDERBYuser_name')).toEqual(['admin', 'bob.manager']);
    expect(await names('active=false')).toEqual(['dokafor.old']);
    expect(await names('manager.user_name=bob.manager^user_name!=carol.nguyen^ORDERBYuser_name')).toEqual(['alice.owner', 'dave.okafor', 'sam.rivera']);
    expect(await names('user_name=admin^ORuser_name=srivera^ORDERBYuser_name')).toEqual(['admin', 'srivera']);
    expect(await names('emailLIKEOKAFOR^ORDERBYuser_name')).toEqual(['dave.okafor', 'dokafor.old']);
    // The platform's dangerous default: the misspelt term is dropped, every row comes back.
    expect(await names('e_mail=nobody@contoso.com')).toHaveLength(defaultSeed().sys_user!.length);
  });

  it('follows changes: sys_updated_on stamped by every change, compared in the raw UTC format, ordered, its clock in Date', async () => {
    const numbers = async (q: string) =>
      (await api(h.sim, token, 'GET', `/api/now/table/incident?sysparm_fields=number&sysparm_query=${encodeURIComponent(q)}`)).json.result.map(
        (r: { number: string }) => r.number,
      );
    const [a, b, c] = ['first', 'second', 'third'].map((d) => {
      const row = h.sim.control.insert('incident', { short_description: d });
      h.clock.advance(5 * 60_000);
      return row;
    }) as [Record<string, string>, Record<string, string>, Record<string, string>];
    expect([a.sys_updated_on, b.sys_updated_on, c.sys_updated_on]).toEqual(['2025-03-01 09:00:00', '2025-03-01 09:05:00', '2025-03-01 09:10:00']);
    // A Table API write stamps the row with the instance's clock (09:15).
    const patched = await api(h.sim, token, 'PATCH', `/api/now/table/incident/${a.sys_id}`, { urgency: '1' });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('date')).toBe('Sat, 01 Mar 2025 09:15:00 GMT');
    expect(h.sim.control.record('incident', a.sys_id!)!.sys_updated_on).toBe('2025-03-01 09:15:00');
    expect(await numbers('sys_updated_on>=2025-03-01 09:05:00^ORDERBYsys_updated_on')).toEqual([b.number, c.number, a.number]);
    expect(await numbers('sys_updated_on>2025-03-01 09:05:00^ORDERBYDESCsys_updated_on')).toEqual([a.number, c.number]);
    expect(await numbers('sys_updated_on=2025-03-01 09:10:00')).toEqual([c.number]);
    expect(await numbers('sys_updated_on>=2025-03-02')).toEqual([]);
    // Not the raw format (ISO, a time zone, a display format): the platform ignores the term and
    // answers every row, so a client that gets it wrong sees rows it did not ask for.
    const all = (await numbers('ORDERBYnumber')).length;
    expect(all).toBeGreaterThanOrEqual(3);
    for (const bad of ['2025-03-01T09:05:00Z', '2025-03-01 09:05:00Z', '01-03-2025 09:05:00', '2025-03-01 25:00:00'])
      expect(await numbers(`sys_updated_on>=${bad}`)).toHaveLength(all);
    // Keyset on sys_id compares text (sys_ids are hex, never numbers).
    const ids = [a.sys_id!, b.sys_id!, c.sys_id!].sort();
    const after = (
      await api(h.sim, token, 'GET', `/api/now/table/incident?sysparm_fields=sys_id&sysparm_query=${encodeURIComponent(`sys_id>${ids[0]}^ORDERBYsys_id`)}`)
    ).json.result as Array<{ sys_id: string }>;
    expect(after.map((r) => r.sys_id).filter((id) => ids.includes(id))).toEqual(ids.slice(1));
  });

  it('renders display values, reference links and field lists', async () => {
    const alice = userId('alice.owner');
    const path = `/api/now/table/sys_user/${alice}?sysparm_fields=name,manager,nonexistent`;
    expect((await api(h.sim, token, 'GET', path)).json.result).toEqual({
      name: 'Alice Owner',
      manager: { link: `${h.sim.url}/api/now/table/sys_user/${userId('bob.manager')}`, value: userId('bob.manager') },
    });
    expect((await api(h.sim, token, 'GET', `${path}&sysparm_exclude_reference_link=true`)).json.result.manager).toBe(userId('bob.manager'));
    expect((await api(h.sim, token, 'GET', `${path}&sysparm_display_value=true`)).json.result.manager).toEqual({
      display_value: 'Bob Manager',
      link: `${h.sim.url}/api/now/table/sys_user/${userId('bob.manager')}`,
    });
    const inc = (await api(h.sim, token, 'POST', '/api/now/table/incident', { short_description: 'x', impact: 1, urgency: 1 })).json.result;
    const all = (await api(h.sim, token, 'GET', `/api/now/table/incident/${inc.sys_id}?sysparm_display_value=all&sysparm_fields=state,priority`)).json.result;
    expect(all).toEqual({ state: { display_value: 'New', value: '1' }, priority: { display_value: '1 - Critical', value: '1' } });
    const shown = (await api(h.sim, token, 'GET', `/api/now/table/incident/${inc.sys_id}?sysparm_display_value=true&sysparm_fields=state`)).json.result;
    expect(shown).toEqual({ state: 'New' });
  });

  it('answers errors in the ServiceNow envelope', async () => {
    const badTable = await api(h.sim, token, 'GET', '/api/now/table/sys_nonexistent');
    expect(badTable.status).toBe(400);
    expect(badTable.json).toEqual({ error: { message: 'Invalid table sys_nonexistent', detail: 'Table sys_nonexistent does not exist' }, status: 'failure' });
    const missing = await api(h.sim, token, 'GET', `/api/now/table/incident/${'0'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toBe('No Record found');
    expect((await api(h.sim, token, 'GET', '/api/now/v1/table/incident?sysparm_query=number=INC9')).status).toBe(404);
    const v2 = await api(h.sim, token, 'GET', '/api/now/v2/table/incident?sysparm_query=number=INC9');
    expect([v2.status, v2.json.result]).toEqual([200, []]);
  });
});

describe('control API', () => {
  it('injects 429 with Retry-After, HTML pages and counts requests', async () => {
    h.sim.control.resetStats();
    h.sim.control.failNext({ status: 429, retryAfterSec: 12 });
    const limited = await api(h.sim, token, 'GET', '/api/now/table/incident');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('12');
    expect(limited.json.error.message).toBe('Rate limit exceeded');
    h.sim.control.respondHtmlNext();
    const html = await fetch(`${h.sim.url}/api/now/table/incident`, { headers: { Authorization: `Bearer ${token}` } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(await html.text()).toContain('Hibernating');
    expect((await api(h.sim, token, 'GET', '/api/now/table/incident')).status).toBe(200);
    expect(h.sim.control.requestCount('GET', '/api/now/table/incident')).toBe(3);
  });

  it('is reachable over HTTP for the sandbox', async () => {
    const inc = (await api(h.sim, token, 'POST', '/api/now/table/incident', { short_description: 'x' })).json.result;
    const set = await fetch(`${h.sim.url}/__control/records/incident/${inc.sys_id}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ state: '7', assigned_to: userId('carol.nguyen') }),
    });
    expect(set.status).toBe(200);
    const list = (await (await fetch(`${h.sim.url}/__control/records/incident`)).json()) as { result: Array<Record<string, string>> };
    expect(list.result[0]).toMatchObject({ state: '7', assigned_to: userId('carol.nguyen') });
    await fetch(`${h.sim.url}/__control/expire-tokens`, { method: 'POST' });
    expect((await api(h.sim, token, 'GET', '/api/now/table/incident')).status).toBe(401);
  });
});
