import { createHmac } from 'node:crypto';
import { ManualClock } from '../../core/clock.js';
import { EntraTokenVerifier, TokenError } from '../../bot/entraJwt.js';
import { APP_ID, APP_ID_URI, newKey, OTHER_TENANT, ssoClaims, startFakeEntra, TENANT, type FakeEntra } from './tokens.js';

const START = new Date('2026-11-26T09:00:00Z');
const nowSec = () => Math.floor(START.getTime() / 1000);

describe('Entra ID token verification', () => {
  let entra: FakeEntra;
  let clock: ManualClock;
  let verifier: EntraTokenVerifier;
  beforeEach(async () => {
    entra = await startFakeEntra(['key-1']);
    clock = new ManualClock(START);
    verifier = new EntraTokenVerifier({ clock, audiences: [APP_ID_URI, APP_ID], allowedTenantIds: [TENANT], jwksUrl: entra.jwksUrl });
  });
  afterEach(() => entra.close());

  const reason = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (e: unknown) => (e instanceof TokenError ? e.reason : `other: ${String(e)}`),
    );

  it('accepts a valid v2 token and a v1 (sts.windows.net) token with the app id audience', async () => {
    await expect(verifier.verify(entra.token(ssoClaims(nowSec())))).resolves.toMatchObject({ tid: TENANT, aud: APP_ID_URI, user: 'alex@contoso.com' });
    const v1 = entra.token(ssoClaims(nowSec(), { aud: APP_ID, iss: `https://sts.windows.net/${TENANT}/`, upn: 'bea@contoso.com' }));
    await expect(verifier.verify(v1)).resolves.toMatchObject({ aud: APP_ID, user: 'bea@contoso.com' });
  });

  it('rejects expired, not-yet-valid, wrong audience, other tenant and foreign issuer', async () => {
    const t = nowSec();
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { exp: t - 301 }))))).toBe('expired');
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { nbf: t + 301 }))))).toBe('not valid yet');
    // Within the allowed clock skew both are fine.
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { exp: t - 200, nbf: t + 200 }))))).toBe('accepted');
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { aud: 'api://evil.example/other' }))))).toBe('wrong audience');
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` }))))).toBe(
      'tenant not allowed',
    );
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` }))))).toBe(
      'issuer does not match the tenant',
    );
    expect(await reason(verifier.verify(entra.token(ssoClaims(t, { exp: undefined }))))).toBe('missing or malformed claims');
  });

  it('expires tokens by the injected clock', async () => {
    const token = entra.token(ssoClaims(nowSec()));
    expect(await reason(verifier.verify(token))).toBe('accepted');
    clock.advance(3600_000 + 301_000);
    expect(await reason(verifier.verify(token))).toBe('expired');
  });

  it('rejects forged signatures, other algorithms and garbage', async () => {
    const claims = ssoClaims(nowSec());
    expect(await reason(verifier.verify(entra.token(claims, { key: newKey() })))).toBe('bad signature');
    const [h, p] = entra.token(claims).split('.');
    const hs256Header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'key-1' })).toString('base64url');
    const hs = `${hs256Header}.${p}.${createHmac('sha256', 'x').update(`${hs256Header}.${p}`).digest('base64url')}`;
    expect(await reason(verifier.verify(hs))).toBe('algorithm HS256 is not accepted');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
    expect(await reason(verifier.verify(none))).toBe('not a compact JWS');
    // Claims swapped under a valid header and signature of another token.
    const other = entra.token(ssoClaims(nowSec(), { tid: OTHER_TENANT })).split('.');
    expect(await reason(verifier.verify(`${h}.${other[1]}.${entra.token(claims).split('.')[2]}`))).toBe('bad signature');
    expect(await reason(verifier.verify('abc'))).toBe('not a compact JWS');
  });

  it('caches keys, refetches for a new kid, and rate-limits refetches for unknown kids', async () => {
    const claims = ssoClaims(nowSec());
    await verifier.verify(entra.token(claims));
    await verifier.verify(entra.token(claims));
    expect(entra.requests).toBe(1);
    // Entra rotates in a new key: the first token naming it triggers one refetch.
    clock.advance(6 * 60_000);
    entra.addKey('key-2');
    await expect(verifier.verify(entra.token(ssoClaims(Math.floor(clock.now().getTime() / 1000)), { kid: 'key-2' }))).resolves.toBeDefined();
    expect(entra.requests).toBe(2);
    // A flood of random kids causes no further downloads within the rate-limit window.
    for (let i = 0; i < 5; i++) {
      expect(
        await reason(
          verifier.verify(
            entra
              .token(ssoClaims(Math.floor(clock.now().getTime() / 1000)), { kid: 'key-1' })
              .replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'RS256', kid: `nope-${i}` })).toString('base64url')),
          ),
        ),
      ).toBe('unknown signing key');
    }
    expect(entra.requests).toBe(2);
  });

  it('keeps using a known key when Entra is unreachable, but fails closed for unknown keys', async () => {
    const token = entra.token(ssoClaims(nowSec()));
    await verifier.verify(token);
    await entra.close();
    clock.advance(25 * 3600_000);
    const fresh = entra.token(ssoClaims(Math.floor(clock.now().getTime() / 1000)));
    expect(await reason(verifier.verify(fresh))).toBe('accepted');
    clock.advance(10 * 60_000);
    const unknownKid = fresh.replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'rotated' })).toString('base64url'));
    expect(await reason(verifier.verify(unknownKid))).toMatch(/^signing keys unavailable/);
  });
});
