/**
 * Governance assignments (api-version 2022-01-01-preview): how the bot records the owner, due
 * date and ServiceNow ticket on the Defender side.
 */
import { z } from 'zod';
import type { AzureHttp } from './http.js';

export const GOVERNANCE_API_VERSION = '2022-01-01-preview';

const DateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date-time');

export const GovernanceAssignmentPropertiesSchema = z.object({
  owner: z.string().optional(),
  remediationDueDate: DateTime,
  remediationEta: z.object({ eta: DateTime, justification: z.string() }).optional(),
  isGracePeriod: z.boolean().optional(),
  governanceEmailNotification: z
    .object({ disableManagerEmailNotification: z.boolean().optional(), disableOwnerEmailNotification: z.boolean().optional() })
    .optional(),
  additionalData: z
    .object({
      // int32 >= 0 in the spec: a ServiceNow number such as INC0010023 must be reduced to its digits.
      ticketNumber: z.number().int().min(0).max(2_147_483_647).optional(),
      ticketLink: z.string().optional(),
      ticketStatus: z.string().optional(),
    })
    .optional(),
});
export type GovernanceAssignmentProperties = z.infer<typeof GovernanceAssignmentPropertiesSchema>;

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
