import { z } from 'zod';

/**
 * The domain's entities: their zod schemas (the one definition of each shape, used by the store's
 * file schema in storage/schema.ts and by every layer's types) and a few facts about them that
 * the store has to know (which statuses are live; the lifecycle built on them is core/lifecycle.ts).
 * No I/O here.
 */

const isoDate = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO date-time');
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');

/** AES-256-GCM ciphertext; see storage/secrets.ts. */
export const encryptedSecretSchema = z.object({
  v: z.literal(1),
  iv: z.string(),
  tag: z.string(),
  data: z.string(),
});
export type EncryptedSecret = z.infer<typeof encryptedSecretSchema>;

export const subscriptionFiltersSchema = z.object({
  severities: z.array(z.enum(['High', 'Medium', 'Low'])).default([]),
  scopes: z.array(z.string()).default([]),
});
export type SubscriptionFilters = z.infer<typeof subscriptionFiltersSchema>;

export const conversationSchema = z.object({
  id: z.string().min(1),
  channelId: z.string(),
  serviceUrl: z.string(),
  tenantId: z.string().optional(),
  kind: z.enum(['personal', 'groupChat', 'channel']),
  name: z.string().optional(),
  /** botbuilder ConversationReference, kept as plain JSON so storage does not depend on botbuilder. */
  reference: z.record(z.string(), z.unknown()),
  subscribed: z.boolean(),
  filters: subscriptionFiltersSchema.default({ severities: [], scopes: [] }),
  /**
   * `cards`: one card per recommendation; `digest`: one summary card updated in place
   * (`subscribe mode=digest`). Absent means cards (files written before it existed).
   */
  mode: z.enum(['cards', 'digest']).optional(),
  /** For 1:1 conversations: the user's UPN/email, so reminders can find their inbox. */
  userUpn: z.string().optional(),
  userAadObjectId: z.string().optional(),
  /**
   * Set when Teams confirmed the bot can no longer post here (removed, blocked; see
   * bot/messenger.ts): sends fail fast without calling Teams until an activity from the
   * conversation (a reinstall) stores it again. Optional, so files written before it existed
   * still parse without a migration.
   */
  unreachable: z
    .object({
      since: isoDate,
      status: z.number().int().optional(),
      code: z.string().max(200).optional(),
    })
    .optional(),
  createdAt: isoDate,
  updatedAt: isoDate,
});
export type Conversation = z.infer<typeof conversationSchema>;
export type ConversationKind = Conversation['kind'];

export const ticketTypeSchema = z.enum(['incident', 'change_request', 'problem']);
export type TicketType = z.infer<typeof ticketTypeSchema>;
export const customFieldSchema = z.enum(['assignment_group', 'impact', 'urgency']);
export type CustomField = z.infer<typeof customFieldSchema>;

export const integrationSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  scope: z.string().min(1),
  instanceUrl: z.string(),
  username: z.string(),
  password: encryptedSecretSchema,
  clientId: z.string(),
  clientSecret: encryptedSecretSchema,
  fieldMode: z.enum(['default', 'customized']),
  /** Per ticket type, the optional fields shown on the assignment form in customized mode. */
  customFields: z.partialRecord(ticketTypeSchema, z.array(customFieldSchema)).default({}),
  tokens: encryptedSecretSchema.optional(),
  lastSuccessAt: isoDate.optional(),
  lastError: z.object({ at: isoDate, message: z.string() }).optional(),
  createdAt: isoDate,
  createdBy: z.string(),
  removedAt: isoDate.optional(),
});
export type Integration = z.infer<typeof integrationSchema>;

export const severitySchema = z.enum(['High', 'Medium', 'Low']);
export type Severity = z.infer<typeof severitySchema>;

export const resourceSnapshotSchema = z.object({
  resourceId: z.string(),
  assessmentId: z.string(),
  name: z.string(),
  type: z.string(),
  subscriptionId: z.string(),
  resourceGroup: z.string().optional(),
  statusChangeDate: z.string().optional(),
});
export type ResourceSnapshot = z.infer<typeof resourceSnapshotSchema>;

