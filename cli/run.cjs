// `npm run cli`: runs dist/cli/index.js, building first only when a source changed since the last
// build (a full build takes 20–40 s; most CLI calls follow no edit). Plain CommonJS so that it runs
// before anything is compiled.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
/** What `npm run build` reads: tsconfig.build.json's folders, web/ (esbuild) and the configs. */
const SOURCES = ['app', 'appPackage', 'bot', 'cards', 'cli', 'compose', 'connectors', 'core', 'jobs', 'sandbox', 'storage', 'bench', 'web'];
const CONFIGS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
/** Written after a successful build, dated when that build started. */
const STAMP = path.join('dist', '.cli-build-stamp');

/** The newest mtime under the sources; folders count too, so a deleted or renamed file is a change. */
function newestSourceMtime(root, sources = SOURCES, configs = CONFIGS) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    newest = Math.max(newest, st.mtimeMs);
    if (!st.isDirectory()) return;
    for (const name of fs.readdirSync(p)) {
      if (name === 'node_modules' || name === 'build' || name === 'results') continue;
      visit(path.join(p, name));
    }
  };
  for (const s of sources) visit(path.join(root, s));
  for (const c of configs) visit(path.join(root, c));
  return newest;
}

/** Whether dist/ is older than the sources (or missing). */
function needsBuild(root = ROOT, opts = {}) {
  let built;
  try {
    built = fs.statSync(path.join(root, STAMP)).mtimeMs;
    fs.statSync(path.join(root, 'dist', 'cli', 'index.js'));
  } catch {
    return true;
  }
  return newestSourceMtime(root, opts.sources, opts.configs) > built;
}

function build(root = ROOT) {
  const started = new Date();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', '-s', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return false;
  const stamp = path.join(root, STAMP);
  fs.writeFileSync(stamp, '');
  fs.utimesSync(stamp, started, started);
  return true;
}

module.exports = { needsBuild, newestSourceMtime, STAMP, SOURCES };

if (require.main === module) {
  if (needsBuild() && !build()) process.exit(1);
  const r = spawnSync(process.execPath, ['--disable-warning=DEP0111', path.join(ROOT, 'dist', 'cli', 'index.js'), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (r.signal) process.kill(process.pid, r.signal);
  process.exit(r.status ?? 1);
}
