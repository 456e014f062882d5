import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { integrationService } from '../compose/services.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CliRefusal, openWorkspace, reportFailure, type CliIo, type Workspace } from './botProcess.js';
import { runRemindCommand } from './remind.js';
import { RULE_USAGE, runRuleCommand } from './rules.js';
import { runStoreCommand } from './store.js';
import { runSyncCommand } from './sync.js';

export type { CliIo } from './botProcess.js';

const USAGE = `Usage: npm run cli -- <command>
  integration add --name N --scope SCOPE --instance-url URL --username U --password P --client-id C --client-secret S [--fields default|customized]
                  (or leave out --password/--client-secret and set SERVICENOW_PASSWORD / SERVICENOW_CLIENT_SECRET)
  integration list
  integration test --name N
  integration remove --name N
  sync      run one Defender sync pass now (cards are posted by the bot on its next pass)
  remind    send one pass of reminders now
  store migrate --to postgres   copy DATA_DIR/db.json into the empty database DATABASE_URL
${RULE_USAGE}`;

/** Wrong words on the command line: exit code 2, like every refusal. */
class UsageError extends CliRefusal {}

const addArgs = z.object({
  name: z.string({ error: '--name is required' }),
  scope: z.string({ error: '--scope is required' }),
  'instance-url': z.string({ error: '--instance-url is required' }),
  username: z.string({ error: '--username is required' }),
  password: z.string({ error: '--password (or SERVICENOW_PASSWORD) is required' }),
  'client-id': z.string({ error: '--client-id is required' }),
  'client-secret': z.string({ error: '--client-secret (or SERVICENOW_CLIENT_SECRET) is required' }),
  fields: z.enum(['default', 'customized'], { error: '--fields must be default or customized' }).default('default'),
});
const nameArgs = z.object({ name: z.string({ error: '--name is required' }) });

/** Runs one CLI command; returns the exit code. Every failure is one readable line. */
export async function runCli(argv: string[], env: Record<string, string | undefined>, io: CliIo, clock: Clock = systemClock): Promise<number> {
  let workspace: Workspace | undefined;
  try {
    const [group, verb, ...rest] = argv;
    if (group === 'sync' && verb === undefined) return await runSyncCommand(env, io, clock);
    if (group === 'remind' && verb === undefined) return await runRemindCommand(env, io, clock);
    if (group === 'store') return await runStoreCommand(argv.slice(1), env, io);
    if (group === 'rule') return await runRuleCommand(argv.slice(1), env, io, clock);
    if (group !== 'integration' || !verb) throw new UsageError(USAGE);
    const { values } = parseArgs({
      args: rest,
      options: Object.fromEntries(
        ['name', 'scope', 'instance-url', 'username', 'password', 'client-id', 'client-secret', 'fields'].map((o) => [o, { type: 'string' }]),
      ),
      strict: true,
    });
    const busy =
      verb === 'list'
        ? undefined
        : (pid: number, dataDir: string) => `the bot is running on ${dataDir} (pid ${pid}); use the Teams "integrations" command, or stop the bot first`;
    workspace = await openWorkspace(env, clock, busy, `\`npm run cli -- integration ${verb}\``);
    const { config, logger, store } = workspace;
    const service = integrationService({
      store,
      secrets: await workspace.secrets(),
      clock,
      logger,
      allowPrivateHosts: config.SERVICENOW_ALLOW_PRIVATE_HOSTS,
    });
    const actor = `cli:${env.USER ?? 'unknown'}`;

    switch (verb) {
      case 'add': {
        // Secrets may come from the environment so they stay out of shell history and `ps`.
        const a = parseOrUsage(addArgs, {
          ...values,
          password: values.password ?? env.SERVICENOW_PASSWORD,
          'client-secret': values['client-secret'] ?? env.SERVICENOW_CLIENT_SECRET,
        });
        const view = await service.add(
          {
            name: a.name,
            scope: a.scope,
            instanceUrl: a['instance-url'],
            username: a.username,
            password: a.password,
            clientId: a['client-id'],
            clientSecret: a['client-secret'],
            fieldMode: a.fields,
          },
          actor,
        );
        io.out(`Added integration "${view.name}" (${view.scope}) → ${view.instanceUrl}, ${view.fieldMode} fields. Credentials verified.`);
        return 0;
      }
      case 'list': {
        const list = await service.list();
        if (list.length === 0) io.out('No integrations. Add one with: npm run cli -- integration add --help');
        for (const i of list) {
          const health =
            i.lastError && (!i.lastSuccessAt || i.lastError.at > i.lastSuccessAt)
              ? `last error ${i.lastError.at}: ${i.lastError.message}`
              : `last success ${i.lastSuccessAt ?? 'never'}`;
          io.out(`${i.name}\t${i.scope}\t${i.instanceUrl}\t${i.fieldMode}\t${health}`);
        }
        return 0;
      }
      case 'test': {
        const { name } = parseOrUsage(nameArgs, values);
        const result = await service.test(name);
        (result.ok ? io.out : io.err)(`${result.ok ? 'OK' : 'FAILED'}: "${result.integration.name}" ${result.message}`);
        return result.ok ? 0 : 1;
      }
      case 'remove': {
        const { name } = parseOrUsage(nameArgs, values);
        const view = await service.remove(name, actor);
        io.out(`Removed integration "${view.name}". Its assignments are released on the next sync (tickets stay open, each gets a work note).`);
        return 0;
      }
      default:
        throw new UsageError(USAGE);
    }
  } catch (err) {
    return reportFailure(err, io);
  } finally {
    await workspace?.close();
  }
}

function parseOrUsage<S extends z.ZodType>(schema: S, values: unknown): z.output<S> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

if (require.main === module) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  runCli(process.argv.slice(2), process.env, { out: (l) => console.log(l), err: (l) => console.error(l) }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
