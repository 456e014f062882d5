import { governanceRuleScope, importDefenderRule, remediationDays, type DefenderGovernanceRule, type ImportOptions } from '../../core/defenderRules.js';
import { ruleSchema } from '../../core/model.js';
import { SPEC, validateDefinition, validateOperationRequest, validateOperationResponse } from '../defender/openapi.js';
import {
  BY_TAG_RULE,
  LIST_BY_MANAGEMENT_GROUP,
  LIST_BY_SUBSCRIPTION,
  PUT_MANAGEMENT_GROUP_REQUEST,
  SECURITY_CONNECTOR_RULE,
} from '../defender/governanceRuleExamples.js';

const NOW = new Date('2026-11-30T09:00:00Z');
const OPTS: ImportOptions = { id: 'bot-rule-1', integrationId: 'int-1', actor: { id: 'alice', upn: 'alice@contoso.com' }, now: NOW };
const SUB_LIST = '/subscriptions/{subscriptionId}/providers/Microsoft.Security/governanceRules';
const MG_LIST = '/providers/Microsoft.Management/managementGroups/{managementGroupId}/providers/Microsoft.Security/governanceRules';
const MG_PUT = '/providers/Microsoft.Management/managementGroups/{managementGroupId}/providers/Microsoft.Security/governanceRules/{ruleId}';

const [subKeys, subLow] = LIST_BY_SUBSCRIPTION.value as DefenderGovernanceRule[];
const [mgKeys, mgLow] = LIST_BY_MANAGEMENT_GROUP.value as DefenderGovernanceRule[];
const byTag = BY_TAG_RULE as DefenderGovernanceRule;

function withProps(rule: DefenderGovernanceRule, over: Record<string, unknown>): DefenderGovernanceRule {
  return { ...rule, properties: { ...rule.properties, ...over } };
}

describe('the example bodies are the official ones (checked against governanceRules.json)', () => {
  it('list responses at both scopes, the PUT request, and our ByTag body', () => {
    expect(validateOperationResponse(SPEC.governanceRules, SUB_LIST, 'get', '200', LIST_BY_SUBSCRIPTION, { noExtra: true })).toEqual([]);
    // inheritRules is in Microsoft's example but not in the spec.
    expect(validateOperationResponse(SPEC.governanceRules, MG_LIST, 'get', '200', LIST_BY_MANAGEMENT_GROUP, { noExtra: true })).toEqual([
      '$.value[1].properties.inheritRules: not declared in the spec',
    ]);
    expect(validateOperationRequest(SPEC.governanceRules, MG_PUT, 'put', PUT_MANAGEMENT_GROUP_REQUEST)).toEqual([]);
    expect(validateDefinition(SPEC.governanceRules, 'GovernanceRule', BY_TAG_RULE, { noExtra: true })).toEqual([]);
  });
});

