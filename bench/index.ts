/**
 * `npm run bench -- sync|remind|all`: runs benchmarks and prints their tables. Benchmarks are
 * measurements, not timed tests: targets are reported as PASS/FAIL, the exit code stays 0 unless
 * a benchmark could not run.
 */
import { benchRemind } from './remind.js';
import { benchSync } from './sync.js';

type Bench = () => Promise<string>;

const progress = (line: string) => console.error(`[bench] ${line}`);

/** name → benchmark. Add new ones here. */
export const BENCHMARKS: Record<string, Bench> = {
  sync: () => benchSync({ progress }),
  remind: () => benchRemind(),
};

export async function runBench(args: readonly string[], out: (text: string) => void = console.log): Promise<number> {
  const names = Object.keys(BENCHMARKS);
  const wanted = args.length === 0 || args.includes('all') ? names : [...args];
  const unknown = wanted.filter((n) => !BENCHMARKS[n]);
  if (unknown.length > 0) {
    console.error(`Unknown benchmark: ${unknown.join(', ')}. Usage: npm run bench -- ${[...names, 'all'].join('|')}`);
    return 2;
  }
  for (const name of wanted) {
    out(`\n## ${name}\n`);
    out(await BENCHMARKS[name]!());
  }
  return 0;
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
