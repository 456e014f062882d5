import path from 'node:path';
import {
  ADMIN,
  correlationKey,
  createWorld,
  eventually,
  integrationFromForm,
  jsonFileParses,
  recordFigures,
  say,
  submitAssignment,
  type BotRun,
  type World,
} from './world.js';

/**
 * Two processes on one DATA_DIR: the second one refuses with one line naming the folder and the
 * holder's pid, whatever the first is doing, and the data stays valid and complete.
 */
jest.setTimeout(5 * 60_000);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('two processes on one data folder', () => {
  let world: World;
  let bot: BotRun | undefined;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    world = await createWorld({ name: 'soak-two' });
    await world.addIntegration();
  });
  afterAll(async () => {
    recordFigures('twoProcesses', figures);
    await bot?.kill('SIGKILL');
    await world?.close();
  });

  const assignmentCount = async () => {
    const store = await world.readStore();
    return store.assignments.length;
  };

  it('bot + bot: while the first creates tickets, a second bot exits 1 each time, and every creation completes', async () => {
    bot = await world.startBot();
    await eventually('the first sync pass', async () => ((await world.readStore()).recommendations.length > 0 ? true : undefined), 60_000);
    const { recommendations } = await world.readStore();
    const targets = recommendations
      .filter((r) => r.status === 'unhealthy')
      .flatMap((r) => r.resources.map((x) => ({ recommendationKey: r.key, resourceId: x.resourceId, key: correlationKey(x.assessmentId, x.resourceId) })))
      .slice(0, 12);
    const integrationId = await integrationFromForm(world, bot.url, ADMIN, {
      recommendationKey: targets[0]!.recommendationKey,
      resourceIds: [targets[0]!.resourceId],
    });

    const burst = Promise.all(
      targets.map((t) => submitAssignment(world, bot!.url, ADMIN, { recommendationKey: t.recommendationKey, resourceIds: [t.resourceId] }, integrationId)),
    );
    const refusals: string[] = [];
    for (let i = 0; i < 3; i++) {
      const second = world.spawnBot();
      const { code } = await second.exited;
      expect(code).toBe(1);
      refusals.push(second.output());
    }
    const answers = await burst;
    expect(answers.map((a) => a.status)).toEqual(targets.map(() => 200));
    for (const out of refusals) {
      expect(out.trimEnd().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^The bot cannot start: ${escape(world.dataDir)} is in use by the bot \\(pid ${bot.pid}, since [^)]+\\); stop it first`),
        ),
      ]);
    }
    figures.secondBotsRefused = refusals.length;

    // The first one never noticed: still serving, every creation has exactly one ticket.
    expect(await (await fetch(`${bot.url}/healthz`)).json()).toMatchObject({ status: 'ok', store: { ok: true } });
    expect((await say(world, bot.url, ADMIN, 'sync')).status).toBe(200);
    const { assignments } = await world.readStore();
    expect(targets.map((t) => assignments.find((a) => a.key === t.key)?.ticket !== undefined)).toEqual(targets.map(() => true));
    const tickets = world.tickets();
    expect(targets.map((t) => tickets.filter((x) => x.correlationId === t.key).length)).toEqual(targets.map(() => 1));
    expect(jsonFileParses(path.join(world.dataDir, 'db.json'))).toBe(true);
  });

  it('bot + CLI writer: integration add and remove are refused with the bot’s pid and change nothing; integration list still reads', async () => {
    const before = await world.readStore();
    const add = await world.cli(
      ['integration', 'add', '--name', 'Second', '--scope', '/subscriptions/3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2', '--instance-url', world.servicenow.url],
      { SERVICENOW_PASSWORD: 'x', SERVICENOW_CLIENT_SECRET: 'y' },
    );
    expect(add.code).toBe(2);
    expect(add.output.trimEnd()).toBe(`the bot is running on ${world.dataDir} (pid ${bot!.pid}); use the Teams "integrations" command, or stop the bot first`);
    const remove = await world.cli(['integration', 'remove', '--name', 'Contoso ServiceNow']);
    expect(remove.code).toBe(2);
    expect(remove.output.trimEnd()).toBe(
      `the bot is running on ${world.dataDir} (pid ${bot!.pid}); use the Teams "integrations" command, or stop the bot first`,
    );
    const sync = await world.cli(['sync']);
    expect(sync.code).toBe(2);
    expect(sync.output.trimEnd()).toMatch(new RegExp(`^The bot is running on ${escape(world.dataDir)} \\(pid ${bot!.pid}\\); type \`sync\` in Teams`));
    const list = await world.cli(['integration', 'list']);
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^Contoso ServiceNow\t/);
    expect((await world.readStore()).assignments).toEqual(before.assignments);
    expect(await world.lockOwner()).toMatchObject({ pid: bot!.pid, role: 'the bot' });
  });

  it('CLI writer + bot: a bot started during `npm run cli -- sync` exits 1 naming the command and its pid; after a SIGKILLed bot a CLI writer waits for the stale lock', async () => {
    await bot!.kill('SIGTERM');
    bot = undefined;
    expect(await world.lockOwner()).toBeUndefined();
    // Resource Graph throttles, so the CLI's pass holds the folder for a few seconds.
    world.defender.control.injectFaults({ status: 429, count: 2, retryAfterSeconds: 3 });
    const cli = world.spawnCli(['sync']);
    const owner = await eventually(
      'the CLI to hold the folder',
      async () => (await world.lockOwner())?.role === '`npm run cli -- sync`' || undefined,
      30_000,
      50,
    );
    expect(owner).toBe(true);
    const refused = world.spawnBot();
    expect((await refused.exited).code).toBe(1);
    expect(refused.output().trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^The bot cannot start: ${escape(world.dataDir)} is in use by \`npm run cli -- sync\` \\(pid ${cli.child.pid}, since `)),
    ]);
    expect((await cli.exited).code).toBe(0);
    expect(cli.output()).toMatch(/^Synced from Azure/);
    world.defender.control.clearFaults();

    // A bot that dies without releasing: the next writer waits for the lock to go stale, then works.
    bot = await world.startBot();
    const assignmentsBefore = await assignmentCount();
    await bot.kill('SIGKILL');
    bot = undefined;
    const started = Date.now();
    const list = await world.cli(['integration', 'test', '--name', 'Contoso ServiceNow']);
    figures.cliStaleLockWaitMs = Date.now() - started;
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^OK: "Contoso ServiceNow"/);
    expect(await assignmentCount()).toBe(assignmentsBefore);
    expect(jsonFileParses(path.join(world.dataDir, 'db.json'))).toBe(true);
  });

  it('two bots started at the same moment on one folder: exactly one serves', async () => {
    const a = world.spawnBot();
    const b = world.spawnBot();
    const listening = /bot listening on (http:\/\/[^/\s"]+)\/api\/messages/;
    const outcome = async (p: typeof a) => {
      const exited = p.exited.then((e) => ({ kind: 'exited' as const, code: e.code }));
      const served = p.waitForOutput(listening, 60_000).then(
        () => ({ kind: 'serving' as const, code: null }),
        () => exited,
      );
      return Promise.race([served, exited]);
    };
    const results = await Promise.all([outcome(a), outcome(b)]);
    try {
      expect(results.map((r) => r.kind).sort()).toEqual(['exited', 'serving']);
      expect(results.find((r) => r.kind === 'exited')!.code).toBe(1);
      const winner = results[0]!.kind === 'serving' ? a : b;
      expect(await world.lockOwner()).toMatchObject({ pid: winner.child.pid, role: 'the bot' });
      const url = listening.exec(winner.output())![1]!;
      expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: 'ok', store: { ok: true } });
    } finally {
      for (const p of [a, b]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);
    }
    expect(jsonFileParses(path.join(world.dataDir, 'db.json'))).toBe(true);
    figures.simultaneousStarts = 2;
  });
});
