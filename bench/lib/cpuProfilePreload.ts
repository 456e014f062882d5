/**
 * Loaded with `node --require` (NODE_OPTIONS) into processes the bench does not fork itself, such
 * as the replica bots the world spawns: Node refuses --cpu-prof in NODE_OPTIONS, so this profiles
 * through the inspector and writes BENCH_CPU_PROFILE_DIR/<name>-<pid>.cpuprofile at exit (the
 * in-thread session answers synchronously, so an exit handler can still stop the profiler).
 */
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      const name = process.env.BENCH_CPU_PROFILE_NAME ?? 'process';
      writeFileSync(path.join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
