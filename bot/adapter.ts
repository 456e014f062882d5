import { CloudAdapter, type ConfigurationBotFrameworkAuthentication, type InvokeResponse, type TurnContext } from 'botbuilder';
import { asBotActivity, type CheckedActivity } from './activity.js';

export type Authenticated = Awaited<ReturnType<ConfigurationBotFrameworkAuthentication['authenticateRequest']>>;

export type AuthOutcome = { ok: true; auth: Authenticated } | { ok: false; status: 401 | 503; reason: string };

/**
 * botbuilder reports a token that fails verification with `console.error`
 * (botframework-connector's jwtTokenExtractor.js, its only console output while authenticating):
 * an expired token as the error itself, stack and all, and every other failure as "Error finding
 * key for token. Available keys: " followed by the PEM of every trusted signing key. There is no
 * logger hook, so exactly these two are dropped from `console.error`, wherever they come from
 * (nothing of ours prints either: the bot logs through pino); the caller logs the outcome once.
 * Telling them by what is printed, not by the async context of the check, keeps Node's promise
 * tracking (an AsyncLocalStorage entered on every authenticated request) off for the whole process.
 */
const GUARDED = Symbol.for('defender-bot.consoleGuard');
const KEY_DUMP = 'Error finding key for token.';

export function isBotbuilderTokenDump(args: readonly unknown[]): boolean {
  if (args.length !== 1) return false;
  const [only] = args;
  if (typeof only === 'string') return only.startsWith(KEY_DUMP);
  return only instanceof Error && only.name === 'TokenExpiredError';
}

function guardConsole(): void {
  const current = console.error as ((...args: unknown[]) => void) & { [GUARDED]?: true };
  if (current[GUARDED]) return;
  console.error = Object.assign(
    function (this: unknown, ...args: unknown[]) {
      if (!isBotbuilderTokenDump(args)) current.apply(this, args);
    },
    { [GUARDED]: true as const },
  );
}

/** Messages of botbuilder's token errors are short ("jwt expired", "invalid signature"); claims they quote are not. */
const MAX_REASON = 160;

function classify(err: unknown): { status: 401 | 503; reason: string } {
  const e = err as { name?: unknown; message?: unknown; statusCode?: unknown; code?: unknown } | undefined;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const reason = `${name}: ${message}`.replace(/\s+/g, ' ').slice(0, MAX_REASON);
  // Our side could not check the token (signing keys not reachable): not the caller's fault.
  const unavailable =
    (typeof e?.statusCode === 'number' && e.statusCode >= 500) || name === 'FetchError' || (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code));
  return { status: unavailable ? 503 : 401, reason };
}

type ConnectorFactory = NonNullable<Authenticated['connectorFactory']>;
type ConnectorClient = Awaited<ReturnType<ConnectorFactory['create']>>;
type ClaimsIdentity = Authenticated['claimsIdentity'];
type UserTokenClient = Awaited<ReturnType<ConfigurationBotFrameworkAuthentication['createUserTokenClient']>>;

/** Distinct (bot app id, service URL, audience) triples kept; a real bot sees a handful. */
export const MAX_CACHED_CONNECTORS = 64;

/** Both claims botbuilder takes the app id from (`aud`, else `appid`), so two identities never share a client. */
function identityKey(identity: ClaimsIdentity): string {
  return `${identity.getClaimValue('aud') ?? ''}\u0000${identity.getClaimValue('appid') ?? ''}`;
}

/** A bounded map of client promises; a failed creation is not kept, so the next turn tries again. */
function cached<T>(clients: Map<string, Promise<T>>, limit: number, key: string, make: () => Promise<T>): Promise<T> {
  const known = clients.get(key);
  if (known) return known;
  const made = make();
  if (clients.size >= limit) clients.delete(clients.keys().next().value!);
  clients.set(key, made);
  made.catch(() => {
    if (clients.get(key) === made) clients.delete(key);
  });
  return made;
}

/**
 * botbuilder builds a new Bot Connector client for every turn and every proactive send:
 * credentials, options and a whole HTTP pipeline (its set-up shows in every turn of the messages
 * bench's profile). A client holds nothing of the turn (its credentials refresh their own
 * token), so one is kept per app id, service URL and audience and reused. The key carries both
 * claims botbuilder takes the app id from (`aud`, else `appid`), so two identities never share a
 * client.
 */
