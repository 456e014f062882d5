/**
 * `npm run cli -- sync`: one sync pass from the command line (fetch, diff, persist). Cards are not
 * posted from here: that needs the running bot's adapter, and the bot posts or updates every card
 * whose stored PostedCard is missing or stale on its next pass.
 */
import type { Config } from '../compose/config.js';
import { createLogger } from '../compose/logger.js';
import { defenderClient, localDefenderAnswers, type LocalAzureEndpoint } from '../compose/open.js';
import type { DefenderPort } from '../app/ports.js';
import { SyncJob } from '../app/syncRecommendations.js';
import { systemClock, type Clock } from '../core/clock.js';
import { openWorkspace, reportFailure, type CliIo, type Workspace } from './botProcess.js';

/** How long a sandbox simulator on SANDBOX_DEFENDER_PORT gets to answer before a private one starts. */
const PROBE_TIMEOUT_MS = 2_000;

export interface DefenderSource {
  azure: DefenderPort;
  scopes: string[];
  description: string;
  close(): Promise<void>;
}

export async function defenderSource(config: Config, env: Record<string, string | undefined>, clock: Clock): Promise<DefenderSource> {
  const logger = createLogger({ level: 'silent' });
  if (config.DEFENDER_SOURCE === 'azure') {
    return {
      azure: defenderClient(config, env, { logger, clock })!,
      scopes: config.DEFENDER_SCOPES,
      description: `Azure (${config.DEFENDER_SCOPES.join(', ')})`,
      close: async () => undefined,
    };
  }
  // Loaded only in sandbox mode: production never loads sandbox/.
  const sandbox = await import('../sandbox/index.js');
  const forSimulator = (url: string) => defenderClient(config, env, { logger, clock, local: { url, ...sandbox.SANDBOX_AZURE_APP } })!;
  const port = config.SANDBOX_DEFENDER_PORT;
  if (port > 0) {
    const url = `http://127.0.0.1:${port}`;
    // A sandbox bot on another data folder may be running its simulator: its state (fixes tried
    // with `simulate`) is what the user expects to see.
    if (await localDefenderAnswers({ url, ...sandbox.SANDBOX_AZURE_APP } satisfies LocalAzureEndpoint, PROBE_TIMEOUT_MS)) {
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
    // No Teams connection here: the bot posts and updates the cards on its next pass.
    const job = new SyncJob({ azure: source.azure, store, postCards: false, clock, logger, scopes: source.scopes });
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
    else if (report.cardsPosted + report.cardsUpdated === 0) io.out(`Cards: all up to date in ${plural(subscribed, 'subscribed conversation')}.`);
    else
      io.out(
        `Cards: ${report.cardsPosted} to post and ${report.cardsUpdated} to update in ${plural(subscribed, 'subscribed conversation')}; the bot posts and updates them on its next pass.`,
      );
    return 0;
  } catch (err) {
    return reportFailure(err, io);
  } finally {
    await workspace?.close();
    await source?.close();
  }
}
