/**
 * The soak suite's world: the only file under test/soak/ that imports the simulators or any
 * internal module, so moving them (simulators to sandbox/, ticket creation to a queue) is a change
 * here only. The suites themselves drive the bot as its clients do: HTTP to /api/messages with
 * Bot Connector tokens, and the CLI.
 *
 * What runs where:
 * - this (the test) process: the ServiceNow and Defender simulators, the Bot Framework's OpenID
 *   metadata and signing keys, a Bot Connector (the `serviceUrl`), and the App Service managed
 *   identity endpoint. All of them outlive the bot and keep their state across its kills.
 * - a child process: the bot, `node dist/bot/main.js`, as `npm start` runs it, in production mode
 *   with a user-assigned managed identity (MicrosoftAppType=UserAssignedMSI), so both its outgoing
 *   Bot Connector calls and its Azure calls take tokens from IDENTITY_ENDPOINT exactly as on Azure
 *   App Service. The only test hook is openIdPreload (botbuilder reads the signing keys from the
 *   local OpenID server instead of login.botframework.com).
 * - child processes: CLI commands, `node dist/cli/index.js …`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator } from '../../sandbox/defender/index.js';
import { ROOT_MANAGEMENT_GROUP, userObjectId } from '../../sandbox/defender/dataset.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator } from '../../sandbox/servicenow/index.js';
import { silentLogger } from '../../core/logger.js';
import { systemClock } from '../../core/clock.js';
import { OWNER_NAME, readOwner } from '../../storage/dataDirLock.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Assignment, Recommendation } from '../../core/model.js';
import { botConnectorToken, startOpenIdServer, type OpenIdServer } from '../harness/botFrameworkTokens.js';
import { startFakeConnector, type FakeConnector } from '../harness/fakeConnector.js';
import { execute, message } from '../harness/activities.js';

export type { Assignment, Recommendation };

// The project root from test/soak/ under jest, or from dist/test/soak/ when a benchmark (bench/replicas.ts) runs the compiled file.
const ROOT = path.join(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');
export const BOT_MAIN = path.join(ROOT, 'dist/bot/main.js');
export const CLI_MAIN = path.join(ROOT, 'dist/cli/index.js');
const PRELOAD = path.join(ROOT, 'dist/test/harness/openIdPreload.js');

export const APP_ID = '5e0c1f2a-7d3b-4c8e-9a61-0b2d4f6a8c10';
/** The Teams tenant of every activity; the bot's own tenant (MicrosoftAppTenantId). */
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const SCOPE = `/providers/Microsoft.Management/managementGroups/${ROOT_MANAGEMENT_GROUP}`;
export const INTEGRATION = 'Contoso ServiceNow';
const IDENTITY_HEADER = randomBytes(12).toString('hex');
const SECRET_KEY = randomBytes(32).toString('hex');

/** Teams users from the Defender simulator's directory: Owner of the root management group, and a Reader. */
export const ADMIN = { id: '29:alice', name: 'Alice Johnson', aadObjectId: userObjectId('alice.johnson@contoso.com') };
export const READER = { id: '29:erin', name: 'Erin Walsh', aadObjectId: userObjectId('erin.walsh@contoso.com') };
export const CHANNEL = '19:soak-channel@thread.tacv2';

export const TICKET_TABLES = ['incident', 'change_request', 'problem'] as const;
export type TicketTable = (typeof TICKET_TABLES)[number];

/** Assert the built output is there: the suite runs what `npm start` and `npm run cli` run. */
export function assertBuilt(): void {
  for (const f of [BOT_MAIN, CLI_MAIN, PRELOAD]) {
    if (!existsSync(f)) throw new Error(`${path.relative(ROOT, f)} is missing: run "npx tsc -p tsconfig.json" (npm run test:soak does) first`);
  }
}

// ------------------------------------------------------------------------------------------------
// Azure App Service's managed identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER)

