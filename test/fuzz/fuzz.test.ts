import fc from 'fast-check';
import { userObjectId } from '../../sandbox/defender/dataset.js';
import { execute, message, submit } from '../harness/activities.js';
import { localBotFrameworkAuth, startOpenIdServer, type OpenIdServer } from '../harness/botFrameworkTokens.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { rawRequest } from '../harness/rawHttp.js';
import { assignmentFormValues, SANDBOX_ADMIN, SANDBOX_READER, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { PRODUCTION_ENV } from '../harness/modes.js';
import { applyMutation, confineUrls, hostileValue, hugeString, mutation, protoObject, unknownVerb, withKey } from './arbitraries.js';

/**
 * Generated activities and card actions against the real server over HTTP (restify + botbuilder
 * + every registered handler, with the Defender and ServiceNow simulators behind them).
 *
 * Properties, for every case: the answer is 2xx or 4xx, never 5xx; no handler throws (no
 * "unhandled error in turn", no "card action failed"); every log line is short and the log a
 * case causes is bounded. An unhandled rejection or uncaught exception fails the running test:
 * Jest 30 replaces the process listeners with its own while a test runs (so a listener added
 * here would never be called) and fails the test with the error.
 *
 * FUZZ_RUNS sets the total number of cases (npm test: 3,000; npm run test:soak: 20,000);
 * FUZZ_SEED replays a run.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const share = (fraction: number) => Math.max(20, Math.round(RUNS * fraction));

/** No single log line may be longer than this, and no case may log more than MAX_CASE_LOG. */
const MAX_LINE = 8 * 1024;
const MAX_CASE_LOG = 32 * 1024;
const CRASHES = ['unhandled error in turn', 'card action failed', 'activity processing failed'];

/** Handler defects the fuzz suite found and that are not fixed yet (each entry a log pattern); empty: the suite fails on any crash. */
const KNOWN_HANDLER_DEFECTS: RegExp[] = [];

const BOB = { id: '29:bob', name: 'Bob Martinez', aadObjectId: userObjectId('bob.martinez@contoso.com') };
const STRANGER = { id: '29:stranger', name: 'Mallory' };
const USERS = [SANDBOX_ADMIN, SANDBOX_READER, BOB, STRANGER];

jest.setTimeout(Math.max(120_000, RUNS * 200));

interface Stats {
  cases: number;
  knownDefects: number;
  statuses: Map<number, number>;
  logBytes: number;
  maxLine: number;
  startedAt: number;
}

function newStats(): Stats {
  return { cases: 0, knownDefects: 0, statuses: new Map(), logBytes: 0, maxLine: 0, startedAt: Date.now() };
}

/** Checks what one case did: status, crashes, log volume. Throws (for fast-check) on a violation. */
function verdict(bot: BotHarness, stats: Stats, logStart: number, status: number, body: string, label: () => string): void {
  stats.cases++;
  stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
  const lines = bot.logs.slice(logStart);
  const bytes = lines.reduce((n, l) => n + l.length, 0);
  stats.logBytes += bytes;
  for (const l of lines) stats.maxLine = Math.max(stats.maxLine, l.length);
  const problems: string[] = [];
  if (status >= 500 || status < 200) problems.push(`HTTP ${status}: ${body.slice(0, 300)}`);
  // An invoke answers with its own status inside a 200.
  try {
    const parsed = JSON.parse(body) as { statusCode?: unknown };
    if (typeof parsed?.statusCode === 'number' && parsed.statusCode >= 500) problems.push(`invoke status ${parsed.statusCode}: ${body.slice(0, 300)}`);
  } catch {
    // Not JSON: nothing more to read.
  }
  // A reply the connector did not take (an unreachable serviceUrl) is not a crash of ours.
  const crashes = lines.filter((l) => CRASHES.some((c) => l.includes(`"msg":"${c}"`)) && !l.includes('"type":"RestError"'));
  const known = (l: string) => KNOWN_HANDLER_DEFECTS.length > 0 && KNOWN_HANDLER_DEFECTS.every((re) => re.test(l));
  stats.knownDefects += crashes.filter(known).length;
  const crash = crashes.find((l) => !known(l));
  if (crash) problems.push(`handler crashed: ${crash.slice(0, 1500)}`);
  const long = lines.find((l) => l.length > MAX_LINE);
  if (long) problems.push(`log line of ${long.length} bytes: ${long.slice(0, 300)}`);
  if (bytes > MAX_CASE_LOG) problems.push(`${bytes} bytes of log for one case`);
  if (problems.length) throw new Error(`${label()}\n${problems.join('\n')}`);
}

async function post(bot: BotHarness, payload: unknown): Promise<{ status: number; body: string }> {
  const res = await fetch(`${bot.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  return { status: res.status, body: await res.text() };
}

const describeCase = (payload: unknown) => {
  const text = JSON.stringify(payload) ?? String(payload);
  return text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} characters)` : text;
};

function report(name: string, stats: Stats): void {
  const seconds = ((Date.now() - stats.startedAt) / 1000).toFixed(1);
  const statuses = [...stats.statuses.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  process.stdout.write(
    `fuzz ${name}: ${stats.cases} cases in ${seconds} s; statuses ${statuses}; log ${Math.round(stats.logBytes / 1024)} KB, longest line ${stats.maxLine} B; known handler defects hit ${stats.knownDefects}\n`,
  );
}

describe('fuzz: the real server in sandbox mode (Emulator, no token), with both simulators', () => {
  let h: SandboxHarness;
  const totals = newStats();

  beforeAll(async () => {
    h = await startSandboxBot();
    h.bot.connector.roster.push(
      { id: BOB.id, name: BOB.name, aadObjectId: BOB.aadObjectId, userPrincipalName: 'bob.martinez@contoso.com' },
      { id: SANDBOX_ADMIN.id, name: SANDBOX_ADMIN.name, aadObjectId: SANDBOX_ADMIN.aadObjectId, userPrincipalName: 'alice.johnson@contoso.com' },
    );
    // A world with something in it: assignments owned by the Emulator user and by Bob, and
    // Bob's 1:1 chat (reminders and "more time" find owners through it).
    const recs = (await h.bot.store.recommendations.list()).filter((r) => r.status === 'unhealthy');
    const o = { serviceUrl: h.bot.connector.url, conversationType: 'channel' as const, from: SANDBOX_ADMIN };
    for (const [i, rec] of recs.slice(0, 4).entries()) {
      const owner = i % 2 ? 'bob.martinez@contoso.com' : 'alice.johnson@contoso.com';
      await h.bot.send(
        execute(
          'submitAssignment',
          { recommendationKey: rec.key, resourceIds: rec.resources[0]!.resourceId, ...assignmentFormValues(h.integrationId, { assignedTo: owner }) },
          o,
        ),
      );
    }
    await h.bot.send(message('help', { serviceUrl: h.bot.connector.url, conversationId: 'a:bob', from: BOB }));
    expect((await h.bot.store.assignments.list()).length).toBeGreaterThanOrEqual(4);
  });
  afterAll(async () => {
    report('total (sandbox)', totals);
    // Still serving after everything.
    const res = await h.bot.send(message('help', { serviceUrl: h.bot.connector.url }));
    expect(res.status).toBe(200);
    expect(((await (await fetch(`${h.bot.url}/healthz`)).json()) as { status: string }).status).toBe('ok');
    await h.stop();
  });

  /** Values that make a handler go deeper than its schema: ids and dates of the live store. */
  const world = async () => {
    const recs = await h.bot.store.recommendations.list();
    const assignments = await h.bot.store.assignments.list();
    return {
      recommendationKeys: recs.map((r) => r.key),
      resourcesOf: (key: string) => recs.find((r) => r.key === key)?.resources.map((x) => x.resourceId) ?? [],
      assignmentIds: assignments.map((a) => a.id),
      batchIds: [...new Set(assignments.map((a) => a.batchId).filter((b): b is string => !!b))],
      integrationIds: (await h.bot.store.integrations.list()).map((i) => i.id),
    };
  };
  const pick = <T>(list: T[], i: number, fallback: T): T => (list.length ? list[i % list.length]! : fallback);

  /** Plausible data for each verb (what its card sends), built from the live store at run time. */
  async function plausible(verb: string, i: number, dates: string[]): Promise<Record<string, unknown>> {
    const w = await world();
    const rec = pick(w.recommendationKeys, i, 'no-such-rec');
    const assignment = pick(w.assignmentIds, i, 'no-such-assignment');
    const date = pick(dates, i, '2026-12-24');
    switch (verb) {
      case 'createAssignment':
        return { recommendationKey: rec, resourceIds: i % 3 ? pick(w.resourcesOf(rec), i, '') : undefined, confirmAll: i % 5 ? undefined : 'true' };
      case 'submitAssignment':
        return {
          recommendationKey: rec,
          resourceIds: pick(w.resourcesOf(rec), i, 'x'),
          ...assignmentFormValues(pick(w.integrationIds, i, 'none'), { dueDate: date }),
        };
      case 'retryAssignments':
        return { batchId: pick(w.batchIds, i, '00000000-0000-4000-8000-000000000000') };
      case 'refreshRecommendation':
        return { recommendationKey: rec, page: (i % 4) + 1 };
      case 'testIntegration':
      case 'removeIntegration':
        return { integrationId: pick(w.integrationIds, i, 'none') };
      case 'confirmRemoveIntegration':
        // Removing the only integration would leave the rest of the run without one.
        return { integrationId: i % 2 ? 'not-an-integration' : `${pick(w.integrationIds, i, 'none')}x` };
      case 'addIntegration':
        return {
          name: `Fuzz ${i}`,
          scope: i % 2 ? '/providers/Microsoft.Management/managementGroups/contoso-root' : 'not a scope',
          instanceUrl: i % 2 ? h.servicenow.url : 'http://127.0.0.1:1',
          username: 'admin',
          password: 'wrong',
          fieldMode: 'default',
        };
      case 'requestMoreTime':
        return { assignmentId: assignment };
      case 'submitMoreTime':
        return { assignmentId: assignment, eta: date, justification: 'Waiting for the vendor patch window.' };
      case 'approveMoreTime':
      case 'declineMoreTime':
        return { assignmentId: assignment, eta: date };
      case 'changeDueDate':
        return { assignmentId: assignment, dueDate: date, note: i % 2 ? 'Fuzzed' : '' };
      default:
        return {};
    }
  }

  /** Mostly valid future dates (so handlers get past their schemas), and the edges around today. */
  const DATES = [
    '2026-12-24',
    '2026-12-31',
    '2027-01-15',
    '2027-03-01',
    '2026-11-27',
    '2027-11-26',
    '2026-11-26',
    '2026-11-25',
    '2028-01-01',
    '2026-02-30',
    '26-12-01',
    '',
  ];

  /** A card action: a verb (ours or not), its data (plausible, mutated or junk), in either form. */
  const cardAction = () => {
    const verbs = h.bot.app.actions.verbs();
    const data = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.nat(), fc.constant('plausible' as const)) },
      { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.constant('mutated' as const)) },
      { weight: 2, arbitrary: fc.tuple(fc.nat(), fc.constant('junk' as const)) },
    );
    return fc.record({
      verb: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...verbs) }, { weight: 1, arbitrary: unknownVerb }),
      data,
      field: fc.string({ maxLength: 20 }),
      value: hostileValue,
      junk: fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), hostileValue, { maxKeys: 6 }), protoObject),
      nonObject: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 }), fc.array(fc.integer(), { maxLength: 3 }), fc.integer(), hugeString),
      form: fc.constantFrom('submit', 'execute', 'executeNoType', 'executeDataNotObject', 'submitNotObject'),
      user: fc.constantFrom(...USERS),
      conversation: fc.constantFrom('channel', 'personal', 'groupChat'),
      channelId: fc.constantFrom('msteams', 'emulator'),
      replyToId: fc.option(fc.constantFrom('act-1', '1700000000000', 'x'.repeat(512)), { nil: undefined }),
    });
  };

  type CardCase = typeof cardAction extends () => fc.Arbitrary<infer T> ? T : never;

  async function buildAction(c: CardCase): Promise<Record<string, unknown>> {
    const [i, how] = c.data;
    const keys = Object.keys(await plausible(c.verb, i, DATES));
    let data: Record<string, unknown> = await plausible(c.verb, i, DATES);
    if (how === 'mutated') {
      // One known field (or a new one) gets a wrong type, a huge or broken value, or a prototype key.
      const field = keys.length && i % 3 ? keys[i % keys.length]! : c.field;
      data = i % 7 === 0 ? withKey('__proto__', { [field]: c.value }, data) : { ...data, [field]: c.value };
    } else if (how === 'junk') {
      data = c.junk as Record<string, unknown>;
    }
    const o = {
      serviceUrl: h.bot.connector.url,
      channelId: c.channelId as 'msteams' | 'emulator',
      conversationType: c.conversation as 'channel' | 'personal' | 'groupChat',
      from: c.user,
      replyToId: c.replyToId,
      ...(c.conversation === 'personal' ? { conversationId: `a:${c.user.id}` } : {}),
    };
    switch (c.form) {
      case 'submit':
        return submit({ ...data, verb: c.verb }, o);
      case 'submitNotObject':
        return { ...submit({}, o), value: c.nonObject };
      case 'execute':
        return execute(c.verb, data, o);
      case 'executeNoType': {
        const a = execute(c.verb, data, o);
        return { ...a, value: { action: { verb: c.verb, data } } };
      }
      default: {
        const a = execute(c.verb, data, o);
        return { ...a, value: { action: { type: 'Action.Execute', verb: c.verb, data: c.nonObject } } };
      }
    }
  }

  it('card actions for every registered verb (and unknown ones), plausible, mutated and junk', async () => {
    const stats = newStats();
    await fc.assert(
      fc.asyncProperty(cardAction(), async (c) => {
        const activity = confineUrls(JSON.parse(JSON.stringify(await buildAction(c))) as Record<string, unknown>, h.bot.connector.url);
        const logStart = h.bot.logs.length;
        const res = await post(h.bot, activity);
        verdict(h.bot, stats, logStart, res.status, res.body, () => describeCase(activity));
      }),
      { numRuns: share(0.45), seed: SEED, endOnFailure: true },
    );
    report('card actions', stats);
    merge(totals, stats);
  });

  it('activities of every kind with missing, mistyped, huge, deeply nested and prototype-named fields', async () => {
    const stats = newStats();
    const baseActivity = fc.record({
      kind: fc.constantFrom(
        'message',
        'submit',
        'execute',
        'conversationUpdate',
        'installationUpdate',
        'invoke',
        'event',
        'messageReaction',
        'typing',
        'other',
      ),
      text: fc.oneof(
        fc.constantFrom('help', 'subscribe', 'unsubscribe', 'recommendations', 'assignments', 'integrations', 'digest', 'sync', 'simulate'),
        fc.string({ maxLength: 60 }),
      ),
      args: fc.string({ maxLength: 40 }),
      user: fc.constantFrom(...USERS),
      conversation: fc.constantFrom('channel', 'personal', 'groupChat'),
      channelId: fc.constantFrom('msteams', 'emulator', 'webchat'),
      invokeName: fc.constantFrom(
        'adaptiveCard/action',
        'task/fetch',
        'composeExtension/query',
        'signin/verifyState',
        'config/fetch',
        'tab/fetch',
        'fileConsent/invoke',
        'actionableMessage/executeAction',
        'healthCheck',
        'unknown/thing',
      ),
      otherType: fc.string({ maxLength: 20 }),
      mutations: fc.array(mutation(h.bot.connector.url), { maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(baseActivity, async (c) => {
        const o = {
          serviceUrl: h.bot.connector.url,
          channelId: c.channelId as 'msteams',
          conversationType: c.conversation as 'channel',
          from: c.user,
          ...(c.conversation === 'personal' ? { conversationId: `a:${c.user.id}` } : {}),
        };
        const text = `${c.text} ${c.args}`.trim();
        let a: Record<string, unknown>;
        if (c.kind === 'message') a = message(text, o);
        else if (c.kind === 'submit') a = submit({ verb: 'help' }, o);
        else if (c.kind === 'execute') a = execute('help', {}, o);
        else if (c.kind === 'conversationUpdate')
          a = { ...message('', o), type: 'conversationUpdate', text: undefined, membersAdded: [{ id: '28:bot-app-id' }] };
        else if (c.kind === 'installationUpdate')
          a = { ...message('', o), type: 'installationUpdate', text: undefined, action: c.args.length % 2 ? 'add' : 'remove' };
        else if (c.kind === 'invoke')
          a = { ...message('', o), type: 'invoke', text: undefined, name: c.invokeName, value: { action: { type: 'Action.Execute', verb: 'help' } } };
        else if (c.kind === 'other') a = { ...message(text, o), type: c.otherType };
        else a = { ...message(text, o), type: c.kind };
        const activity = JSON.parse(JSON.stringify(a)) as Record<string, unknown>;
        for (const m of c.mutations) applyMutation(activity, m);
        confineUrls(activity, h.bot.connector.url);
        const logStart = h.bot.logs.length;
        const res = await post(h.bot, activity);
        verdict(h.bot, stats, logStart, res.status, res.body, () => describeCase(activity));
      }),
      { numRuns: share(0.35), seed: SEED + 1, endOnFailure: true },
    );
    report('activities', stats);
    merge(totals, stats);
  });

  it('raw HTTP: any media type, broken bytes and JSON, other methods and paths', async () => {
    const stats = newStats();
    const valid = JSON.stringify(message('help', { serviceUrl: h.bot.connector.url }));
    const raw = fc.record({
      method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path: fc.constantFrom(
        '/api/messages',
        '/api/messages',
        '/api/messages/',
        '/api/messages?x=1',
        '/api/Messages',
        '/api/messages/../healthz',
        '/api/dashboard',
        '/nope',
        `/${'a'.repeat(4000)}`,
      ),
      contentType: fc.oneof(
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
          'multipart/form-data; boundary=x',
          'application/x-www-form-urlencoded',
          'application/xml',
          '',
        ),
        fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
      ),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
        fc.nat({ max: valid.length }).map((n) => valid.slice(0, n)),
        fc.constantFrom('', '{}', '[]', 'null', '"x"', '1', '\ufeff' + valid, valid, `{"type":"message"${',"a":1'.repeat(10)}}`),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
        fc.constantFrom(1, 2).map((n) => `{"text":"${'x'.repeat(n * 1024 * 1024)}"}`),
      ),
    });
    await fc.assert(
      fc.asyncProperty(raw, async (c) => {
        const logStart = h.bot.logs.length;
        const headers: Record<string, string> = c.contentType ? { 'content-type': c.contentType } : {};
        const res = await rawRequest(`${h.bot.url}${c.path}`, {
          method: c.method,
          headers,
          body: c.method === 'GET' || c.method === 'HEAD' ? undefined : c.body,
        });
        verdict(h.bot, stats, logStart, res.status, res.body, () => `${c.method} ${c.path.slice(0, 80)} (${c.contentType}): ${describeCase(String(c.body))}`);
      }),
      { numRuns: share(0.1), seed: SEED + 2, endOnFailure: true },
    );
    report('raw HTTP', stats);
    merge(totals, stats);
  });
});

