import type { Row } from './rows.js';

export interface BenchContext {
  /** --size: scales every data set and request count (1 = the figures). */
  size: number;
  /** --duration in seconds, for benchmarks that run for a time (soak). */
  duration?: number;
  /** Progress and detail lines (stderr): the table is what the benchmark returns. */
  progress(line: string): void;
}

export interface Benchmark {
  name: string;
  /** Other names it answers to on the command line. */
  aliases?: string[];
  /** One line for --help. */
  description: string;
  /** Part of a plain `npm run bench` (the soak is only when asked for, or short). */
  inDefaultRun: boolean;
  run(ctx: BenchContext): Promise<Row[]>;
}

/**
 * A named set of benchmarks that answers one question (`npm run bench -- NAME`): its full run at
 * --size 1 is a record of its own, bench/results/NAME.json, and `--update-readme` puts its table
 * between the README's `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers.
 */
export interface Suite {
  name: string;
  description: string;
  /** Benchmark names, in the order they run (and appear in the table). */
  benchmarks: readonly string[];
}
