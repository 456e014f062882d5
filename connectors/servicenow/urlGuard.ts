import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import { isPublicAddress } from '../../core/ipRanges.js';
import { PRIVATE_ADDRESS_CODE, type ConnectAgents } from './http.js';

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: Lookup = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Checks an instance URL before any credential is sent to it: https, no user info, and every
 * address the name resolves to is public. SERVICENOW_ALLOW_PRIVATE_HOSTS lifts both the https and
 * the address rule, for on-premises test instances and the sandbox simulator.
 */
export async function checkInstanceUrl(input: string, options: { allowPrivate: boolean; lookup?: Lookup }): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return { ok: false, reason: `"${input}" is not a URL; use https://<instance>.service-now.com` };
  }
  if (url.protocol !== 'https:' && !(options.allowPrivate && url.protocol === 'http:')) {
    return { ok: false, reason: `the instance URL must use https (got ${url.protocol.replace(':', '')})` };
  }
  if (url.username || url.password) return { ok: false, reason: 'the instance URL must not contain a user name or password' };
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { ok: false, reason: 'give the instance URL only (https://<instance>.service-now.com), without a path or query' };
  }
  const normalized = url.origin;
  if (options.allowPrivate) return { ok: true, url: normalized };

  const host = url.hostname.replace(/^\[|\]$/g, '');
  // ServiceNow instances are named hosts; an IP literal is how internal targets are reached.
  if (isIP(host)) {
    return {
      ok: false,
      reason: `give the instance's host name, not an IP address (${host}); set SERVICENOW_ALLOW_PRIVATE_HOSTS=true for on-premises instances`,
    };
  }
  let addresses: string[];
  {
    try {
      addresses = (await (options.lookup ?? systemLookup)(host)).map((a) => a.address);
    } catch (err) {
      return { ok: false, reason: `the host ${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? 'DNS error'})` };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `the host ${host} has no address` };
  const blocked = addresses.find((a) => !isPublicAddress(a));
  if (blocked) {
    return {
      ok: false,
      reason: `the host ${host} resolves to ${blocked}, which is not a public address; set SERVICENOW_ALLOW_PRIVATE_HOSTS=true to allow on-premises instances`,
    };
  }
  return { ok: true, url: normalized };
}

/** Every connect-time refusal carries PRIVATE_ADDRESS_CODE, which http.ts does not retry. */
const refusal = (message: string) => Object.assign(new Error(message), { code: PRIVATE_ADDRESS_CODE });

type Resolve = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;
const systemResolve: Resolve = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * A dns.lookup replacement for the HTTP agent, so the check also holds at connect time (a name
 * that resolved to a public address during the check cannot later rebind to a private one).
 * Node calls it for host names only: IP literals are checked by publicOnlyAgents.
 */
export function publicOnlyLookup(options: { resolve?: Resolve; plainHttp?: boolean } = {}): LookupFunction {
  const resolve = options.resolve ?? systemResolve;
  return (hostname, lookupOptions, lookupCallback) => {
    // net.LookupFunction's callback is overloaded (one address or all); the error path passes none.
    const callback = lookupCallback as (...args: unknown[]) => void;
    resolve(hostname, { ...lookupOptions, all: true }, (err, list) => {
      if (err) return callback(err);
      const blocked = list.find((a) => !isPublicAddress(a.address));
      if (blocked) return callback(refusal(`refusing to connect to non-public address ${blocked.address} for ${hostname}`));
      // The address would do, but credentials must not cross the network in clear text.
      if (options.plainHttp) return callback(refusal(`refusing plain http to ${hostname}; ServiceNow is reached over https`));
      if (lookupOptions.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** Why a connection to `host` must not be made without a lookup (Node skips it for literals). */
function literalRefusal(host: string, plainHttp: boolean): Error | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  if (!isIP(bare)) return undefined;
  if (!isPublicAddress(bare)) return refusal(`refusing to connect to non-public address ${bare}`);
  if (plainHttp) return refusal(`refusing plain http to ${bare}; ServiceNow is reached over https`);
  // Same rule as when the integration was added: instances are named hosts.
  return refusal(`refusing to connect to the IP address ${bare}; ServiceNow instances are reached by host name`);
}

type ConnectOptions = http.ClientRequestArgs & { host?: string | null; socketPath?: string };
type ConnectCallback = (err: Error | null, stream: Duplex) => void;

/** Runs the literal check where every connection starts, keep-alive pools and redirects included. */
function guardConnect(options: ConnectOptions, callback: ConnectCallback | undefined, plainHttp: boolean): Error | undefined {
  const refused = options.socketPath
    ? refusal('refusing to connect to a local socket')
    : literalRefusal(String(options.host ?? options.hostname ?? ''), plainHttp);
  if (refused) callback?.(refused, undefined as unknown as Duplex);
  return refused;
}

class PublicOnlyHttpsAgent extends https.Agent {
  override createConnection(options: ConnectOptions, callback?: ConnectCallback): Duplex | null | undefined {
    return guardConnect(options, callback, false) ? undefined : super.createConnection(options, callback);
  }
}

class NoPlainHttpAgent extends http.Agent {
  override createConnection(options: ConnectOptions, callback?: ConnectCallback): Duplex | null | undefined {
    return guardConnect(options, callback, true) ? undefined : super.createConnection(options, callback);
  }
}

/**
 * The agents a client uses while private hosts are not allowed: https only, to public addresses
 * only, checked when each connection is made. So an integration saved while
 * SERVICENOW_ALLOW_PRIVATE_HOSTS was true (http, an IP literal, a private name) stops connecting
 * as soon as the switch is off, and a public name that later rebinds to a private address is
 * refused too. Refusals carry the code EPRIVATEADDR and nothing is sent.
 */
export function publicOnlyAgents(options: { resolve?: Resolve } = {}): ConnectAgents {
  return {
    httpAgent: new NoPlainHttpAgent({ keepAlive: true, lookup: publicOnlyLookup({ ...options, plainHttp: true }) }),
    httpsAgent: new PublicOnlyHttpsAgent({ keepAlive: true, lookup: publicOnlyLookup(options) }),
  };
}
