/**
 * `node dist/bench/lib/profile.js FILE.cpuprofile [TOP]`: the top self-time functions of a CPU
 * profile written by `npm run bench -- NAME --profile TASK` (node --cpu-prof), and self time by
 * file / package, so a missed target can be explained by where the time goes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

function where(url: string, line: number, root: string): string {
  if (!url) return '(native)';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    return `${pkg}: ${rest.slice(rest[0]!.startsWith('@') ? 2 : 1).join('/')}:${line + 1}`;
  }
  return `${path.relative(root, file).replace(/^dist\//, '')}:${line + 1}`;
}

function group(url: string, root: string): string {
  if (!url) return '(native / GC / idle)';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return `node_modules/${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return 'node internals';
  return path
    .relative(root, file)
    .replace(/^dist\//, '')
    .replace(/\.js$/, '.ts');
}

export function summarize(file: string, top = 20, root = process.cwd()): { total: number; functions: SelfTime[]; files: SelfTime[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const fn = new Map<string, SelfTime>();
  const files = new Map<string, SelfTime>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') continue;
    total += us;
    const w = where(n.callFrame.url, n.callFrame.lineNumber, root);
    const key = `${name}\u0000${w}`;
    const e = fn.get(key) ?? { name, where: w, ms: 0, percent: 0 };
    e.ms += us / 1000;
    fn.set(key, e);
    const g = group(n.callFrame.url, root);
    const ge = files.get(g) ?? { name: g, where: '', ms: 0, percent: 0 };
    ge.ms += us / 1000;
    files.set(g, ge);
  }
  const finish = (m: Map<string, SelfTime>) =>
    [...m.values()]
      .map((e) => ({ ...e, percent: (100 * e.ms * 1000) / total }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  return { total: total / 1000, functions: finish(fn), files: finish(files) };
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('Usage: node dist/bench/lib/profile.js FILE.cpuprofile [TOP]');
    process.exit(2);
  }
  const s = summarize(file, Number(top ?? 20));
  console.log(`${path.basename(file)}: ${s.total.toFixed(0)} ms of CPU (idle excluded)\n\nTop self time by function:`);
  for (const f of s.functions) console.log(`${f.percent.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}  (${f.where})`);
  console.log('\nSelf time by file / package:');
  for (const f of s.files) console.log(`${f.percent.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}`);
}
