import { errorCard, helpCard, noticeCard, welcomeCard, welcomeHints } from '../../cards/index.js';
import { assignmentFormCard, assignmentListCard, assignmentResultCard, confirmCard } from '../../cards/assignmentCards.js';
import { channelDigestCard, channelDigestModel } from '../../cards/channelDigestCards.js';
import type { RecommendationSummary } from '../../core/recommendations.js';
import { recommendationCard, recommendationCardModel, recommendationSummaryCard, recommendationSummaryModel } from '../../cards/recommendationCards.js';
import { graceEndedCard, managerDigestCard, moreTimeFormCard, nudgeCard, ownerDigestCard } from '../../cards/reminderCards.js';
import type { AdaptiveCard } from '../../cards/render.js';
import { integrationFormCard, integrationListCard } from '../../cards/integrationCards.js';
import { dueDateRequestCard } from '../../cards/dueDateCards.js';
import { ruleFormCard } from '../../cards/ruleCards.js';
import { integrationListModel } from '../../bot/actions/integrations.js';
import type { Recommendation } from '../../core/model.js';

/**
 * One realistic sample per card template in cards/, keyed by the template's file name. The
 * browser test fails when a template has no sample here, so new cards get looked at too.
 */

const ctx = { channelId: 'msteams' };
const SUB = '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const KEY = '1195afff-c881-495e-9bc5-1486211ae03f';
const rid = (name: string) => `/subscriptions/${SUB}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/${name}`;
const ticket = 'https://contoso.service-now.com/incident.do?sys_id=4f1a';
const defender = `https://portal.azure.com/#view/Microsoft_Azure_Security/GenericRecommendationDetailsBlade/assessmentKey/${KEY}`;

const rec: Recommendation = {
  key: KEY,
  displayName: 'Machines should have vulnerability findings resolved',
  severity: 'High',
  description: 'Vulnerability assessment found security issues on your machines. Remediate them to reduce the attack surface.',
  remediation: '1. Open the recommendation. 2. Review the findings. 3. Patch the affected packages.',
  portalLink: defender,
  resources: ['vm-web-01', 'vm-web-02', 'vm-sql-01'].map((name) => ({
    resourceId: rid(name),
    assessmentId: `${rid(name)}/providers/Microsoft.Security/assessments/${KEY}`,
    name,
    type: 'Microsoft.Compute/virtualMachines',
    subscriptionId: SUB,
    resourceGroup: 'rg-prod',
  })),
  contentHash: 'h',
  status: 'unhealthy',
  firstSeenAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-26T00:00:00.000Z',
};

const SUMMARY: RecommendationSummary = {
  recommendations: 12,
  resources: 48,
  distinctResources: 21,
  bySeverity: [
    { severity: 'High', recommendations: 3, resources: 20, distinctResources: 12 },
    { severity: 'Medium', recommendations: 6, resources: 22, distinctResources: 15 },
    { severity: 'Low', recommendations: 3, resources: 6, distinctResources: 6 },
  ],
  bySubscription: [{ subscriptionId: SUB, recommendations: 9, resources: 40, distinctResources: 18 }],
  top: [
    { key: KEY, displayName: rec.displayName, severity: 'High', resources: 20 },
    { key: 'k2', displayName: 'Storage accounts should restrict network access using virtual network rules', severity: 'Medium', resources: 12 },
    { key: 'k3', displayName: 'Diagnostic logs in Key Vault should be enabled', severity: 'Low', resources: 4 },
  ],
};

