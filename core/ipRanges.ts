import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** IPv6 global unicast (RFC 4291 §2.4); ipaddr.js calls everything it has no range for "unicast". */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * Whether an address is on the public internet. ServiceNow instances are public SaaS hosts, so
 * anything else is a server-side request forgery risk. The ranges are ipaddr.js's IANA
 * special-purpose registries (loopback, private, link-local incl. cloud metadata 169.254.169.254,
 * CGNAT, unique-local, site-local, multicast, documentation, benchmarking, 6to4 relay, NAT64
 * 64:ff9b::/96 and 64:ff9b:1::/48, Teredo, 6to4, ORCHID, unspecified, broadcast, reserved), kept
 * up to date by that library instead of by hand. Only `unicast` passes; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, which a dual-stack socket connects to as IPv4) is judged as its IPv4 address,
 * and an IPv6 address must also be global unicast (2000::/3), which rules out the deprecated
 * IPv4-compatible ::a.b.c.d form and unassigned space. Pure: no I/O, so it stays in core/.
 */
export function isPublicAddress(address: string): boolean {
  const text = address.trim().replace(/^\[|\]$/g, '');
  // ipaddr.js also reads shorthand like "127.1" or "0x7f.0.0.1"; only what Node itself calls an
  // IP address is an address here (anything else is a host name and goes through DNS).
  if (!isIP(text)) return false;
  let ip: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(text);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.range() !== 'unicast') return false;
  return ip.kind() === 'ipv4' || (ip as ipaddr.IPv6).match(GLOBAL_UNICAST_V6);
}
