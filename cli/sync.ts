/**
 * `npm run cli -- sync`: one sync pass from the command line (fetch, diff, persist). Cards are not
 * posted from here: that needs the running bot's adapter, and the bot posts or updates every card
 * whose stored PostedCard is missing or stale on its next pass.
 */
import type { Config } from '../bot/config.js';
import { createLogger } from '../bot/logger.js';
import type { Messenger } from '../bot/messenger.js';
import { SendError } from '../bot/messenger.js';
import type { OutgoingMessage } from '../bot/turn.js';
import { AzureClient, createAzureCredential, localAzureClient, simulatorCredential, type LocalAzureEndpoint } from '../connectors/defender/azureClient.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SyncJob } from '../jobs/sync.js';
import { openWorkspace, reportFailure, type CliIo, type Workspace } from './botProcess.js';

/** How long a sandbox simulator on SANDBOX_DEFENDER_PORT gets to answer before a private one starts. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Counts the cards a pass wants to post or update and refuses them: a refused send stores no
 * PostedCard, so the bot still posts (or updates) each one on its next pass.
 */
export class DeferredMessenger implements Messenger {
  posts = 0;
  updates = 0;

  async send(conversationId: string, _message: OutgoingMessage): Promise<string | undefined> {
    this.posts++;
    throw new SendError(`not posted to ${conversationId}: the CLI leaves posting to the bot`, undefined, false);
  }

  async update(conversationId: string, _activityId: string, _message: OutgoingMessage): Promise<void> {
    this.updates++;
    throw new SendError(`not updated in ${conversationId}: the CLI leaves updating to the bot`, undefined, false);
  }

  pending(): number {
    return 0;
  }

  async drain(): Promise<void> {}
}

interface DefenderSource {
  azure: AzureClient;
  scopes: string[];
  description: string;
  close(): Promise<void>;
}

/** A simulator that hands out a token for the default sandbox client is ours. */
async function simulatorAnswers(endpoint: LocalAzureEndpoint): Promise<boolean> {
  const credential = simulatorCredential(endpoint.url, endpoint.tenantId, endpoint.clientId, endpoint.clientSecret);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      credential.getToken('https://management.azure.com/.default').then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function defenderSource(config: Config, env: Record<string, string | undefined>, clock: Clock): Promise<DefenderSource> {
  const logger = createLogger({ level: 'silent' });
  if (config.DEFENDER_SOURCE === 'azure') {
    return {
      azure: new AzureClient({ credential: createAzureCredential(env), armBaseUrl: config.ARM_ENDPOINT, graphBaseUrl: config.GRAPH_ENDPOINT, logger, clock }),
      scopes: config.DEFENDER_SCOPES,
      description: `Azure (${config.DEFENDER_SCOPES.join(', ')})`,
      close: async () => undefined,
    };
  }
  // Loaded only in sandbox mode: production never loads sandbox/.
  const sandbox = await import('../sandbox/index.js');
  const forSimulator = (url: string) => localAzureClient({ url, ...sandbox.SANDBOX_AZURE_APP }, { logger, clock });
  const port = config.SANDBOX_DEFENDER_PORT;
  if (port > 0) {
    const url = `http://127.0.0.1:${port}`;
    // A sandbox bot on another data folder may be running its simulator: its state (fixes tried
    // with `simulate`) is what the user expects to see.
    if (await simulatorAnswers({ url, ...sandbox.SANDBOX_AZURE_APP })) {
      return {
        azure: forSimulator(url),
        scopes: [sandbox.SANDBOX_SCOPE],
        description: `the sandbox Defender simulator at ${url}`,
        close: async () => undefined,
      };
    }
  }
  const sim = await sandbox.startDefenderSimulator({ port: 0, host: '127.0.0.1', clock, logger, quota: 'off', httpControl: false });
  return {
    azure: forSimulator(sim.url),
    scopes: [sandbox.SANDBOX_SCOPE],
    description: 'a private Defender simulator (built-in sandbox data)',
    close: () => sim.close(),
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Runs one sync pass and prints its report; returns the exit code. Failures are one line. */
export async function runSyncCommand(env: Record<string, string | undefined>, io: CliIo, clock: Clock = systemClock): Promise<number> {
  let workspace: Workspace | undefined;
  let source: DefenderSource | undefined;
  try {
    workspace = await openWorkspace(
      env,
      clock,
      (pid: number, dataDir: string, config: Config) =>
        `The bot is running on ${dataDir} (pid ${pid}); type \`sync\` in Teams or wait for SYNC_CRON (${config.SYNC_CRON}).`,
      '`npm run cli -- sync`',
    );
    const { config, logger, store } = workspace;
    source = await defenderSource(config, env, clock);
    const messenger = new DeferredMessenger();
    const job = new SyncJob({ azure: source.azure, store, messenger, clock, logger, scopes: source.scopes });
    const report = await job.runOnce();
    await job.delivered();
    const subscribed = await store.conversations.count({ subscribed: true });

    io.out(`Synced from ${source.description} in ${(report.durationMs / 1000).toFixed(1)} s (${plural(report.pages, 'page')}).`);
    io.out(`Recommendations: ${report.recommendations} unhealthy, ${plural(report.resources, 'unhealthy resource')}.`);
    io.out(
      `Changes: ${report.new} new, ${report.changed} changed, ${report.resolved} resolved, ${report.unchanged} unchanged (${plural(report.storeWrites, 'store write')}).`,
    );
    if (report.incomplete)
      io.err(
        `Warning: this pass was incomplete (${report.incomplete}); nothing was resolved${report.heldBack > 0 ? ` (${plural(report.heldBack, 'recommendation')} held back)` : ''} and the next complete pass resolves what is really fixed.`,
      );
    if (subscribed === 0) io.out('No conversation is subscribed, so there are no cards to post.');
    else if (messenger.posts + messenger.updates === 0) io.out(`Cards: all up to date in ${plural(subscribed, 'subscribed conversation')}.`);
    else
      io.out(
        `Cards: ${messenger.posts} to post and ${messenger.updates} to update in ${plural(subscribed, 'subscribed conversation')}; the bot posts and updates them on its next pass.`,
      );
    return 0;
  } catch (err) {
    return reportFailure(err, io);
  } finally {
    await workspace?.close();
    await source?.close();
  }
}
