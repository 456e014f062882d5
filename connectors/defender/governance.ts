/**
 * Governance assignments (api-version 2022-01-01-preview): how the bot records the owner, due
 * date and ServiceNow ticket on the Defender side.
 */
import { z } from 'zod';
import { governancePropertiesSchema, type GovernanceProperties } from '../../core/governance.js';
import type { AzureHttp } from './http.js';

export const GOVERNANCE_API_VERSION = '2022-01-01-preview';

/** The writable properties (the domain's schema: core/governance.ts, where the merge rule lives too). */
export const GovernanceAssignmentPropertiesSchema = governancePropertiesSchema;
export type GovernanceAssignmentProperties = GovernanceProperties;

export interface GovernanceAssignmentBody {
  properties: GovernanceAssignmentProperties;
}

const GovernanceAssignmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  properties: GovernanceAssignmentPropertiesSchema.loose(),
});
export type GovernanceAssignment = z.infer<typeof GovernanceAssignmentSchema>;

/** `INC0010023` → 10023; undefined when there are no digits or the number overflows int32. */
export function ticketNumberFromServiceNow(number: string): number | undefined {
  const digits = /(\d+)\s*$/.exec(number)?.[1];
  if (!digits) return undefined;
  const n = Number(digits);
  return Number.isSafeInteger(n) && n <= 2_147_483_647 ? n : undefined;
}

export function governanceAssignmentPath(resourceId: string, assessmentName: string, assignmentKey: string): string {
  const scope = resourceId.startsWith('/') ? resourceId : `/${resourceId}`;
  return `${scope}/providers/Microsoft.Security/assessments/${encodeURIComponent(assessmentName)}/governanceAssignments/${encodeURIComponent(assignmentKey)}`;
}

export class GovernanceClient {
  constructor(private readonly http: AzureHttp) {}

  /** Validates before sending so a bad body fails here, with our message, not as an ARM 400. */
  async putGovernanceAssignment(
    resourceId: string,
    assessmentName: string,
    assignmentKey: string,
    body: GovernanceAssignmentBody,
  ): Promise<GovernanceAssignment> {
    const properties = GovernanceAssignmentPropertiesSchema.parse(body.properties);
    return this.http.send({
      service: 'arm',
      method: 'PUT',
      path: governanceAssignmentPath(resourceId, assessmentName, assignmentKey),
      params: { 'api-version': GOVERNANCE_API_VERSION },
      data: { properties },
      schema: GovernanceAssignmentSchema,
    });
  }

  getGovernanceAssignment(resourceId: string, assessmentName: string, assignmentKey: string): Promise<GovernanceAssignment | undefined> {
    return this.http.send({
      service: 'arm',
      method: 'GET',
      path: governanceAssignmentPath(resourceId, assessmentName, assignmentKey),
      params: { 'api-version': GOVERNANCE_API_VERSION },
      schema: GovernanceAssignmentSchema,
      emptyOn: [404],
    });
  }

  /** True when an assignment was deleted, false when there was none (204). */
  async deleteGovernanceAssignment(resourceId: string, assessmentName: string, assignmentKey: string): Promise<boolean> {
    const res = await this.http.send({
      service: 'arm',
      method: 'DELETE',
      path: governanceAssignmentPath(resourceId, assessmentName, assignmentKey),
      params: { 'api-version': GOVERNANCE_API_VERSION },
      schema: z.unknown().transform(() => true),
      emptyOn: [204],
    });
    return res === true;
  }
}
