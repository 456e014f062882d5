import { createServices } from '../compose/services.js';
import { defenderClient, type LocalAzureEndpoint } from '../compose/open.js';
import { teamsConnection } from '../compose/teams.js';
import { systemClock, type Clock } from '../core/clock.js';
import { openWorkspace, reportFailure, type CliIo, type Workspace } from './botProcess.js';

/**
 * `npm run cli -- remind`: one reminder pass now, sent proactively through the Bot Framework
 * with the bot's own credentials and stored conversation references (the bot need not run, and
 * must not: it holds the data file in memory). Only the Teams messenger and directory are built,
 * not the server.
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
    const { config, logger, store } = workspace;
    // Managers come from Microsoft Graph; in sandbox mode a private simulator stands in.
    // Loaded only in sandbox mode: production never loads sandbox/.
    if (config.DEFENDER_SOURCE === 'sandbox')
      sandbox = await (await import('../sandbox/index.js')).startSandbox({ defenderPort: 0, servicenowPort: 0, clock, logger });
    const azure = defenderClient(config, env, { logger, clock, local: sandbox?.azure });
    // PostgreSQL: the bot's replicas and this command book the same Teams send windows and locks.
    const { messenger, directory } = teamsConnection({ config, store, clock, logger, sendPacing: workspace.sendPacing });
    const { reminders } = createServices({
      config,
      store,
      clock,
      logger,
      secrets: await workspace.secrets(),
      messenger,
      directory,
      azure,
      locks: workspace.locks,
    });
    const report = await reminders.runOnce();
    await messenger.drain();
    await store.flush();
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
