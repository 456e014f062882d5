/**
 * `npm run bench -- messages`: `help` as a chat message and as a card action (Action.Execute
 * `adaptiveCard/action`) through `/api/messages` of the real bot, against a bare botbuilder +
 * restify echo bot (bench/echoBot.ts) measured the same way in the same run. Each server runs in
 * its own process; autocannon and the counting Bot Connector run in this one. Every request is a
 * full turn: the bot posts its reply to the connector before the HTTP request is answered.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { activityBodies } from './lib/activities.js';
import { startChild, type ServerChild } from './lib/child.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { median, scaled } from './lib/measure.js';
import { row, type Row } from './lib/rows.js';
import { startCountingConnector, type CountingConnector } from './connector.js';

export const CONNECTIONS = [1, 10, 50] as const;
export const REQUESTS = 1_500;
export const ROUNDS = 3;
/** Targets of the issue: throughput ≥ 0.9× the echo bot at 10 and 50 connections, p99 ≤ 1.2× its p99. */
export const MIN_THROUGHPUT_RATIO = 0.9;
export const MAX_P99_RATIO = 1.2;

interface Server {
  name: 'bot' | 'echo';
  url: string;
  child: ServerChild<{ url: string }>;
}

interface LoadRun {
  requests: number;
  seconds: number;
  throughput: number;
  p99: number;
  cpuMs: number;
  /** The server's garbage-collection pauses during the run: their sum and the longest (ms). */
  gcMs: number;
  gcLongestMs: number;
}

type Usage = { cpuMs: number; gcMs: number; gcLongestMs: number };

async function load(server: Server, body: string, connections: number, amount: number, connector: CountingConnector): Promise<LoadRun> {
  const posts0 = connector.posts();
  const cpu0 = await server.child.call<Usage>('cpu');
  const t0 = performance.now();
  let last = t0;
  const instance = autocannon({
    url: `${server.url}/api/messages`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    amount,
    timeout: 30,
    // autocannon ends a run on its next sample tick: a short one, so the run ends with its last answer.
    sampleInt: 20,
  }) as Promise<autocannon.Result> & Pick<autocannon.Instance, 'on'>;
  // The last answer is the real end of the run.
  instance.on('response', () => {
    last = performance.now();
  });
  const result = await instance;
  const seconds = (last - t0) / 1000;
  const cpu1 = await server.child.call<Usage>('cpu');
  const ok = result['2xx'];
  if (ok !== amount || result.errors > 0 || result.non2xx > 0) {
    throw new Error(
      `${server.name}: ${ok} of ${amount} requests answered 2xx (${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts)`,
    );
  }
  const replies = connector.posts() - posts0;
  if (replies !== amount) throw new Error(`${server.name}: ${replies} replies reached the Bot Connector for ${amount} requests`);
  return {
    requests: amount,
    seconds,
    throughput: amount / seconds,
    p99: result.latency.p99,
    cpuMs: cpu1.cpuMs - cpu0.cpuMs,
    gcMs: cpu1.gcMs - cpu0.gcMs,
    gcLongestMs: cpu1.gcLongestMs,
  };
}

export async function runMessages(ctx: BenchContext): Promise<Row[]> {
  const amount = scaled(REQUESTS, ctx.size, 50);
  const rounds = ctx.size < 0.5 ? 1 : ROUNDS;
  const connector = await startCountingConnector();
  const servers: Server[] = [];
  try {
    for (const [name, task] of [
      ['bot', 'bot-server'],
      ['echo', 'echo-bot'],
    ] as const) {
      const child = await startChild<{ url: string }>(task, {});
      servers.push({ name, url: child.value.url, child });
    }
    const kinds = activityBodies(connector.url);
    ctx.progress(`messages: warming up (${kinds.length} kinds × ${servers.length} servers)…`);
    for (const s of servers) for (const k of kinds) await load(s, k.body, 10, Math.min(amount, 300), connector);

    const runs = new Map<string, LoadRun[]>();
    const keyOf = (server: string, kind: string, c: number) => `${server}|${kind}|${c}`;
    for (let round = 0; round < rounds; round++) {
      for (const c of CONNECTIONS) {
        for (const k of kinds) {
          // Alternate who goes first, so a burst of noise does not always hit the same server.
          const order = (round + c) % 2 === 0 ? servers : [...servers].reverse();
          for (const s of order) {
            const r = await load(s, k.body, c, amount, connector);
            const key = keyOf(s.name, k.name, c);
            runs.set(key, [...(runs.get(key) ?? []), r]);
          }
        }
        ctx.progress(`messages: round ${round + 1}/${rounds}, ${c} connection(s) done`);
      }
    }

    const rows: Row[] = [];
    const med = (server: string, kind: string, c: number, f: (r: LoadRun) => number) => median((runs.get(keyOf(server, kind, c)) ?? []).map(f));
    for (const k of kinds) {
      for (const c of CONNECTIONS) {
        const conn = `${c} connection${c === 1 ? '' : 's'}`;
        rows.push(
          row({
            figure: `messages: ${k.name}, ${conn}: throughput`,
            value: med('bot', k.name, c, (r) => r.throughput),
            unit: 'req/s',
            baseline: med('echo', k.name, c, (r) => r.throughput),
            target: c >= 10 ? { ratioAtLeast: MIN_THROUGHPUT_RATIO } : undefined,
          }),
          row({
            figure: `messages: ${k.name}, ${conn}: p99 latency`,
            value: med('bot', k.name, c, (r) => r.p99),
            unit: 'ms',
            baseline: med('echo', k.name, c, (r) => r.p99),
            target: { ratioAtMost: MAX_P99_RATIO },
          }),
        );
      }
      const cpuPerRequest = (server: string) => {
        const all = CONNECTIONS.flatMap((c) => runs.get(keyOf(server, k.name, c)) ?? []);
        return all.reduce((s, r) => s + r.cpuMs, 0) / all.reduce((s, r) => s + r.requests, 0);
      };
      rows.push(row({ figure: `messages: ${k.name}: CPU per request`, value: cpuPerRequest('bot'), unit: 'ms', baseline: cpuPerRequest('echo') }));
      // Not rows: the evidence for what limits p99 at the most connections (the collector's share of the tail).
      const c = CONNECTIONS[CONNECTIONS.length - 1];
      const gc = (server: string) => {
        const all = runs.get(keyOf(server, k.name, c)) ?? [];
        const perRequest = all.reduce((s, r) => s + r.gcMs, 0) / all.reduce((s, r) => s + r.requests, 0);
        return `${server} ${perRequest.toFixed(3)} ms per request, longest ${Math.max(...all.map((r) => r.gcLongestMs)).toFixed(1)} ms`;
      };
      ctx.progress(`messages: ${k.name}, ${c} connections: GC pauses ${gc('bot')}; ${gc('echo')}`);
    }
    ctx.progress(`messages: ${amount} requests per run, ${rounds} round(s), medians; roster lookups ${connector.lookups()}`);
    return rows;
  } finally {
    for (const s of servers) await s.child.close();
    await connector.close();
  }
}

export const messagesBenchmark: Benchmark = {
  name: 'messages',
  description: '`help` message and card action through /api/messages at 1/10/50 connections vs a bare botbuilder + restify echo bot',
  inDefaultRun: true,
  run: runMessages,
};
