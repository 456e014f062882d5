/**
 * The messages benchmark's baseline: a bare botbuilder + restify echo bot, as in Microsoft's
 * samples, on the same packages and versions as the real bot. It does the same transport work per
 * activity (one reply posted to the Bot Connector; an invoke also answers with an invoke
 * response) and nothing else: no routing, no cards, no store, no logging.
 */
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import {
  ActivityHandler,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  MessageFactory,
  type AdaptiveCardInvokeResponse,
  type ConfigurationBotFrameworkAuthenticationOptions,
  type TurnContext,
} from 'botbuilder';
import * as restify from 'restify';
import type { TaskOutcome } from './lib/child.js';

class EchoBot extends ActivityHandler {
  constructor() {
    super();
    this.onMessage(async (ctx, next) => {
      await ctx.sendActivity(MessageFactory.text(`Echo: ${ctx.activity.text}`));
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(ctx: TurnContext): Promise<AdaptiveCardInvokeResponse> {
    await ctx.sendActivity(MessageFactory.text('Echo: card action'));
    return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: 'Echo' as never };
  }
}

export interface EchoBotServer {
  url: string;
  close(): Promise<void>;
}

export async function startEchoBot(port = 0): Promise<EchoBotServer> {
  const adapter = new CloudAdapter(
    new ConfigurationBotFrameworkAuthentication({
      MicrosoftAppId: '',
      MicrosoftAppPassword: '',
      MicrosoftAppType: 'MultiTenant',
      MicrosoftAppTenantId: '',
    } as ConfigurationBotFrameworkAuthenticationOptions),
  );
  const bot = new EchoBot();
  const server = restify.createServer();
  server.use(restify.plugins.bodyParser());
  server.post('/api/messages', async (req, res) => {
    await adapter.process(req, res, (ctx) => bot.run(ctx));
  });
  server.get('/healthz', (_req, res, next) => {
    res.send(200, { status: 'ok' });
    next();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const address = server.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server.server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** bench/worker.ts task: the echo bot as a server child; `cpu` returns its CPU time so far (ms). */
export async function echoBotTask(args: { port?: number } | null): Promise<TaskOutcome> {
  watchGc();
  const echo = await startEchoBot(args?.port ?? 0);
  return {
    ready: { url: echo.url },
    methods: { cpu: () => cpuAndMemory(), memoryAfterGc: () => memoryAfterGc() },
    close: () => echo.close(),
  };
}

/**
 * Garbage-collection pauses of this process, so a load run can tell how much of its latency tail
 * is the collector: both server children (this one and bench/botChild.ts) watch the same way.
 */
const gc = { ms: 0, count: 0, longestMs: 0, watching: false };

export function watchGc(): void {
  if (gc.watching) return;
  gc.watching = true;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.ms += e.duration;
      gc.count++;
      gc.longestMs = Math.max(gc.longestMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
}

/**
 * CPU time (ms) and memory so far, and the collector's pauses so far; `gcLongestMs` is the longest
 * pause since the previous call, so a run bracketed by two calls gets its own longest pause.
 */
export function cpuAndMemory() {
  const c = process.cpuUsage();
  const memory = process.memoryUsage();
  const longest = gc.longestMs;
  gc.longestMs = 0;
  return { cpuMs: (c.user + c.system) / 1000, rss: memory.rss, heapUsed: memory.heapUsed, gcMs: gc.ms, gcCount: gc.count, gcLongestMs: longest };
}

/**
 * Memory after a full collection: heapUsed is then what is still reachable, so its slope over a
 * soak is a leak and not where the collector's sawtooth happened to be sampled. Needs --expose-gc.
 */
export function memoryAfterGc(): NodeJS.MemoryUsage {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('memoryAfterGc needs the child started with --expose-gc');
  collect();
  return process.memoryUsage();
}

// `node dist/bench/echoBot.js [port]` starts it on its own, to compare by hand.
if (require.main === module) {
  void startEchoBot(Number(process.argv[2] ?? 3990)).then((e) => console.log(`echo bot on ${e.url}/api/messages`));
}
