/** Microsoft Graph user look-ups (owner display names, the owner's manager for escalations). */
import { z } from 'zod';
import type { AzureHttp } from './http.js';

const GraphUserSchema = z
  .object({
    id: z.string(),
    userPrincipalName: z.string(),
    displayName: z.string().nullish(),
    mail: z.string().nullish(),
    jobTitle: z.string().nullish(),
  })
  .loose();

export interface GraphUser {
  id: string;
  userPrincipalName: string;
  displayName?: string;
  mail?: string;
  jobTitle?: string;
}

function toUser(u: z.infer<typeof GraphUserSchema>): GraphUser {
  return {
    id: u.id,
    userPrincipalName: u.userPrincipalName,
    ...(u.displayName ? { displayName: u.displayName } : {}),
    ...(u.mail ? { mail: u.mail } : {}),
    ...(u.jobTitle ? { jobTitle: u.jobTitle } : {}),
  };
}

export class GraphClient {
  constructor(private readonly http: AzureHttp) {}

  /** UPN or object id; undefined when the user does not exist. */
  async getUser(upnOrId: string): Promise<GraphUser | undefined> {
    const u = await this.http.send({
      service: 'graph',
      method: 'GET',
      path: `/v1.0/users/${encodeURIComponent(upnOrId)}`,
      schema: GraphUserSchema,
      emptyOn: [404],
    });
    return u ? toUser(u) : undefined;
  }

  /** undefined when the user has no manager (Graph answers 404) or does not exist. */
  async getManager(upnOrId: string): Promise<GraphUser | undefined> {
    const u = await this.http.send({
      service: 'graph',
      method: 'GET',
      path: `/v1.0/users/${encodeURIComponent(upnOrId)}/manager`,
      schema: GraphUserSchema,
      emptyOn: [404],
    });
    return u ? toUser(u) : undefined;
  }
}
