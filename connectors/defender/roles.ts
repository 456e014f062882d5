/** Azure RBAC check: does a user hold a role that may manage Defender findings on a subscription? */
import { z } from 'zod';
import { MANAGING_ROLES, roleNameFromDefinitionId } from '../../core/defender-model.js';
import { normaliseScope } from '../../core/scope.js';
import type { AzureHttp } from './http.js';

export const ROLE_ASSIGNMENTS_API_VERSION = '2022-04-01';

const RoleAssignmentList = z.object({
  value: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      properties: z.object({ roleDefinitionId: z.string(), principalId: z.string(), scope: z.string().optional() }).loose(),
    }),
  ),
  nextLink: z.string().nullish(),
});

/** One role assignment that applies to a user: the role's name and the scope it was granted at (lower case). */
export interface RoleGrant {
  role: string;
  scope: string;
}

const ASSIGNMENT_SUFFIX = /\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i;

export { normaliseScope };

/** `properties.scope` is optional in the answer; the assignment id starts with it. */
function scopeOf(a: z.infer<typeof RoleAssignmentList>['value'][number]): string {
  return normaliseScope(a.properties.scope ?? a.id.replace(ASSIGNMENT_SUFFIX, ''));
}

export class RolesClient {
  constructor(private readonly http: AzureHttp) {}

  /**
   * Role assignments of a user (including via groups, transitively) listed at an ARM scope.
   * With `atScopeOnly` ARM returns those at the scope and above it; without, also those below it
   * (child management groups, subscriptions, resource groups), which lets one call per
   * configured scope answer for every subscription under it.
   */
  async grantsAtScope(objectId: string, scope: string, opts: { atScopeOnly?: boolean } = {}): Promise<RoleGrant[]> {
    const oid = objectId.replace(/'/g, '');
    const grants: RoleGrant[] = [];
    // Sent as given (ARM ids are case-insensitive, logs are read by people); "/" is the root.
    const root = scope.trim().replace(/\/+$/, '');
    let path: string | undefined = `${root}/providers/Microsoft.Authorization/roleAssignments`;
    let params: Record<string, string> | undefined = {
      'api-version': ROLE_ASSIGNMENTS_API_VERSION,
      $filter: opts.atScopeOnly ? `atScope() and assignedTo('${oid}')` : `assignedTo('${oid}')`,
    };
    while (path) {
      const page: z.infer<typeof RoleAssignmentList> = await this.http.send({
        service: 'arm',
        method: 'GET',
        path,
        ...(params ? { params } : {}),
        schema: RoleAssignmentList,
      });
      for (const a of page.value) grants.push({ role: roleNameFromDefinitionId(a.properties.roleDefinitionId), scope: scopeOf(a) });
      path = undefined;
      params = undefined;
      if (page.nextLink) {
        const next = new URL(page.nextLink);
        path = next.pathname;
        params = Object.fromEntries(next.searchParams.entries());
      }
    }
    return grants;
  }

  /**
   * Role names the user holds at the subscription or above (management groups), including via
   * groups: `atScope()` drops resource-group-level grants, which do not cover the subscription.
   */
  async userRolesOnSubscription(objectId: string, subscriptionId: string): Promise<string[]> {
    const grants = await this.grantsAtScope(objectId, `/subscriptions/${encodeURIComponent(subscriptionId)}`, { atScopeOnly: true });
    return [...new Set(grants.map((g) => g.role))].sort();
  }

  /** True only if the user may manage every listed subscription (Owner, Contributor or Security Admin). */
  async canManage(objectId: string, subscriptionIds: readonly string[]): Promise<boolean> {
    if (subscriptionIds.length === 0) return false;
    for (const sub of subscriptionIds) {
      const roles = await this.userRolesOnSubscription(objectId, sub);
      if (!roles.some((r) => (MANAGING_ROLES as readonly string[]).includes(r))) return false;
    }
    return true;
  }
}
