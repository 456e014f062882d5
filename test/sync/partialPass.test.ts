/**
 * A sync pass that did not receive the complete set from Resource Graph resolves nothing, says why
 * in the log and in the `sync` reply, and the next complete pass resolves normally. Everything over
 * HTTP: the real server and `sync` command (fake Bot Connector), the real sync and resolution jobs,
 * the Defender simulator injecting partial answers that still validate against the official spec.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSyncCommand } from '../../cli/sync.js';
import type { ResultFaultSpec } from '../../sandbox/defender/index.js';
import { startDefenderSimulator } from '../../sandbox/defender/index.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { MASS_RESOLUTION_FLOOR, recommendationKeyOf } from '../../core/recommendations.js';
import { openLowdbStore } from '../../storage/lowdbStore.js';
import { message } from '../harness/activities.js';
import { SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';

const CHANNEL = '19:channel-1@thread.tacv2';

/** Recommendation key → its unhealthy assessments, from the simulator. */
function unhealthyByKey(h: SandboxHarness): Map<string, Array<{ resourceId: string; assessmentKey: string }>> {
  const out = new Map<string, Array<{ resourceId: string; assessmentKey: string }>>();
  for (const a of h.defender.control.listAssessments({ code: 'Unhealthy' })) {
    const k = recommendationKeyOf(a.assessmentKey);
    out.set(k, [...(out.get(k) ?? []), a]);
  }
  return out;
}

function fixRecommendation(h: SandboxHarness, key: string): void {
  for (const a of unhealthyByKey(h).get(key) ?? []) h.defender.control.markHealthy(a);
}

/** Types `sync` in the channel as a security admin; returns the reply card's title and facts. */
async function syncCommand(h: SandboxHarness): Promise<{ title: string; text: string; facts: Record<string, string> }> {
  h.bot.connector.reset();
  const res = await h.bot.send(message('sync', { serviceUrl: h.bot.connector.url, conversationType: 'channel', from: SANDBOX_ADMIN }));
  expect(res.status).toBe(200);
  await h.bot.app.sync!.delivered();
  const card = h.bot.connector.cards().find((c) => /^Sync /.test(c.body?.[0]?.text ?? ''));
  expect(card).toBeDefined();
  const facts = Object.fromEntries(((card.body.find((b: any) => b.type === 'FactSet')?.facts ?? []) as any[]).map((f) => [f.title, f.value]));
  return { title: card.body[0].text, text: card.body[1]?.text ?? '', facts };
}

const resolvedCardUpdates = (h: SandboxHarness) =>
  h.bot.connector.activities().filter((c) => c.method === 'PUT' && c.conversationId === CHANNEL && JSON.stringify(c.body).includes('Resolved'));

function incompleteLogLines(h: SandboxHarness): Array<{ level: number; reason: string }> {
  return h.bot.logs
    .map((l) => JSON.parse(l) as { level: number; msg: string; reason: string })
    .filter((l) => l.msg?.startsWith('sync pass incomplete'))
    .map((l) => ({ level: l.level, reason: l.reason }));
}

