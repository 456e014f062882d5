import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { userObjectId } from '../../sandbox/defender/dataset.js';
import { REPO } from './browser.js';
import { startRecordingProxy, type RecordingProxy } from './recordingProxy.js';
import { waitUntil } from './wait.js';

const CLI = path.join(REPO, 'node_modules/@microsoft/m365agentsplayground/cli.js');

export interface PlaygroundUser {
  id: string;
  name: string;
  givenName: string;
  surname: string;
  upn: string;
  aadObjectId: string;
}

/** A Contoso person from the Defender simulator's directory, as a Teams user (so RBAC checks find them). */
export function contosoUser(upn: string): PlaygroundUser {
  const local = upn.split('@')[0]!;
  const name = local
    .split('.')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join(' ');
  const [givenName = name, surname = ''] = name.split(' ');
  return { id: `29:${local}`, name, givenName, surname, upn, aadObjectId: userObjectId(upn) };
}

export interface PlaygroundConfig {
  /** The user typing in the playground. Without one, no config file is written: the playground's built-in one ("Alex Wilber", an aadObjectId no tenant knows; the other fields are ignored). */
  currentUser?: PlaygroundUser;
  /** Exactly five other members of the team and group chat (the playground's config schema). */
  users?: PlaygroundUser[];
  botName?: string;
  teamName?: string;
  /** A channel besides the team's General channel. */
  channelName?: string;
}

export const TEAM = { id: '19:secops-general@thread.tacv2', channelId: '19:secops-alerts@thread.tacv2' };

/** The `.m365agentsplayground.yml` the playground reads from its working directory (schema 0.1.1). */
export function playgroundYaml(cfg: Required<Pick<PlaygroundConfig, 'currentUser' | 'users' | 'botName' | 'teamName' | 'channelName'>>): string {
  if (cfg.users.length !== 5) throw new Error('the playground wants exactly 5 other users');
  const lines = (u: PlaygroundUser) => [
    `id: "${u.id}"`,
    `name: ${u.name}`,
    `userPrincipleName: ${u.upn}`,
    `aadObjectId: ${u.aadObjectId}`,
    `givenName: ${u.givenName}`,
    `surname: ${u.surname}`,
    `email: ${u.upn}`,
  ];
  return [
    'version: "0.1.1"',
    'tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47',
    'bot:',
    '  id: "28:defender-bot"',
    `  name: ${cfg.botName}`,
    'currentUser:',
    ...lines(cfg.currentUser).map((l) => `  ${l}`),
    'users:',
    ...cfg.users.flatMap((u) => lines(u).map((l, i) => `${i === 0 ? '  - ' : '    '}${l}`)),
    'personalChat:',
    '  id: "a:personal-chat"',
    'groupChat:',
    '  id: "19:group-chat@thread.v2"',
    '  name: Security leads',
    'team:',
    `  id: "${TEAM.id}"`,
    `  name: ${cfg.teamName}`,
    '  aadGroupId: 00000000-0000-0000-0000-000000000031',
    '  channels:',
    `    - id: "${TEAM.channelId}"`,
    `      name: ${cfg.channelName}`,
    '',
  ].join('\n');
}

export interface Playground {
  /** The playground's web UI. */
  url: string;
  botName: string;
  channelName: string;
  teamName: string;
  /** What the playground sent to the bot's endpoint and how the bot answered (activities, invokes). */
  toBot: RecordingProxy;
  /** What the bot sent to the playground's Bot Connector (posts, replies, updates). */
  fromBot: RecordingProxy;
  /** The playground process's output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `agentsplayground -e <bot> -c msteams` in a temporary working directory with its config
 * file, on a free port, with recording proxies on both sides, and waits until its UI answers.
 * The playground is the bot's Bot Connector: the `serviceUrl` of its activities is its
 * `/_connector` (here through the proxy).
 */
export async function startPlayground(opts: { botEndpoint: string } & PlaygroundConfig): Promise<Playground> {
  // Without a config file the playground uses its built-in one ("Test Bot", "My Team", "Announcements").
  const builtIn = !opts.currentUser;
  const botName = builtIn ? 'Test Bot' : (opts.botName ?? 'Defender bot');
  const teamName = builtIn ? 'My Team' : (opts.teamName ?? 'SecOps');
  const channelName = builtIn ? 'Announcements' : (opts.channelName ?? 'Defender alerts');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agents-playground-'));
  if (opts.currentUser) {
    writeFileSync(
      path.join(dir, '.m365agentsplayground.yml'),
      playgroundYaml({
        currentUser: opts.currentUser,
        // The playground's people picker submits a person's `id`; Teams' submits their Entra object id,
        // so the other members get their object id as id and the bot receives what Teams would send.
        users: (opts.users ?? ['bob.martinez', 'erin.walsh', 'carol.nguyen', 'frank.osei', 'dave.kim'].map((u) => contosoUser(`${u}@contoso.com`))).map(
          (u) => ({ ...u, id: u.aadObjectId }),
        ),
        botName,
        teamName,
        channelName,
      }),
    );
  }
  const endpoint = new URL(opts.botEndpoint);
  const toBot = await startRecordingProxy(endpoint.origin);
  const fromBot = await startRecordingProxy();
  const port = await freePort();
  fromBot.target = `http://127.0.0.1:${port}/_connector`;

  const logFile = path.join(dir, 'playground.log');
  let out = '';
  let exited: number | null | undefined;
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, '-e', `${toBot.url}${endpoint.pathname}`, '-c', 'msteams', '-p', String(port), '--service-url', fromBot.url, '--disable-telemetry'],
    {
      cwd: dir,
      // No browser is opened for us; the log goes to the temporary folder.
      env: { ...process.env, TEAMSAPPTESTER_BROWSER: 'none', M365_AGENTS_PLAYGROUND_LOGFILE: logFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      resolve();
    }),
  );

  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(killer);
    }
    await Promise.all([toBot.close(), fromBot.close()]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // It says "Listening on <port>" (another port if that one was taken meanwhile): then the UI must answer.
    const listening = await waitUntil(
      () => /Listening on (\d+)\r?\n/.exec(out)?.[1],
      (p) => p !== undefined || exited !== undefined,
      { timeoutMs: 20_000, intervalMs: 50, what: 'agentsplayground listening' },
    );
    if (exited !== undefined) throw new Error(`agentsplayground exited with ${exited}: ${out}`);
    if (Number(listening) !== port) fromBot.target = `http://127.0.0.1:${listening}/_connector`;
    const url = `http://127.0.0.1:${listening}`;
    // It reads its config file once listening, and exits if the file is invalid.
    await waitUntil(
      async () => (exited !== undefined ? -1 : (await fetch(url)).status),
      (s) => s === 200 || s === -1,
      { timeoutMs: 10_000, intervalMs: 50, what: 'the playground UI' },
    );
    if (exited !== undefined) throw new Error(`agentsplayground exited with ${exited}`);
    return { url, botName, channelName, teamName, toBot, fromBot, output: () => out, stop };
  } catch (err) {
    const log = existsSync(logFile) ? `\nits log:\n${readFileSync(logFile, 'utf8').slice(-2000)}` : '';
    await stop();
    throw new Error(`${(err as Error).message}\nagentsplayground output:\n${out}${log}`);
  }
}
