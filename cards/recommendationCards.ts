import type { RecommendationSummary } from '../core/recommendations.js';
import { pageOf, RESOURCES_PER_PAGE } from '../core/recommendations.js';
import type { Recommendation, Severity } from '../core/model.js';
import recommendationTemplate from './recommendation.json';
import recommendationSummaryTemplate from './recommendationSummary.json';
import { defineCard, type AdaptiveCard, type RenderContext } from './render.js';

export type SeverityColor = 'Attention' | 'Warning' | 'Accent';

/** Adaptive Card colour per severity; Low is Accent because Good (green) means "resolved". */
export function severityColor(severity: Severity): SeverityColor {
  return severity === 'High' ? 'Attention' : severity === 'Medium' ? 'Warning' : 'Accent';
}

/** A ticket linked to a resource, shown on the card (filled by the assignment flow). */
export interface CardAssignment {
  resourceId: string;
  ticketNumber: string;
  ticketLink: string;
  owner: string;
  /** YYYY-MM-DD */
  dueDate: string;
  /** " · overdue…" / " · in grace period…", empty when nothing to say. */
  state?: string;
  /** " · by rule NAME" for an assignment a governance rule made, else empty. */
  byRule?: string;
}

export interface RecommendationCardModel {
  key: string;
  displayName: string;
  severity: Severity;
  severityColor: SeverityColor;
  /** e.g. "12 unhealthy resources" or "Resolved 2025-06-01". */
  statusText: string;
  resolved: boolean;
  description: string;
  remediation: string;
  portalLink: string;
  resourcesLabel: string;
  /** The resources of the current page only. */
  resources: Array<{ resourceId: string; title: string }>;
  /** Tickets of resources on the current page. */
  assignments: Array<CardAssignment & { resourceName: string }>;
  page: number;
  pages: number;
  total: number;
}

/** The `recommendations` summary; every count is a string, as TextBlocks and facts need. */
export interface RecommendationSummaryModel {
  headline: string;
  /** What the counts count (findings are resource × recommendation pairs). */
  countsNote: string;
  empty: boolean;
  bySeverity: Array<{ severity: string; text: string }>;
  bySubscription: Array<{ subscription: string; text: string }>;
  /** Most severe first; the severity in words, its colour only where the host shows it readably. */
  top: Array<{ displayName: string; severityText: string; severityColor: SeverityColor; resources: string }>;
}

export const recommendationCard = defineCard<RecommendationCardModel>(recommendationTemplate);
export const recommendationSummaryCard = defineCard<RecommendationSummaryModel>(recommendationSummaryTemplate);

export interface RecommendationModelOptions {
  page?: number;
  pageSize?: number;
  assignments?: readonly CardAssignment[];
  /** Subscription display name by id (any casing); the id is shown when unknown. */
  subscriptionName?: (subscriptionId: string) => string | undefined;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "Microsoft.Compute/virtualMachines" reads as "Compute/virtualMachines" in a narrow card. */
function shortType(type: string): string {
  return type.replace(/^Microsoft\./i, '');
}

export function recommendationCardModel(rec: Recommendation, opts: RecommendationModelOptions = {}): RecommendationCardModel {
  const resolved = rec.status === 'resolved' || rec.resources.length === 0;
  const p = pageOf(resolved ? [] : rec.resources, opts.page ?? 1, opts.pageSize ?? RESOURCES_PER_PAGE);
  const byResource = new Map<string, CardAssignment>();
  for (const a of opts.assignments ?? []) byResource.set(a.resourceId.toLowerCase(), a);
  const assignments: RecommendationCardModel['assignments'] = [];
  const resources = p.items.map((r) => {
    const sub = opts.subscriptionName?.(r.subscriptionId) ?? r.subscriptionId;
    const parts = [r.name, shortType(r.type), sub, ...(r.resourceGroup ? [r.resourceGroup] : [])];
    const a = byResource.get(r.resourceId.toLowerCase());
    if (a) assignments.push({ ...a, resourceName: r.name });
    return { resourceId: r.resourceId, title: `${parts.join(' · ')}${a ? ` · ticket ${a.ticketNumber}` : ''}` };
  });
  return {
    key: rec.key,
    displayName: rec.displayName,
    severity: rec.severity,
    severityColor: severityColor(rec.severity),
    statusText: resolved ? `Resolved ${rec.updatedAt.slice(0, 10)}` : plural(rec.resources.length, 'unhealthy resource'),
    resolved,
    // Teams' markdown does not always break on a single newline; a blank line always does.
    description: paragraphs(rec.description),
    remediation: paragraphs(rec.remediation),
    portalLink: rec.portalLink ?? '',
    resourcesLabel:
      p.pages > 1
        ? `Unhealthy resources ${(p.page - 1) * (opts.pageSize ?? RESOURCES_PER_PAGE) + 1}–${(p.page - 1) * (opts.pageSize ?? RESOURCES_PER_PAGE) + p.items.length} of ${p.total}`
        : 'Unhealthy resources',
    resources,
    assignments,
    page: p.page,
    pages: p.pages,
    total: p.total,
  };
}

export function recommendationSummaryModel(
  summary: RecommendationSummary,
  opts: { filtersText?: string; subscriptionName?: (subscriptionId: string) => string | undefined } = {},
): RecommendationSummaryModel {
  const scope = opts.filtersText ? ` (${opts.filtersText})` : '';
  const counts = (c: { recommendations: number; resources: number; distinctResources: number }) =>
    `${plural(c.recommendations, 'recommendation')} · ${plural(c.resources, 'finding')} on ${plural(c.distinctResources, 'resource')}`;
  return {
    headline: `${plural(summary.recommendations, 'recommendation')} with ${plural(summary.resources, 'unhealthy finding')} on ${plural(summary.distinctResources, 'distinct resource')}${scope}`,
    countsNote: 'A finding is one unhealthy resource of one recommendation: a resource failing three recommendations is three findings and one resource.',
    empty: summary.recommendations === 0,
    bySeverity: summary.bySeverity.map((s) => ({ severity: s.severity, text: counts(s) })),
    bySubscription: summary.bySubscription.map((s) => ({
      subscription: opts.subscriptionName?.(s.subscriptionId) ?? s.subscriptionId,
      text: counts(s),
    })),
    top: summary.top.map((t) => ({
      displayName: t.displayName,
      // In words: the colour is dropped where the host cannot show it readably (cards/render.ts).
      severityText: t.severity,
      severityColor: severityColor(t.severity),
      resources: plural(t.resources, 'resource'),
    })),
  };
}

/** Model + render in one step, for the sync job and the refresh action. */
export function renderRecommendation(rec: Recommendation, ctx: RenderContext, opts: RecommendationModelOptions = {}): AdaptiveCard {
  return recommendationCard(recommendationCardModel(rec, opts), ctx);
}

function paragraphs(text: string): string {
  return text.replace(/\n+/g, '\n\n');
}
