import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

/**
 * A CPU profile of one phase of a child (the first sync pass, one resolution cycle), where a
 * whole-process --cpu-prof would mix it with set-up and the other phases. On when
 * BENCH_PROFILE_PHASES (`--profile-phase` on the command line) names the phase or is `all`.
 */
export async function profiledPhase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const wanted = process.env.BENCH_PROFILE_PHASES;
  if (!wanted || !(wanted === 'all' || wanted.split(',').includes(name))) return fn();
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    session.disconnect();
    const dir = process.env.BENCH_PROFILE_DIR ?? path.resolve('bench/results/profiles');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${name}-${Date.now()}-${process.pid}.cpuprofile`), JSON.stringify(profile));
  }
}
