import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateKeyFile, SecretBox } from '../../storage/secrets.js';

describe('secrets at rest', () => {
  const box = new SecretBox(Buffer.alloc(32, 9));
  it('round-trips and never stores the plaintext', () => {
    const enc = box.encrypt('s3cr3t-password');
    expect(JSON.stringify(enc)).not.toContain('s3cr3t');
    expect(box.decrypt(enc)).toBe('s3cr3t-password');
    expect(box.encrypt('same').data).not.toBe(box.encrypt('same').data);
  });
  it('fails loudly with the wrong key or a tampered value', () => {
    const enc = box.encrypt('value');
    expect(() => new SecretBox(Buffer.alloc(32, 1)).decrypt(enc)).toThrow(/not the key it was encrypted with/);
    const tampered = { ...enc, data: Buffer.from('other').toString('base64') };
    expect(() => box.decrypt(tampered)).toThrow();
  });
  it('creates a private sandbox key file once and reuses it', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'key-')), 'secret.key');
    const k1 = await loadOrCreateKeyFile(file);
    const k2 = await loadOrCreateKeyFile(file);
    expect(k1.equals(k2)).toBe(true);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
