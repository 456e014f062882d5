/**
 * One sync cycle, what SYNC_CRON runs (and the `sync` and `simulate` commands): refresh the
 * recommendations from Defender, move tickets with the resources' real state, finish assignments
 * an outage left unfinished, and forget the credentials of removed integrations whose tickets
 * have all been released. The steps are independent: a Resource Graph outage must not stop the
 * retries of ticket creation.
 */
import type { Logger } from '../core/logger.js';
import type { CreateAssignments } from './createAssignments.js';
import type { IntegrationService } from './manageIntegrations.js';
import type { ResolutionJob, ResolutionReport } from './resolution.js';
import type { Rules } from './rules.js';
import type { SyncJob, SyncReport } from './syncRecommendations.js';

export interface SyncCycleDeps {
  sync: Pick<SyncJob, 'runOnce'>;
  resolution?: Pick<ResolutionJob, 'runOnce'>;
  assignments: Pick<CreateAssignments, 'resumePending'>;
  integrations: Pick<IntegrationService, 'forgetReleasedCredentials'>;
  /** Governance rules, applied once the recommendations are stored (before resume, which retries what they could not create). */
  rules?: Pick<Rules, 'applyRules'>;
  logger: Logger;
}

/** The sync pass's report, with the same cycle's resolution pass (tickets) when it ran. */
export type CycleReport = SyncReport & { tickets?: ResolutionReport };

export class SyncCycle {
  constructor(private readonly deps: SyncCycleDeps) {}

  /** Rejects only when the sync step failed (after every other step ran); the other steps' failures are logged. */
  async runOnce(): Promise<CycleReport> {
    const { sync, resolution, assignments, integrations, rules } = this.deps;
    const report = await this.step('sync', () => sync.runOnce());
    // Only after a pass that stored the recommendations: a failed pass leaves nothing new to assign.
    if (report && rules) await this.step('governance rules', () => rules.applyRules());
    const tickets = await this.step('resolution', async () => resolution?.runOnce());
    await this.step('resume assignments', () => assignments.resumePending());
    // Removed integrations keep their credentials only until their tickets got a work note.
    await this.step('forget credentials', () => integrations.forgetReleasedCredentials());
    if (!report) throw new Error('the Defender for Cloud sync failed; see the log');
    return tickets ? { ...report, tickets } : report;
  }

  private async step<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (err) {
      this.deps.logger.error({ err, step: name }, `${name} failed; the rest of the cycle goes on`);
      return undefined;
    }
  }
}
