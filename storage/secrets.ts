import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EncryptedSecret } from '../core/model.js';

/**
 * AES-256-GCM for secrets at rest (ServiceNow passwords, client secrets, refresh tokens). The
 * auth tag makes a tampered or wrongly-keyed value fail loudly instead of decrypting to garbage.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
  }

  encrypt(plaintext: string): EncryptedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  decrypt(secret: EncryptedSecret): string {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(secret.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(secret.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(secret.data, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('a stored secret could not be decrypted: SECRET_KEY is not the key it was encrypted with');
    }
  }
}

/**
 * Sandbox convenience: a random key kept next to the data file, so `npm start` works with no
 * setup. Production requires SECRET_KEY (config enforces that).
 */
export async function loadOrCreateKeyFile(file: string): Promise<Buffer> {
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/i.test(hex)) return Buffer.from(hex, 'hex');
    throw new Error(`${file} does not hold a 64-hex-character key`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  await writeFile(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return key;
}

/** SECRET_KEY given as 64 hex characters or base64 of 32 bytes; undefined when it is neither. */
export function decodeSecretKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    const buf = Buffer.from(trimmed, 'base64');
    if (buf.length === 32) return buf;
  }
  return undefined;
}

/** The configured key, or (sandbox) the key file in the data directory. Config validated the format. */
export async function openSecretBox(configuredKey: string | undefined, dataDir: string): Promise<SecretBox> {
  const key = configuredKey ? decodeSecretKey(configuredKey) : await loadOrCreateKeyFile(path.join(dataDir, 'secret.key'));
  if (!key) throw new Error('SECRET_KEY must be 32 bytes given as 64 hex characters or base64');
  return new SecretBox(key);
}
