import type { AddressInfo } from 'node:net';
import * as restify from 'restify';
import type { Logger } from '../core/logger.js';
import { asBotActivity, checkActivity } from './activity.js';
import type { BotAdapter } from './adapter.js';
import { BodyError, discardBody, isJsonContentType, parseJsonObject, readBody } from './httpBody.js';
import type { TeamsBot } from './teamsBot.js';
import { tenantOf } from './turn.js';

/** Bot Framework activities are small; anything bigger is refused before it is buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Request paths are caller-chosen; logs keep the start of one. */
const MAX_LOGGED_PATH = 200;

export interface ServerDeps {
  adapter: BotAdapter;
  bot: TeamsBot;
  logger: Logger;
  allowedTenantIds: string[];
  health: () => Promise<Record<string, unknown>>;
}

type Refusal = { status: number; code: string; message: string; log: Record<string, unknown>; msg: string };

export function createServer(deps: ServerDeps): restify.Server {
  const { adapter, bot, logger } = deps;
  const server = restify.createServer({ name: 'defender-servicenow-bot' });
  // No body parser is installed for the server: only /api/messages reads a body, as bounded JSON.

  server.get('/healthz', async (_req, res) => {
    try {
      res.send(200, await deps.health());
    } catch (err) {
      logger.error({ err }, 'health check failed');
      res.send(500, { status: 'error' });
    }
  });

  // The Microsoft 365 Agents Playground probes the endpoint with HEAD before it starts.
  server.head('/api/messages', (_req, res, next) => {
    res.send(200);
    next();
  });

  const refuse = (res: restify.Response, r: Refusal) => {
    logger.warn({ status: r.status, ...r.log }, r.msg);
    // The body of a 413 or 415 is left unread: the connection cannot carry another request.
    if (r.status === 413 || r.status === 415) res.header('Connection', 'close');
    if (r.status === 401) res.header('WWW-Authenticate', 'Bearer');
    res.send(r.status, { code: r.code, message: r.message });
  };

  /**
   * The order matters: media type, size and shape are checked before anything is parsed into
   * objects, the token before any handler runs, and nothing is stored for a refused activity.
   */
  async function messages(req: restify.Request, res: restify.Response): Promise<void> {
    const contentType = req.header('content-type');
    if (!isJsonContentType(contentType)) {
      discardBody(req);
      return refuse(res, {
        status: 415,
        code: 'UnsupportedMediaType',
        message: 'Send the activity as application/json.',
        log: { contentType: String(contentType ?? '(none)').slice(0, 100) },
        msg: 'activity refused: not JSON',
      });
    }
    let body: Record<string, unknown>;
    try {
      body = parseJsonObject(await readBody(req, MAX_BODY_BYTES));
    } catch (err) {
      if (!(err instanceof BodyError)) {
        // The client went away mid-body: nobody is left to answer.
        logger.debug({ error: (err as Error).message }, 'request body not read');
        return;
      }
      return refuse(res, { status: err.status, code: err.code, message: err.message, log: { reason: err.message }, msg: 'activity refused' });
    }
    const checked = checkActivity(body);
    if (!checked.ok) {
      return refuse(res, {
        status: 400,
        code: 'BadRequest',
        message: `Not a valid Bot Framework activity: ${checked.problems.join('; ')}`,
        log: { problems: checked.problems },
        msg: 'activity refused: invalid',
      });
    }
    const activity = checked.activity;
    const authOutcome = await adapter.authenticate(activity, req.header('authorization') ?? '');
    if (!authOutcome.ok) {
      const unavailable = authOutcome.status === 503;
      const log = { reason: authOutcome.reason, channelId: activity.channelId, activityType: activity.type };
      if (unavailable) {
        logger.error({ status: 503, ...log }, 'could not check the Bot Framework token');
        res.send(503, { code: 'ServiceUnavailable', message: 'The token could not be checked right now; try again.' });
        return;
      }
      return refuse(res, {
        status: 401,
        code: 'Unauthorized',
        message: 'The Bot Framework token is missing or not valid.',
        log,
        msg: 'activity refused: token not valid',
      });
    }
    if (deps.allowedTenantIds.length > 0) {
      const tenant = tenantOf(asBotActivity(activity));
      if (!tenant || !deps.allowedTenantIds.includes(tenant)) {
        return refuse(res, {
          status: 403,
          code: 'Forbidden',
          message: 'This tenant is not allowed to use this bot.',
          log: { tenant: tenant ?? '(none)', channelId: activity.channelId },
          msg: 'activity from a tenant that is not allowed',
        });
      }
    }
    try {
      const invoke = await adapter.runTurn(authOutcome.auth, activity, (ctx) => bot.run(ctx));
      // botbuilder answers an invoke nobody handles (task modules, message extensions: features
      // the app manifest does not declare) with 501; it is a request for something not offered here.
      if (invoke?.status === 501) {
        res.send(400, { code: 'NotSupported', message: `This bot does not handle "${activity.name ?? ''}" invokes.` });
        return;
      }
      const status = invoke?.status ?? 200;
      if (invoke?.body !== undefined) res.send(status, invoke.body);
      else res.send(status);
    } catch (err) {
      logger.error({ err, activityType: activity.type, channelId: activity.channelId, conversationId: activity.conversation.id }, 'activity processing failed');
      if (!res.headersSent) res.send(500, { code: 'InternalError', message: 'The bot could not process this activity.' });
    }
  }

  // restify 11 refuses async handlers that also take `next`.
  server.post('/api/messages', (req, res, next) => {
    void messages(req, res).finally(() => next());
  });

  // A failing request must never bring the process down.
  server.on('restifyError', (req: restify.Request, _res: restify.Response, err: Error & { statusCode?: number }, cb: () => void) => {
    const status = err.statusCode ?? 500;
    (status >= 500 ? logger.error : logger.warn).call(
      logger,
      { status, method: req.method, path: req.path().slice(0, MAX_LOGGED_PATH), error: err.message.slice(0, MAX_LOGGED_PATH) },
      'request failed',
    );
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