describe('importing a Defender governance rule', () => {
  it('a subscription rule on two recommendations, owner by e-mail, 7 days with grace, both notifications', () => {
    const r = importDefenderRule(subKeys!, OPTS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.rule).toEqual(
      ruleSchema.parse({
        id: 'bot-rule-1',
        name: "Admin's rule",
        description: `A rule on critical recommendations Imported from Defender governance rule ${subKeys!.id}.`,
        priority: 100,
        scope: '/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23',
        excludedScopes: [],
        conditions: { severities: [], recommendations: ['b1cd27e0-4ecc-4246-939f-49c426d9d72f', 'fe83f80b-073d-4ccf-93d9-6797eb870201'] },
        owner: { kind: 'fixed', email: 'user@contoso.com' },
        integrationId: 'int-1',
        ticketType: 'incident',
        ticketGrouping: 'perResource',
        dueInDays: 7,
        gracePeriod: true,
        notifyOwner: true,
        notifyManager: true,
        enabled: false,
        source: { kind: 'defender', id: subKeys!.id, importedAt: NOW.toISOString() },
        createdBy: OPTS.actor,
        createdAt: NOW.toISOString(),
        updatedBy: OPTS.actor,
        updatedAt: NOW.toISOString(),
      }),
    );
    expect(r.warnings).toEqual(['the Defender rule is enabled: disable it once this rule runs, or both assign owners and due dates']);
  });

  it('a severity condition and disabled e-mails; options for the ticket and enabling', () => {
    const r = importDefenderRule(subLow!, { ...OPTS, ticketType: 'problem', ticketGrouping: 'single', enable: true, name: 'Low severity' });
    expect(r).toMatchObject({
      ok: true,
      rule: {
        name: 'Low severity',
        priority: 200,
        conditions: { severities: ['Low'], recommendations: [] },
        notifyOwner: false,
        notifyManager: false,
        ticketType: 'problem',
        ticketGrouping: 'single',
        enabled: true,
      },
    });
  });

  it('a management-group rule with an excluded subscription; a property the spec does not define is reported', () => {
    const r = importDefenderRule(mgLow!, OPTS);
    expect(r).toMatchObject({
      ok: true,
      rule: {
        scope: '/providers/Microsoft.Management/managementGroups/contoso',
        excludedScopes: ['/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23'],
        conditions: { severities: ['Low'] },
      },
    });
    expect(r.warnings).toContain('ignored properties the 2022-01-01-preview spec does not define: inheritRules');
    expect(importDefenderRule(mgKeys!, OPTS)).toMatchObject({
      ok: true,
      rule: { scope: '/providers/Microsoft.Management/managementGroups/contoso', priority: 100 },
    });
  });

  it('owner from a tag; OR-ed severities merge; hours round up to a day; priority 0 becomes 1; a ServiceNow rule warns of double tickets; stays disabled', () => {
    const r = importDefenderRule(byTag, { ...OPTS, enable: true });
    expect(r).toMatchObject({
      ok: true,
      rule: { owner: { kind: 'tag', tags: ['SecurityOwner'] }, conditions: { severities: ['High', 'Medium'] }, dueInDays: 14, priority: 1, enabled: false },
    });
    expect(r.warnings).toEqual([
      'its remediation timeframe 13.12:00:00 is rounded up to 14 whole days',
      'its priority 0 becomes 1 (bot rules run from 1 to 1000)',
      "it is a ServiceNow rule: Defender's own ServiceNow integration may open tickets for the same findings; disable the Defender rule before enabling this one",
      'the Defender rule is disabled, so the bot rule is imported disabled too',
    ]);
  });

  it('refuses what a bot rule cannot express, saying what', () => {
    const refused = (rule: DefenderGovernanceRule) => {
      const r = importDefenderRule(rule, OPTS);
      return r.ok ? [] : r.errors;
    };
    expect(refused(SECURITY_CONNECTOR_RULE as DefenderGovernanceRule)).toEqual([
      "it is a security connector's rule (/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourcegroups/gcpResourceGroup/providers/Microsoft.Security/securityConnectors/gcpconnector); bot rules cover management groups and subscriptions only",
    ]);
    expect(
      refused(withProps(subKeys!, { conditionSets: [{ conditions: [{ property: '$.Metadata.Categories', value: 'Compute', operator: 'Equals' }] }] })),
    ).toEqual(['a condition on $.Metadata.Categories cannot be expressed by a bot rule (it matches on $.AssessmentKey and $.Metadata.Severity)']);
    expect(
      refused(
        withProps(subKeys!, {
          conditionSets: [
            { conditions: [{ property: '$.Metadata.Severity', value: 'High', operator: 'Equals' }] },
            { conditions: [{ property: '$.AssessmentKey', value: '["k1"]', operator: 'In' }] },
          ],
        }),
      ),
    ).toEqual([
      'its 2 condition sets are OR-ed over different conditions, which one bot rule (one AND of conditions) cannot express; create one bot rule per condition set',
    ]);
    expect(
      refused(
        withProps(subKeys!, {
          conditionSets: [
            {
              conditions: [
                { property: '$.Metadata.Severity', value: 'High', operator: 'Equals' },
                { property: '$.Metadata.Severity', value: 'Low', operator: 'Equals' },
              ],
            },
          ],
        }),
      ),
    ).toEqual(['condition set 1 can match nothing (its conditions contradict each other)']);
    expect(
      refused(withProps(subKeys!, { conditionSets: [{ conditions: [{ property: '$.Metadata.Severity', value: 'Critical', operator: 'Equals' }] }] })),
    ).toEqual(['severity "Critical" is not one the bot knows (High, Medium, Low)', 'condition set 1 can match nothing (its conditions contradict each other)']);
    expect(refused(withProps(subKeys!, { ownerSource: { type: 'Manually', value: 'John Smith' } }))).toEqual([
      'its owner "John Smith" is not an e-mail address',
    ]);
    expect(refused(withProps(subKeys!, { ownerSource: { type: 'ByTag', value: '' } }))).toEqual(['its owner tag "" is not a valid tag name']);
    expect(refused(withProps(subKeys!, { ownerSource: { type: 'ByManager' } }))).toEqual(['its owner source type ByManager is neither ByTag nor Manually']);
    expect(refused(withProps(subKeys!, { remediationTimeframe: '7 days' }))).toEqual(['its remediation timeframe "7 days" is not d.hh:mm:ss']);
    expect(refused(withProps(subKeys!, { remediationTimeframe: '0.00:00:00' }))).toEqual(['its remediation timeframe is 0: a bot rule needs at least 1 day']);
    expect(refused(withProps(subKeys!, { sourceResourceType: 'Alerts' }))).toEqual([
      'its source is Alerts; only Assessments (recommendations) can be imported',
    ]);
    expect(refused(withProps(subKeys!, { excludedScopes: ['/tenants/x'] }))).toEqual([
      'its excluded scope /tenants/x is not a management group, subscription or resource group',
    ]);
    expect(refused({ ...subKeys!, id: 'governanceRules/x' })).toEqual(['the rule id governanceRules/x names no management group or subscription']);
  });

  it('an empty condition set applies to every recommendation, with a warning; identical sets collapse; keys OR-ed over sets merge', () => {
    const all = importDefenderRule(withProps(subKeys!, { conditionSets: [{ conditions: [] }] }), OPTS);
    expect(all).toMatchObject({ ok: true, rule: { conditions: { severities: [], recommendations: [] } } });
    expect(all.warnings).toContain('the Defender rule has an empty condition set: the bot rule applies to every recommendation in its scope');
    const keySet = (v: string) => ({ conditions: [{ property: '$.AssessmentKey', value: v, operator: 'In' }] });
    expect(importDefenderRule(withProps(subKeys!, { conditionSets: [keySet('["B", "a"]'), keySet('["b","A"]')] }), OPTS)).toMatchObject({
      rule: { conditions: { recommendations: ['a', 'b'] } },
    });
    expect(importDefenderRule(withProps(subKeys!, { conditionSets: [keySet('["a"]'), keySet('c, d')] }), OPTS)).toMatchObject({
      rule: { conditions: { recommendations: ['a', 'c', 'd'] } },
    });
    // A set written as a bare array of conditions (how the spec's own schema reads) is understood too.
    expect(
      importDefenderRule(withProps(subKeys!, { conditionSets: [[{ property: '$.metadata.severity', value: '["High","medium"]', operator: 'in' }]] }), OPTS),
    ).toMatchObject({ rule: { conditions: { severities: ['High', 'Medium'] } } });
  });
});

describe('helpers', () => {
  it('governanceRuleScope reads the scope from the rule id, with or without the leading slash', () => {
    expect(governanceRuleScope(subKeys!.id)).toEqual({ kind: 'subscription', scope: '/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23' });
    expect(governanceRuleScope(`/${mgKeys!.id}`)).toEqual({ kind: 'managementGroup', scope: '/providers/Microsoft.Management/managementGroups/contoso' });
    expect(governanceRuleScope(SECURITY_CONNECTOR_RULE.id)?.kind).toBe('securityConnector');
    expect(governanceRuleScope('/subscriptions/x/providers/Microsoft.Security/assessments/y')).toBeUndefined();
  });

  it('remediationDays', () => {
    expect(remediationDays('7.00:00:00')).toEqual({ days: 7, exact: true });
    expect(remediationDays('90.00:00:00')).toEqual({ days: 90, exact: true });
    expect(remediationDays('0.00:00:01')).toEqual({ days: 1, exact: false });
    expect(remediationDays('7.24:00:00')).toBeUndefined();
    expect(remediationDays('7:00:00')).toBeUndefined();
  });
});
