import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { botConnectorToken, localBotFrameworkAuth, startOpenIdServer, type OpenIdServer, type TokenOptions } from '../harness/botFrameworkTokens.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { startFakeConnector, type FakeConnector } from '../harness/fakeConnector.js';

const APP_ID = '11111111-2222-3333-4444-555555555555';
// An app id alone would make this a production bot (needing Azure); the tokens are checked the same in the sandbox.
const ENV = { BOT_MODE: 'sandbox', MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'not-a-real-secret' };

/** An activity that needs no reply (someone else joined), so a valid token gets a plain 200. */
function memberJoined(serviceUrl: string) {
  return {
    type: 'conversationUpdate',
    id: 'act-1',
    channelId: 'msteams',
    serviceUrl,
    from: { id: '29:user-1' },
    recipient: { id: `28:${APP_ID}` },
    conversation: { id: '19:channel-1@thread.tacv2', conversationType: 'channel', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
    membersAdded: [{ id: '29:someone-else' }],
  };
}

const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

/** Each failure class botbuilder answered with 500 and a console dump, as options on top of a valid token. */
const BAD_TOKENS: Array<[string, (o: OpenIdServer) => Partial<TokenOptions> | string]> = [
  ['unsigned (alg none)', () => ({ alg: 'none' })],
  ['HS256 keyed with the public key (algorithm confusion)', (o) => ({ alg: 'HS256', hmacSecret: o.publicPem })],
  ['signed with another key under the trusted key id', () => ({ key: otherKey })],
  ['expired an hour ago', () => ({ expiresIn: -3600, notBeforeIn: -7200 })],
  ['not valid for another hour', () => ({ notBeforeIn: 3600, expiresIn: 7200 })],
  ['for another app id', () => ({ audience: '99999999-2222-3333-4444-555555555555' })],
  ['not a JWT', () => 'Bearer not-a-jwt'],
  ['missing', () => ''],
];

function header(o: OpenIdServer, serviceUrl: string, bad: Partial<TokenOptions> | string): string {
  if (typeof bad === 'string') return bad;
  return `Bearer ${botConnectorToken({ appId: APP_ID, serviceUrl, key: o.privateKey, ...bad })}`;
}

/** What must never reach an operator's terminal: a stack frame or the signing key. */
function leaks(text: string, o: OpenIdServer): string[] {
  const found: string[] = [];
  if (/\n\s+at /.test(text)) found.push('stack trace');
  if (text.includes('BEGIN PUBLIC KEY') || text.includes('BEGIN RSA PUBLIC KEY')) found.push('PEM key');
  if (text.includes(o.modulus.slice(0, 40))) found.push('key modulus');
  const pemBody = o.publicPem.split('\n')[1]!;
  if (text.includes(pemBody)) found.push('PEM body');
  return found;
}

describe('Bot Framework tokens with an app id configured (botbuilder verifying against a local OpenID endpoint)', () => {
  let openId: OpenIdServer;
  let bot: BotHarness;
  let consoleOutput: string[];

  beforeEach(async () => {
    consoleOutput = [];
    // Installed before the bot starts, so these see exactly what would reach the terminal.
    for (const level of ['error', 'warn', 'log', 'info', 'debug'] as const) {
      jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        consoleOutput.push(args.map((a) => (a instanceof Error ? `${a.stack}` : String(a))).join(' '));
      });
    }
    openId = await startOpenIdServer();
    bot = await startBot({ env: ENV, app: { botFrameworkAuth: localBotFrameworkAuth(openId.metadataUrl) } });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await bot.stop();
    await openId.close();
  });

  it('accepts a valid token (so the refusals below are the verification, not a broken setup)', async () => {
    const res = await bot.send(memberJoined(bot.connector.url), { authorization: header(openId, bot.connector.url, {}) });
    expect(res.status).toBe(200);
    expect(openId.requests).toBeGreaterThanOrEqual(2);
    expect(consoleOutput).toEqual([]);
  });

  it.each(BAD_TOKENS)('answers a token that is %s with 401 and one log line, printing no stack and no key', async (_name, make) => {
    const before = bot.logs.length;
    const res = await bot.send(memberJoined(bot.connector.url), { authorization: header(openId, bot.connector.url, make(openId)) });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: 'Unauthorized', message: 'The Bot Framework token is missing or not valid.' });
    const lines = bot.logs.slice(before);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: 'activity refused: token not valid', status: 401, channelId: 'msteams' });
    expect(leaks(lines[0]!, openId)).toEqual([]);
    expect(consoleOutput).toEqual([]);
    expect(bot.connector.calls).toHaveLength(0);
    expect(await bot.store.conversations.list()).toEqual([]);
  });

  it("drops exactly botbuilder's two token dumps from console.error; other console output still reaches the terminal", () => {
    const expired = Object.assign(new Error('jwt expired'), { name: 'TokenExpiredError' });
    console.error(expired);
    console.error('Error finding key for token. Available keys: -----BEGIN PUBLIC KEY-----');
    console.error('something else failed');
    console.error('Error finding key for token.', 'with a second argument is not botbuilder');
    console.error(new Error('jwt expired'));
    console.warn('Error finding key for token. (a warning is not botbuilder)');
    expect(consoleOutput).toHaveLength(4);
    expect(consoleOutput[0]).toBe('something else failed');
    expect(consoleOutput.some((l) => l.includes('BEGIN PUBLIC KEY'))).toBe(false);
  });

  it('answers 503 with one error line when the signing keys cannot be fetched', async () => {
    await openId.close();
    const before = bot.logs.length;
    const res = await bot.send(memberJoined(bot.connector.url), { authorization: header(openId, bot.connector.url, {}) });
    expect(res.status).toBe(503);
    const lines = bot.logs.slice(before);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 50, msg: 'could not check the Bot Framework token' });
    expect(consoleOutput).toEqual([]);
  });
});

