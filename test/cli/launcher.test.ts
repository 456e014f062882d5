/**
 * Issue 13 (15): every `npm run cli` call rebuilt the project (20–40 s). cli/run.cjs builds only
 * when a source is newer than the last build's stamp; here on a temporary tree with set mtimes.
 */
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const launcher = createRequire(__filename)('../../cli/run.cjs') as {
  needsBuild(root: string, opts?: { sources?: string[]; configs?: string[] }): boolean;
  STAMP: string;
  SOURCES: string[];
};

describe('npm run cli: build only when the sources changed', () => {
  let root: string;
  const at = (p: string, seconds: number) => utimesSync(path.join(root, p), seconds, seconds);
  const opts = { sources: ['core', 'cli'], configs: ['package.json'] };

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'cli-launcher-'));
    for (const d of ['core', 'cli', 'dist/cli']) mkdirSync(path.join(root, d), { recursive: true });
    for (const f of ['core/a.ts', 'core/b.ts', 'cli/index.ts', 'package.json', 'dist/cli/index.js', launcher.STAMP]) writeFileSync(path.join(root, f), '');
    for (const p of ['core/a.ts', 'core/b.ts', 'cli/index.ts', 'package.json', 'core', 'cli']) at(p, 1_000);
    at(launcher.STAMP, 2_000);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('runs the built output when every source is older than the last build', () => {
    expect(launcher.needsBuild(root, opts)).toBe(false);
  });

  it('rebuilds after an edit, a deleted file, a changed package.json, or with no build yet', () => {
    at('core/a.ts', 3_000);
    expect(launcher.needsBuild(root, opts)).toBe(true);
    at('core/a.ts', 1_000);
    rmSync(path.join(root, 'core/b.ts'));
    at('core', 3_000); // what the file system does on delete, set explicitly for a stable test
    expect(launcher.needsBuild(root, opts)).toBe(true);
    at('core', 1_000);
    at('package.json', 3_000);
    expect(launcher.needsBuild(root, opts)).toBe(true);
    at('package.json', 1_000);
    expect(launcher.needsBuild(root, opts)).toBe(false);
    rmSync(path.join(root, 'dist/cli/index.js'));
    expect(launcher.needsBuild(root, opts)).toBe(true);
  });

  it('with no stamp (a build by `npm test` or by hand) it builds once', () => {
    rmSync(path.join(root, launcher.STAMP));
    expect(launcher.needsBuild(root, opts)).toBe(true);
  });

  it('watches every folder `npm run build` compiles (tsconfig.build.json) and web/', () => {
    const build = JSON.parse(readFileSync(path.join(__dirname, '../../tsconfig.build.json'), 'utf8')) as { include: string[] };
    expect([...launcher.SOURCES].sort()).toEqual([...build.include, 'web'].sort());
  });
});
