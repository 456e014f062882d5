import cron from 'node-cron';
import { z } from 'zod';
import { decodeSecretKey } from '../storage/secrets.js';
import { SANDBOX_READER_UPN, type SandboxIdentity } from '../app/authorization.js';
import { isValidTimeZone, parseQuietHours } from '../core/reminders.js';
import { DEFAULT_SEVERITY_IMPACT_URGENCY_TEXT, parseSeverityImpactUrgency, type SeverityImpactUrgency } from '../core/assignments.js';

/**
 * The one schema for the process environment. An empty value counts as unset, so a copied
 * env.sample with blank lines behaves like a missing variable rather than an invalid one.
 */
const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const opt = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(emptyToUndefined, schema.optional());
/**
 * The default is written as it would be in the environment and goes through the schema like a
 * set value. zod's own `.default()` returns its value as the output and skips the transform, so
 * `bool.default('false')` yielded the truthy string "false" and turned the SSRF guard off.
 */
const withDefault = <T extends z.ZodTypeAny>(schema: T, envValue: string) => z.preprocess((v) => emptyToUndefined(v) ?? envValue, schema);

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const scopeRe = /^\/(subscriptions\/[0-9a-f-]{36}|providers\/Microsoft\.Management\/managementGroups\/[\w.()-]{1,90})$/i;
const cronExpr = z.string().refine((v) => cron.validate(v), 'must be a cron expression (e.g. "*/5 * * * *")');