export const recommendationSchema = z.object({
  key: z.string(),
  displayName: z.string(),
  severity: severitySchema,
  description: z.string().default(''),
  remediation: z.string().default(''),
  portalLink: z.string().optional(),
  resources: z.array(resourceSnapshotSchema),
  /** Hash of what a card shows, so an unchanged recommendation sends nothing to Teams. */
  contentHash: z.string(),
  status: z.enum(['unhealthy', 'resolved']),
  firstSeenAt: isoDate,
  updatedAt: isoDate,
});
export type Recommendation = z.infer<typeof recommendationSchema>;

export const postedCardSchema = z.object({
  conversationId: z.string(),
  recommendationKey: z.string(),
  activityId: z.string(),
  contentHash: z.string(),
  postedAt: isoDate,
  updatedAt: isoDate,
});
export type PostedCard = z.infer<typeof postedCardSchema>;

export const GOVERNANCE_STATUSES = ['pending', 'synced', 'failed', 'deleted'] as const;
export type GovernanceStatus = (typeof GOVERNANCE_STATUSES)[number];

export const assignmentStatusSchema = z.enum(['pending', 'open', 'failed', 'awaiting-manual-close', 'resolved', 'removed']);
export type AssignmentStatus = z.infer<typeof assignmentStatusSchema>;

export const assignmentSchema = z.object({
  id: z.string(),
  /** Stable key of (recommendation, resource): at most one live assignment per key. */
  key: z.string(),
  batchId: z.string(),
  recommendationKey: z.string(),
  recommendationName: z.string(),
  severity: severitySchema,
  assessmentId: z.string(),
  resourceId: z.string(),
  resourceName: z.string(),
  subscriptionId: z.string(),
  integrationId: z.string(),
  ticketType: ticketTypeSchema,
  owner: z.string(),
  caller: z.string(),
  dueDate: day,
  gracePeriod: z.boolean(),
  notifyOwner: z.boolean(),
  notifyManager: z.boolean(),
  customFields: z.partialRecord(customFieldSchema, z.string()).default({}),
  /** One ticket per resource (Defender's default) or one shared by the whole batch. */
  ticketGrouping: z.enum(['perResource', 'single']).default('perResource'),
  /** The ticket texts as submitted, kept so a retry creates exactly what was asked for. */
  shortDescription: z.string().default(''),
  description: z.string().default(''),
  status: assignmentStatusSchema,
  ticket: z.object({ table: ticketTypeSchema, sysId: z.string(), number: z.string(), link: z.string(), state: z.string().optional() }).optional(),
  governance: z.object({ key: z.string(), status: z.enum(GOVERNANCE_STATUSES), lastError: z.string().optional() }).optional(),
  lastError: z.string().optional(),
  /** Where the assignment was created: announcements about it go there. */
  conversationId: z.string().optional(),
  createdBy: z.object({ id: z.string(), name: z.string().optional(), aadObjectId: z.string().optional() }),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** Owner's proposal for more time (request-more-time flow); the due date itself changes only by an admin. */
  eta: z.object({ date: day, justification: z.string(), requestedBy: z.string(), at: isoDate }).optional(),
  /** Consecutive sync passes that saw the resource healthy (debounce before resolving). */
  healthyPasses: z.number().int().min(0).default(0),
  resolvedAt: isoDate.optional(),
  /** How it ended: resolved automatically (resource healthy), closed in ServiceNow, integration removed… */
  closeReason: z.string().optional(),
  /** When a regression could not reopen the old ticket, the new one references it. */
  previousTicket: z.object({ table: ticketTypeSchema, sysId: z.string(), number: z.string(), link: z.string() }).optional(),
  /**
   * Failed automatic attempts to create the ticket, and when the next one may run (see
   * core/assignmentRetry.ts). A default and an optional field: files written before they existed
   * still parse, so no migration or SCHEMA_VERSION bump is needed.
   */
  attempts: z.number().int().min(0).default(0),
  nextAttemptAt: isoDate.optional(),
  /**
   * Set when a governance rule (not a person) made the assignment: cards, the ticket's description
   * and the audit say "by rule NAME". Optional, so older files parse without a migration.
   */
  byRule: z.object({ id: z.string().min(1), name: z.string().min(1) }).optional(),
});
export type Assignment = z.infer<typeof assignmentSchema>;

