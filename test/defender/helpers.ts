import { ManualClock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { AzureClient, type AzureClientOptions } from '../../connectors/defender/azureClient.js';
import { simulatorCredential } from '../../connectors/defender/credentials.js';
import { DEFAULT_SIMULATOR_CLIENT, startDefenderSimulator, type DefenderSimulator, type DefenderSimulatorOptions } from '../../sandbox/defender/index.js';

export const START = '2025-06-01T00:00:00.000Z';

export interface Harness {
  sim: DefenderSimulator;
  clock: ManualClock;
  sleeps: number[];
  client: AzureClient;
  credential: ReturnType<typeof simulatorCredential>;
  logs: Array<{ level: string; obj: unknown; msg?: string }>;
  makeClient(extra?: Partial<AzureClientOptions>): AzureClient;
}

/** A logger that remembers what was logged, so tests can assert on warnings. */
export function capturingLogger(into: Harness['logs']): Logger {
  const mk = (level: string) => (obj: unknown, msg?: string) => {
    into.push({ level, obj, ...(msg !== undefined ? { msg } : {}) });
  };
  const logger: Logger = { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), child: () => logger };
  return logger;
}

export async function startHarness(simOpts: DefenderSimulatorOptions = {}, clientOpts: Partial<AzureClientOptions> = {}): Promise<Harness> {
  const clock = new ManualClock(START);
  const sim = await startDefenderSimulator({ clock, quota: 'off', ...simOpts });
  const sleeps: number[] = [];
  const logs: Harness['logs'] = [];
  const credential = simulatorCredential(sim.url, sim.tenantId, DEFAULT_SIMULATOR_CLIENT.clientId, DEFAULT_SIMULATOR_CLIENT.clientSecret, { clock });
  // Sleeping moves the manual clock: time passes for the simulator's quota window, not for jest.
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.advance(ms);
  };
  const makeClient = (extra: Partial<AzureClientOptions> = {}) =>
    new AzureClient({
      credential,
      armBaseUrl: sim.url,
      graphBaseUrl: sim.url,
      clock,
      sleep,
      logger: capturingLogger(logs),
      ...clientOpts,
      ...extra,
    });
  return { sim, clock, sleeps, client: makeClient(), credential, logs, makeClient };
}
