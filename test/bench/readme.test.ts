import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BENCHMARKS } from '../../bench/index.js';
import { markdownTable } from '../../bench/lib/table.js';
import { withResultsTable } from '../../bench/lib/readme.js';
import { row } from '../../bench/lib/rows.js';

const root = path.join(__dirname, '../..');

/** Issue 16, "done when": the README's table is the one the suite printed. */
describe('the README performance table', () => {
  const latest = JSON.parse(readFileSync(path.join(root, 'bench/results/latest.json'), 'utf8'));

  it('is bench/results/latest.json, a full run at size 1', () => {
    expect(latest.size).toBe(1);
    expect(latest.benchmarks).toEqual(BENCHMARKS.filter((b) => b.inDefaultRun).map((b) => b.name));
    for (const r of latest.rows) expect(Object.keys(r)).toEqual(['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'met']);
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const performance = readme.slice(readme.indexOf('## Performance'), readme.indexOf('## Tests'));
    expect(performance).toContain(markdownTable(latest.rows));
  });

  it('is replaced, with the line above it, by --update-readme', () => {
    const readme = [
      '# Bot',
      '## Performance',
      'Text.',
      '',
      'Latest run (`npm run bench`, size 1, 9 s, load average 1 at start):',
      '',
      '| old |',
      '| --- |',
      '',
      'After.',
      '## Tests',
      '',
    ].join('\n');
    const rows = [row({ figure: 'sync 50k: first pass', value: 3, unit: 's', baseline: 2, target: { ratioAtMost: 2 } })];
    const next = withResultsTable(readme, { rows, size: 1, wallSeconds: 480, loadAverage: { start: [2.5, 2, 2], end: [1, 1, 1] } });
    expect(next).toBe(
      [
        '# Bot',
        '## Performance',
        'Text.',
        '',
        'Latest run (`npm run bench`, size 1, 480 s, load average 2.5 at start):',
        '',
        markdownTable(rows),
        '',
        'After.',
        '## Tests',
        '',
      ].join('\n'),
    );
  });
});