export const reminderSentSchema = z.object({ key: z.string(), sentAt: isoDate, recipient: z.string() });
export type ReminderSent = z.infer<typeof reminderSentSchema>;

export const auditEntrySchema = z.object({
  at: isoDate,
  actor: z.string(),
  action: z.string(),
  target: z.string().optional(),
  details: z.record(z.string(), z.unknown()).default({}),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/**
 * Statuses of an assignment that still tracks its finding. At most one assignment per key is in
 * one of them at any time (the store enforces it, like a unique index).
 */
export const LIVE_ASSIGNMENT_STATUSES: readonly AssignmentStatus[] = ['pending', 'open', 'failed', 'awaiting-manual-close'];

export const workStatusSchema = z.enum(['queued', 'running', 'done', 'failed']);
export type WorkStatus = z.infer<typeof workStatusSchema>;

/**
 * One unit of background work (see app/ports.ts WorkQueue). `key` makes it idempotent: there is
 * at most one item per (kind, key); enqueuing it again while it is queued or running changes nothing.
 */
export const workItemSchema = z.object({
  id: z.string().min(1),
  kind: z.string().min(1).max(100),
  key: z.string().min(1).max(500),
  payload: z.unknown(),
  status: workStatusSchema,
  /** Claims so far (the current one included). */
  attempts: z.number().int().min(0),
  /** Not claimed before this time (retry backoff). */
  runAt: isoDate,
  leaseOwner: z.string().optional(),
  leaseUntil: isoDate.optional(),
  lastError: z.string().optional(),
  createdAt: isoDate,
  updatedAt: isoDate,
  finishedAt: isoDate.optional(),
});
export type WorkItem = z.infer<typeof workItemSchema>;

// ------------------------------------------------------------------ governance rules

/** The longest remediation timeframe a rule may set (the assignment form allows a year too). */
export const RULE_MAX_DUE_DAYS = 365;

/** An e-mail address / UPN: what an owner tag must hold and what a fixed owner is. */
export const ownerEmailSchema = z
  .string()
  .trim()
  .min(3)
  .max(200)
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an e-mail address / UPN')
  .transform((v) => v.toLowerCase());

/** Azure tag names: up to 512 characters, no `<>%&\\?/`, compared case-insensitively. */
export const tagNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(512)
  .regex(/^[^<>%&\\?/]+$/, 'is not a valid Azure tag name');

const MG_SCOPE = /^\/providers\/Microsoft\.Management\/managementGroups\/[\w.()-]{1,90}$/i;
const SUB_SCOPE = /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RG_SCOPE = /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[-\w._()]{1,90}$/i;

/** Where a rule applies: a management group or a subscription (a resource group narrows a subscription rule). */
export const ruleScopeSchema = z
  .string()
  .trim()
  .transform((s) => s.replace(/\/+$/, ''))
  .refine((s) => MG_SCOPE.test(s) || SUB_SCOPE.test(s), 'must be /providers/Microsoft.Management/managementGroups/{name} or /subscriptions/{id}');

/** What a rule leaves out below its scope: a management group, a subscription or a resource group. */
export const excludedScopeSchema = z
  .string()
  .trim()
  .transform((s) => s.replace(/\/+$/, ''))
  .refine((s) => MG_SCOPE.test(s) || SUB_SCOPE.test(s) || RG_SCOPE.test(s), 'must be a management group, subscription or resource group id');

export const ruleConditionsSchema = z.object({
  /** Any of these severities; empty: every severity. */
  severities: z.array(severitySchema).default([]),
  /** Recommendation keys (assessment GUIDs) or display names, compared case-insensitively; empty: every recommendation. */
  recommendations: z.array(z.string().trim().min(1).max(300)).max(500).default([]),
  /** The resource carries this tag with this value (name case-insensitive, value exact). */
  tag: z.object({ name: tagNameSchema, value: z.string().max(256) }).optional(),
});
export type RuleConditions = z.infer<typeof ruleConditionsSchema>;

/** Who owns what a rule assigns: the value of a resource tag (first name found wins), or one fixed person. */
export const ruleOwnerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tag'), tags: z.array(tagNameSchema).min(1).max(5) }),
  z.object({ kind: z.literal('fixed'), email: ownerEmailSchema }),
]);
export type RuleOwner = z.infer<typeof ruleOwnerSchema>;