const envObject = z.object({
  // Default (see modeOf): production when MicrosoftAppId is set, else sandbox.
  BOT_MODE: opt(z.enum(['sandbox', 'production'])),
  PORT: withDefault(z.coerce.number().int().min(0).max(65535), '3978'),
  HOST: opt(z.string().min(1)),
  PUBLIC_URL: opt(z.url({ protocol: /^https?$/ })),
  MicrosoftAppId: opt(z.string().regex(guid, 'must be a GUID (the Azure Bot app id)')),
  MicrosoftAppPassword: opt(z.string()),
  MicrosoftAppType: withDefault(z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']), 'MultiTenant'),
  MicrosoftAppTenantId: opt(z.string().regex(guid, 'must be a GUID (the Entra tenant id)')),
  DATA_DIR: withDefault(z.string(), './data'),
  // PostgreSQL instead of the JSON file in DATA_DIR (storage/index.ts openStore).
  DATABASE_URL: opt(z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres://user:password@host:port/database URL' })),
  DATABASE_POOL_SIZE: withDefault(z.coerce.number().int().min(1).max(100), '10'),
  /** How long a replica that died while creating tickets holds its work before another one takes it over. */
  WORK_LEASE_SECONDS: withDefault(z.coerce.number().int().min(1).max(86400), '600'),
  /** How long a cron tick claimed by a replica that stopped renewing blocks the job's next ticks (renewed every third of it while the run lasts); a dead replica's presence lock frees it at once (storage/postgres/coordination.ts). */
  JOB_LEASE_SECONDS: withDefault(z.coerce.number().int().min(3).max(86400), '300'),
  /** Days finished work is kept: delivered announcements, ticket creations (failed ones until handled) and claimed cron ticks (job_runs). */
  WORK_RETENTION_DAYS: withDefault(z.coerce.number().int().min(1).max(3650), '30'),
  SECRET_KEY: opt(z.string()),
  LOG_LEVEL: withDefault(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  LOG_PRETTY: opt(bool),
  ALLOWED_TENANT_IDS: opt(csv.pipe(z.array(z.string().regex(guid, 'each entry must be a tenant GUID')))).transform((v) => v ?? []),

  // Defender for Cloud / Azure
  DEFENDER_SOURCE: opt(z.enum(['azure', 'sandbox'])),
  DEFENDER_SCOPES: opt(
    csv.pipe(z.array(z.string().regex(scopeRe, 'each scope must be /subscriptions/{id} or /providers/Microsoft.Management/managementGroups/{name}'))),
  ).transform((v) => v ?? []),
  ARM_ENDPOINT: withDefault(z.url({ protocol: /^https?$/ }), 'https://management.azure.com'),
  GRAPH_ENDPOINT: withDefault(z.url({ protocol: /^https?$/ }), 'https://graph.microsoft.com'),
  AZURE_AUTHORITY_HOST: opt(z.url({ protocol: /^https$/ })),
  AZURE_TENANT_ID: opt(z.string()),
  AZURE_CLIENT_ID: opt(z.string()),
  SYNC_CRON: withDefault(cronExpr, '*/5 * * * *'),
  FULL_SYNC_CRON: withDefault(cronExpr, '0 3 * * *'),
  RESOLVE_AFTER_HEALTHY_PASSES: withDefault(z.coerce.number().int().min(1).max(10), '1'),
  REOPEN_WINDOW_DAYS: withDefault(z.coerce.number().int().min(0).max(365), '14'),
  /** Tickets one governance rule opens in one sync before it pauses for an admin's confirmation (issue 15). */
  RULE_MAX_TICKETS_PER_SYNC: withDefault(z.coerce.number().int().min(1).max(10000), '50'),

  // Reminders
  REMINDER_CRON: withDefault(cronExpr, '0 9 * * 1'),
  REMINDER_TIMEZONE: withDefault(z.string().refine(isValidTimeZone, 'must be an IANA time zone such as Europe/Dublin'), 'UTC'),
  REMIND_DAYS_BEFORE: withDefault(z.coerce.number().int().min(0).max(30), '3'),
  QUIET_HOURS: opt(z.string().refine((v) => parseQuietHours(v) !== undefined, 'must be HH:mm-HH:mm, e.g. 20:00-07:00')),

  // ServiceNow
  SERVICENOW_ALLOW_PRIVATE_HOSTS: withDefault(bool, 'false'),
  SEVERITY_IMPACT_URGENCY: withDefault(
    z.string().transform((v, ctx): SeverityImpactUrgency => {
      const parsed = parseSeverityImpactUrgency(v);
      if (parsed.ok) return parsed.value;
      for (const message of parsed.problems) ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }),
    DEFAULT_SEVERITY_IMPACT_URGENCY_TEXT,
  ),

  // Teams app package and dashboard tab
  TEAMS_APP_ID: opt(z.string().regex(guid, 'must be a GUID')),
  APP_ID_URI: opt(z.string().regex(/^api:\/\//, 'must start with api://')),
  ENTRA_JWKS_URL: withDefault(z.url({ protocol: /^https?$/ }), 'https://login.microsoftonline.com/common/discovery/v2.0/keys'),
  ENTRA_ISSUER_TEMPLATE: opt(z.string().includes('{tid}', { message: 'must contain {tid}' })),

  // Sandbox simulators (BOT_MODE=sandbox)
  SANDBOX_DEFENDER_PORT: withDefault(z.coerce.number().int().min(0).max(65535), '3980'),
  SANDBOX_SERVICENOW_PORT: withDefault(z.coerce.number().int().min(0).max(65535), '3981'),
  SANDBOX_REMINDER_INBOX: opt(z.string()),
  SANDBOX_EMULATOR_UPN: withDefault(z.string().regex(/^[^\s@]+@[^\s@]+$/, 'must be an e-mail address'), 'alice.johnson@contoso.com'),
  CHANNEL_DIGEST_ABOVE: withDefault(z.coerce.number().int().min(0).max(100_000), '10'),
  SANDBOX_IDENTITY: withDefault(
    z.string().refine((v) => ['admin', 'reader', 'roles'].includes(v) || /^[^\s@]+@[^\s@]+$/.test(v), {
      message: 'must be admin, reader, roles or the e-mail of a sandbox user',
    }),
    'admin',
  ),
});

/** Every variable the bot reads; env.sample must document each one (a test checks). */
export const CONFIG_KEYS = Object.keys(envObject.shape);

/**
 * BOT_MODE when it is not set: a registered bot (one with an app id) is production, because the
 * sandbox relaxes role checks and the SSRF guard and must never run for real Teams users by
 * default. Only a bot without an app id (the Emulator) defaults to the sandbox.
 */
function modeOf(botMode: string | undefined, appId: string | undefined): 'sandbox' | 'production' {
  if (botMode === 'sandbox' || botMode === 'production') return botMode;
  return appId ? 'production' : 'sandbox';
}

const envSchema = envObject.transform((env) => {
  const BOT_MODE = modeOf(env.BOT_MODE, env.MicrosoftAppId);
  return {
    ...env,
    BOT_MODE,
    // Without an Azure identity there is nothing real to read, so the simulator is the default.
    DEFENDER_SOURCE: env.DEFENDER_SOURCE ?? (BOT_MODE === 'production' || env.AZURE_CLIENT_ID ? 'azure' : 'sandbox'),
    // The sandbox trusts callers without an identity, so it listens on this machine only.
    HOST: env.HOST ?? (BOT_MODE === 'sandbox' ? 'localhost' : '0.0.0.0'),
  };
});

/**
 * Rules that involve several variables. They run on the raw values even when single fields are
 * invalid, so the operator sees every problem in one go.
 */
function crossFieldProblems(raw: Record<string, string | undefined>): string[] {
  const get = (k: string) => {
    const v = raw[k];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const problems: string[] = [];
  const mode = modeOf(get('BOT_MODE'), get('MicrosoftAppId'));
  // An operator who set only an app id may not know that this made the bot a production one.
  const why = get('BOT_MODE') ? '' : '; BOT_MODE defaults to production when MicrosoftAppId is set';
  const appType = get('MicrosoftAppType') ?? 'MultiTenant';
  if (get('MicrosoftAppId') && !get('MicrosoftAppPassword') && appType !== 'UserAssignedMSI') {
    problems.push('MicrosoftAppPassword: is required when MicrosoftAppId is set');
  }
  if ((appType === 'SingleTenant' || appType === 'UserAssignedMSI') && !get('MicrosoftAppTenantId')) {
    problems.push(`MicrosoftAppTenantId: is required when MicrosoftAppType is ${appType}`);
  }
  if (mode === 'production' && !get('MicrosoftAppId')) {
    problems.push('MicrosoftAppId: is required in production mode (without it Bot Framework authentication is off)');
  }
  const secretKey = get('SECRET_KEY');
  if (mode === 'production' && !secretKey) {
    problems.push(`SECRET_KEY: is required in production mode (32 random bytes as 64 hex characters or base64${why})`);
  }
  if (secretKey && !decodeSecretKey(secretKey)) problems.push('SECRET_KEY: must be 32 bytes given as 64 hex characters or base64');
  const source = get('DEFENDER_SOURCE') ?? (mode === 'production' || get('AZURE_CLIENT_ID') ? 'azure' : 'sandbox');
  if (source === 'azure' && !get('DEFENDER_SCOPES')) {
    const inferred = !get('DEFENDER_SOURCE') && mode === 'production' ? `, the default in production mode${why}` : '';
    problems.push(
      `DEFENDER_SCOPES: is required when reading Azure (DEFENDER_SOURCE=azure${inferred}) (comma list of /subscriptions/{id} or management group ids)`,
    );
  }
  return problems;
}

export type Config = z.output<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment, collecting every problem so the operator fixes them in one go. */
export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        // Never echo the offending value: it may be a secret.
        return `${name}: ${issue.message}`;
      });
  problems.push(...crossFieldProblems(env));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

export { decodeSecretKey };

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/**
 * Who the local user acts as in sandbox mode (SANDBOX_IDENTITY). The sandbox admin and a chosen
 * identity skip the caller's own identity, so they apply only while the bot listens on this
 * machine; on any other interface each user's own roles are checked (`roles`). Production mode
 * has no sandbox identity at all.
 */
export function sandboxIdentity(config: Pick<Config, 'BOT_MODE' | 'HOST' | 'SANDBOX_IDENTITY'>): SandboxIdentity | undefined {
  if (config.BOT_MODE !== 'sandbox') return undefined;
  if (!LOOPBACK_HOSTS.test(config.HOST)) return 'roles';
  const id = config.SANDBOX_IDENTITY;
  if (id === 'admin' || id === 'roles') return id;
  return { upn: id === 'reader' ? SANDBOX_READER_UPN : id.toLowerCase() };
}

/** Settings botbuilder reads; an empty app id turns authentication off (Emulator). */
export function botFrameworkAuthOptions(config: Config) {
  return {
    MicrosoftAppId: config.MicrosoftAppId ?? '',
    MicrosoftAppPassword: config.MicrosoftAppPassword ?? '',
    MicrosoftAppType: config.MicrosoftAppType,
    MicrosoftAppTenantId: config.MicrosoftAppTenantId ?? '',
  };
}
