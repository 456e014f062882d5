import type { AddressInfo } from 'node:net';
import type { CloudAdapter } from 'botbuilder';
import * as restify from 'restify';
import type { Logger } from '../core/logger.js';
import type { TeamsBot } from './teamsBot.js';
import { tenantOf } from './turn.js';

/** Bot Framework activities are small; anything bigger is refused before it is parsed. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ServerDeps {
  adapter: CloudAdapter;
  bot: TeamsBot;
  logger: Logger;
  allowedTenantIds: string[];
  health: () => Record<string, unknown>;
}

export function createServer(deps: ServerDeps): restify.Server {
  const { adapter, bot, logger } = deps;
  const server = restify.createServer({ name: 'defender-servicenow-bot' });
  server.use(restify.plugins.bodyParser({ maxBodySize: MAX_BODY_BYTES, mapParams: false, mapFiles: false }));

  server.get('/healthz', (_req, res, next) => {
    res.send(200, deps.health());
    next();
  });

  server.post('/api/messages', (req, res, next) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      res.send(400, { code: 'BadRequest', message: 'The request body must be a JSON Bot Framework activity.' });
      return next();
    }
    if (deps.allowedTenantIds.length > 0) {
      const tenant = tenantOf(body);
      if (!tenant || !deps.allowedTenantIds.includes(tenant)) {
        logger.warn({ tenant: tenant ?? '(none)', channelId: body.channelId }, 'activity from a tenant that is not allowed');
        res.send(403, { code: 'Forbidden', message: 'This tenant is not allowed to use this bot.' });
        return next();
      }
    }
    adapter
      .process(req, res, (ctx) => bot.run(ctx))
      .then(() => next())
      .catch((err: unknown) => {
        logger.error({ err }, 'activity processing failed');
        if (!res.headersSent) res.send(500, { code: 'InternalError', message: 'The bot could not process this activity.' });
        next();
      });
  });

  // A failing request must never bring the process down.
  server.on('restifyError', (req: restify.Request, _res: restify.Response, err: Error & { statusCode?: number }, cb: () => void) => {
    const status = err.statusCode ?? 500;
    (status >= 500 ? logger.error : logger.warn).call(logger, { status, method: req.method, path: req.path(), error: err.message }, 'request failed');
    cb();
  });
  return server;
}

export function listen(server: restify.Server, port: number, host?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      const address = server.server.address() as AddressInfo;
      resolve(`http://${host ?? 'localhost'}:${address.port}`);
    });
  });
}

export function closeServer(server: restify.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections from the connector would hold close() open.
    (server.server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}
