import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as restify from 'restify';
import type { Clock } from '../core/clock.js';
import { buildDashboard } from '../core/dashboard.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../app/ports.js';
import { EntraTokenVerifier, TokenError } from './entraJwt.js';
import { readableAssignments, type ReadPolicy } from '../app/authorization.js';
import type { Actor } from './turn.js';

export interface DashboardConfig {
  sandbox: boolean;
  /**
   * Tenants whose Teams SSO tokens are accepted. Empty: none in production (a foreign tenant's
   * user has no Azure role here anyway); any in the sandbox, whose data is simulated.
   */
  allowedTenantIds: string[];
  /** The bot's Entra app id (MicrosoftAppId); SSO tokens may carry it as audience. */
  appId?: string;
  /** `api://{PUBLIC_URL host}/{MicrosoftAppId}`, the audience of Teams SSO tokens. */
  appIdUri?: string;
  jwksUrl?: string;
  /** Issuer with a `{tid}` placeholder, for sovereign clouds; default: the public cloud's v1 and v2 issuers. */
  issuerTemplate?: string;
}

export interface DashboardDeps {
  store: Store;
  clock: Clock;
  /** Time zone of due dates (REMINDER_TIMEZONE): "overdue" is judged there. Default UTC. */
  timeZone?: string;
  logger: Logger;
  config: DashboardConfig;
  /** The read policy of chat (README "Access control"): the token's `oid` decides which subscriptions' rows are shown. */
  readPolicy: Pick<ReadPolicy, 'subscriptions'>;
  /** The signed-in user's UPN as the bot knows it (their 1:1 chat), so their own assignments are always shown. */
  whoAmI?: (actor: Actor) => Promise<string | undefined>;
  /** Folder with the bundled tab: index.html, config.html, tab.js, config.js. */
  webRoot: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
/** Asset names the bundle can contain; anything else (../, %2f, dot files) is a plain 404. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|map|svg|png)$/;

/** Teams (classic, new, and Microsoft 365 hosts) may frame the tab; nobody else. */
const FRAME_ANCESTORS = [
  "'self'",
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://teams.cloud.microsoft',
  'https://*.cloud.microsoft',
  'https://*.office.com',
  'https://*.microsoft365.com',
  'https://outlook.office.com',
].join(' ');

const UNAUTHORIZED = { code: 'Unauthorized', message: 'Open the dashboard from Microsoft Teams to sign in.' };

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/**
 * Serves the dashboard tab and its data. The tab is static (built with esbuild); the data is
 * computed per request from the store so it is never stale.
 */
export function registerDashboard(server: restify.Server, deps: DashboardDeps): void {
  const { store, clock, config } = deps;
  const logger = deps.logger.child({ module: 'dashboard' });
  const webRoot = path.resolve(deps.webRoot);
  const audiences = [config.appIdUri, config.appId].filter((a): a is string => !!a);
  const verifier = audiences.length
    ? new EntraTokenVerifier({
        clock,
        audiences,
        allowedTenantIds: config.allowedTenantIds,
        anyTenant: config.sandbox && config.allowedTenantIds.length === 0,
        ...(config.jwksUrl ? { jwksUrl: config.jwksUrl } : {}),
        ...(config.issuerTemplate ? { issuerTemplates: [config.issuerTemplate] } : {}),
      })
    : undefined;
  if (!verifier) logger.warn('no MicrosoftAppId configured: /api/dashboard accepts no tokens (sandbox localhost only)');
  else if (!config.sandbox && config.allowedTenantIds.length === 0) {
    logger.warn('no tenant to accept dashboard tokens from: set ALLOWED_TENANT_IDS or MicrosoftAppTenantId; /api/dashboard refuses every token');
  }

  async function sendFile(res: restify.Response, name: string, next: restify.Next): Promise<void> {
    const file = path.resolve(webRoot, name);
    // Belt and braces on top of ASSET_NAME: the resolved file must stay inside the bundle.
    if (path.dirname(file) !== webRoot) {
      res.send(404, { code: 'NotFound', message: 'Not found.' });
      return next();
    }
    try {
      const body = await readFile(file);
      const type = CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': body.length,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-cache',
        ...(type.startsWith('text/html') ? { 'Content-Security-Policy': `frame-ancestors ${FRAME_ANCESTORS}` } : {}),
      });
      res.end(body);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      if (!missing) logger.error({ err, file: name }, 'could not read a tab file');
      else if (name.endsWith('.html')) logger.error({ file: name, webRoot }, 'tab bundle missing: run the web build');
      res.send(missing ? 404 : 500, missing ? { code: 'NotFound', message: 'Not found.' } : { code: 'InternalError', message: 'The file could not be read.' });
    }
    return next();
  }

  server.get('/tab', (_req, res, next) => void sendFile(res, 'index.html', next));
  server.get('/tab/config', (_req, res, next) => void sendFile(res, 'config.html', next));
  server.get('/tab/:file', (req, res, next) => {
    const name = String(req.params.file ?? '');
    if (!ASSET_NAME.test(name)) {
      res.send(404, { code: 'NotFound', message: 'Not found.' });
      return next();
    }
    void sendFile(res, name, next);
  });

  async function authorize(req: restify.Request): Promise<{ ok: true; who: string; actor: Actor; upn?: string } | { ok: false; reason: string }> {
    const header = req.header('authorization');
    // A proxy or tunnel in front makes every caller look local, so forwarded requests need a token.
    const forwarded = !!(req.header('x-forwarded-for') || req.header('forwarded'));
    // No Entra identity: in the sandbox the local user is the sandbox admin, as in the Emulator.
    if (!header && config.sandbox && !forwarded && isLoopback(req.socket?.remoteAddress)) {
      return { ok: true, who: 'sandbox-localhost', actor: { id: 'sandbox-localhost' } };
    }
    const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
    if (!m) return { ok: false, reason: header ? 'malformed Authorization header' : 'no token' };
    if (!verifier) return { ok: false, reason: 'no app id configured to check tokens against' };
    try {
      const claims = await verifier.verify(m[1]!);
      // Roles are looked up by object id; a token without one (an app, not a user) reads nothing.
      if (!claims.oid) return { ok: false, reason: 'token has no oid (not a user)' };
      const actor: Actor = { id: claims.oid, aadObjectId: claims.oid, ...(claims.name ? { name: claims.name } : {}) };
      const upn = (await deps.whoAmI?.(actor)) ?? claims.upn;
      return { ok: true, who: claims.oid, actor, ...(upn ? { upn } : {}) };
    } catch (err) {
      if (err instanceof TokenError) return { ok: false, reason: err.reason };
      throw err;
    }
  }

  async function dashboard(req: restify.Request, res: restify.Response): Promise<void> {
    try {
      const auth = await authorize(req);
      if (!auth.ok) {
        // The reason stays in the log; the caller learns only that it was refused.
        logger.warn({ reason: auth.reason, remote: req.socket?.remoteAddress }, 'dashboard request refused');
        res.header('WWW-Authenticate', 'Bearer');
        res.send(401, UNAUTHORIZED);
        return;
      }
      const view = await deps.readPolicy.subscriptions(auth.actor);
      const rows = readableAssignments(await store.assignments.list(), view.readable, auth.upn);
      if (view.refusal && rows.length === 0) {
        logger.info({ who: auth.who }, 'dashboard refused: no reading role');
        res.header('Cache-Control', 'no-store');
        res.send(403, { code: 'Forbidden', message: view.refusal });
        return;
      }
      const data = buildDashboard(rows, await store.recommendations.list(), clock.now(), deps.timeZone ?? 'UTC');
      res.header('Cache-Control', 'no-store');
      res.send(200, data);
    } catch (err) {
      logger.error({ err }, 'dashboard request failed');
      res.send(500, { code: 'InternalError', message: 'The dashboard could not be built. Try again in a moment.' });
    }
  }
  // restify 11 refuses async handlers that also take `next`.
  server.get('/api/dashboard', (req, res, next) => {
    void dashboard(req, res).finally(() => next());
  });
}
