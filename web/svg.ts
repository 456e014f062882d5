import type { DashboardData } from '../core/dashboard.js';
import { SEVERITIES, STATUSES } from '../core/dashboard.js';

/** Hand-drawn SVG charts: two small charts do not justify a charting library in a Teams tab. */

const NS = 'http://www.w3.org/2000/svg';

export const STATUS_LABELS: Record<(typeof STATUSES)[number], string> = {
  pending: 'Pending',
  open: 'Open',
  failed: 'Failed',
  'awaiting-manual-close': 'Awaiting manual close',
  resolved: 'Resolved',
  removed: 'Removed',
};

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgRoot(width: number, height: number, label: string): SVGSVGElement {
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, width: '100%', preserveAspectRatio: 'xMinYMin meet' });
  svg.appendChild(el('title', {}, label));
  return svg;
}

/** Horizontal stacked bars: one per severity, one segment per assignment status. */
export function severityStatusChart(data: DashboardData): SVGSVGElement {
  const width = 560;
  const rowH = 34;
  const left = 72;
  const right = 40;
  const top = 8;
  const legendH = 44;
  const height = top + SEVERITIES.length * rowH + legendH;
  const totals = data.bySeverityStatus.map((r) => STATUSES.reduce((n, s) => n + (r.counts[s] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const summary = data.bySeverityStatus
    .map(
      (r, i) =>
        `${r.severity}: ${totals[i]} (${
          STATUSES.filter((s) => r.counts[s])
            .map((s) => `${r.counts[s]} ${STATUS_LABELS[s].toLowerCase()}`)
            .join(', ') || 'none'
        })`,
    )
    .join('; ');
  const svg = svgRoot(width, height, `Assignments by severity and status. ${summary}`);
  data.bySeverityStatus.forEach((r, i) => {
    const y = top + i * rowH;
    svg.appendChild(el('text', { x: 0, y: y + 19, class: 'axis-label' }, r.severity));
    let x = left;
    for (const s of STATUSES) {
      const n = r.counts[s] ?? 0;
      if (!n) continue;
      const w = ((width - left - right) * n) / max;
      const rect = el('rect', {
        x,
        y: y + 4,
        width: Math.max(w, 1),
        height: rowH - 10,
        class: `seg status-${s}`,
        'data-severity': r.severity,
        'data-status': s,
        'data-count': n,
      });
      rect.appendChild(el('title', {}, `${r.severity} · ${STATUS_LABELS[s]}: ${n}`));
      svg.appendChild(rect);
      if (w >= 18) svg.appendChild(el('text', { x: x + w / 2, y: y + 19, class: 'seg-label', 'text-anchor': 'middle' }, String(n)));
      x += w;
    }
    svg.appendChild(el('text', { x: x + 6, y: y + 19, class: 'axis-label total' }, String(totals[i])));
  });
  // Legend in two rows so six statuses fit the narrow Teams side panel too.
  STATUSES.forEach((s, i) => {
    const col = i % 3;
    const row = Math.floor(i / 3);
    const x = left + col * 160;
    const y = top + SEVERITIES.length * rowH + 6 + row * 20;
    svg.appendChild(el('rect', { x, y, width: 12, height: 12, rx: 2, class: `seg status-${s}` }));
    svg.appendChild(el('text', { x: x + 18, y: y + 11, class: 'legend' }, STATUS_LABELS[s]));
  });
  return svg;
}

const shortDay = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

export function weekLabel(w: { start: string; end: string }): string {
  return `${shortDay(w.start)} – ${shortDay(w.end)}`;
}

/** Vertical bars: live assignments coming due in each of the next weeks, stacked by severity. */
export function timelineChart(data: DashboardData): SVGSVGElement {
  const width = 560;
  const height = 200;
  const bottom = 40;
  const top = 20;
  const max = Math.max(1, ...data.timeline.map((w) => w.total));
  const slot = width / data.timeline.length;
  const barW = Math.min(72, slot * 0.55);
  const svg = svgRoot(width, height, `Due in the next ${data.timeline.length} weeks: ${data.timeline.map((w) => `${weekLabel(w)}: ${w.total}`).join('; ')}`);
  svg.appendChild(el('line', { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, class: 'baseline' }));
  data.timeline.forEach((w, i) => {
    const cx = slot * i + slot / 2;
    let y = height - bottom;
    for (const s of [...SEVERITIES].reverse()) {
      const n = w.bySeverity[s] ?? 0;
      if (!n) continue;
      const h = ((height - bottom - top) * n) / max;
      y -= h;
      const rect = el('rect', { x: cx - barW / 2, y, width: barW, height: h, class: `sev sev-${s}`, 'data-week': i, 'data-severity': s, 'data-count': n });
      rect.appendChild(el('title', {}, `${weekLabel(w)} · ${s}: ${n}`));
      svg.appendChild(rect);
    }
    svg.appendChild(el('text', { x: cx, y: y - 6, 'text-anchor': 'middle', class: 'axis-label total', 'data-week-total': i }, String(w.total)));
    svg.appendChild(el('text', { x: cx, y: height - bottom + 18, 'text-anchor': 'middle', class: 'axis-label' }, i === 0 ? 'Next 7 days' : `Week ${i + 1}`));
    svg.appendChild(el('text', { x: cx, y: height - bottom + 33, 'text-anchor': 'middle', class: 'legend' }, weekLabel(w)));
  });
  return svg;
}
