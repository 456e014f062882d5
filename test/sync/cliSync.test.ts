import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runSyncCommand } from '../../cli/sync.js';
import { builtInDataset } from '../../sandbox/defender/dataset.js';
import { startDefenderSimulator, type DefenderSimulator } from '../../sandbox/defender/index.js';
import { silentLogger } from '../../core/logger.js';
import { systemClock } from '../../core/clock.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import type { Conversation } from '../../core/model.js';
import { holdDataDirLock, type LockHolder } from '../harness/lockHolder.js';

const AT = '2025-06-01T00:00:00.000Z';

function channel(id: string): Conversation {
  return {
    id,
    channelId: 'msteams',
    serviceUrl: 'https://smba.example/',
    kind: 'channel',
    reference: { conversation: { id } },
    subscribed: true,
    filters: { severities: [], scopes: [] },
    createdAt: AT,
    updatedAt: AT,
  };
}

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

/** Unhealthy recommendations and resources in the built-in sandbox data. */
function builtInUnhealthy(): { recommendations: number; resources: number } {
  const unhealthy = builtInDataset().assessments.filter((a) => a.code === 'Unhealthy');
  return { recommendations: new Set(unhealthy.map((a) => a.key.toLowerCase())).size, resources: unhealthy.length };
}

describe('npm run cli -- sync', () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-sync-'));
    env = { DATA_DIR: dataDir, SANDBOX_DEFENDER_PORT: String(await freePort()) };
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  async function subscribe(...ids: string[]) {
    const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger });
    for (const id of ids) await store.conversations.upsert(channel(id));
    await store.close();
  }

  async function stored() {
    const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger });
    const result = { recommendations: await store.recommendations.list(), cards: await store.recommendations.listCards() };
    await store.close();
    return result;
  }

  it('with no simulator answering, syncs from a private one, persists the snapshot and leaves the cards to the bot', async () => {
    await subscribe('19:sec@thread.tacv2');
    const expected = builtInUnhealthy();
    const first = capture();
    expect(await runSyncCommand(env, first.io)).toBe(0);
    expect(first.err).toEqual([]);
    expect(first.out[0]).toMatch(/^Synced from a private Defender simulator/);
    expect(first.out).toContain(`Recommendations: ${expected.recommendations} unhealthy, ${expected.resources} unhealthy resources.`);
    expect(first.out).toContain(`Changes: ${expected.recommendations} new, 0 changed, 0 resolved, 0 unchanged (1 store write).`);
    expect(first.out).toContain(
      `Cards: ${expected.recommendations} to post and 0 to update in 1 subscribed conversation; the bot posts and updates them on its next pass.`,
    );
    const after = await stored();
    expect(after.recommendations).toHaveLength(expected.recommendations);
    // No PostedCard: the bot's next pass must still post every card.
    expect(after.cards).toEqual([]);

    const second = capture();
    expect(await runSyncCommand(env, second.io)).toBe(0);
    expect(second.out).toContain(`Changes: 0 new, 0 changed, 0 resolved, ${expected.recommendations} unchanged (0 store writes).`);
    expect(second.out).toContain(
      `Cards: ${expected.recommendations} to post and 0 to update in 1 subscribed conversation; the bot posts and updates them on its next pass.`,
    );
  });

  it('reads the sandbox simulator on SANDBOX_DEFENDER_PORT when one answers, with its current state', async () => {
    const sim: DefenderSimulator = await startDefenderSimulator({ quota: 'off' });
    try {
      const unhealthy = sim.control.listAssessments({ code: 'Unhealthy' });
      const target = unhealthy[0]!;
      expect(sim.control.markHealthy({ resourceId: target.resourceId, assessmentKey: target.assessmentKey })).toBe(1);
      const still = unhealthy.filter((a) => a !== target);
      const { out, err, io } = capture();
      expect(await runSyncCommand({ ...env, SANDBOX_DEFENDER_PORT: String(sim.port) }, io)).toBe(0);
      expect(err).toEqual([]);
      expect(out[0]).toMatch(new RegExp(`^Synced from the sandbox Defender simulator at http://127\\.0\\.0\\.1:${sim.port} `));
      expect(out).toContain(
        `Recommendations: ${new Set(still.map((a) => a.assessmentKey.toLowerCase())).size} unhealthy, ${still.length} unhealthy resources.`,
      );
      expect(out).toContain('No conversation is subscribed, so there are no cards to post.');
      expect(sim.control.requestCount({ kind: 'resourceGraph' })).toBeGreaterThan(0);
    } finally {
      await sim.close();
    }
  });

  describe('while the bot runs on the same data folder', () => {
    let holder: LockHolder;
    beforeEach(async () => {
      // Another process holding the data folder's lock as the bot does.
      holder = await holdDataDirLock(dataDir);
    });
    afterEach(() => holder.kill());

    it('refuses with one line and leaves the store alone', async () => {
      const { out, err, io } = capture();
      expect(await runSyncCommand(env, io)).toBe(2);
      expect(out).toEqual([]);
      expect(err).toEqual([`The bot is running on ${dataDir} (pid ${holder.pid}); type \`sync\` in Teams or wait for SYNC_CRON (*/5 * * * *).`]);
      expect((await stored()).recommendations).toEqual([]);
    });

    it('runs again once the bot has exited', async () => {
      await holder.kill();
      const { io } = capture();
      expect(await runSyncCommand(env, io)).toBe(0);
    });
  });

  it('reports an invalid configuration in one line with exit code 1', async () => {
    const { out, err, io } = capture();
    expect(await runSyncCommand({ ...env, SYNC_CRON: 'every five minutes' }, io)).toBe(1);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^Invalid configuration: SYNC_CRON: must be a cron expression/);
  });
});
