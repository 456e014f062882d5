/**
 * Issue 13 (10): "Medium severity" in yellow on white was 1.47:1. Colours are kept only where the
 * host renders them readably (WCAG AA 4.5:1 on its light background), and never carry meaning alone.
 */
import { READABLE_COLORS } from '../../cards/render.js';
import { recommendationSummaryCard, recommendationSummaryModel } from '../../cards/recommendationCards.js';
import { summarizeRecommendations, type RecommendationSummary } from '../../core/recommendations.js';

/** WCAG 2.x contrast ratio of a colour on white. */
function contrastOnWhite(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const l = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return 1.05 / (l + 0.05);
}

// Foreground colours of the two hosts' light themes (Teams / Agents Playground host config;
// botframework-webchat 4.18's adaptive cards host config).
const HOSTS: Record<string, Record<string, string>> = {
  msteams: { attention: '#c4314b', accent: '#6264a7', good: '#92c353', warning: '#f8d22a' },
  webchat: { attention: '#D13438', accent: '#0063B1', good: '#0B6A0B', warning: '#B75C00' },
};

const colorsIn = (node: unknown, out: Array<{ color: string; text: unknown }> = []) => {
  if (Array.isArray(node)) node.forEach((n) => colorsIn(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.color === 'string') out.push({ color: o.color.toLowerCase(), text: o.text });
    Object.values(o).forEach((v) => colorsIn(v, out));
  }
  return out;
};

describe('severity colours', () => {
  it.each(Object.entries(HOSTS))('%s: a colour is allowed exactly when it reaches 4.5:1 on white', (host, palette) => {
    for (const [name, hex] of Object.entries(palette)) {
      expect({ name, allowed: READABLE_COLORS[host]!.includes(name) }).toEqual({ name, allowed: contrastOnWhite(hex) >= 4.5 });
    }
    expect(contrastOnWhite(HOSTS.msteams!.warning!)).toBeLessThan(1.5);
  });

  const summary: RecommendationSummary = {
    ...summarizeRecommendations([]),
    recommendations: 2,
    resources: 3,
    distinctResources: 3,
    top: [
      { key: 'k1', displayName: 'Disks should be encrypted', severity: 'Medium', resources: 2 },
      { key: 'k2', displayName: 'MFA for owners', severity: 'High', resources: 1 },
    ],
  };

  it('in Teams the yellow is dropped and the severity stays in words; Web Chat keeps its readable orange', () => {
    const teams = colorsIn(recommendationSummaryCard(recommendationSummaryModel(summary), { channelId: 'msteams' }));
    expect(teams.map((c) => c.color)).not.toContain('warning');
    expect(teams).toContainEqual({ color: 'attention', text: 'High' });
    expect(JSON.stringify(recommendationSummaryCard(recommendationSummaryModel(summary), { channelId: 'msteams' }))).toContain('"text":"Medium"');
    const webchat = colorsIn(recommendationSummaryCard(recommendationSummaryModel(summary), { channelId: 'webchat' }));
    expect(webchat).toContainEqual({ color: 'warning', text: 'Medium' });
    // Never colour alone: every coloured block says it in words.
    for (const c of [...teams, ...webchat]) expect(typeof c.text === 'string' && c.text.trim().length > 0).toBe(true);
  });
});
