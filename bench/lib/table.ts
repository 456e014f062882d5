import { formatNumber, type Row } from './rows.js';

export const TABLE_HEADER = ['figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met'] as const;

const withUnit = (n: number | null, unit: string) => (n === null ? '—' : `${formatNumber(n)}${unit ? ` ${unit}` : ''}`);

export function tableCells(r: Row): string[] {
  return [
    r.figure,
    withUnit(r.value, r.unit),
    r.baseline === null ? '—' : withUnit(r.baseline, r.unit),
    r.ratio === null ? '—' : `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}×`,
    r.target,
    r.met === null ? '' : r.met ? 'yes' : 'NO',
  ];
}

/** The one table the suite prints (GitHub markdown, so the README can show it as is). */
export function markdownTable(rows: readonly Row[]): string {
  const cells = rows.map(tableCells);
  const header = [...TABLE_HEADER];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (cs: string[]) => `| ${cs.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.map(line)].join('\n');
}
