import type { Severity, SubscriptionFilters } from './model.js';

const SEVERITIES: Severity[] = ['High', 'Medium', 'Low'];
const SCOPE_RE =
  /^\/(subscriptions\/[0-9a-f-]{36}|providers\/Microsoft\.Management\/managementGroups\/[\w.()-]{1,90}|subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Security\/securityConnectors\/[^/]+)$/i;

export type FilterParse = { ok: true; filters: SubscriptionFilters } | { ok: false; problems: string[] };

/**
 * Parses `severity=High,Medium scope=/subscriptions/…` as typed after `subscribe`. Unknown keys
 * and values are errors, not silently ignored: a typo would otherwise subscribe to everything.
 */
export function parseSubscriptionFilters(args: string): FilterParse {
  const filters: SubscriptionFilters = { severities: [], scopes: [] };
  const problems: string[] = [];
  for (const token of args.split(/\s+/).filter(Boolean)) {
    const eq = token.indexOf('=');
    if (eq < 0) {
      problems.push(`"${token}" is not a filter; use severity=High,Medium or scope=/subscriptions/<id>`);
      continue;
    }
    const key = token.slice(0, eq).toLowerCase();
    const values = token
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (key === 'severity') {
      for (const v of values) {
        const match = SEVERITIES.find((s) => s.toLowerCase() === v.toLowerCase());
        if (match) {
          if (!filters.severities.includes(match)) filters.severities.push(match);
        } else problems.push(`severity "${v}" is not one of High, Medium, Low`);
      }
    } else if (key === 'scope') {
      for (const v of values) {
        if (SCOPE_RE.test(v)) filters.scopes.push(v);
        else problems.push(`scope "${v}" is not a subscription, management group or security connector id`);
      }
    } else problems.push(`unknown filter "${key}"; use severity= or scope=`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, filters };
}

export function describeFilters(filters: SubscriptionFilters): string {
  const parts: string[] = [];
  if (filters.severities.length) parts.push(`severity ${filters.severities.join(', ')}`);
  if (filters.scopes.length) parts.push(`scope ${filters.scopes.join(', ')}`);
  return parts.length ? parts.join('; ') : 'all recommendations';
}
