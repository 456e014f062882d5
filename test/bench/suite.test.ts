import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCHMARKS, SUITES, runBench, selectBenchmarks, type BenchIo } from '../../bench/index.js';
import type { Benchmark, Suite } from '../../bench/lib/context.js';
import { markdownTable } from '../../bench/lib/table.js';
import { row } from '../../bench/lib/rows.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: BenchIo = { out: (t) => out.push(t), err: (t) => err.push(t) };
  return { out, err, io };
}

const fake = (name: string, run: Benchmark['run'], inDefaultRun = true): Benchmark => ({ name, description: name, inDefaultRun, run });

describe('npm run bench (runner)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every default benchmark, prints one table and writes the rows as JSON', async () => {
    const sizes: number[] = [];
    const benches = [
      fake('alpha', async (ctx) => {
        sizes.push(ctx.size);
        return [row({ figure: 'alpha: time', value: 3, unit: 's', baseline: 2, target: { ratioAtMost: 2 } })];
      }),
      fake('beta', async () => [row({ figure: 'beta: sends', value: 0, unit: '', baseline: 10, target: { equals: 0 }, noRatio: true })]),
      fake('gamma', async () => [row({ figure: 'gamma', value: 1, unit: 's' })], false),
    ];
    const out = path.join(dir, 'latest.json');
    const { out: stdout, io } = capture();
    expect(await runBench(['--size', '0.5', '--out', out], io, benches)).toBe(0);
    expect(sizes).toEqual([0.5]);
    const table = stdout[0]!.split('\n');
    expect(table[0]).toMatch(/^\| figure +\| value +\| baseline \(same run\) +\| ratio +\| target +\| met +\|$/);
    expect(table.slice(2)).toEqual([
      expect.stringMatching(/^\| alpha: time .*\| 1\.50× .*\| yes +\|$/),
      expect.stringMatching(/^\| beta: sends .*\| = 0 +\| yes +\|$/),
    ]);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.rows).toEqual([
      { figure: 'alpha: time', value: 3, unit: 's', baseline: 2, ratio: 1.5, target: '≤ 2× baseline', met: true },
      { figure: 'beta: sends', value: 0, unit: '', baseline: 10, ratio: null, target: '= 0', met: true },
    ]);
    expect(json).toMatchObject({ benchmarks: ['alpha', 'beta'], size: 0.5 });
  });

  it('runs one benchmark by name (or alias), and all of them with `all`', () => {
    expect(selectBenchmarks(['remind']).map((b) => b.name)).toEqual(['reminders']);
    expect(selectBenchmarks(['soak', 'sync']).map((b) => b.name)).toEqual(['sync', 'soak']);
    expect(selectBenchmarks(['all'])).toHaveLength(BENCHMARKS.length);
    expect(selectBenchmarks([]).map((b) => b.name)).toEqual(BENCHMARKS.filter((b) => b.inDefaultRun).map((b) => b.name));
  });

  it("runs a suite's benchmarks in the suite's order: postgres is issue #14's four figures", () => {
    expect(selectBenchmarks(['postgres']).map((b) => b.name)).toEqual(['store-postgres', 'store-engines', 'sync-stores', 'replicas']);
    // Mixed with another name, in BENCHMARKS' order like any selection.
    expect(selectBenchmarks(['sync', 'postgres']).map((b) => b.name)).toEqual(['sync', 'replicas', 'store-postgres', 'store-engines', 'sync-stores']);
    for (const suite of SUITES) for (const name of suite.benchmarks) expect(BENCHMARKS.map((b) => b.name)).toContain(name);
  });

  it('refuses an unknown benchmark with the usage and exit code 2, running nothing', async () => {
    let ran = false;
    const { err, io } = capture();
    expect(
      await runBench(['alpha', 'nope'], io, [
        fake('alpha', async () => {
          ran = true;
          return [];
        }),
      ]),
    ).toBe(2);
    expect(ran).toBe(false);
    expect(err.join('\n')).toMatch(/^unknown benchmark: nope\n\nUsage: npm run bench/);
  });

  it('reports a benchmark that could not run as a row, goes on with the others and exits 1', async () => {
    const out = path.join(dir, 'latest.json');
    const { out: stdout, io } = capture();
    const code = await runBench(['--out', out], io, [
      fake('broken', async () => {
        throw new Error('simulator exited');
      }),
      fake('fine', async () => [row({ figure: 'fine', value: 1, unit: 's', baseline: 1 })]),
    ]);
    expect(code).toBe(1);
    expect(stdout[0]).toMatch(/\| broken: could not run +\| — .*\| simulator exited +\| NO +\|/);
    expect(JSON.parse(readFileSync(out, 'utf8')).rows.map((r: { figure: string }) => r.figure)).toEqual(['broken: could not run', 'fine']);
  });

  it('writes a full run to latest.json (the committed record) and any other run to partial.json', async () => {
    process.env.BENCH_RESULTS_DIR = dir;
    try {
      const benches = [fake('a', async () => [row({ figure: 'a', value: 1, unit: 's' })]), fake('b', async () => [row({ figure: 'b', value: 2, unit: 's' })])];
      const { io } = capture();
      await runBench(['a'], io, benches);
      expect(() => readFileSync(path.join(dir, 'latest.json'))).toThrow();
      expect(JSON.parse(readFileSync(path.join(dir, 'partial.json'), 'utf8')).benchmarks).toEqual(['a']);
      await runBench(['--size', '0.1'], io, benches);
      expect(() => readFileSync(path.join(dir, 'latest.json'))).toThrow();
      await runBench([], io, benches);
      expect(JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8'))).toMatchObject({ benchmarks: ['a', 'b'], size: 1 });
    } finally {
      delete process.env.BENCH_RESULTS_DIR;
    }
  });

  it("writes a suite's full run to NAME.json and, with --update-readme, its table between the README's markers", async () => {
    process.env.BENCH_RESULTS_DIR = dir;
    const readme = path.join(dir, 'README.md');
    process.env.BENCH_README = readme;
    const before = ['# Bot', '## Scale', 'Text.', '<!-- bench:pair -->', 'stale', '<!-- /bench:pair -->', 'After.', '## Performance', 'Untouched.', ''].join(
      '\n',
    );
    writeFileSync(readme, before);
    try {
      const benches = [
        fake('a', async () => [row({ figure: 'a', value: 1, unit: 's' })]),
        fake('b', async () => [row({ figure: 'b', value: 2, unit: 's', baseline: 4, target: { ratioAtMost: 1 } })], false),
        fake('c', async () => [row({ figure: 'c', value: 3, unit: 's' })], false),
      ];
      const suites: Suite[] = [{ name: 'pair', description: 'b then c', benchmarks: ['c', 'b'] }];
      const { io } = capture();
      expect(await runBench(['pair', '--size', '0.5', '--update-readme'], io, benches, suites)).toBe(0);
      expect(JSON.parse(readFileSync(path.join(dir, 'partial.json'), 'utf8'))).toMatchObject({ suite: 'pair', size: 0.5 });
      expect(readFileSync(readme, 'utf8')).toBe(before);

      expect(await runBench(['pair', '--update-readme'], io, benches, suites)).toBe(0);
      const json = JSON.parse(readFileSync(path.join(dir, 'pair.json'), 'utf8'));
      expect(json).toMatchObject({ suite: 'pair', benchmarks: ['c', 'b'], size: 1 });
      expect(json.rows.map((r: { figure: string }) => r.figure)).toEqual(['c', 'b']);
      expect(Object.keys(json)).toEqual(expect.arrayContaining(['startedAt', 'wallSeconds', 'loadAverage', 'node', 'cpus', 'memoryGB']));
      expect(() => readFileSync(path.join(dir, 'latest.json'))).toThrow();
      const after = readFileSync(readme, 'utf8');
      expect(after).toContain(`<!-- bench:pair -->\n\nLatest run (\`npm run bench -- pair\`, size 1, ${json.startedAt.slice(0, 10)}, `);
      expect(after).toContain(`\n\n${markdownTable(json.rows)}\n\n<!-- /bench:pair -->\nAfter.\n## Performance\nUntouched.\n`);
      expect(after).not.toContain('stale');
    } finally {
      delete process.env.BENCH_RESULTS_DIR;
      delete process.env.BENCH_README;
    }
  });

  it('prints the table only with --no-write', async () => {
    const { out: stdout, io } = capture();
    expect(await runBench(['--no-write', '--out', path.join(dir, 'x.json')], io, [fake('a', async () => [])])).toBe(0);
    expect(() => readFileSync(path.join(dir, 'x.json'))).toThrow();
    expect(stdout).toHaveLength(2);
  });
});
