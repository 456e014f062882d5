import { startServiceNowSimulator } from './server.js';
import { DEFAULT_SIMULATOR_CREDENTIALS } from './seed.js';

/**
 * Stand-alone sandbox instance: `node dist/sandbox/servicenow/main.js`.
 * SN_SIM_PORT (default 4010) and SN_SIM_HOST (default 127.0.0.1) pick the address.
 */
async function main(): Promise<void> {
  const port = Number(process.env.SN_SIM_PORT ?? 4010);
  const host = process.env.SN_SIM_HOST ?? '127.0.0.1';
  const sim = await startServiceNowSimulator({ port, host });
  const c = DEFAULT_SIMULATOR_CREDENTIALS;
  process.stdout.write(
    `ServiceNow simulator on ${sim.url}\n` +
      `  username ${c.username}  password ${c.password}\n` +
      `  client id ${c.clientId}  client secret ${c.clientSecret}\n` +
      `  control API: ${sim.url}/__control/...\n`,
  );
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
