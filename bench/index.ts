/**
 * `npm run bench [-- NAME… --size N --duration S --out FILE --no-write --profile TASKS]`: runs the
 * benchmarks, prints ONE table (figure, value, same-run baseline, ratio, target, met) and writes
 * it to bench/results/latest.json (a full run at --size 1; other runs to partial.json, so a smoke
 * run never replaces the committed record the README shows). Benchmarks are measurements, not timed tests: a missed target
 * is a row that says NO, and the exit code stays 0 unless a benchmark could not run (1) or the
 * arguments are wrong (2).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ArgsError, parseArgs } from './lib/args.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { roundRow, row, type Row } from './lib/rows.js';
import { LATEST_RESULTS_FILE, PARTIAL_RESULTS_FILE, projectRoot, results, writeResults } from './lib/results.js';
import { withResultsTable } from './lib/readme.js';
import { markdownTable } from './lib/table.js';
import { messagesBenchmark } from './messages.js';
import { syncBenchmark } from './sync.js';
import { remindersBenchmark } from './reminders.js';
import { rulesBenchmark } from './rules.js';
import { storeBenchmark } from './store.js';
import { storeOpsBenchmark } from './storeOps.js';
import { storeEnginesBenchmark } from './storeEngines.js';
import { syncStoresBenchmark } from './syncStores.js';
import { resolutionBenchmark } from './resolution.js';
import { createAssignmentBenchmark } from './createAssignment.js';
import { soakBenchmark } from './soak.js';
import { replicasBenchmark } from './replicas.js';

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
  storeEnginesBenchmark,
  syncStoresBenchmark,
  storeOpsBenchmark,
  soakBenchmark,
];

export interface BenchIo {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: BenchIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

function usage(all: readonly Benchmark[]): string {
  const width = Math.max(...all.map((b) => b.name.length));
  return [
    'Usage: npm run bench -- [NAME…] [--size N] [--duration S] [--out FILE] [--no-write] [--update-readme] [--profile TASKS] [--profile-phase PHASES]',
    '',
    'Benchmarks (a plain `npm run bench` runs those marked *; `all` runs every one):',
    ...all.map((b) => `  ${b.inDefaultRun ? '*' : ' '} ${b.name.padEnd(width)}  ${b.description}`),
    '',
    '  --size N       scale every data set and request count (default 1; 0.1 for a quick smoke run)',
    "  --duration S   seconds for the soak (default 120; the issue's figure is 600)",
    '  --out FILE     where the JSON goes (default: bench/results/latest.json for a full run at size 1,',
    '                 the committed record; bench/results/partial.json otherwise)',
    '  --no-write     print the table only',
    '  --update-readme  put the table of a full run into README.md (Performance section)',
    '  --profile T    write CPU profiles (node --cpu-prof) of these child tasks (comma list, or all)',
    '                 to bench/results/profiles/ (tasks: bot-server, echo-bot, sync-pass, raw-fetch, reminders-plan,',
    '                 simulators, defender-simulator, sandbox-defender-simulator, servicenow-simulator, store-write,',
    '                 bot-main-empty, bot-main-full, replica-bot)',
    '  --profile-phase P  profile only these phases: sync-first-pass, sync-no-change-pass, resolution-cycle,',
    '                 resolution-full-pass, create-assignment-100, create-assignment-1000 (comma list, or all)',
    '  Summarise a profile: node dist/bench/lib/profile.js FILE.cpuprofile [TOP]',
  ].join('\n');
}

export function selectBenchmarks(names: readonly string[], all: readonly Benchmark[] = BENCHMARKS): Benchmark[] {
  if (names.length === 0) return all.filter((b) => b.inDefaultRun);
  if (names.includes('all')) return [...all];
  const unknown = names.filter((n) => !all.some((b) => b.name === n || b.aliases?.includes(n)));
  if (unknown.length > 0) throw new ArgsError(`unknown benchmark: ${unknown.join(', ')}`);
  return all.filter((b) => names.some((n) => b.name === n || b.aliases?.includes(n)));
}

export async function runBench(argv: readonly string[], io: BenchIo = defaultIo, all: readonly Benchmark[] = BENCHMARKS): Promise<number> {
  let args;
  let selected: Benchmark[];
  try {
    args = parseArgs(argv);
    if (args.help) {
      io.out(usage(all));
      return 0;
    }
    selected = selectBenchmarks(args.names, all);
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    io.err(`${err.message}\n\n${usage(all)}`);
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
    const full = args.size === 1 && all.filter((b) => b.inDefaultRun).every((b) => selected.includes(b));
    const file = path.resolve(args.out ?? (full ? LATEST_RESULTS_FILE() : PARTIAL_RESULTS_FILE()));
    const written = results(rows, {
      benchmarks: selected.map((b) => b.name),
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
        const readme = path.join(projectRoot(), 'README.md');
        writeFileSync(readme, withResultsTable(readFileSync(readme, 'utf8'), written));
        io.err('[bench] README.md Performance table updated');
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
