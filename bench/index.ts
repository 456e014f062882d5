/**
 * `npm run bench [-- NAME… --size N --duration S --out FILE --no-write --profile TASKS]`: runs the
 * benchmarks, prints ONE table (figure, value, same-run baseline, ratio, target, met) and writes
 * it to bench/results/latest.json (a full run at --size 1; other runs to partial.json, so a smoke
 * run never replaces the committed record the README shows). A suite (SUITES: `npm run bench --
 * postgres`) is a record of its own: bench/results/NAME.json at --size 1, its table in the README
 * between its markers. Benchmarks are measurements, not timed tests: a missed target is a row that says NO, and the exit code stays 0 unless a benchmark could not run (1) or the
 * arguments are wrong (2).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ArgsError, parseArgs } from './lib/args.js';
import type { Benchmark, BenchContext, Suite } from './lib/context.js';
import { roundRow, row, type Row } from './lib/rows.js';
import { LATEST_RESULTS_FILE, PARTIAL_RESULTS_FILE, SUITE_RESULTS_FILE, projectRoot, results, writeResults } from './lib/results.js';
import { withResultsTable, withSuiteTable } from './lib/readme.js';
import { markdownTable } from './lib/table.js';
import { messagesBenchmark } from './messages.js';
import { syncBenchmark } from './sync.js';
import { remindersBenchmark } from './reminders.js';
import { rulesBenchmark } from './rules.js';
import { storeBenchmark, storePostgresBenchmark } from './store.js';
import { storeOpsBenchmark } from './storeOps.js';
import { storeEnginesBenchmark } from './storeEngines.js';
import { syncStoresBenchmark } from './syncStores.js';
import { resolutionBenchmark } from './resolution.js';
import { createAssignmentBenchmark } from './createAssignment.js';
import { soakBenchmark } from './soak.js';
import { replicasBenchmark } from './replicas.js';
import { pruneBenchmark } from './prune.js';

/** In the order they run (and appear in the table). Add new ones here. */
export const BENCHMARKS: readonly Benchmark[] = [
  messagesBenchmark,
  syncBenchmark,
  resolutionBenchmark,
  remindersBenchmark,
  rulesBenchmark,
  createAssignmentBenchmark,
  replicasBenchmark,
  storeBenchmark,
  storePostgresBenchmark,
  storeEnginesBenchmark,
  syncStoresBenchmark,
  storeOpsBenchmark,
  pruneBenchmark,
  soakBenchmark,
];

/** Issue #14's four performance figures on PostgreSQL, each row with its same-run baseline and the issue's target. */
export const postgresSuite: Suite = {
  name: 'postgres',
  description:
    "issue #14's figures: cold start and RSS at 100k (store-postgres), a resolution step's store time (store-engines), sync at 50k and 200k (sync-stores), 3 replicas (replicas)",
  benchmarks: ['store-postgres', 'store-engines', 'sync-stores', 'replicas'],
};

export const SUITES: readonly Suite[] = [postgresSuite];

