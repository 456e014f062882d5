/**
 * One object for everything the bot asks Azure: Resource Graph, governance assignments, RBAC and
 * Microsoft Graph. The sub-clients are exposed too for callers that want a narrower dependency.
 */
import type { AssessmentsByIdResult, ManagementGroupRef, OnPage, QuerySummary, ResourceGraphOptions, ResourceTags } from './resourceGraph.js';
import { ResourceGraphClient } from './resourceGraph.js';
import { AssessmentsClient, type AssessmentResponse } from './assessments.js';
import { GovernanceClient, type GovernanceAssignment, type GovernanceAssignmentBody } from './governance.js';
import { GovernanceRulesClient, type GovernanceRuleListing } from './governanceRules.js';
import { GraphClient, type GraphUser } from './graph.js';
import { AzureHttp, type AzureHttpOptions } from './http.js';
import { RolesClient } from './roles.js';
import { simulatorCredential } from './credentials.js';
import type { UnhealthyResource } from '../../core/defender-model.js';
import type { KnownRowLookup } from '../../core/rowFingerprints.js';
import type { DefenderPort } from '../../app/ports.js';

export type AzureClientOptions = AzureHttpOptions & ResourceGraphOptions;

/** Implements the application's DefenderPort (app/ports.ts). */
export class AzureClient implements DefenderPort {
  readonly resourceGraph: ResourceGraphClient;
  readonly governance: GovernanceClient;
  readonly roles: RolesClient;
  readonly graph: GraphClient;
  readonly assessments: AssessmentsClient;
  readonly governanceRules: GovernanceRulesClient;

  constructor(opts: AzureClientOptions) {
    const http = new AzureHttp(opts);
    this.resourceGraph = new ResourceGraphClient(http, opts);
    this.governance = new GovernanceClient(http);
    this.roles = new RolesClient(http);
    this.graph = new GraphClient(http);
    this.assessments = new AssessmentsClient(http);
    this.governanceRules = new GovernanceRulesClient(http);
  }

  queryUnhealthyAssessments(scopes: readonly string[], opts: { onPage: OnPage; fingerprints?: KnownRowLookup }): Promise<QuerySummary> {
    return this.resourceGraph.queryUnhealthyAssessments(scopes, opts);
  }
  queryChangedSince(scopes: readonly string[], watermark: Date, opts: { onPage: OnPage }): Promise<QuerySummary> {
    return this.resourceGraph.queryChangedSince(scopes, watermark, opts);
  }
  queryAssessmentsByIds(ids: readonly string[], scopes?: readonly string[]): Promise<UnhealthyResource[]> {
    return this.resourceGraph.queryAssessmentsByIds(ids, scopes);
  }
  readAssessmentsByIds(ids: readonly string[], scopes?: readonly string[]): Promise<AssessmentsByIdResult> {
    return this.resourceGraph.readAssessmentsByIds(ids, scopes);
  }
  getSubscriptionAncestry(subscriptionIds: readonly string[]): Promise<Map<string, ManagementGroupRef[]>> {
    return this.resourceGraph.getSubscriptionAncestry(subscriptionIds);
  }
  getSubscriptionNames(subscriptionIds: readonly string[]): Promise<Map<string, string>> {
    return this.resourceGraph.getSubscriptionNames(subscriptionIds);
  }
  /** Tags of resources (and of their resource groups and subscriptions), for governance rules' owners. */
  getResourceTags(resourceIds: readonly string[], opts?: { inherited?: boolean }): Promise<ResourceTags> {
    return this.resourceGraph.getResourceTags(resourceIds, opts);
  }
  /** Defender's own governance rules at a subscription or management group scope. */
  listGovernanceRules(scope: string): Promise<GovernanceRuleListing> {
    return this.governanceRules.listGovernanceRules(scope);
  }
  getAssessment(resourceId: string, assessmentName: string, expand?: 'links' | 'metadata' | 'links,metadata'): Promise<AssessmentResponse | undefined> {
    return this.assessments.getAssessment(resourceId, assessmentName, expand);
  }
  putGovernanceAssignment(resourceId: string, assessmentName: string, key: string, body: GovernanceAssignmentBody): Promise<GovernanceAssignment> {
    return this.governance.putGovernanceAssignment(resourceId, assessmentName, key, body);
  }
  getGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<GovernanceAssignment | undefined> {
    return this.governance.getGovernanceAssignment(resourceId, assessmentName, key);
  }
  deleteGovernanceAssignment(resourceId: string, assessmentName: string, key: string): Promise<boolean> {
    return this.governance.deleteGovernanceAssignment(resourceId, assessmentName, key);
  }
  userRolesOnSubscription(objectId: string, subscriptionId: string): Promise<string[]> {
    return this.roles.userRolesOnSubscription(objectId, subscriptionId);
  }
  canManage(objectId: string, subscriptionIds: readonly string[]): Promise<boolean> {
    return this.roles.canManage(objectId, subscriptionIds);
  }
  getUser(upnOrId: string): Promise<GraphUser | undefined> {
    return this.graph.getUser(upnOrId);
  }
  getManager(upnOrId: string): Promise<GraphUser | undefined> {
    return this.graph.getManager(upnOrId);
  }
}

export function createAzureClient(opts: AzureClientOptions): AzureClient {
  return new AzureClient(opts);
}

/** An endpoint serving ARM, Resource Graph and Graph at one URL, with a client-credentials token endpoint over plain http (the sandbox's simulator). */
export interface LocalAzureEndpoint {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** The client for a LocalAzureEndpoint: MSAL refuses non-https authorities, so it signs in with simulatorCredential. */
export function localAzureClient(endpoint: LocalAzureEndpoint, opts: Pick<AzureClientOptions, 'logger' | 'clock' | 'sleep'> = {}): AzureClient {
  return new AzureClient({
    credential: simulatorCredential(endpoint.url, endpoint.tenantId, endpoint.clientId, endpoint.clientSecret, { clock: opts.clock }),
    armBaseUrl: endpoint.url,
    graphBaseUrl: endpoint.url,
    ...opts,
  });
}

export { AzureApiError } from './http.js';
export type { RetryOptions } from './http.js';
export { createAzureCredential, simulatorCredential } from './credentials.js';
export type { AssessmentsByIdResult, OnPage, PageInfo, QuerySummary, ManagementGroupRef, ResourceTags } from './resourceGraph.js';
export type { GovernanceRuleListing } from './governanceRules.js';
export { IncompleteResultError } from './resourceGraph.js';
export type { GovernanceAssignment, GovernanceAssignmentBody, GovernanceAssignmentProperties } from './governance.js';
export { ticketNumberFromServiceNow } from './governance.js';
export type { GraphUser } from './graph.js';
