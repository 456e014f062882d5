/**
 * Scope rules for ServiceNow integrations: an integration is scoped to a management group, a
 * subscription or a multicloud security connector, and covers the resources below it.
 */
export type ScopeKind = 'managementGroup' | 'subscription' | 'connector';

export interface ParsedScope {
  kind: ScopeKind;
  /** Normalised id: MG name, subscription GUID (lower case) or connector resource id (lower case). */
  id: string;
}

const MG = /^\/providers\/Microsoft\.Management\/managementGroups\/([\w.()-]{1,90})\/?$/i;
const SUB = /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i;
const CONNECTOR = /^(\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.Security\/securityConnectors\/[^/]+)\/?$/i;
const CONNECTOR_PREFIX = /^(\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.Security\/securityConnectors\/[^/]+)(\/|$)/i;

export function parseScope(scope: string): ParsedScope | undefined {
  const s = scope.trim();
  let m = MG.exec(s);
  if (m) return { kind: 'managementGroup', id: m[1].toLowerCase() };
  m = SUB.exec(s);
  if (m) return { kind: 'subscription', id: m[1].toLowerCase() };
  m = CONNECTOR.exec(s);
  if (m) return { kind: 'connector', id: m[1].toLowerCase() };
  return undefined;
}

export const SCOPE_FORMS = [
  '/providers/Microsoft.Management/managementGroups/{name}',
  '/subscriptions/{subscription id}',
  '/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.Security/securityConnectors/{name}',
];

/** Where a resource sits: its subscription, the management groups above it (nearest first), its connector. */
export interface ResourceLocation {
  resourceId: string;
  subscriptionId?: string;
  managementGroups: string[];
}

/** AWS/GCP resources live under their security connector's resource id. */
export function connectorOf(resourceId: string): string | undefined {
  const m = CONNECTOR_PREFIX.exec(resourceId);
  return m ? m[1].toLowerCase() : undefined;
}

/**
 * How far a scope is from a resource: 0 for its connector, 1 for its subscription, 2 + depth for
 * a management group (its direct parent is 2). undefined when the scope does not cover it.
 */
export function scopeDistance(scope: string, location: ResourceLocation): number | undefined {
  const parsed = parseScope(scope);
  if (!parsed) return undefined;
  switch (parsed.kind) {
    case 'connector':
      return connectorOf(location.resourceId) === parsed.id ? 0 : undefined;
    case 'subscription':
      return location.subscriptionId?.toLowerCase() === parsed.id ? 1 : undefined;
    case 'managementGroup': {
      const i = location.managementGroups.findIndex((g) => g.toLowerCase() === parsed.id);
      return i < 0 ? undefined : 2 + i;
    }
  }
}

/**
 * The items (integrations) whose scope covers every given resource, nearest scope first. An
 * integration's distance for a selection is its distance to the farthest resource in it.
 */
export function coveringAll<T extends { scope: string; name: string }>(items: T[], locations: ResourceLocation[]): T[] {
  if (locations.length === 0) return [];
  const ranked: { item: T; distance: number }[] = [];
  for (const item of items) {
    let worst = -1;
    for (const loc of locations) {
      const d = scopeDistance(item.scope, loc);
      if (d === undefined) {
        worst = -1;
        break;
      }
      worst = Math.max(worst, d);
    }
    if (worst >= 0) ranked.push({ item, distance: worst });
  }
  return ranked.sort((a, b) => a.distance - b.distance || a.item.name.localeCompare(b.item.name)).map((r) => r.item);
}

/** ARM scopes compare case-insensitively; the root scope is "/" and nothing else ends with a slash. */
export function normaliseScope(scope: string): string {
  const s = scope.trim().toLowerCase();
  return s === '' || s === '/' ? '/' : s.replace(/\/+$/, '');
}