describe('a partial Resource Graph answer resolves nothing', () => {
  let h: SandboxHarness;
  let fixedKey: string;
  let total: number;

  beforeEach(async () => {
    h = await startSandboxBot();
    // Several pages per answer, so a page can go missing in the middle.
    h.defender.control.setPageSize(50);
    total = (await h.bot.store.recommendations.list()).filter((r) => r.status === 'unhealthy').length;
    expect(total).toBeGreaterThanOrEqual(2 * MASS_RESOLUTION_FLOOR);
    expect((await h.bot.store.recommendations.listCards()).filter((c) => c.conversationId === CHANNEL)).toHaveLength(total);
    // Really fixed meanwhile: the next complete pass must resolve this one.
    fixedKey = [...unhealthyByKey(h).keys()][3]!;
    fixRecommendation(h, fixedKey);
  });
  afterEach(() => h.stop());

  it.each<[ResultFaultSpec['kind'], RegExp]>([
    ['truncated', /Resource Graph's answer was incomplete: resultTruncated is "true"/],
    ['short', /Resource Graph's answer was incomplete: received \d+ of \d+ rows \(totalRecords\)/],
    ['skipPage', /Resource Graph's answer was incomplete: received \d+ of \d+ rows \(totalRecords\) in \d+ page/],
    ['empty', /would resolve \d+ of \d+ unhealthy recommendations, but the assessments API still reports ".+" unhealthy on /],
  ])('%s: 0 cards resolved, the reason logged and in the sync reply; the next complete pass resolves normally', async (kind, reason) => {
    h.defender.control.injectResultFault({ count: 1000, kind, query: 'unhealthy' });
    const during = await syncCommand(h);

    expect(during.title).toBe('Sync incomplete: nothing was resolved');
    expect(during.text).toMatch(reason);
    expect(during.facts).toMatchObject({
      'Recommendations resolved': '0',
      'Recommendations held back (pass incomplete)': expect.stringMatching(/^[1-9]\d*$/),
      'Card updates queued': '0',
    });
    expect((await h.bot.store.recommendations.list()).filter((r) => r.status === 'resolved')).toEqual([]);
    expect((await h.bot.store.recommendations.list()).filter((r) => r.status === 'unhealthy')).toHaveLength(total);
    // No card was touched: neither resolved nor shrunk to the resources that happened to arrive.
    expect(h.bot.connector.activities().filter((c) => c.method === 'PUT')).toEqual([]);
    const lines = incompleteLogLines(h);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe(40);
    expect(lines[0]!.reason).toMatch(reason);

    h.defender.control.clearFaults();
    const after = await syncCommand(h);
    expect(after.title).toBe('Sync finished');
    expect(after.facts).toMatchObject({ 'Recommendations resolved': '1', 'Card updates queued': '1' });
    expect(after.facts['Recommendations held back (pass incomplete)']).toBeUndefined();
    expect(await h.bot.store.recommendations.get(fixedKey)).toMatchObject({ status: 'resolved' });
    expect((await h.bot.store.recommendations.list()).filter((r) => r.status === 'resolved')).toHaveLength(1);
    expect(resolvedCardUpdates(h)).toHaveLength(1);
    expect(incompleteLogLines(h)).toHaveLength(1);
  });

  it('a complete-looking answer that thinned out is held when the assessments API disagrees', async () => {
    // Resource Graph drops most recommendations while Defender still reports them unhealthy.
    const keys = [...unhealthyByKey(h).keys()];
    const hidden = keys.slice(0, Math.ceil(keys.length * 0.75));
    for (const k of hidden) for (const a of h.defender.control.listAssessments({ assessmentKey: k })) h.defender.control.hideFromResourceGraph(a.id);
    const during = await syncCommand(h);
    expect(during.title).toBe('Sync incomplete: nothing was resolved');
    expect(during.facts['Recommendations resolved']).toBe('0');
    expect((await h.bot.store.recommendations.list()).filter((r) => r.status === 'resolved')).toEqual([]);
  });

  it('a real mass fix, confirmed by the assessments API, resolves in one pass', async () => {
    const keys = [...unhealthyByKey(h).keys()];
    const fixed = keys.slice(0, Math.ceil(keys.length * 0.75));
    for (const k of fixed) fixRecommendation(h, k);
    const reads = h.defender.control.requestCount({ kind: 'arm', method: 'GET', pathIncludes: '/providers/Microsoft.Security/assessments/' });
    const r = await syncCommand(h);
    expect(r.title).toBe('Sync finished');
    expect(r.facts['Recommendations resolved']).toBe(String(fixed.length + (fixed.includes(fixedKey) ? 0 : 1)));
    // A sample was read from the assessments API, not every resource.
    const sampled = h.defender.control.requestCount({ kind: 'arm', method: 'GET', pathIncludes: '/providers/Microsoft.Security/assessments/' }) - reads;
    expect(sampled).toBeGreaterThan(0);
    expect(sampled).toBeLessThanOrEqual(5);
  });
});

describe('npm run cli -- sync with a partial answer', () => {
  it('says the pass was incomplete and resolves nothing; the next run resolves', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-partial-'));
    const sim = await startDefenderSimulator({ quota: 'off', pageSize: 50 });
    const env = { DATA_DIR: dataDir, SANDBOX_DEFENDER_PORT: String(sim.port) };
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      expect(await runSyncCommand(env, { out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(0);
      return { out, err };
    };
    try {
      await run();
      const target = sim.control.listAssessments({ code: 'Unhealthy' })[0]!;
      for (const a of sim.control.listAssessments({ code: 'Unhealthy', assessmentKey: target.assessmentKey })) sim.control.markHealthy(a);
      sim.control.injectResultFault({ count: 1000, kind: 'skipPage', query: 'unhealthy' });
      const partial = await run();
      expect(partial.out.find((l) => l.startsWith('Changes:'))).toMatch(/, 0 resolved,/);
      expect(partial.err).toHaveLength(1);
      expect(partial.err[0]).toMatch(
        /^Warning: this pass was incomplete \(Resource Graph's answer was incomplete: received \d+ of \d+ rows \(totalRecords\) in \d+ page\(s\)\); nothing was resolved \([1-9]\d* recommendations? held back\)/,
      );
      sim.control.clearFaults();
      const complete = await run();
      expect(complete.err).toEqual([]);
      expect(complete.out.find((l) => l.startsWith('Changes:'))).toMatch(/, 1 resolved,/);
      const store = await openLowdbStore({ file: path.join(dataDir, 'db.json'), clock: systemClock, logger: silentLogger });
      expect((await store.recommendations.get(recommendationKeyOf(target.assessmentKey)))?.status).toBe('resolved');
      await store.close();
    } finally {
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
