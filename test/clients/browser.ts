import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const REPO = path.resolve(__dirname, '../..');
/** Screenshots of the real-client flows (git-ignored). */
export const ARTIFACTS = path.join(REPO, 'test/artifacts/clients');

/**
 * Without the background-networking flags Chromium floods the closed network with refused
 * connections; a fresh profile keeps one run from seeing another's storage.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ClientBrowser {
  context: BrowserContext;
  newPage(viewport: { width: number; height: number }): Promise<Page>;
  /** Page errors and console errors, except those the filter excuses (e.g. CDN fonts offline). */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(opts: { ignoreConsoleError?: (text: string, url: string) => boolean } = {}): Promise<ClientBrowser> {
  // CI installs Debian's chromium; a missing browser is a failure with a clear message, never a skip.
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}. Install it (apt-get install -y chromium) or set CHROMIUM_PATH; browser tests do not skip.`);
  }
  const profile = mkdtempSync(path.join(os.tmpdir(), 'client-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS }).catch((err: unknown) => {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  });
  const errors: string[] = [];
  return {
    context,
    errors,
    newPage: async (viewport) => {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        const url = m.location().url;
        if (!opts.ignoreConsoleError?.(m.text(), url)) errors.push(`console: ${m.text()} (${url})`);
      });
      return page;
    },
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A numbered screenshot folder per client, emptied at the start of a run. */
export function artifactDir(client: string): string {
  const dir = path.join(ARTIFACTS, client);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The next numbered screenshot file in a run's folder (several drivers may share one). */
export function nextShot(dir: string, name: string): string {
  const n = readdirSync(dir).filter((f) => f.endsWith('.png')).length + 1;
  return path.join(dir, `${String(n).padStart(2, '0')}-${name}.png`);
}
