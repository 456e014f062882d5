import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** A fake Entra ID: RSA signing keys served as a JWKS over HTTP, and a token minter. */
export interface FakeEntra {
  jwksUrl: string;
  requests: number;
  addKey(kid: string): void;
  token(claims: Record<string, unknown>, opts?: { kid?: string; alg?: string; key?: KeyObject }): string;
  close(): Promise<void>;
}

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const OTHER_TENANT = '11111111-2222-4333-8444-555555555555';
export const APP_ID = '8e3c1f0a-2b4d-4c6e-8f10-a1b2c3d4e5f6';
export const APP_ID_URI = `api://bot.contoso.com/${APP_ID}`;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export function newKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

export function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), key).toString('base64url')}`;
}

/** Claims of a valid Teams SSO token at `nowSec`. */
export function ssoClaims(nowSec: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    aud: APP_ID_URI,
    iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    tid: TENANT,
    oid: 'a1b2c3d4-0000-4000-8000-000000000001',
    preferred_username: 'alex@contoso.com',
    iat: nowSec - 60,
    nbf: nowSec - 60,
    exp: nowSec + 3600,
    ...over,
  };
}

export async function startFakeEntra(initialKids = ['key-1']): Promise<FakeEntra> {
  const keys = new Map<string, KeyObject>();
  for (const kid of initialKids) keys.set(kid, newKey());
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const jwks = {
      keys: [...keys].map(([kid, k]) => ({
        ...(k.export({ format: 'jwk' }) as object),
        d: undefined,
        p: undefined,
        q: undefined,
        dp: undefined,
        dq: undefined,
        qi: undefined,
        kid,
        use: 'sig',
        kty: 'RSA',
      })),
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    jwksUrl: `http://127.0.0.1:${port}/common/discovery/v2.0/keys`,
    get requests() {
      return requests;
    },
    addKey: (kid) => keys.set(kid, newKey()),
    token: (claims, opts = {}) => {
      const kid = opts.kid ?? initialKids[0]!;
      return signJwt({ alg: opts.alg ?? 'RS256', typ: 'JWT', kid }, claims, opts.key ?? keys.get(kid)!);
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
