import { isPublicAddress } from '../../core/ipRanges.js';
import { checkInstanceUrl, publicOnlyLookup, type Lookup } from '../../connectors/servicenow/urlGuard.js';

const resolvesTo =
  (...addresses: string[]): Lookup =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('ServiceNow instance URL guard (SSRF)', () => {
  it('classifies addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '224.0.0.1',
    ]) {
      expect([ip, isPublicAddress(ip)]).toEqual([ip, false]);
    }
    for (const ip of ['149.96.5.10', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '::ffff:808:808'])
      expect([ip, isPublicAddress(ip)]).toEqual([ip, true]);
    // Ranges the old hand-kept list treated as public, and other special-purpose space (IANA
    // registries via ipaddr.js). 6to4 (2002::/16) is refused outright now, whatever it embeds.
    for (const ip of [
      '64:ff9b:1::a9fe:a9fe',
      '64:ff9b:1::808:808',
      '64:ff9b::808:808',
      'fec0::1',
      '192.88.99.1',
      '2002:808:808::1',
      '2002:a00:1::1',
      '255.255.255.255',
      '240.0.0.1',
      '198.18.0.1',
      '192.0.0.9',
      '192.0.2.1',
      'fd00:ec2::254',
      '::ffff:169.254.169.254',
      '::ffff:0:7f00:1',
      '::ffff:10.0.0.1',
      '100::1',
      '2001:2::1',
      '2001:10::1',
      '3fff::1',
      'ff02::1',
      '4000::1',
    ]) {
      expect([ip, isPublicAddress(ip)]).toEqual([ip, false]);
    }
    // Not an IP address as Node reads one (shorthand, hex, garbage): never "public".
    for (const text of ['127.1', '0x7f000001', '2130706433', 'localhost', '', '1.2.3.4.5', '[::1'])
      expect([text, isPublicAddress(text)]).toEqual([text, false]);
    // IPv6 spellings that embed a private IPv4 address, as Node normalises them (hex groups).
    for (const ip of [
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::7f00:1',
      '64:ff9b::a9fe:a9fe',
      '2002:a00:1::1',
      '2001:0:4136:e378::1',
      'fe80::1%eth0',
      '198.51.100.7',
      '203.0.113.9',
      '2001:db8::1',
    ]) {
      expect([ip, isPublicAddress(ip)]).toEqual([ip, false]);
    }
  });

  it('accepts an https instance on a public address and normalises it to its origin', async () => {
    await expect(checkInstanceUrl('https://contoso.service-now.com/', { allowPrivate: false, lookup: resolvesTo('149.96.5.10') })).resolves.toEqual({
      ok: true,
      url: 'https://contoso.service-now.com',
    });
  });

  it.each([
    ['http://contoso.service-now.com', /must use https/],
    ['https://admin:pw@contoso.service-now.com', /must not contain a user name/],
    ['https://contoso.service-now.com/api/now/table/incident', /without a path/],
    ['not a url', /is not a URL/],
    ['https://127.0.0.1', /not an IP address \(127\.0\.0\.1\)/],
    ['https://[::1]', /not an IP address/],
    ['https://[::ffff:127.0.0.1]', /not an IP address/],
    ['https://149.96.5.10', /not an IP address/],
  ])('refuses %s', async (url, reason) => {
    const result = await checkInstanceUrl(url, { allowPrivate: false, lookup: resolvesTo('149.96.5.10') });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('refuses a name that resolves to a private or metadata address (checked after DNS)', async () => {
    const r1 = await checkInstanceUrl('https://intranet.contoso.com', { allowPrivate: false, lookup: resolvesTo('149.96.5.10', '10.0.0.5') });
    expect(r1).toEqual({ ok: false, reason: expect.stringContaining('10.0.0.5') });
    const r2 = await checkInstanceUrl('https://metadata.example', { allowPrivate: false, lookup: resolvesTo('169.254.169.254') });
    expect(r2.ok).toBe(false);
  });

  it('allows private hosts and plain http only when explicitly enabled', async () => {
    await expect(checkInstanceUrl('http://127.0.0.1:8443', { allowPrivate: true })).resolves.toEqual({ ok: true, url: 'http://127.0.0.1:8443' });
  });
});

describe('publicOnlyLookup (connect-time SSRF guard)', () => {
  const lookup = (hostname: string, options: import('node:dns').LookupOptions) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address?: unknown }>((resolve) =>
      publicOnlyLookup()(hostname, options, (err: NodeJS.ErrnoException | null, address?: unknown) => resolve({ err, address })),
    );

  it.each([{ all: true }, { all: false }, {}])('refuses a name that resolves to 127.0.0.1 (localhost) with EPRIVATEADDR, options %j', async (options) => {
    const { err, address } = await lookup('localhost', options);
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).toBe('EPRIVATEADDR');
    expect(err!.message).toMatch(/non-public address (127\.0\.0\.1|::1) for localhost/);
    expect(address).toBeUndefined();
  });

  it('passes resolver errors through', async () => {
    const { err, address } = await lookup('no-such-host.invalid', { all: true });
    expect(err?.code).toMatch(/^E[A-Z_]+$/);
    expect(err!.code).not.toBe('EPRIVATEADDR');
    expect(address).toBeUndefined();
  });
});
