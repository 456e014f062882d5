/**
 * Defender for Cloud's governance rules (`Microsoft.Security/governanceRules`, api-version
 * 2022-01-01-preview, the only one in the specs): read, so `rules` can show them beside the bot's
 * and `rule import` can turn one into a bot rule (core/defenderRules.ts).
 */
import { z } from 'zod';
import type { DefenderGovernanceRule } from '../../core/defenderRules.js';
import type { AzureHttp } from './http.js';

export const GOVERNANCE_RULES_API_VERSION = '2022-01-01-preview';

/** A listing longer than this many pages is a paging loop, not data. */
const MAX_PAGES = 200;

const MG_SCOPE = /^\/providers\/Microsoft\.Management\/managementGroups\/[^/]+$/i;
const SUB_SCOPE = /^\/subscriptions\/[^/]+$/i;

/** ARM answers `null` for fields it leaves out; the spec types them as optional, so nulls are dropped before validating. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  return value;
}

const DateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date-time');

/** `GovernanceRule` of governanceRules.json; extensible enums (ruleType, ownerSource.type) stay strings. */
const GovernanceRuleSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    type: z.string().optional(),
    properties: z
      .object({
        tenantId: z.string().optional(),
        displayName: z.string(),
        description: z.string().optional(),
        remediationTimeframe: z
          .string()
          .regex(/^[0-9]+\.[0-9]{2}:[0-9]{2}:[0-9]{2}$/, 'expected d.hh:mm:ss')
          .optional(),
        isGracePeriod: z.boolean().optional(),
        rulePriority: z.number().int().min(0).max(1000),
        isDisabled: z.boolean().optional(),
        ruleType: z.string().min(1),
        sourceResourceType: z.string().min(1),
        excludedScopes: z.array(z.string()).optional(),
        conditionSets: z.array(z.unknown()),
        includeMemberScopes: z.boolean().optional(),
        ownerSource: z.object({ type: z.string().optional(), value: z.string().optional() }).loose(),
        governanceEmailNotification: z
          .object({ disableManagerEmailNotification: z.boolean().optional(), disableOwnerEmailNotification: z.boolean().optional() })
          .loose()
          .optional(),
        metadata: z
          .object({ createdBy: z.string().optional(), createdOn: DateTime.optional(), updatedBy: z.string().optional(), updatedOn: DateTime.optional() })
          .loose()
          .optional(),
      })
      .loose(),
  })
  .loose();

const GovernanceRuleListSchema = z.object({ value: z.array(z.unknown()).default([]), nextLink: z.string().nullish() });

export interface GovernanceRuleListing {
  rules: DefenderGovernanceRule[];
  /** Rules in the answer that do not fit the spec: left out, with the reason (one bad rule does not hide the others). */
  skipped: Array<{ id?: string; reason: string }>;
}

export function governanceRulesPath(scope: string): string {
  const s = scope.trim().replace(/\/+$/, '');
  if (!MG_SCOPE.test(s) && !SUB_SCOPE.test(s)) throw new Error(`governance rules are listed at a management group or a subscription, not at ${scope}`);
  return `${s}/providers/Microsoft.Security/governanceRules`;
}

export class GovernanceRulesClient {
  constructor(private readonly http: AzureHttp) {}

  /** The rules defined at a subscription (`/subscriptions/{id}`) or management group (`/providers/Microsoft.Management/managementGroups/{name}`), every page. */
  async listGovernanceRules(scope: string): Promise<GovernanceRuleListing> {
    const out: GovernanceRuleListing = { rules: [], skipped: [] };
    let path: string | undefined = governanceRulesPath(scope);
    let params: Record<string, string> = { 'api-version': GOVERNANCE_RULES_API_VERSION };
    const seen = new Set<string>();
    for (let page = 1; path; page++) {
      if (page > MAX_PAGES) throw new Error(`governance rules at ${scope}: more than ${MAX_PAGES} pages, stopping (a paging loop?)`);
      const resp: z.infer<typeof GovernanceRuleListSchema> = await this.http.send({
        service: 'arm',
        method: 'GET',
        path,
        params,
        schema: GovernanceRuleListSchema,
      });
      for (const raw of resp.value) {
        const parsed = GovernanceRuleSchema.safeParse(withoutNulls(raw));
        if (parsed.success) out.rules.push(parsed.data as DefenderGovernanceRule);
        else {
          const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
          const reason = parsed.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ');
          this.http.logger.warn({ id, reason }, 'skipping a governance rule that does not fit the 2022-01-01-preview spec');
          out.skipped.push({ ...(id ? { id } : {}), reason });
        }
      }
      path = undefined;
      if (resp.nextLink) {
        // Only the path and query of the link are followed, against the ARM endpoint: the token never goes elsewhere.
        if (seen.has(resp.nextLink)) throw new Error(`governance rules at ${scope}: nextLink repeats itself`);
        seen.add(resp.nextLink);
        const next = new URL(resp.nextLink, 'https://management.azure.com');
        path = next.pathname;
        params = Object.fromEntries(next.searchParams.entries());
        params['api-version'] ??= GOVERNANCE_RULES_API_VERSION;
      }
    }
    return out;
  }
}
