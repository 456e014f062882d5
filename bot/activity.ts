import type { Activity } from 'botbuilder';
import { z } from 'zod';

/**
 * Bounds on what an incoming Bot Framework activity may carry. Everything the bot stores or logs
 * about a turn (ids, names) comes from a field bounded here, so a log line or a stored
 * conversation can never grow with what a caller sends.
 *
 * - Ids: Teams' longest are personal-chat conversation ids and user ids (about 150 characters);
 *   a thread id with `;messageid=` is shorter. 512 leaves room for other channels.
 * - Names: Entra display names and team names are at most 256 characters.
 * - Text: Teams refuses messages over about 28 KB; 32,768 characters is above that for any text.
 * - Value (what a card action submits): the largest legitimate one is "Create assignment" with
 *   its selected resource ids (the handler accepts up to 200,000 characters), so 256 KB as JSON.
 * - Verbs: our verbs are short words; 128 characters.
 * - Ids are printable ASCII; card data may not use Object.prototype's member names as keys.
 */
export const ACTIVITY_LIMITS = {
  id: 512,
  name: 256,
  text: 32_768,
  valueJson: 256 * 1024,
  verb: 128,
  url: 2048,
  short: 64,
} as const;

/**
 * Ids are printable ASCII, as every channel's are: botbuilder puts the conversation id in an HTTP
 * header (where anything else makes Node throw), and control characters would corrupt log lines.
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const id = z.string().min(1).max(ACTIVITY_LIMITS.id).regex(PRINTABLE_ASCII, 'must be printable ASCII');
const optionalId = id.optional();
const name = z.string().max(ACTIVITY_LIMITS.name).optional();
const short = z.string().max(ACTIVITY_LIMITS.short).optional();
/** botbuilder turns these into Date objects; an unparsable one would be an Invalid Date. */
const time = z
  .string()
  .max(ACTIVITY_LIMITS.short)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time')
  .optional();

/** Unknown keys of these objects are dropped: they are copied into stored conversation references. */
const account = z.object({
  id,
  name,
  aadObjectId: optionalId,
  role: short,
  userPrincipalName: name,
});

const conversation = z.object({
  id,
  name,
  conversationType: short,
  tenantId: optionalId,
  isGroup: z.boolean().optional(),
});

const member = z.looseObject({ id, name });

const channelData = z.looseObject({
  tenant: z.looseObject({ id: optionalId }).optional(),
  channel: z.looseObject({ id: optionalId, name }).optional(),
  team: z.looseObject({ id: optionalId, name }).optional(),
  eventType: short,
});

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Names of Object.prototype's members. As keys of card data they shadow what handler code calls
 * on it (`String(v)` throws for an object whose own `toString` is not a function), and no card
 * of ours has such an input or data key.
 */
const RESERVED_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

function reservedKeyIn(root: unknown): string | undefined {
  const stack = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    for (const [k, child] of Object.entries(v)) {
      if (RESERVED_KEYS.has(k)) return k;
      stack.push(child);
    }
  }
  return undefined;
}

/** Card-action payloads: bounded as a whole, and the verb (which is logged) bounded on its own. */
const value = z.unknown().superRefine((v, ctx) => {
  if (v === undefined) return;
  if (JSON.stringify(v).length > ACTIVITY_LIMITS.valueJson) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${ACTIVITY_LIMITS.valueJson} bytes of JSON` });
    return;
  }
  const reserved = reservedKeyIn(v);
  if (reserved) {
    ctx.addIssue({ code: 'custom', message: `must not use "${reserved}" as a key (a name of Object.prototype)` });
    return;
  }
  if (!isRecord(v)) return;
  const verbs = [v.verb, isRecord(v.action) ? v.action.verb : undefined];
  if (verbs.some((verb) => typeof verb === 'string' && verb.length > ACTIVITY_LIMITS.verb)) {
    ctx.addIssue({ code: 'custom', message: `a card verb must be at most ${ACTIVITY_LIMITS.verb} characters` });
  }
});

const serviceUrl = z
  .string()
  .max(ACTIVITY_LIMITS.url)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

/**
 * The fields of an activity the bot reads, bounded; every other field passes through untouched
 * for botbuilder. `from`, `recipient` and `conversation` are required: every channel sends them
 * and every handler needs them.
 */
export const activitySchema = z
  .looseObject({
    type: z.string().min(1).max(ACTIVITY_LIMITS.short),
    id: optionalId,
    name: z.string().max(ACTIVITY_LIMITS.name).optional(),
    channelId: id.max(ACTIVITY_LIMITS.short),
    serviceUrl,
    from: account,
    recipient: account,
    conversation,
    replyToId: optionalId,
    text: z.string().max(ACTIVITY_LIMITS.text).optional(),
    textFormat: short,
    locale: short,
    localTimezone: short,
    timestamp: time,
    localTimestamp: time,
    expiration: time,
    action: short,
    value: value.optional(),
    channelData: channelData.optional(),
    membersAdded: z.array(member).optional(),
    membersRemoved: z.array(member).optional(),
  })
  .superRefine((a, ctx) => {
    // botbuilder reads `value.action.type` of a card invoke without checking there is an action.
    if (a.type === 'invoke' && a.name === 'adaptiveCard/action' && !(isRecord(a.value) && isRecord(a.value.action))) {
      ctx.addIssue({ code: 'custom', path: ['value', 'action'], message: 'a card action invoke must carry value.action (an object)' });
    }
  })
  .brand<'CheckedActivity'>();

/** An activity that passed {@link activitySchema}: the only kind the adapter runs a turn for. */
export type CheckedActivity = z.output<typeof activitySchema>;

export type ActivityCheck = { ok: true; activity: CheckedActivity } | { ok: false; problems: string[] };

/** At most this many problems are reported (and logged): an activity can have thousands. */
const MAX_PROBLEMS = 5;

export function checkActivity(body: unknown): ActivityCheck {
  const parsed = activitySchema.safeParse(body);
  if (parsed.success) return { ok: true, activity: parsed.data };
  return {
    ok: false,
    // Paths are of known fields only (loose objects report no unknown keys), so they are bounded.
    problems: parsed.error.issues.slice(0, MAX_PROBLEMS).map((i) => `${i.path.join('.') || 'activity'}: ${i.message}`),
  };
}

/** botbuilder's view of a checked activity (timestamps are strings until the adapter converts them). */
export function asBotActivity(activity: CheckedActivity): Activity {
  return activity as unknown as Activity;
}
