import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from '../../core/ipRanges.js';

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

/**
 * A dns.lookup replacement for the HTTP agent, so the check also holds at connect time (a name
 * that resolved to a public address during the check cannot later rebind to a private one).
 */
export function publicOnlyLookup(): LookupFunction {
  return (hostname, options, lookupCallback) => {
    // net.LookupFunction's callback is overloaded (one address or all); the error path passes none.
    const callback = lookupCallback as (...args: unknown[]) => void;
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const list = addresses as dns.LookupAddress[];
      const blocked = list.find((a) => !isPublicAddress(a.address));
      if (blocked)
        return callback(Object.assign(new Error(`refusing to connect to non-public address ${blocked.address} for ${hostname}`), { code: 'EPRIVATEADDR' }));
      if (options.all) return callback(null, list);
      return callback(null, list[0].address, list[0].family);
    });
  };
}
