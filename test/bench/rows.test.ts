import { missingRow, roundRow, row } from '../../bench/lib/rows.js';
import { markdownTable, TABLE_HEADER } from '../../bench/lib/table.js';
import { parseArgs } from '../../bench/lib/args.js';
import { slope, median, scaled, short } from '../../bench/lib/measure.js';

describe('benchmark rows', () => {
  it('computes the ratio to the same-run baseline and judges ratio targets', () => {
    expect(row({ figure: 'a', value: 3, unit: 's', baseline: 2, target: { ratioAtMost: 2 } })).toEqual({
      figure: 'a',
      value: 3,
      unit: 's',
      baseline: 2,
      ratio: 1.5,
      target: '≤ 2× baseline',
      met: true,
    });
    expect(row({ figure: 'a', value: 5, unit: 's', baseline: 2, target: { ratioAtMost: 2 } }).met).toBe(false);
    expect(row({ figure: 't', value: 850, unit: 'req/s', baseline: 1000, target: { ratioAtLeast: 0.9 } })).toMatchObject({ ratio: 0.85, met: false });
    expect(row({ figure: 't', value: 950, unit: 'req/s', baseline: 1000, target: { ratioAtLeast: 0.9 } })).toMatchObject({ ratio: 0.95, met: true });
  });

  it('judges absolute targets on the value and keeps the baseline as context', () => {
    expect(row({ figure: 'rss', value: 251, unit: 'MB', baseline: 120, target: { atMost: 250 } })).toMatchObject({ target: '≤ 250 MB', met: false });
    expect(row({ figure: 'rss', value: 249.5, unit: 'MB', baseline: 120, target: { atMost: 250 } }).met).toBe(true);
    const sends = row({ figure: 'sends', value: 0, unit: '', baseline: 2000, target: { equals: 0 }, noRatio: true });
    expect(sends).toMatchObject({ ratio: null, target: '= 0', met: true });
    expect(row({ figure: 'sends', value: 1, unit: '', baseline: 2000, target: { equals: 0 } }).met).toBe(false);
    expect(row({ figure: 'rss', value: 300, unit: 'MB', baseline: 290, target: { atMostBaseline: true } })).toMatchObject({ target: '≤ baseline', met: false });
  });

  it('has no verdict without a target or without a value, and no ratio over a zero baseline', () => {
    expect(row({ figure: 'x', value: 1, unit: 'ms', baseline: 2 }).met).toBeNull();
    expect(row({ figure: 'x', value: 1, unit: 'ms', baseline: 0 }).ratio).toBeNull();
    const missing = missingRow('create assignment', 's', 'not built yet', { atMost: 2 });
    expect(missing).toEqual({ figure: 'create assignment', value: null, unit: 's', baseline: null, ratio: null, target: '≤ 2 s — not built yet', met: null });
  });

  it('rounds what goes into the JSON', () => {
    expect(roundRow(row({ figure: 'x', value: 1.234567, unit: 's', baseline: 0.987654 }))).toMatchObject({ value: 1.235, baseline: 0.9877, ratio: 1.25 });
  });

  it('prints one markdown table with figure, value, baseline, ratio, target and met', () => {
    const table = markdownTable([
      row({ figure: 'sync 50k: first pass', value: 3.92, unit: 's', baseline: 1.36, target: { ratioAtMost: 2 } }),
      missingRow('create assignment', 's', 'not built yet'),
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]!.split('|').map((c) => c.trim())).toEqual(['', ...TABLE_HEADER, '']);
    expect(lines[2]!.split('|').map((c) => c.trim())).toEqual(['', 'sync 50k: first pass', '3.92 s', '1.36 s', '2.88×', '≤ 2× baseline', 'NO', '']);
    expect(lines[3]).toMatch(/\| create assignment +\| — +\| — +\| — +\| not built yet +\| +\|/);
  });
});

describe('benchmark arguments', () => {
  it('takes names, --size, --duration, --out, --no-write and --profile', () => {
    expect(parseArgs(['sync', '--size', '0.1', '--duration=600', '--out', '/tmp/x.json', '--no-write', '--profile', 'sync-pass'])).toEqual({
      names: ['sync'],
      size: 0.1,
      duration: 600,
      out: '/tmp/x.json',
      write: false,
      updateReadme: false,
      profile: 'sync-pass',
      help: false,
    });
    expect(parseArgs([])).toMatchObject({ names: [], size: 1, write: true });
  });

  it.each([
    [['--size', 'abc'], /--size must be a number/],
    [['--size', '0'], /--size must be a positive number/],
    [['--size'], /--size needs a value/],
    [['--duration', '5'], /at least 10 s/],
    [['--fast'], /unknown option --fast/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('measuring helpers', () => {
  it('computes medians, slopes, scaled sizes and short labels', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(
      slope([
        { x: 1, y: 10 },
        { x: 2, y: 12 },
        { x: 3, y: 14 },
      ]),
    ).toBeCloseTo(2);
    expect(scaled(50_000, 0.1)).toBe(5_000);
    expect(scaled(10, 0.01, 5)).toBe(5);
    expect([short(200_000), short(1_500), short(10)]).toEqual(['200k', '1.5k', '10']);
  });
});
