import { ManualClock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { ServiceNowClient, ServiceNowInstances, type ServiceNowClientOptions, type TokenCache } from '../../connectors/servicenow/client.js';
import { DEFAULT_SIMULATOR_CREDENTIALS, startServiceNowSimulator, type ServiceNowSimulator, type SimulatorOptions } from '../../sandbox/servicenow/index.js';

export const START = '2025-03-01T09:00:00.000Z';

/** Records every log call as JSON so tests can assert on content (e.g. that no secret leaks). */
export function capturingLogger(lines: string[]): Logger {
  const log = (level: string) => (a: unknown, b?: string) => {
    lines.push(JSON.stringify({ level, a, b }));
  };
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return logger;
}

export interface Harness {
  clock: ManualClock;
  sim: ServiceNowSimulator;
  client: ServiceNowClient;
  sleeps: number[];
  logs: string[];
  makeClient(overrides?: { options?: ServiceNowClientOptions; password?: string; tokenCache?: TokenCache }): ServiceNowClient;
  close(): Promise<void>;
}

export async function harness(opts: { sim?: SimulatorOptions; client?: ServiceNowClientOptions; tokenCache?: TokenCache } = {}): Promise<Harness> {
  const clock = new ManualClock(START);
  const sim = await startServiceNowSimulator({ clock, ...opts.sim });
  const sleeps: number[] = [];
  const logs: string[] = [];
  // One per harness, as the composition root has one: the harness's clients share each instance's budget.
  const instances = new ServiceNowInstances();
  const makeClient: Harness['makeClient'] = (o = {}) =>
    new ServiceNowClient({
      instances,
      connection: { instanceUrl: sim.url, ...DEFAULT_SIMULATOR_CREDENTIALS, ...(o.password ? { password: o.password } : {}) },
      clock,
      logger: capturingLogger(logs),
      tokenCache: o.tokenCache ?? opts.tokenCache,
      // Tests never wait: the delay is recorded and the promise resolves at once.
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      options: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1000, timeoutMs: 5000, ...opts.client, ...o.options },
    });
  return { clock, sim, client: makeClient(), sleeps, logs, makeClient, close: () => sim.close() };
}

/** Raw HTTP against the simulator with a fresh password-grant token. */
export async function rawToken(sim: ServiceNowSimulator): Promise<string> {
  const c = DEFAULT_SIMULATOR_CREDENTIALS;
  const res = await fetch(`${sim.url}/oauth_token.do`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: c.clientId, client_secret: c.clientSecret, username: c.username, password: c.password }),
  });
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

export async function api(
  sim: ServiceNowSimulator,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  // Raw protocol assertions index freely into ServiceNow's JSON; typing each shape would add nothing.
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}
