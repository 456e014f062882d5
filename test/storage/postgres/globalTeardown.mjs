// Jest globalTeardown: stops the server globalSetup.mjs started (and deletes its data folder).
import { rmSync } from 'node:fs';

export default async function stopPostgres() {
  const started = globalThis.__testPostgres;
  if (!started) return;
  globalThis.__testPostgres = undefined;
  await started.server.stop();
  rmSync(started.parent, { recursive: true, force: true });
}
