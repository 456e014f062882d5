/** Single-assessment REST reads (api-version 2021-06-01), e.g. to refresh one finding in a card. */
import { z } from 'zod';
import type { AzureHttp } from './http.js';

export const ASSESSMENTS_API_VERSION = '2021-06-01';

const AssessmentResponseSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  properties: z
    .object({
      resourceDetails: z.object({ source: z.string() }).loose(),
      displayName: z.string().optional(),
      status: z.object({
        code: z.enum(['Healthy', 'Unhealthy', 'NotApplicable']),
        cause: z.string().optional(),
        description: z.string().optional(),
        firstEvaluationDate: z.string().optional(),
        statusChangeDate: z.string().optional(),
      }),
      links: z.object({ azurePortalUri: z.string().optional() }).optional(),
      metadata: z
        .object({
          displayName: z.string(),
          severity: z.enum(['Low', 'Medium', 'High']),
          description: z.string().optional(),
          remediationDescription: z.string().optional(),
        })
        .loose()
        .optional(),
    })
    .loose(),
});
export type AssessmentResponse = z.infer<typeof AssessmentResponseSchema>;

export class AssessmentsClient {
  constructor(private readonly http: AzureHttp) {}

  getAssessment(resourceId: string, assessmentName: string, expand?: 'links' | 'metadata' | 'links,metadata'): Promise<AssessmentResponse | undefined> {
    return this.http.send({
      service: 'arm',
      method: 'GET',
      path: `${resourceId}/providers/Microsoft.Security/assessments/${encodeURIComponent(assessmentName)}`,
      params: { 'api-version': ASSESSMENTS_API_VERSION, ...(expand ? { $expand: expand } : {}) },
      schema: AssessmentResponseSchema,
      emptyOn: [404],
    });
  }
}