const MAIN = path.join(__dirname, '../../dist/bot/main.js');
const PRELOAD = path.join(__dirname, '../../dist/test/harness/openIdPreload.js');

describe('the real process with an app id', () => {
  let openId: OpenIdServer;
  let connector: FakeConnector;
  beforeAll(async () => {
    openId = await startOpenIdServer();
    connector = await startFakeConnector();
  });
  afterAll(async () => {
    await openId.close();
    await connector.close();
  });

  it('answers every bad token with 401 and prints one line each to stdout/stderr, with no stack and no key', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'proc-token-'));
    const child = spawn(process.execPath, ['--disable-warning=DEP0111', '--require', PRELOAD, MAIN], {
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        DATA_DIR: dataDir,
        SANDBOX_DEFENDER_PORT: '0',
        SANDBOX_SERVICENOW_PORT: '0',
        LOG_PRETTY: 'false',
        SYNC_CRON: '0 0 1 1 *',
        TEST_BOT_OPENID_METADATA_URL: openId.metadataUrl,
        ...ENV,
      },
      cwd: dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening" line in 15 s:\n${output}`)), 15_000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const m = /bot listening on (http:\/\/[^/\s"]+)\/api\/messages/.exec(output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      // Start-up output is not what is checked.
      for (let i = 0; i < 200 && !/integration added/.test(output); i++) await new Promise((r) => setTimeout(r, 25));
      const startOutput = output.length;
      const statuses: number[] = [];
      for (const [, make] of BAD_TOKENS) {
        const res = await fetch(`${url}/api/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: header(openId, connector.url, make(openId)) },
          body: JSON.stringify(memberJoined(connector.url)),
        });
        statuses.push(res.status);
        await res.text();
      }
      const valid = await fetch(`${url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: header(openId, connector.url, {}) },
        body: JSON.stringify(memberJoined(connector.url)),
      });
      expect(statuses).toEqual(BAD_TOKENS.map(() => 401));
      expect(valid.status).toBe(200);
      // Lines are flushed by pino asynchronously: wait for the condition, not for time.
      for (let i = 0; i < 200 && (output.slice(startOutput).match(/token not valid/g) ?? []).length < BAD_TOKENS.length; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const printed = output.slice(startOutput).split('\n').filter(Boolean);
      // Only pino's JSON lines: botbuilder printed nothing (its console output is not JSON).
      const parsed = printed.map((l) => {
        try {
          return JSON.parse(l) as { module?: string; msg?: string };
        } catch {
          return { msg: `not a log line: ${l}` };
        }
      });
      expect(parsed.filter((l) => l.module !== 'http' && !/^sync|integration/.test(l.msg ?? ''))).toEqual([]);
      expect(parsed.filter((l) => l.module === 'http').map((l) => l.msg)).toEqual(BAD_TOKENS.map(() => 'activity refused: token not valid'));
      expect(leaks(output, openId)).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
