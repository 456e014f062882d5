/**
 * One figure of the suite: a value next to a baseline measured in the same run. Ratios are the
 * stable part on a shared machine (both sides see the same noise), so most targets are ratios.
 */
export interface Row {
  figure: string;
  /** null when the figure could not be measured (the benchmark failed, or is not built yet). */
  value: number | null;
  unit: string;
  baseline: number | null;
  /** value / baseline, when both exist and the baseline is not 0. */
  ratio: number | null;
  /** What "met" means, human-readable ('' when the row is informational). */
  target: string;
  /** null: no target for this row (or nothing measured). */
  met: boolean | null;
}

/** How a row is judged. Ratio targets compare value/baseline; absolute ones the value itself. */
export type Target = { ratioAtMost: number } | { ratioAtLeast: number } | { atMost: number; unit?: string } | { equals: number } | { atMostBaseline: true };

export function describeTarget(t: Target | undefined, unit: string): string {
  if (!t) return '';
  if ('ratioAtMost' in t) return `≤ ${t.ratioAtMost}× baseline`;
  if ('ratioAtLeast' in t) return `≥ ${t.ratioAtLeast}× baseline`;
  if ('atMost' in t) return `≤ ${formatNumber(t.atMost)} ${t.unit ?? unit}`.trim();
  if ('equals' in t) return `= ${formatNumber(t.equals)}`;
  return '≤ baseline';
}

function judge(t: Target | undefined, value: number | null, baseline: number | null, ratio: number | null): boolean | null {
  if (!t || value === null) return null;
  if ('ratioAtMost' in t) return ratio === null ? (baseline === 0 ? value === 0 : null) : ratio <= t.ratioAtMost;
  if ('ratioAtLeast' in t) return ratio === null ? null : ratio >= t.ratioAtLeast;
  if ('atMost' in t) return value <= t.atMost;
  if ('equals' in t) return value === t.equals;
  return baseline === null ? null : value <= baseline;
}

export interface RowInput {
  figure: string;
  value: number | null;
  unit: string;
  baseline?: number | null;
  target?: Target;
  /** The baseline is context (e.g. the first pass's count next to a no-change pass's 0), not a divisor. */
  noRatio?: boolean;
}

/** Builds a row: the ratio and the verdict are computed here only, so every benchmark judges alike. */
export function row(input: RowInput): Row {
  const baseline = input.baseline ?? null;
  const value = input.value;
  const ratio = !input.noRatio && value !== null && baseline !== null && baseline !== 0 && Number.isFinite(value / baseline) ? value / baseline : null;
  return {
    figure: input.figure,
    value,
    unit: input.unit,
    baseline,
    ratio,
    target: describeTarget(input.target, input.unit),
    met: judge(input.target, value, baseline, ratio),
  };
}

/** A figure the suite cannot measure (yet): listed so the table shows every figure of the issue. */
export function missingRow(figure: string, unit: string, why: string, target?: Target): Row {
  return { figure, value: null, unit, baseline: null, ratio: null, target: `${describeTarget(target, unit)}${target ? ' — ' : ''}${why}`, met: null };
}

/** Numbers as the table shows them: 3 significant digits, thousands separated. */
export function formatNumber(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  if (abs >= 1000 || Number.isInteger(n)) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  if (abs === 0) return '0';
  return n.toPrecision(2);
}

/** Rounds what goes into the JSON, so results diff cleanly between runs. */
export function roundRow(r: Row): Row {
  const round = (n: number | null) => (n === null ? null : Number(n.toPrecision(4)));
  return { ...r, value: round(r.value), baseline: round(r.baseline), ratio: r.ratio === null ? null : Number(r.ratio.toFixed(3)) };
}
