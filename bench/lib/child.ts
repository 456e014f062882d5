/**
 * Benchmarks run the measured code in child processes where its memory or event loop must not be
 * shared: each size of the sync pass starts from a fresh heap, and a bot server does not share an
 * event loop with the load generator. A child runs one task of bench/worker.ts: either to
 * completion (its result comes back once) or as a server (it answers `ready`, then calls, then
 * stops on close()).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export type ParentMessage = { type: 'call'; id: number; method: string; args: unknown } | { type: 'close' };
export type ChildMessage =
  | { type: 'ready'; value: unknown }
  | { type: 'result'; value: unknown }
  | { type: 'reply'; id: number; value?: unknown; error?: string }
  | { type: 'error'; message: string };

/** The compiled worker: bench code runs from dist/ (jest runs TypeScript, so it points there too). */
export function workerPath(): string {
  const here = __dirname;
  const compiled = __filename.endsWith('.ts') ? path.join(here, '../../dist/bench/worker.js') : path.join(here, '../worker.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: build first (npm run build)`);
  return compiled;
}

export interface ChildOptions {
  /** Extra node flags, e.g. --cpu-prof (see BENCH_PROFILE in bench/index.ts). */
  execArgv?: string[];
  /** Child stdout/stderr: inherited (default) or dropped. */
  quiet?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface ServerChild<T> {
  value: T;
  pid: number;
  call<R>(method: string, args?: unknown): Promise<R>;
  /** Asks the child to stop cleanly (a CPU profile is written on a clean exit) and waits for it. */
  close(): Promise<void>;
}

/** Where CPU profiles of `task` go when BENCH_PROFILE names it (`--profile`), else undefined. */
export function profileDir(task: string): string | undefined {
  const wanted = process.env.BENCH_PROFILE;
  if (!wanted || (wanted !== 'all' && !wanted.split(',').includes(task))) return undefined;
  return process.env.BENCH_PROFILE_DIR ?? path.resolve('bench/results/profiles');
}

/** Flags every child gets, plus the profiling flags when BENCH_PROFILE names this task. */
export function childExecArgv(task: string, extra: string[] = []): string[] {
  const base = ['--disable-warning=DEP0111', ...extra];
  const dir = profileDir(task);
  if (dir) base.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${task}-${Date.now()}-${process.pid}.cpuprofile`);
  return base;
}

function forkTask(task: string, args: unknown, opts: ChildOptions): ChildProcess {
  return fork(workerPath(), [task, JSON.stringify(args ?? null)], {
    stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', opts.quiet ? 'ignore' : 'inherit', 'ipc'],
    execArgv: childExecArgv(task, opts.execArgv),
    env: opts.env ?? process.env,
    serialization: 'advanced',
  });
}

const exitError = (task: string, code: number | null, signal: NodeJS.Signals | null) =>
  new Error(`bench task ${task} exited (${signal ?? `code ${code}`}) before it answered`);

/** Runs a task to completion in a fresh process and returns its result. */
export function runInChild<R>(task: string, args?: unknown, opts: ChildOptions = {}): Promise<R> {
  const child = forkTask(task, args, opts);
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'result') {
        settled = true;
        resolve(m.value as R);
      } else if (m.type === 'error') {
        settled = true;
        reject(new Error(`bench task ${task}: ${m.message}`));
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!settled) reject(exitError(task, code, signal));
    });
  });
}

/** Starts a server task and returns once it is ready. */
export function startChild<T>(task: string, args?: unknown, opts: ChildOptions = {}): Promise<ServerChild<T>> {
  const child = forkTask(task, args, opts);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<ServerChild<T>>((resolve, reject) => {
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        resolve({
          value: m.value as T,
          pid: child.pid!,
          call: <R>(method: string, callArgs?: unknown) =>
            new Promise<R>((res, rej) => {
              if (exited) return rej(new Error(`bench task ${task} is not running`));
              const id = nextId++;
              pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
              child.send({ type: 'call', id, method, args: callArgs ?? null } satisfies ParentMessage);
            }),
          close: async () => {
            if (!exited && child.connected) child.send({ type: 'close' } satisfies ParentMessage);
            const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
            await exitedPromise;
            clearTimeout(timer);
          },
        });
      } else if (m.type === 'reply') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new Error(`bench task ${task}.${m.id}: ${m.error}`));
        else p?.resolve(m.value);
      } else if (m.type === 'error') {
        reject(new Error(`bench task ${task}: ${m.message}`));
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      exited = true;
      const err = exitError(task, code, signal);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      reject(err);
    });
  });
}

/** What a worker task returns: a result (run to completion) or a server (ready value, methods, close). */
export type TaskOutcome = { result: unknown } | { ready: unknown; methods?: Record<string, (args: never) => unknown>; close?: () => Promise<void> };