export const ruleStatsSchema = z.object({
  /** Findings the rule won in its last run (unassigned ones it matched first). */
  matched: z.number().int().min(0).default(0),
  /** Assignments it has made, all runs together. */
  assigned: z.number().int().min(0).default(0),
  /** Findings it matched in its last run that have no usable owner. */
  needsOwner: z.number().int().min(0).default(0),
  lastRunAt: isoDate.optional(),
});
export type RuleStats = z.infer<typeof ruleStatsSchema>;

const ruleActorSchema = z.object({ id: z.string().min(1), name: z.string().optional(), upn: z.string().optional() });

/**
 * A governance rule of the bot: Defender's governance rule (priority, scope, conditions, owner
 * from a tag or an e-mail, remediation timeframe, grace period, notifications) plus what opens the
 * ServiceNow ticket. Evaluated on every sync by core/rules.ts; stored in the `rules` table.
 */
export const ruleSchema = z
  .object({
    id: z.string().min(1),
    /** Unique, case-insensitively (the store refuses a second one). */
    name: z.string().trim().min(1).max(100),
    description: z.string().max(1000).optional(),
    /** 1 runs first, 1000 last (Defender's range; see core/rules.ts for how scope orders rules too). */
    priority: z.number().int().min(1).max(1000),
    scope: ruleScopeSchema,
    /** Narrows a subscription rule to one resource group (by name, case-insensitive). */
    resourceGroup: z.string().trim().min(1).max(90).optional(),
    /** Below the scope but left out (Defender's excludedScopes). */
    excludedScopes: z.array(excludedScopeSchema).max(100).default([]),
    conditions: ruleConditionsSchema.default({ severities: [], recommendations: [] }),
    owner: ruleOwnerSchema,
    /** Owner when the tag gives none (missing, not an e-mail) or the owner is unknown to ServiceNow. */
    fallbackOwner: ownerEmailSchema.optional(),
    integrationId: z.string().min(1),
    ticketType: ticketTypeSchema.default('incident'),
    /** One ticket per resource, or one per recommendation (and owner) per run. */
    ticketGrouping: z.enum(['perResource', 'single']).default('perResource'),
    /** ServiceNow caller of the tickets; the wiring falls back to the author's UPN. */
    caller: ownerEmailSchema.optional(),
    /** Remediation timeframe: the due date is this many days after the day the rule assigns (REMINDER_TIMEZONE). */
    dueInDays: z.number().int().min(1).max(RULE_MAX_DUE_DAYS),
    /** This rule's own per-sync cap, below RULE_MAX_TICKETS_PER_SYNC (the operator's limit stays the upper bound). */
    maxTicketsPerSync: z.number().int().min(1).max(10_000).optional(),
    gracePeriod: z.boolean().default(false),
    notifyOwner: z.boolean().default(true),
    notifyManager: z.boolean().default(false),
    enabled: z.boolean().default(false),
    /** Where the rule reports (confirmations, needs-an-owner lists). */
    conversationId: z.string().optional(),
    /**
     * Set when a run had more tickets to open than RULE_MAX_TICKETS_PER_SYNC allows: the rule opens
     * nothing more until an admin confirms (then the wiring clears it and allows the rest).
     */
    paused: z.object({ since: isoDate, waiting: z.number().int().min(0) }).optional(),
    /** Imported from Defender: which governance rule, so it is not imported twice. */
    source: z.object({ kind: z.literal('defender'), id: z.string().min(1), importedAt: isoDate }).optional(),
    stats: ruleStatsSchema.default({ matched: 0, assigned: 0, needsOwner: 0 }),
    createdBy: ruleActorSchema,
    createdAt: isoDate,
    updatedBy: ruleActorSchema,
    updatedAt: isoDate,
  })
  .refine((r) => r.resourceGroup === undefined || SUB_SCOPE.test(r.scope), {
    message: 'a resource group narrows a subscription scope only',
    path: ['resourceGroup'],
  });
export type Rule = z.infer<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;
