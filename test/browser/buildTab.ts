import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

export const REPO = path.resolve(__dirname, '../..');

/**
 * Builds the tab like the npm build step does (same esbuild options as the CLI line in the
 * README), into a fresh folder, so tests never depend on a manual build.
 */
export async function buildTab(outdir = mkdtempSync(path.join(os.tmpdir(), 'tab-bundle-'))): Promise<string> {
  await build({
    absWorkingDir: REPO,
    entryPoints: ['web/tab.ts', 'web/config.ts', 'web/index.html', 'web/config.html'],
    bundle: true,
    loader: { '.html': 'copy' },
    format: 'iife',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    outdir,
    logLevel: 'silent',
  });
  return outdir;
}
