/**
 * Defender's governance assignment as the bot writes it, and the one rule for merging our fields
 * over what Defender already holds. Every write-back (ticket created, owner or due date changed,
 * reopened, more time asked) goes through app/governance.ts, which applies mergeGovernance.
 */
import { z } from 'zod';
import { governanceProperties } from './assignments.js';
import type { Assignment } from './model.js';

const dateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date-time');

/**
 * The writable properties of a governance assignment (api-version 2022-01-01-preview), as the
 * official schema declares them. Anything else on a governance assignment is read-only or unknown
 * and must not be sent back.
 */
export const governancePropertiesSchema = z.object({
  owner: z.string().optional(),
  remediationDueDate: dateTime,
  remediationEta: z.object({ eta: dateTime, justification: z.string() }).optional(),
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
export type GovernanceProperties = z.infer<typeof governancePropertiesSchema>;

export interface MergeOptions {
  /** The owner's request for more time was answered: Defender's remediation ETA goes too, whoever set it. */
  clearEta?: boolean;
}

/**
 * What a write-back PUTs (PUT replaces the whole resource):
 * - our fields (governanceProperties) win wherever we have a value;
 * - where we have none (no ticket yet, no ETA), the current value stays: someone may have set it
 *   in the Defender portal;
 * - of the current resource, only the declared writable properties go back, each only if it is
 *   valid on its own: a malformed or read-only portal value is dropped, never sent back to fail
 *   the whole write;
 * - `clearEta` removes the remediation ETA.
 * The result always validates against governancePropertiesSchema.
 */
export function mergeGovernance(current: Readonly<Record<string, unknown>> | undefined, a: Assignment, opts: MergeOptions = {}): GovernanceProperties {
  const ours = Object.fromEntries(Object.entries(governanceProperties(a)).filter(([, v]) => v !== undefined));
  const kept: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(governancePropertiesSchema.shape)) {
    const parsed = field.safeParse(current?.[name]);
    if (parsed.success && parsed.data !== undefined) kept[name] = parsed.data;
  }
  const merged = governancePropertiesSchema.parse({ ...kept, ...ours });
  if (opts.clearEta) delete merged.remediationEta;
  return merged;
}

/**
 * Whether what Defender holds cannot change the PUT: our fields cover every writable property
 * (the ETA too, or it is being cleared), and mergeGovernance's shallow merge then replaces each
 * of Defender's values with ours. A write-back may then skip its read of the current resource.
 */
export function mergeIgnoresCurrent(a: Assignment, opts: MergeOptions = {}): boolean {
  const ours: Record<string, unknown> = governanceProperties(a);
  return Object.keys(governancePropertiesSchema.shape).every((name) => ours[name] !== undefined || (name === 'remediationEta' && opts.clearEta === true));
}
