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
