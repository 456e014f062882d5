/**
 * globalSetup and globalTeardown of `npm run test:soak`: the first call starts an empty figures
 * file, the second prints every soak suite's figures (written by recordFigures in world.ts) and
 * the wall time of the whole run, so they are the last thing on the screen.
 */
const { existsSync, readFileSync, rmSync } = require('node:fs');

module.exports = async function figures() {
  const file = process.env.SOAK_FIGURES_FILE;
  if (!file) return;
  if (globalThis.__soakStartedAt === undefined) {
    globalThis.__soakStartedAt = Date.now();
    rmSync(file, { force: true });
    return;
  }
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const out = ['', 'Soak figures:'];
  for (const line of lines) {
    const { suite, figures } = JSON.parse(line);
    out.push(
      `  ${suite}: ${Object.entries(figures)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
  out.push(`  whole run: ${Math.round((Date.now() - globalThis.__soakStartedAt) / 1000)} s wall time`);
  process.stdout.write(out.join('\n') + '\n');
  rmSync(file, { force: true });
};
