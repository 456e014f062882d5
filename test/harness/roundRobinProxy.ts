import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BotRun } from '../soak/world.js';

/** A load balancer in front of bot replicas on loopback (test/replicas, bench/replicas.ts). */
export interface Proxy {
  url: string;
  served: number[];
  close(): Promise<void>;
}

/** Round-robin over the replicas still alive; a refused connection goes to the next one (what a load balancer's health check does). */
export async function startProxy(bots: BotRun[]): Promise<Proxy> {
  let next = 0;
  const served = bots.map(() => 0);
  const alive = (b: BotRun) => b.child.exitCode === null && b.child.signalCode === null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = (tries: number) => {
        const candidates = bots.map((b, i) => ({ b, i })).filter(({ b }) => alive(b));
        if (candidates.length === 0 || tries > bots.length) {
          res.writeHead(502);
          res.end();
          return;
        }
        const { b, i } = candidates[next++ % candidates.length]!;
        const target = new URL(req.url ?? '/', b.url);
        const out = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
          served[i]!++;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        out.on('error', () => {
          if (res.headersSent) res.destroy();
          else forward(tries + 1);
        });
        out.end(body);
      };
      forward(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
