/** Azure RBAC check: does a user hold a role that may manage Defender findings on a subscription? */
import { z } from 'zod';
import { MANAGING_ROLES, roleNameFromDefinitionId } from '../../core/defender-model.js';
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

export class RolesClient {
  constructor(private readonly http: AzureHttp) {}

  /**
   * Role names the user holds at the subscription or above (management groups), including via
   * groups: `atScope()` drops resource-group-level grants, which do not cover the subscription.
   */
  async userRolesOnSubscription(objectId: string, subscriptionId: string): Promise<string[]> {
    const names = new Set<string>();
    let path: string | undefined = `/subscriptions/${encodeURIComponent(subscriptionId)}/providers/Microsoft.Authorization/roleAssignments`;
    let params: Record<string, string> | undefined = {
      'api-version': ROLE_ASSIGNMENTS_API_VERSION,
      $filter: `atScope() and assignedTo('${objectId.replace(/'/g, '')}')`,
    };
    while (path) {
      const page: z.infer<typeof RoleAssignmentList> = await this.http.send({
        service: 'arm',
        method: 'GET',
        path,
        ...(params ? { params } : {}),
        schema: RoleAssignmentList,
      });
      for (const a of page.value) names.add(roleNameFromDefinitionId(a.properties.roleDefinitionId));
      path = undefined;
      params = undefined;
      if (page.nextLink) {
        const next = new URL(page.nextLink);
        path = next.pathname;
        params = Object.fromEntries(next.searchParams.entries());
      }
    }
    return [...names].sort();
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