describe('fuzz: production mode with an app id and no token', () => {
  let bot: BotHarness;
  let openId: OpenIdServer;
  beforeAll(async () => {
    // botbuilder fetches signing keys for any token with a trusted issuer: from here, not the internet.
    openId = await startOpenIdServer();
    bot = await startBot({ env: PRODUCTION_ENV, app: { botFrameworkAuth: localBotFrameworkAuth(openId.metadataUrl) } });
  });
  afterAll(async () => {
    await bot.stop();
    await openId.close();
  });

  it('refuses every generated activity with a 4xx and processes nothing', async () => {
    const stats = newStats();
    const arb = fc.record({
      verb: fc.oneof(fc.constantFrom('help', 'createAssignment', 'addIntegration', 'confirmRemoveIntegration'), unknownVerb),
      data: fc.dictionary(fc.string({ maxLength: 12 }), hostileValue, { maxKeys: 5 }),
      form: fc.constantFrom('message', 'submit', 'execute'),
      mutations: fc.array(mutation(bot.connector.url), { maxLength: 3 }),
      authorization: fc.constantFrom(
        undefined,
        '',
        'Bearer ',
        'Bearer x.y.z',
        'Basic YTpi',
        'Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.',
      ),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const o = { serviceUrl: bot.connector.url };
        const a = c.form === 'message' ? message(c.verb, o) : c.form === 'submit' ? submit({ ...c.data, verb: c.verb }, o) : execute(c.verb, c.data, o);
        const activity = JSON.parse(JSON.stringify(a)) as Record<string, unknown>;
        for (const m of c.mutations) applyMutation(activity, m);
        confineUrls(activity, bot.connector.url);
        const logStart = bot.logs.length;
        const res = await fetch(`${bot.url}/api/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(c.authorization !== undefined ? { authorization: c.authorization } : {}) },
          body: JSON.stringify(activity),
        });
        const body = await res.text();
        verdict(bot, stats, logStart, res.status, body, () => describeCase(activity));
        if (res.status < 400) throw new Error(`accepted without a token (${res.status}): ${describeCase(activity)}`);
        if (bot.connector.calls.length > 0 || (await bot.store.conversations.list()).length > 0)
          throw new Error(`processed without a token: ${describeCase(activity)}`);
        // Exactly one line per refusal.
        if (bot.logs.length - logStart !== 1) throw new Error(`${bot.logs.length - logStart} log lines for one refusal: ${describeCase(activity)}`);
      }),
      { numRuns: share(0.1), seed: SEED + 3, endOnFailure: true },
    );
    report('production, no token', stats);
  });
});

function merge(into: Stats, from: Stats): void {
  into.cases += from.cases;
  into.knownDefects += from.knownDefects;
  for (const [s, n] of from.statuses) into.statuses.set(s, (into.statuses.get(s) ?? 0) + n);
  into.logBytes += from.logBytes;
  into.maxLine = Math.max(into.maxLine, from.maxLine);
}
