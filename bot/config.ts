import { z } from 'zod';

/**
 * The one schema for the process environment. An empty value counts as unset, so a copied
 * env.sample with blank lines behaves like a missing variable rather than an invalid one.
 */
const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const opt = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(emptyToUndefined, schema.optional());
const withDefault = <T extends z.ZodTypeAny>(schema: T, value: z.input<T>) =>
  z.preprocess(emptyToUndefined, schema.default(value as never));

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const envSchema = z
  .object({
    BOT_MODE: withDefault(z.enum(['sandbox', 'production']), 'sandbox'),
    PORT: withDefault(z.coerce.number().int().min(0).max(65535), 3978),
    PUBLIC_URL: opt(z.url({ protocol: /^https?$/ })),
    MicrosoftAppId: opt(z.string().regex(guid, 'must be a GUID (the Azure Bot app id)')),
    MicrosoftAppPassword: opt(z.string()),
    MicrosoftAppType: withDefault(z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']), 'MultiTenant'),
    MicrosoftAppTenantId: opt(z.string().regex(guid, 'must be a GUID (the Entra tenant id)')),
    DATA_DIR: withDefault(z.string(), './data'),
    SECRET_KEY: opt(z.string()),
    LOG_LEVEL: withDefault(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
    LOG_PRETTY: opt(bool),
    ALLOWED_TENANT_IDS: opt(csv.pipe(z.array(z.string().regex(guid, 'each entry must be a tenant GUID')))).transform((v) => v ?? []),
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
  const appType = get('MicrosoftAppType') ?? 'MultiTenant';
  if (get('MicrosoftAppId') && !get('MicrosoftAppPassword') && appType !== 'UserAssignedMSI') {
    problems.push('MicrosoftAppPassword: is required when MicrosoftAppId is set');
  }
  if ((appType === 'SingleTenant' || appType === 'UserAssignedMSI') && !get('MicrosoftAppTenantId')) {
    problems.push(`MicrosoftAppTenantId: is required when MicrosoftAppType is ${appType}`);
  }
  const secretKey = get('SECRET_KEY');
  if ((get('BOT_MODE') ?? 'sandbox') === 'production' && !secretKey) {
    problems.push('SECRET_KEY: is required in production mode (32 random bytes as 64 hex characters or base64)');
  }
  if (secretKey && !decodeSecretKey(secretKey)) problems.push('SECRET_KEY: must be 32 bytes given as 64 hex characters or base64');
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

export function decodeSecretKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    const buf = Buffer.from(trimmed, 'base64');
    if (buf.length === 32) return buf;
  }
  return undefined;
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
