import { createApp } from '../bot/index.js';
import { packageVersion } from '../bot/version.js';
import { AzureClient, createAzureCredential, localAzureClient, type LocalAzureEndpoint } from '../connectors/defender/azureClient.js';
import { systemClock, type Clock } from '../core/clock.js';
import { openSecretBox } from '../storage/secrets.js';
import { openWorkspace, reportFailure, type CliIo, type Workspace } from './botProcess.js';

/**
 * `npm run cli -- remind`: one reminder pass now, sent proactively through the Bot Framework
 * with the bot's own credentials and stored conversation references (the bot need not run, and
 * must not: it holds the data file in memory).
 */
export async function runRemindCommand(env: Record<string, string | undefined>, io: CliIo, clock: Clock = systemClock): Promise<number> {
  let workspace: Workspace | undefined;
  let sandbox: { azure: LocalAzureEndpoint; close(): Promise<void> } | undefined;
  try {
    workspace = await openWorkspace(
      env,
      clock,
      (pid, dataDir) => `the bot is running on ${dataDir} (pid ${pid}); reminders go out on REMINDER_CRON, or type "digest" in Teams`,
      '`npm run cli -- remind`',
    );
    const { config, dataDir, logger, store } = workspace;
    const secrets = await openSecretBox(config.SECRET_KEY, dataDir);
    // Managers come from Microsoft Graph; in sandbox mode a private simulator stands in.
    // Loaded only in sandbox mode: production never loads sandbox/.
    if (config.DEFENDER_SOURCE === 'sandbox')
      sandbox = await (await import('../sandbox/index.js')).startSandbox({ defenderPort: 0, servicenowPort: 0, clock, logger });
    const azure =
      config.DEFENDER_SOURCE === 'azure'
        ? new AzureClient({ credential: createAzureCredential(env), armBaseUrl: config.ARM_ENDPOINT, graphBaseUrl: config.GRAPH_ENDPOINT, logger, clock })
        : sandbox && localAzureClient(sandbox.azure, { logger, clock });
    const app = createApp({ config, store, clock, logger, secrets, version: packageVersion(), azure, schedule: false });
    const report = await app.reminders.runOnce();
    await app.messenger.drain();
    await app.stop();
    io.out(
      `Reminders sent: ${report.digests} digests, ${report.managerMessages} manager messages, ${report.graceAnnouncements} grace-period notices, ${report.nudges} nudges` +
        (report.unreachable.length ? `; could not reach: ${report.unreachable.join(', ')}` : '') +
        (report.skippedQuietHours ? ' (quiet hours: nothing sent)' : ''),
    );
    return report.failed ? 1 : 0;
  } catch (err) {
    return reportFailure(err, io);
  } finally {
    await workspace?.close();
    await sandbox?.close();
  }
}