export interface BenchIo {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: BenchIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

function usage(all: readonly Benchmark[], suites: readonly Suite[]): string {
  const width = Math.max(...all.map((b) => b.name.length), ...suites.map((s) => s.name.length));
  return [
    'Usage: npm run bench -- [NAME…] [--size N] [--duration S] [--out FILE] [--no-write] [--update-readme] [--profile TASKS] [--profile-phase PHASES]',
    '',
    'Benchmarks (a plain `npm run bench` runs those marked *; `all` runs every one):',
    ...all.map((b) => `  ${b.inDefaultRun ? '*' : ' '} ${b.name.padEnd(width)}  ${b.description}`),
    '',
    'Suites (a record of their own: bench/results/NAME.json at --size 1, their table in the README between <!-- bench:NAME --> markers):',
    ...suites.map((s) => `    ${s.name.padEnd(width)}  ${s.description}`),
    '',
    '  --size N       scale every data set and request count (default 1; 0.1 for a quick smoke run)',
    "  --duration S   seconds for the soak (default 120; the issue's figure is 600)",
    '  --out FILE     where the JSON goes (default: bench/results/latest.json for a full run at size 1,',
    "                 the committed record, or a suite's bench/results/NAME.json; bench/results/partial.json otherwise)",
    '  --no-write     print the table only',
    "  --update-readme  put the table of a full run into README.md (Performance section; a suite's between its markers)",
    '  --profile T    write CPU profiles (node --cpu-prof) of these child tasks (comma list, or all)',
    '                 to bench/results/profiles/ (tasks: bot-server, echo-bot, sync-pass, raw-fetch, reminders-plan,',
    '                 simulators, defender-simulator, sandbox-defender-simulator, servicenow-simulator, store-write,',
    '                 bot-main-empty, bot-main-full, replica-bot)',
    '  --profile-phase P  profile only these phases: sync-first-pass, sync-no-change-pass, resolution-cycle,',
    '                 resolution-full-pass, create-assignment-100, create-assignment-1000 (comma list, or all)',
    '  Summarise a profile: node dist/bench/lib/profile.js FILE.cpuprofile [TOP]',
  ].join('\n');
}

/** The suite the names ask for, when they name exactly one suite and nothing else. */
export function selectedSuite(names: readonly string[], suites: readonly Suite[] = SUITES): Suite | undefined {
  return names.length === 1 ? suites.find((s) => s.name === names[0]) : undefined;
}

export function selectBenchmarks(names: readonly string[], all: readonly Benchmark[] = BENCHMARKS, suites: readonly Suite[] = SUITES): Benchmark[] {
  if (names.length === 0) return all.filter((b) => b.inDefaultRun);
  if (names.includes('all')) return [...all];
  const byName = (n: string) => all.find((b) => b.name === n || b.aliases?.includes(n));
  const suite = selectedSuite(names, suites);
  // A suite alone runs in its own order, the order of its question; mixed with others, in BENCHMARKS' order.
  if (suite) return suite.benchmarks.map((n) => byName(n) ?? missingMember(suite, n));
  const expanded = names.flatMap((n) => suites.find((s) => s.name === n)?.benchmarks ?? [n]);
  const unknown = expanded.filter((n) => !byName(n));
  if (unknown.length > 0) throw new ArgsError(`unknown benchmark: ${unknown.join(', ')}`);
  return all.filter((b) => expanded.some((n) => b.name === n || b.aliases?.includes(n)));
}

function missingMember(suite: Suite, name: string): never {
  throw new Error(`suite ${suite.name} names benchmark ${name}, which is not in BENCHMARKS`);
}

export async function runBench(
  argv: readonly string[],
  io: BenchIo = defaultIo,
  all: readonly Benchmark[] = BENCHMARKS,
  suites: readonly Suite[] = SUITES,
): Promise<number> {
  let args;
  let selected: Benchmark[];
  let suite: Suite | undefined;
  try {
    args = parseArgs(argv);
    if (args.help) {
      io.out(usage(all, suites));
      return 0;
    }
    selected = selectBenchmarks(args.names, all, suites);
    suite = selectedSuite(args.names, suites);
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    io.err(`${err.message}\n\n${usage(all, suites)}`);
    return 2;
  }
  if (args.profile) process.env.BENCH_PROFILE = args.profile;
  if (args.profilePhase) process.env.BENCH_PROFILE_PHASES = args.profilePhase;

  const startedAt = new Date();
  const loadStart = os.loadavg();
  const t0 = performance.now();
  const ctx: BenchContext = { size: args.size, duration: args.duration, progress: (line) => io.err(`[bench] ${line}`) };
  const rows: Row[] = [];
  let failed = 0;
  for (const b of selected) {
    const tb = performance.now();
    ctx.progress(`${b.name}…`);
    try {
      rows.push(...(await b.run(ctx)));
    } catch (err) {
      failed++;
      const message = err instanceof Error ? err.message : String(err);
      io.err(`[bench] ${b.name} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
      rows.push({ ...row({ figure: `${b.name}: could not run`, value: null, unit: '' }), target: message.split('\n')[0]!.slice(0, 120), met: false });
    }
    ctx.progress(`${b.name} done in ${((performance.now() - tb) / 1000).toFixed(1)} s`);
  }
  const wallSeconds = (performance.now() - t0) / 1000;

  // From the rounded rows, so the printed table and the JSON say the same.
  const table = markdownTable(rows.map(roundRow));
  io.out(table);
  io.out(
    `\n${selected.map((b) => b.name).join(', ')} · size ${args.size} · ${wallSeconds.toFixed(0)} s wall · Node ${process.version} · ${os.cpus().length} CPUs · load ${loadStart.map((l) => l.toFixed(2)).join(' ')} at start`,
  );
  if (args.write) {
    // A suite's full run is its own record; the default run's is latest.json.
    const full = args.size === 1 && (suite !== undefined || all.filter((b) => b.inDefaultRun).every((b) => selected.includes(b)));
    const record = suite ? SUITE_RESULTS_FILE(suite.name) : LATEST_RESULTS_FILE();
    const file = path.resolve(args.out ?? (full ? record : PARTIAL_RESULTS_FILE()));
    const written = results(rows, {
      benchmarks: selected.map((b) => b.name),
      ...(suite ? { suite: suite.name } : {}),
      size: args.size,
      startedAt: startedAt.toISOString(),
      wallSeconds: Math.round(wallSeconds),
      loadAverage: { start: loadStart.map((l) => +l.toFixed(2)), end: os.loadavg().map((l) => +l.toFixed(2)) },
    });
    writeResults(file, written);
    io.err(`[bench] wrote ${path.relative(process.cwd(), file) || file}`);
    if (args.updateReadme) {
      if (!full) io.err('[bench] --update-readme: only a full run at size 1 goes into the README; left as it is');
      else {
        const readme = process.env.BENCH_README ?? path.join(projectRoot(), 'README.md');
        const text = readFileSync(readme, 'utf8');
        writeFileSync(readme, suite ? withSuiteTable(text, suite.name, written) : withResultsTable(text, written));
        io.err(suite ? `[bench] README.md ${suite.name} table updated` : '[bench] README.md Performance table updated');
      }
    }
  }
  return failed > 0 ? 1 : 0;
}

if (require.main === module) {
  runBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`Benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
