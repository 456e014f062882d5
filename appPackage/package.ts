import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppManifestUtils } from '@microsoft/app-manifest';
import { z } from 'zod';
import { createZip } from './zip.js';

/**
 * `npm run package`: fills the manifest template's ${{VAR}} placeholders from the environment,
 * validates the result against the official Teams schema bundled with @microsoft/app-manifest
 * (offline: `$schema` must be the URL without a locale segment), and zips it with the icons.
 */

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v);
const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');
const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });
const HINTS: Record<string, string> = {
  TEAMS_APP_ID: 'the Teams app id, a GUID you generate once and keep',
  MicrosoftAppId: 'the Azure Bot / Entra app id',
  PUBLIC_URL: 'the public https URL of the bot, e.g. https://bot.contoso.com',
};
const required = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(emptyToUndefined, schema);
const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(emptyToUndefined, schema.optional());

export const packageEnvSchema = z.object({
  TEAMS_APP_ID: required(guid),
  MicrosoftAppId: required(guid),
  PUBLIC_URL: required(httpsUrl),
  APP_VERSION: optional(z.string().regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'must be a semantic version like 1.2.3')),
  APP_ID_URI: optional(z.string().regex(/^api:\/\/\S+$/, 'must start with api://')),
  DEVELOPER_NAME: optional(z.string().max(32)),
  DEVELOPER_URL: optional(httpsUrl),
  PRIVACY_URL: optional(httpsUrl),
  TERMS_URL: optional(httpsUrl),
});
export type PackageEnv = z.output<typeof packageEnvSchema>;

export class PackageError extends Error {
  constructor(readonly problems: string[]) {
    super(`Cannot build the Teams app package:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PackageError';
  }
}

export function readPackageEnv(env: Record<string, string | undefined>): PackageEnv {
  const parsed = packageEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new PackageError(
      parsed.error.issues.map((i) => {
        const name = i.path.join('.') || '(environment)';
        // Never echo the value; say what is expected instead.
        const missing = i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined;
        return missing ? `${name}: is required (${HINTS[name] ?? 'see env.sample'})` : `${name}: ${i.message}`;
      }),
    );
  }
  return parsed.data;
}

/** The values of every placeholder the template may use. */
export function placeholderValues(env: PackageEnv, defaultVersion: string): Record<string, string> {
  const url = new URL(env.PUBLIC_URL);
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return {
    TEAMS_APP_ID: env.TEAMS_APP_ID.toLowerCase(),
    MicrosoftAppId: env.MicrosoftAppId.toLowerCase(),
    PUBLIC_URL: base,
    // validDomains take host names (with an explicit port when there is one), no scheme.
    PUBLIC_HOST: url.host,
    APP_ID_URI: env.APP_ID_URI ?? appIdUriFor(env.PUBLIC_URL, env.MicrosoftAppId),
    APP_VERSION: env.APP_VERSION ?? defaultVersion,
    DEVELOPER_NAME: env.DEVELOPER_NAME ?? 'Security Engineering',
    DEVELOPER_URL: env.DEVELOPER_URL ?? base,
    PRIVACY_URL: env.PRIVACY_URL ?? env.DEVELOPER_URL ?? base,
    TERMS_URL: env.TERMS_URL ?? env.DEVELOPER_URL ?? base,
  };
}

/** The audience of Teams SSO tokens; the Entra app registration must expose exactly this URI. */
export function appIdUriFor(publicUrl: string, appId: string): string {
  return `api://${new URL(publicUrl).host}/${appId.toLowerCase()}`;
}

const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function fillTemplate(template: string, values: Record<string, string>): string {
  const unknown = new Set<string>();
  const filled = template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) {
      unknown.add(name);
      return '';
    }
    // Inside a JSON string: escape like JSON does.
    return JSON.stringify(value).slice(1, -1);
  });
  if (unknown.size) throw new PackageError([...unknown].map((n) => `manifest.json uses \${{${n}}}, which has no value`));
  return filled;
}

export interface BuildOptions {
  env: Record<string, string | undefined>;
  /** Folder with manifest.json, color.png and outline.png. */
  appDir: string;
  outFile: string;
  defaultVersion?: string;
}

export interface BuiltPackage {
  file: string;
  manifest: Record<string, unknown>;
}

export async function buildAppPackage(options: BuildOptions): Promise<BuiltPackage> {
  const env = readPackageEnv(options.env);
  const template = readFileSync(path.join(options.appDir, 'manifest.json'), 'utf8');
  const json = fillTemplate(template, placeholderValues(env, options.defaultVersion ?? '1.0.0'));
  const manifest = JSON.parse(json) as Record<string, unknown> & { $schema?: string; icons: { color: string; outline: string } };
  if (!manifest.$schema?.startsWith('https://developer.microsoft.com/json-schemas/teams/')) {
    throw new PackageError(['manifest.json: $schema must be https://developer.microsoft.com/json-schemas/teams/v1.NN/… (no locale) so it validates offline']);
  }
  const errors = await AppManifestUtils.validateAgainstSchema(manifest as never);
  if (errors.length) throw new PackageError(errors.map((e) => `manifest.json${e.trim()}`));

  const icons = [manifest.icons.color, manifest.icons.outline];
  const missing = icons.filter((i) => !existsSync(path.join(options.appDir, i)));
  if (missing.length) throw new PackageError(missing.map((i) => `icon ${i} not found in ${options.appDir} (run the icon generator)`));

  const zip = createZip([
    { name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    ...icons.map((name) => ({ name, data: readFileSync(path.join(options.appDir, name)) })),
  ]);
  mkdirSync(path.dirname(options.outFile), { recursive: true });
  writeFileSync(options.outFile, zip);
  return { file: options.outFile, manifest };
}

async function main(): Promise<void> {
  const root = process.cwd();
  if (existsSync('.env')) process.loadEnvFile('.env');
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const appDir = path.join(root, 'appPackage');
  const built = await buildAppPackage({ env: process.env, appDir, outFile: path.join(appDir, 'build', 'appPackage.zip'), defaultVersion: version });
  console.log(
    `Teams app package written to ${path.relative(root, built.file)} (manifest ${String(built.manifest.manifestVersion)}, version ${String(built.manifest.version)}).`,
  );
  console.log('Upload it in Teams: Apps > Manage your apps > Upload an app, or in the Teams Developer Portal.');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof PackageError ? err.message : `Cannot build the Teams app package: ${(err as Error).message}`);
    process.exitCode = 1;
  });
}