export const CARD_SAMPLES: Record<string, () => AdaptiveCard> = {
  'help.json': () =>
    helpCard(
      {
        commands: [
          { name: 'help', usage: 'help', description: 'Show this list of commands.' },
          { name: 'subscribe', usage: 'subscribe [severity=High]', description: 'Post recommendations here.' },
        ],
        sandbox: true,
      },
      ctx,
    ),
  'welcome.json': () =>
    welcomeCard(
      {
        where: 'this channel',
        posts: ['New High and Medium recommendations', 'Ticket updates'],
        sandbox: false,
        ...welcomeHints('channel', 'Defender Remediation'),
      },
      ctx,
    ),
  'error.json': () =>
    errorCard(
      { title: 'Could not create the ticket', message: 'ServiceNow refused the request.', details: ['assignment_group: unknown group'], reference: 'abcd1234' },
      ctx,
    ),
  'notice.json': () =>
    noticeCard({ title: 'Subscribed', text: 'Recommendations will be posted here.', facts: [{ title: 'Severities', value: 'High, Medium' }] }, ctx),
  'recommendation.json': () =>
    recommendationCard(
      recommendationCardModel(rec, {
        assignments: [{ resourceId: rid('vm-web-01'), ticketNumber: 'INC0010023', ticketLink: ticket, owner: 'alex@contoso.com', dueDate: '2026-12-10' }],
      }),
      ctx,
    ),
  'channelDigest.json': () => channelDigestCard(channelDigestModel(SUMMARY, { subscriptionName: () => 'Contoso Production', botName: 'Defender bot' }), ctx),
  'recommendationSummary.json': () => recommendationSummaryCard(recommendationSummaryModel(SUMMARY, { subscriptionName: () => 'Contoso Production' }), ctx),
  'assignmentForm.json': () =>
    assignmentFormCard(
      {
        recommendationKey: KEY,
        recommendationName: rec.displayName,
        severity: 'High',
        resourceSummary: '2 resources: vm-web-01, vm-web-02',
        resourceIdsCsv: `${rid('vm-web-01')},${rid('vm-web-02')}`,
        ticketWord: 'incident',
        integrations: [{ title: 'Contoso ServiceNow (production)', value: 'int-1' }],
        customized: true,
        minDate: '2026-11-27',
        maxDate: '2027-11-26',
        errors: { assignedTo: 'Assigned to: no ServiceNow user matches alex@contoso.com', dueDate: 'Remediation due date: pick a date after today' },
        values: {
          integrationId: 'int-1',
          ticketType: 'incident',
          assignedTo: 'alex@contoso.com',
          caller: 'lead@contoso.com',
          shortDescription: 'Resolve vulnerability findings',
          description: 'See Defender for Cloud.',
          dueDate: '2026-12-10',
          grouping: 'perResource',
          gracePeriod: 'true',
          notifyOwner: 'true',
          notifyManager: 'false',
          assignmentGroup: 'Cloud Ops',
          impact: '2',
          urgency: '2',
        },
      },
      ctx,
    ),
  'assignmentResult.json': () =>
    assignmentResultCard(
      {
        title: 'Assignment created: 1 ticket, 1 failed',
        color: 'Warning',
        recommendationKey: KEY,
        recommendationName: rec.displayName,
        batchId: 'batch-1',
        failed: 1,
        items: [
          { resourceName: 'vm-web-01', ticketNumber: 'INC0010023', ticketLink: ticket, owner: 'alex@contoso.com', dueDate: '2026-12-10', note: '', error: '' },
          {
            resourceName: 'vm-web-02',
            ticketNumber: '',
            ticketLink: '',
            owner: 'alex@contoso.com',
            dueDate: '2026-12-10',
            note: '',
            error: 'ServiceNow timed out; retry.',
          },
        ],
      },
      ctx,
    ),
  'assignmentList.json': () =>
    assignmentListCard(
      {
        title: 'Open assignments',
        summary: '2 open, 1 overdue',
        more: 0,
        rows: [
          {
            recommendation: rec.displayName,
            resource: 'vm-web-01',
            severity: 'High',
            owner: 'alex@contoso.com',
            dueDate: '2026-11-20',
            dueText: '6 days overdue',
            grace: 'Grace period',
            status: 'Open',
            color: 'Attention',
            ticketNumber: 'INC0010023',
            ticketLink: ticket,
          },
          {
            recommendation: 'Storage accounts should restrict network access',
            resource: 'stcontoso01',
            severity: 'Medium',
            owner: 'bea@contoso.com',
            dueDate: '2026-12-10',
            dueText: 'in 14 days',
            grace: '',
            status: 'Open',
            color: 'Default',
            ticketNumber: 'INC0010024',
            ticketLink: ticket,
          },
        ],
      },
      ctx,
    ),
  'confirm.json': () =>
    confirmCard(
      {
        title: 'Cancel the assignment?',
        text: 'The ServiceNow ticket INC0010023 will be closed.',
        confirmTitle: 'Cancel assignment',
        confirmVerb: 'cancelAssignment',
        confirmData: { assignmentId: 'a1' },
        cancelVerb: 'refreshRecommendation',
        cancelData: { recommendationKey: KEY, page: 1 },
      },
      ctx,
    ),
  'digest.json': () =>
    ownerDigestCard(
      {
        greeting: 'Good morning Alex',
        headline: '3 open, 1 overdue',
        intro: 'These security fixes are assigned to you.',
        needsOwner: [
          {
            title: 'Findings that need an owner (rule Storage by tag): 7',
            text: 'You are the fallback contact of this rule, and no owner could be found for these: give the resource an owner tag, or assign them from the recommendation card.',
            lines: [
              '- stprodlogs01 (Secure transfer to storage accounts should be enabled): no owner tag on the resource, its group or subscription',
              '- …and 6 more: type **rules** to see them.',
            ],
          },
        ],
        groups: [
          {
            title: 'Overdue',
            color: 'Attention',
            items: [
              {
                assignmentId: 'a1',
                title: rec.displayName,
                resource: 'vm-web-01',
                severity: 'High',
                dueText: '2026-11-20 · 6 days overdue',
                grace: '',
                ticketText: 'INC0010023',
                ticketLink: ticket,
                defenderLink: defender,
                etaText: '2026-12-20 (waiting for a security admin)',
              },
            ],
          },
          {
            title: 'Due this week',
            color: 'Warning',
            items: [
              {
                assignmentId: 'a2',
                title: 'Storage accounts should restrict network access',
                resource: 'stcontoso01',
                severity: 'Medium',
                dueText: '2026-11-30 · 4 days left',
                grace: 'Grace period',
                ticketText: 'not created yet',
                ticketLink: '',
                defenderLink: defender,
                etaText: '',
              },
            ],
          },
        ],
        moreText: '',
        footer: 'Sent every Monday. Type digest to see it any time.',
      },
      ctx,
    ),
  'nudge.json': () =>
    nudgeCard(
      {
        headline: '1 assignment is due tomorrow',
        items: [
          {
            assignmentId: 'a2',
            title: 'Storage accounts should restrict network access',
            detail: 'Due 2026-11-27 · tomorrow · stcontoso01 · Medium · INC0010024 · in grace period',
            ticketLink: ticket,
            defenderLink: defender,
          },
        ],
      },
      ctx,
    ),
  'managerDigest.json': () =>
    managerDigestCard(
      {
        greeting: 'Hello Dana',
        headline: '2 of your reports have overdue security fixes',
        intro: 'Weekly summary.',
        reports: [{ title: 'Alex (alex@contoso.com): 1 overdue', lines: ['vm-web-01 · INC0010023 · 6 days overdue'] }],
        footer: 'You get this because notify manager was set.',
      },
      ctx,
    ),
  'graceEnded.json': () =>
    graceEndedCard({ headline: 'Grace period ended', text: 'These assignments are now overdue:', lines: ['vm-web-01 · alex@contoso.com · INC0010023'] }, ctx),
  'moreTime.json': () =>
    moreTimeFormCard(
      {
        assignmentId: 'a1',
        title: rec.displayName,
        resource: 'vm-web-01',
        dueText: 'Due 2026-11-20 (6 days overdue)',
        etaText: '',
        minDate: '2026-11-27',
        maxDate: '2027-11-26',
        suggestedDate: '2026-12-10',
      },
      ctx,
    ),
  'dueDateRequest.json': () =>
    dueDateRequestCard(
      {
        assignmentId: 'a1',
        headline: `**alex@contoso.com** asks for more time on **${rec.displayName}** / vm-web-01 ([INC0010023](${ticket})): new date **2026-12-18**, reason: waiting for the vendor patch window on 15 December`,
        owner: 'alex@contoso.com',
        recommendation: rec.displayName,
        resource: 'vm-web-01',
        ticketText: 'INC0010023',
        dueText: '2026-12-04 · in 8 days',
        eta: '2026-12-18',
        minDate: '2026-11-27',
        maxDate: '2027-11-26',
        adminNote:
          'For security admins: approving, declining or changing the due date needs the Owner, Contributor or Security Admin role on the subscription.',
      },
      ctx,
    ),
  'integrationList.json': () =>
    integrationListCard(
      integrationListModel(
        [
          {
            id: 'a',
            name: 'Contoso ITSM',
            scope: '/providers/Microsoft.Management/managementGroups/mg-contoso',
            instanceUrl: 'https://contoso.service-now.com',
            username: 'svc',
            clientId: 'c',
            fieldMode: 'default',
            customFields: {},
            lastSuccessAt: '2026-11-26T09:00:00.000Z',
            createdAt: '2026-11-01T00:00:00.000Z',
            createdBy: 'alice',
          },
          {
            id: 'b',
            name: 'Fabrikam Prod',
            scope: `/subscriptions/${SUB}`,
            instanceUrl: 'https://fabrikam.service-now.com',
            username: 'svc',
            clientId: 'c',
            fieldMode: 'customized',
            customFields: { incident: ['impact', 'urgency'], problem: [], change_request: ['assignment_group'] },
            lastSuccessAt: '2026-11-26T09:00:00.000Z',
            lastError: { at: '2026-11-26T09:05:00.000Z', message: 'HTTP 500 from ServiceNow' },
            createdAt: '2026-11-01T00:00:00.000Z',
            createdBy: 'alice',
          },
        ],
        { text: '⚠ Test of **Fabrikam Prod** failed: HTTP 500 from ServiceNow', style: 'attention' },
      ),
      ctx,
    ),
  'ruleForm.json': () =>
    ruleFormCard(
      {
        ruleId: 'r1',
        values: {
          ruleName: 'Production storage by owner tag',
          integrationId: 'i1',
          priority: '10',
          maxTicketsPerSync: '',
          scopeType: 'subscription',
          scopeId: SUB,
          severities: 'High,Medium',
          recommendations: KEY,
          tagName: 'environment',
          tagValue: 'production',
          resourceGroup: 'rg-prod',
          ownerSource: 'tag',
          ownerTags: 'owner, SecurityOwner',
          ownerEmail: '',
          fallbackOwner: 'secops@contoso',
          ticketType: 'incident',
          dueInDays: '14',
          gracePeriod: 'true',
          enabled: 'false',
        },
        errors: { fallbackOwner: 'Fallback contact: enter an e-mail address such as name@contoso.com' },
        problems: [],
        integrations: [{ title: 'Contoso ServiceNow', value: 'i1' }],
        recommendationChoices: [
          { title: `${rec.displayName} (High)`, value: KEY },
          { title: 'Storage accounts should restrict network access using virtual network rules (Medium)', value: 'k2' },
        ],
        capPlaceholder: 'default 50',
        preview: {
          headline: 'Now it would assign 12 finding(s) in 12 ticket(s); 3 need an owner; 0 already assigned.',
          lines: [
            `High · ${rec.displayName}: 12`,
            '→ bob.martinez@contoso.com: 9',
            'needs an owner: vm-sql-01: no owner tag on the resource, its group or subscription',
          ],
        },
      },
      ctx,
    ),
  'integrationForm.json': () =>
    integrationFormCard(
      {
        problems: ['ServiceNow refused the connection: access_denied'],
        errors: {
          name: '',
          scope: 'Scope: must be one of …',
          instanceUrl: '',
          username: '',
          password: '',
          clientId: '',
          clientSecret: '',
          fieldMode: '',
          customFields: '',
        },
        retypeSecrets: true,
        scopePlaceholder: '/providers/Microsoft.Management/managementGroups/{name}',
        scopeForms: ['• /subscriptions/{subscription id}'],
        knownScopes: [{ title: 'Management group: Contoso (mg-contoso)', value: '/providers/Microsoft.Management/managementGroups/mg-contoso' }],
        values: {
          name: 'Fabrikam',
          scope: '',
          knownScope: '',
          instanceUrl: 'https://fabrikam.service-now.com',
          username: 'svc',
          clientId: 'cid',
          fieldMode: 'customized',
          customIncident: 'impact',
          customProblem: '',
          customChange: 'assignment_group,impact,urgency',
        },
      },
      ctx,
    ),
};
