import type { Results } from './results.js';
import { markdownTable } from './table.js';

const INTRO = /^Latest run \(.*\):$/m;

/** The README with its Performance table (and the line above it) replaced by these results. */
export function withResultsTable(readme: string, r: Pick<Results, 'rows' | 'size' | 'wallSeconds' | 'loadAverage'>): string {
  const start = readme.indexOf('## Performance');
  const intro = INTRO.exec(readme.slice(start));
  if (start < 0 || !intro) throw new Error('README.md has no "Latest run (…):" line in its Performance section');
  const introAt = start + intro.index;
  const lines = readme.slice(introAt).split('\n');
  // The intro line, a blank line, then the table rows.
  let end = 2;
  while (lines[end]?.startsWith('|')) end++;
  const head = `Latest run (\`npm run bench\`, size ${r.size}, ${r.wallSeconds} s, load average ${r.loadAverage.start[0]} at start):`;
  return readme.slice(0, introAt) + [head, '', markdownTable(r.rows), ...lines.slice(end)].join('\n');
}

export const suiteMarkers = (suite: string) => ({ start: `<!-- bench:${suite} -->`, end: `<!-- /bench:${suite} -->` });

/**
 * The README with everything between the suite's markers replaced by one line saying what ran
 * (when, on what, at which load) and the suite's table. Markers rather than a heading, so the
 * table can sit inside any section and the prose around it is never touched. Blank lines around
 * the text, as prettier formats markdown after an HTML comment.
 */
export function withSuiteTable(
  readme: string,
  suite: string,
  r: Pick<Results, 'rows' | 'size' | 'startedAt' | 'wallSeconds' | 'loadAverage' | 'cpus'>,
): string {
  const { start, end } = suiteMarkers(suite);
  const from = readme.indexOf(start);
  const to = readme.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`README.md has no ${start} … ${end} markers`);
  const load = `load average ${r.loadAverage.start[0]} at start, ${r.loadAverage.end[0]} at end`;
  const head = `Latest run (\`npm run bench -- ${suite}\`, size ${r.size}, ${r.startedAt.slice(0, 10)}, ${r.wallSeconds} s, ${load}, ${r.cpus}):`;
  return `${readme.slice(0, from + start.length)}\n\n${head}\n\n${markdownTable(r.rows)}\n\n${readme.slice(to)}`;
}
