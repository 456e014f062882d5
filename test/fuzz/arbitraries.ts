import fc from 'fast-check';

/**
 * Generators for the fuzz suite: Bot Framework activities and card-action payloads as a hostile
 * or broken client could send them. Anything that could make the bot call out (a serviceUrl,
 * a ServiceNow instance URL) only ever names this machine.
 */

/** A value in JSON form with an own "__proto__" (or other prototype-ish) key. */
export function withKey(key: string, value: unknown, base: Record<string, unknown> = {}): Record<string, unknown> {
  const o = { ...base };
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
  return o;
}

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** Strings with unpaired surrogate halves (invalid Unicode that JSON can still carry as \\uD800). */
export const brokenUnicode = fc
  .array(fc.oneof(loneSurrogate, fc.string({ maxLength: 3 }), fc.string({ unit: 'binary', maxLength: 3 })), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(''))
  .filter((s) => /[\uD800-\uDFFF]/u.test(s));

/** Sizes around every limit the bot has, up to past the 1 MB body limit. */
const HUGE_SIZES = [129, 257, 513, 1001, 2049, 32_769, 64 * 1024, 200_001, 262_145, 600_000, 1_100_000];
export const hugeString = fc
  .tuple(fc.constantFrom(...HUGE_SIZES), fc.constantFrom('x', 'é', '😀', '<at>', '\\', '"', ';messageid='))
  .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)));

/** Nested arrays or objects, from harmless to far past any parser's comfort. */
export const deepNesting = fc.tuple(fc.constantFrom(3, 10, 31, 33, 100, 1000, 3000), fc.boolean()).map(([depth, asObject]) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
});

export const protoObject = fc
  .tuple(fc.constantFrom(...PROTO_KEYS), fc.jsonValue({ maxDepth: 2 }))
  .map(([key, value]) => withKey(key, typeof value === 'object' && value !== null ? value : { polluted: value }));

/** Any value a field could be given by mistake or on purpose. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.constant(''), fc.constant(0), fc.constant(-1)) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: brokenUnicode },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: protoObject },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('true', 'false', '2026-12-10', '1900-01-01', '9999-12-31', '2026-02-30', 'NaN', '-0', '1e309', '../../etc/passwd', '<script>'),
  },
);

/** Values for URL fields: local and broken ones only, never a host off this machine. */
export const localUrl = (live: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(live, `${live}/`) },
    { weight: 4, arbitrary: fc.constantFrom('ftp://127.0.0.1/', 'not a url', '', 'http://', 'javascript:alert(1)', `${live}/${'x'.repeat(3000)}`) },
    // Nothing listens there: the bot's replies fail (and botbuilder retries them), so rarely.
    { weight: 1, arbitrary: fc.constantFrom('http://127.0.0.1:1/', 'http://localhost:1', 'https://127.0.0.1:1') },
  );

export type Path = string[];

/** Fields of an activity the bot reads, as paths for mutations. */
export const ACTIVITY_PATHS: Path[] = [
  ['type'],
  ['id'],
  ['name'],
  ['channelId'],
  ['serviceUrl'],
  ['from'],
  ['from', 'id'],
  ['from', 'name'],
  ['from', 'aadObjectId'],
  ['recipient'],
  ['recipient', 'id'],
  ['conversation'],
  ['conversation', 'id'],
  ['conversation', 'conversationType'],
  ['conversation', 'tenantId'],
  ['conversation', 'isGroup'],
  ['conversation', 'name'],
  ['replyToId'],
  ['text'],
  ['value'],
  ['value', 'verb'],
  ['value', 'action'],
  ['value', 'action', 'verb'],
  ['value', 'action', 'data'],
  ['value', 'action', 'type'],
  ['channelData'],
  ['channelData', 'tenant'],
  ['channelData', 'tenant', 'id'],
  ['channelData', 'channel', 'name'],
  ['channelData', 'team', 'name'],
  ['membersAdded'],
  ['membersRemoved'],
  ['action'],
  ['timestamp'],
  ['locale'],
  ['entities'],
  ['attachments'],
];

export type Mutation =
  { kind: 'delete'; path: Path } | { kind: 'set'; path: Path; value: unknown } | { kind: 'protoKey'; path: Path; key: string; value: unknown };

/** `serviceUrl`: the live fake connector, for mutations that set the activity's serviceUrl. */
export const mutation = (serviceUrl: string): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...ACTIVITY_PATHS) }),
    fc
      .tuple(fc.constantFrom(...ACTIVITY_PATHS), hostileValue, localUrl(serviceUrl))
      // A serviceUrl is where the bot sends its replies: only local ones are ever generated.
      .map(([path, value, url]): Mutation => ({ kind: 'set', path, value: path.join('.') === 'serviceUrl' && typeof value === 'string' ? url : value })),
    fc.record({
      kind: fc.constant('protoKey' as const),
      path: fc.constantFrom<Path>([], ['from'], ['conversation'], ['channelData'], ['value'], ['value', 'action'], ['value', 'action', 'data']),
      key: fc.constantFrom(...PROTO_KEYS),
      value: fc.jsonValue({ maxDepth: 2 }),
    }),
  );

/** Applies a mutation to a JSON-shaped object in place; missing parents are created. */
export function applyMutation(root: Record<string, unknown>, m: Mutation): void {
  const path = m.kind === 'protoKey' ? m.path : m.path.slice(0, -1);
  let node: Record<string, unknown> = root;
  for (const key of path) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      if (m.kind === 'delete') return;
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    } else {
      node = next as Record<string, unknown>;
    }
  }
  if (m.kind === 'protoKey') {
    Object.defineProperty(node, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    return;
  }
  const last = m.path[m.path.length - 1]!;
  if (m.kind === 'delete') delete node[last];
  else node[last] = m.value;
}

/** Verbs that are not ours: typos, prototype names, junk. */
export const unknownVerb = fc.oneof(
  fc.constantFrom('launchMissiles', 'Help', 'help ', 'createassignment', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ''),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('x'.repeat(128), 'x'.repeat(129), 'y'.repeat(5000)),
);

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isRemoteUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    return !LOCAL_HOSTS.has(new URL(v).hostname);
  } catch {
    return false;
  }
}

/**
 * The last word on where a generated activity can make the bot connect: its serviceUrl (replies)
 * and any ServiceNow instance URL in card data name this machine, whatever the generators did.
 */
export function confineUrls(activity: Record<string, unknown>, serviceUrl: string): Record<string, unknown> {
  if (isRemoteUrl(activity.serviceUrl)) activity.serviceUrl = serviceUrl;
  const value = activity.value as { instanceUrl?: unknown; action?: { data?: { instanceUrl?: unknown } } } | undefined;
  if (value && typeof value === 'object') {
    if (isRemoteUrl(value.instanceUrl)) value.instanceUrl = 'http://127.0.0.1:1';
    const data = value.action && typeof value.action === 'object' ? value.action.data : undefined;
    if (data && typeof data === 'object' && isRemoteUrl(data.instanceUrl)) data.instanceUrl = 'http://127.0.0.1:1';
  }
  return activity;
}