export class ConnectorCache {
  private readonly clients = new Map<string, Promise<ConnectorClient>>();

  constructor(private readonly limit = MAX_CACHED_CONNECTORS) {}

  wrap(auth: Authenticated): Authenticated {
    const factory = auth.connectorFactory;
    if (!factory) return auth;
    return { ...auth, connectorFactory: this.factory(auth.claimsIdentity, factory) };
  }

  /**
   * `authentication` whose connector factories (what a proactive send, `continueConversationAsync`,
   * builds its client with: one factory and client per send otherwise) share these clients.
   */
  around(authentication: ConfigurationBotFrameworkAuthentication): ConfigurationBotFrameworkAuthentication {
    const wrapped = Object.create(authentication) as ConfigurationBotFrameworkAuthentication;
    wrapped.createConnectorFactory = (identity: ClaimsIdentity) => this.factory(identity, authentication.createConnectorFactory(identity));
    return wrapped;
  }

  private factory(identity: ClaimsIdentity, factory: ConnectorFactory): ConnectorFactory {
    const who = identityKey(identity);
    const create = (serviceUrl: string, audience?: string): Promise<ConnectorClient> =>
      cached(this.clients, this.limit, `${who}\u0000${serviceUrl}\u0000${audience ?? ''}`, () => factory.create(serviceUrl, audience));
    return { create } as ConnectorFactory;
  }

  size(): number {
    return this.clients.size;
  }
}

/**
 * botbuilder also builds a user-token client (the OAuth sign-in API: credentials and another
 * whole HTTP pipeline) for every turn and every proactive send, whether the turn signs anyone in
 * or not; it was 5% of the bot's CPU per `help`. The client depends only on the app id (its
 * credentials, the OAuth endpoint and options are the bot's own), so one is kept per identity.
 */
export class UserTokenClientCache {
  private readonly clients = new Map<string, Promise<UserTokenClient>>();

  constructor(private readonly limit = MAX_CACHED_CONNECTORS) {}

  /** `authentication` with its user-token clients kept; every other member is the original's. */
  around(authentication: ConfigurationBotFrameworkAuthentication): ConfigurationBotFrameworkAuthentication {
    const wrapped = Object.create(authentication) as ConfigurationBotFrameworkAuthentication;
    wrapped.createUserTokenClient = (identity: ClaimsIdentity) =>
      cached(this.clients, this.limit, identityKey(identity), () => authentication.createUserTokenClient(identity));
    return wrapped;
  }

  size(): number {
    return this.clients.size;
  }
}

/**
 * CloudAdapter with authentication and the turn split apart, so the HTTP layer answers a bad
 * token itself (401 and one log line) and only checked activities reach a turn.
 */
export class BotAdapter extends CloudAdapter {
  readonly connectors: ConnectorCache;
  readonly userTokens: UserTokenClientCache;

  constructor(private readonly authentication: ConfigurationBotFrameworkAuthentication) {
    const connectors = new ConnectorCache();
    const userTokens = new UserTokenClientCache();
    super(connectors.around(userTokens.around(authentication)));
    this.connectors = connectors;
    this.userTokens = userTokens;
    guardConsole();
  }

  async authenticate(activity: CheckedActivity, authHeader: string): Promise<AuthOutcome> {
    guardConsole();
    try {
      const auth = await this.authentication.authenticateRequest(asBotActivity(activity), authHeader);
      return { ok: true, auth: this.connectors.wrap(auth) };
    } catch (err) {
      return { ok: false, ...classify(err) };
    }
  }

  /** Runs the turn of an authenticated activity; the invoke response, if any, is returned. */
  async runTurn(auth: Authenticated, activity: CheckedActivity, logic: (ctx: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined> {
    const a = asBotActivity(activity) as unknown as Record<string, unknown>;
    // What botbuilder's own HTTP entry does (validateAndFixActivity): the schema keeps them strings.
    for (const field of ['timestamp', 'localTimestamp', 'expiration']) {
      const raw = a[field];
      if (typeof raw === 'string') {
        a[`raw${field[0]!.toUpperCase()}${field.slice(1)}`] = raw;
        a[field] = new Date(raw);
      }
    }
    return this.processActivity(auth, asBotActivity(activity), logic);
  }
}
