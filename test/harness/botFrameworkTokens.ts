import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallerIdConstants } from 'botbuilder';
// botbuilder's own dependency; its constants are the public-cloud defaults.
import { AuthenticationConstants } from 'botframework-connector';

/**
 * A local stand-in for the Bot Framework's OpenID metadata and signing keys
 * (login.botframework.com), and tokens as the Bot Connector signs them: botbuilder's real
 * verification runs against it.
 */
export const CHANNEL_ISSUER = 'https://api.botframework.com';
export const KEY_ID = 'test-signing-key';

export interface OpenIdServer {
  metadataUrl: string;
  /** The public key as served in the JWKS (modulus `n`), to look for in output. */
  modulus: string;
  publicPem: string;
  privateKey: KeyObject;
  requests: number;
  close(): Promise<void>;
}

export async function startOpenIdServer(endorsements = ['msteams', 'emulator', 'webchat']): Promise<OpenIdServer> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const server = http.createServer((req, res) => {
    state.requests++;
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/.well-known/openidconfiguration') {
      res.end(JSON.stringify({ issuer: CHANNEL_ISSUER, jwks_uri: `${base}/v1/.well-known/keys`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else if (req.url === '/v1/.well-known/keys') {
      res.end(JSON.stringify({ keys: [{ kty: 'RSA', use: 'sig', kid: KEY_ID, n: jwk.n, e: jwk.e, endorsements }] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const state: OpenIdServer = {
    metadataUrl: `http://127.0.0.1:${port}/v1/.well-known/openidconfiguration`,
    modulus: String(jwk.n),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
    requests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return state;
}

const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

export interface TokenOptions {
  appId: string;
  serviceUrl: string;
  now?: number;
  /** Seconds from now; negative = in the past. */
  expiresIn?: number;
  notBeforeIn?: number;
  alg?: 'RS256' | 'HS256' | 'none';
  kid?: string;
  key?: KeyObject;
  hmacSecret?: string;
  audience?: string;
}

/** A Bot Connector-style JWT (iss api.botframework.com, aud = the bot's app id, serviceurl claim). */
export function botConnectorToken(o: TokenOptions): string {
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const alg = o.alg ?? 'RS256';
  const header = { alg, typ: 'JWT', kid: o.kid ?? KEY_ID };
  const payload = {
    iss: CHANNEL_ISSUER,
    aud: o.audience ?? o.appId,
    serviceurl: o.serviceUrl,
    nbf: now + (o.notBeforeIn ?? -60),
    exp: now + (o.expiresIn ?? 3600),
  };
  const input = `${b64(header)}.${b64(payload)}`;
  if (alg === 'none') return `${input}.`;
  if (alg === 'HS256')
    return `${input}.${createHmac('sha256', o.hmacSecret ?? 'secret')
      .update(input)
      .digest('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), o.key!).toString('base64url')}`;
}

/**
 * botbuilder settings that verify channel tokens against `metadataUrl`. With any URL given,
 * botbuilder takes every other public-cloud setting from the options too, so all are given.
 */
export function localBotFrameworkAuth(metadataUrl: string) {
  return {
    ValidateAuthority: true,
    ToChannelFromBotLoginUrl: AuthenticationConstants.ToChannelFromBotLoginUrl,
    ToChannelFromBotOAuthScope: AuthenticationConstants.ToChannelFromBotOAuthScope,
    ToBotFromChannelTokenIssuer: CHANNEL_ISSUER,
    OAuthUrl: AuthenticationConstants.OAuthUrl,
    ToBotFromChannelOpenIdMetadataUrl: metadataUrl,
    ToBotFromEmulatorOpenIdMetadataUrl: metadataUrl,
    CallerId: CallerIdConstants.PublicAzureChannel,
  };
}
