import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { roundRow, type Row } from './rows.js';

/** The project root (where package.json is), from bench/lib or dist/bench/lib. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) || path.basename(dir) === 'dist') {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** The committed record (the README's table): written by a full run at --size 1. */
export const resultsDir = () => process.env.BENCH_RESULTS_DIR ?? path.join(projectRoot(), 'bench', 'results');
export const LATEST_RESULTS_FILE = () => path.join(resultsDir(), 'latest.json');
/** Where a run of some benchmarks, or at another --size, goes, so it never replaces the record. */
export const PARTIAL_RESULTS_FILE = () => path.join(resultsDir(), 'partial.json');
/** A suite's own record (`npm run bench -- NAME` at --size 1): bench/results/NAME.json. */
export const SUITE_RESULTS_FILE = (suite: string) => path.join(resultsDir(), `${suite}.json`);

export interface Results {
  rows: Row[];
  /** What ran: the benchmarks, --size, and on what. Smoke runs (size < 1) say so here. */
  benchmarks: string[];
  /** Set when the run was a suite's (`npm run bench -- postgres`). */
  suite?: string;
  size: number;
  startedAt: string;
  wallSeconds: number;
  node: string;
  cpus: string;
  memoryGB: number;
  loadAverage: { start: number[]; end: number[] };
}

export function results(rows: readonly Row[], meta: Omit<Results, 'rows' | 'node' | 'cpus' | 'memoryGB'>): Results {
  const cpus = os.cpus();
  return {
    rows: rows.map(roundRow),
    ...meta,
    node: process.version,
    cpus: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`,
    memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1),
  };
}

export function writeResults(file: string, r: Results): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
}