export interface IdentityEndpoint {
  url: string;
  /** Tokens handed out, by resource. */
  issued: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Answers as App Service's identity endpoint does (api-version 2019-08-01), with tokens the
 * Defender simulator issued for the app registration: the simulator accepts them on ARM and
 * Graph, and the Bot Connector stand-in accepts any.
 */
async function startIdentityEndpoint(defender: DefenderSimulator): Promise<IdentityEndpoint> {
  const issued = new Map<string, number>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const resource = url.searchParams.get('resource') ?? '';
      if (req.headers['x-identity-header'] !== IDENTITY_HEADER || !resource) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 400, message: 'missing or wrong X-IDENTITY-HEADER or resource' }));
        return;
      }
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: DEFAULT_SIMULATOR_CLIENT.clientId,
        client_secret: DEFAULT_SIMULATOR_CLIENT.clientSecret,
        scope: `${resource.replace(/\/+$/, '')}/.default`,
      });
      const answer = await fetch(`${defender.url}/${defender.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      const token = (await answer.json()) as { access_token: string; expires_in: number };
      issued.set(resource, (issued.get(resource) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: token.access_token,
          expires_on: String(Math.floor(Date.now() / 1000) + token.expires_in),
          resource,
          token_type: 'Bearer',
          client_id: APP_ID,
        }),
      );
    })().catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`,
    issued,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ------------------------------------------------------------------------------------------------
// The bot process

export interface InvokeAnswer {
  status: number;
  body: unknown;
  /** The request got no HTTP answer (the process died, or the connection broke). */
  noAnswer?: string;
}

export interface BotRun {
  url: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Milliseconds from spawn to "bot listening" (includes waiting for a dead holder's lock to go stale). */
  startMs: number;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Spawned {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

function spawnNode(args: string[], env: Record<string, string>, cwd: string): Spawned {
  const child = spawn(process.execPath, ['--disable-warning=DEP0111', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    changed();
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
    changed();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
      changed();
    }),
  );
  const waitForOutput = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const finish = (then: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        then();
      };
      const check = () => {
        if (pattern.test(out)) finish(resolve);
        else if (done) finish(() => reject(new Error(`exited before ${pattern}:\n${out.slice(-4000)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} in ${timeoutMs} ms:\n${out.slice(-4000)}`))), timeoutMs);
      listeners.add(check);
      check();
    });
  return { child, output: () => out, exited, waitForOutput };
}

// ------------------------------------------------------------------------------------------------
// The world

export interface CliResult {
  code: number | null;
  output: string;
}

export interface StoreSnapshot {
  assignments: Assignment[];
  recommendations: Recommendation[];
}

export interface TicketRow {
  table: TicketTable;
  sysId: string;
  number: string;
  correlationId: string;
  state: string;
}

export interface World {
  dataDir: string;
  defender: DefenderSimulator;
  servicenow: ServiceNowSimulator;
  connector: FakeConnector;
  openId: OpenIdServer;
  identity: IdentityEndpoint;
  /** The environment the bot and the CLI get, as an operator's .env would hold it. */
  env: Record<string, string>;
  startBot(extraEnv?: Record<string, string>): Promise<BotRun>;
  /** Spawns the bot without waiting for it to listen (for processes expected to refuse). */
  spawnBot(extraEnv?: Record<string, string>): Spawned;
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** Starts a CLI command without waiting for it. */
  spawnCli(args: string[], extraEnv?: Record<string, string>): Spawned;
  /** Who holds the data folder's lock, as recorded next to it (pid and role), if anyone. */
  lockOwner(): Promise<{ pid: number; role: string } | undefined>;
  /** Adds the ServiceNow integration with the CLI (before the bot runs, as the README says). */
  addIntegration(): Promise<void>;
  /** The bot's data file, opened read-only and validated as the bot validates it at start. */
  readStore(): Promise<StoreSnapshot>;
  /** Every ticket in ServiceNow that carries a correlation id. */
  tickets(): TicketRow[];
  close(): Promise<void>;
}

export async function createWorld(opts: { name?: string } = {}): Promise<World> {
  assertBuilt();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `${opts.name ?? 'soak'}-`));
  const defender = await startDefenderSimulator({ host: '127.0.0.1', logger: silentLogger, clock: systemClock });
  const servicenow = await startServiceNowSimulator({ host: '127.0.0.1', logger: silentLogger, clock: systemClock });
  const connector = await startFakeConnector();
  const openId = await startOpenIdServer();
  const identity = await startIdentityEndpoint(defender);
  const env: Record<string, string> = {
    BOT_MODE: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_PRETTY: 'false',
    SECRET_KEY,
    MicrosoftAppType: 'UserAssignedMSI',
    MicrosoftAppId: APP_ID,
    MicrosoftAppTenantId: TENANT,
    ALLOWED_TENANT_IDS: TENANT,
    DEFENDER_SOURCE: 'azure',
    DEFENDER_SCOPES: SCOPE,
    ARM_ENDPOINT: defender.url,
    GRAPH_ENDPOINT: defender.url,
    AZURE_CLIENT_ID: APP_ID,
    IDENTITY_ENDPOINT: identity.url,
    IDENTITY_HEADER,
    SERVICENOW_ALLOW_PRIVATE_HOSTS: 'true',
    // Cycles are started by the `sync` command; the schedule stays out of the way.
    SYNC_CRON: '0 0 1 1 *',
    FULL_SYNC_CRON: '0 0 1 1 *',
    REMINDER_CRON: '0 0 1 1 *',
    TEST_BOT_OPENID_METADATA_URL: openId.metadataUrl,
  };

  const spawnBot = (extraEnv: Record<string, string> = {}) => spawnNode(['--require', PRELOAD, BOT_MAIN], { ...env, ...extraEnv }, dataDir);

  const world: World = {
    dataDir,
    defender,
    servicenow,
    connector,
    openId,
    identity,
    env,
    spawnBot,
    startBot: async (extraEnv) => {
      const started = Date.now();
      const p = spawnBot(extraEnv);
      await p.waitForOutput(/bot listening on http:\/\/[^/\s"]+\/api\/messages/, 60_000);
      const url = /bot listening on (http:\/\/[^/\s"]+)\/api\/messages/.exec(p.output())![1]!;
      return {
        url,
        pid: p.child.pid!,
        child: p.child,
        output: p.output,
        exited: p.exited,
        startMs: Date.now() - started,
        waitForOutput: p.waitForOutput,
        kill: async (signal = 'SIGTERM') => {
          if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
          await p.exited;
        },
      };
    },
    spawnCli: (args, extraEnv = {}) => spawnNode([CLI_MAIN, ...args], { ...env, ...extraEnv }, dataDir),
    lockOwner: () => readOwner(path.join(dataDir, OWNER_NAME)),
    cli: async (args, extraEnv = {}) => {
      const p = spawnNode([CLI_MAIN, ...args], { ...env, ...extraEnv }, dataDir);
      const { code } = await p.exited;
      return { code, output: p.output() };
    },
    addIntegration: async () => {
      const c = DEFAULT_SIMULATOR_CREDENTIALS;
      const r = await world.cli(
        ['integration', 'add', '--name', INTEGRATION, '--scope', SCOPE, '--instance-url', servicenow.url, '--username', c.username, '--client-id', c.clientId],
        { SERVICENOW_PASSWORD: c.password, SERVICENOW_CLIENT_SECRET: c.clientSecret },
      );
      if (r.code !== 0) throw new Error(`integration add failed (${r.code}): ${r.output}`);
    },
    readStore: async () => {
      const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger, readOnly: true });
      try {
        return { assignments: await store.assignments.list(), recommendations: await store.recommendations.list() };
      } finally {
        await store.close();
      }
    },
    tickets: () =>
      TICKET_TABLES.flatMap((table) =>
        servicenow.control
          .records(table)
          .filter((r) => r.correlation_id)
          .map((r) => ({ table, sysId: r.sys_id!, number: r.number!, correlationId: r.correlation_id!, state: r.state ?? '' })),
      ),
    close: async () => {
      await Promise.all([defender.close(), servicenow.close(), connector.close(), openId.close(), identity.close()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return world;
}

// ------------------------------------------------------------------------------------------------
// A Teams client

export interface TeamsUser {
  id: string;
  name: string;
  aadObjectId: string;
}

/** POSTs an activity as the Bot Connector does: JSON with a signed token for the bot's app id. */
export async function post(world: World, botUrl: string, activity: object, timeoutMs = 120_000): Promise<InvokeAnswer> {
  const token = botConnectorToken({ appId: APP_ID, serviceUrl: world.connector.url, key: world.openId.privateKey });
  try {
    const res = await fetch(`${botUrl}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(activity),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, body: undefined, noAnswer: err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err) };
  }
}

const opts = (world: World, from: TeamsUser) =>
  ({ serviceUrl: world.connector.url, conversationType: 'channel', conversationId: CHANNEL, tenantId: TENANT, from }) as const;

export interface CommandAnswer extends InvokeAnswer {
  /** What the bot posted in reply during the turn (Bot Connector bodies). */
  replies: any[];
}

/** A message typed in the soak channel (commands: subscribe, sync, assignments…). */
export async function say(world: World, botUrl: string, from: TeamsUser, text: string): Promise<CommandAnswer> {
  const activity = message(text, opts(world, from));
  const answer = await post(world, botUrl, activity);
  return { ...answer, replies: world.connector.calls.filter((c) => c.body?.replyToId === activity.id).map((c) => c.body) };
}

/** What a filled-in "Create assignment" form submits (Action.Execute of the form's Create button). */
export function submitAssignment(
  world: World,
  botUrl: string,
  from: TeamsUser,
  target: { recommendationKey: string; resourceIds: string[] },
  integrationId: string,
  over: Record<string, string> = {},
): Promise<InvokeAnswer> {
  return post(
    world,
    botUrl,
    execute(
      'submitAssignment',
      {
        recommendationKey: target.recommendationKey,
        resourceIds: target.resourceIds.join(','),
        integrationId,
        ticketType: 'incident',
        assignedTo: 'bob.martinez@contoso.com',
        caller: 'alice.johnson@contoso.com',
        shortDescription: 'Fix it',
        description: 'Please remediate.',
        dueDate: new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10),
        gracePeriod: 'false',
        notifyOwner: 'true',
        notifyManager: 'false',
        grouping: 'perResource',
        ...over,
      },
      opts(world, from),
    ),
  );
}

/** The Retry button of a result card (Action.Execute). */
export function retryBatch(world: World, botUrl: string, from: TeamsUser, batchId: string): Promise<InvokeAnswer> {
  return post(world, botUrl, execute('retryAssignments', { batchId }, opts(world, from)));
}

/** The correlation id the bot gives the ticket of one (assessment, resource) pair. */
export { correlationKey } from '../../core/servicenow-rules.js';

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Reads a JSON file (db.json) and says whether it parses. */
export function jsonFileParses(file: string): boolean {
  try {
    JSON.parse(readFileSync(file, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Opens the "Create assignment" form as the card's button does, and reads the integration it offers first. */
export async function integrationFromForm(
  world: World,
  botUrl: string,
  from: TeamsUser,
  target: { recommendationKey: string; resourceIds: string[] },
): Promise<string> {
  const res = await post(
    world,
    botUrl,
    execute('createAssignment', { recommendationKey: target.recommendationKey, resourceIds: target.resourceIds.join(',') }, opts(world, from)),
  );
  let found: string | undefined;
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (o.type === 'Input.ChoiceSet' && o.id === 'integrationId') found = (o.choices as Array<{ value: string }>)[0]?.value;
      Object.values(o).forEach(walk);
    }
  };
  walk((res.body as { value?: unknown })?.value);
  if (!found) throw new Error(`the form offered no integration: ${JSON.stringify(res).slice(0, 500)}`);
  return found;
}

/** Cards the bot posted (not updated) into the soak channel. */
export function postedCards(world: World): number {
  return world.connector.calls.filter((c) => c.method === 'POST' && c.conversationId === CHANNEL && c.body?.type === 'message' && c.body?.attachments?.length)
    .length;
}

/** A small seeded generator (mulberry32), so a failing run can be replayed with SOAK_SEED. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The measured figures of a soak suite: printed at once, and collected for the summary
 * jest.soak.config.js prints at the end of the run (its globalTeardown).
 */
export function recordFigures(suite: string, figures: Record<string, number | string>, details?: unknown): void {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`soak ${suite}: ${line}\n`);
  const file = process.env.SOAK_FIGURES_FILE;
  if (file) appendFileSync(file, JSON.stringify({ suite, figures, details }) + '\n');
}

/**
 * Waits until the soak channel has `expected` recommendation cards, typing `sync` whenever no new
 * card arrived since the last look: a channel subscribed while a pass is running gets its cards
 * from the next pass (the running one read the subscriptions before).
 */
export async function syncUntilCardsPosted(world: World, botUrl: string, from: TeamsUser, expected: number, timeoutMs = 180_000): Promise<number> {
  let last = -1;
  return eventually(
    `${expected} recommendation cards in the channel`,
    async () => {
      const n = postedCards(world);
      if (n >= expected) return n;
      if (n === last) await say(world, botUrl, from, 'sync');
      last = n;
      return undefined;
    },
    timeoutMs,
    3_000,
  );
}
