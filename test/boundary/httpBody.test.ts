import { message } from '../harness/activities.js';
import { BodyError, isJsonContentType, MAX_JSON_DEPTH, parseJsonObject } from '../../bot/httpBody.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { PRODUCTION_ENV } from '../harness/modes.js';
import { multipartBody, rawRequest, uploadFiles } from '../harness/rawHttp.js';

const MB = 1024 * 1024;

describe.each([
  ['Emulator mode (no app id)', {}],
  ['production mode with an app id and no token', PRODUCTION_ENV],
])('/api/messages accepts only bounded JSON: %s', (_mode, env) => {
  let bot: BotHarness;
  let uploadsBefore: Set<string>;
  const post = (headers: Record<string, string | number>, body: Buffer | string) => rawRequest(`${bot.url}/api/messages`, { headers, body });

  beforeEach(async () => {
    bot = await startBot({ env });
    uploadsBefore = uploadFiles();
  });
  afterEach(async () => {
    // Nothing a refused request sent may stay on disk.
    const left = [...uploadFiles()].filter((f) => !uploadsBefore.has(f));
    expect(left).toEqual([]);
    // No refused request reached a handler: nothing was sent to Teams, nothing stored.
    expect(bot.connector.calls).toHaveLength(0);
    expect(await bot.store.conversations.list()).toEqual([]);
    await bot.stop();
  });

  it.each([
    ['1 KB', 1024],
    ['3 MB', 3 * MB],
  ])('refuses a %s multipart upload with 415 and writes no file', async (_size, size) => {
    const { body, contentType } = multipartBody(size);
    const res = await post({ 'content-type': contentType, 'content-length': body.length }, body);
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'UnsupportedMediaType' });
  });

  it.each([
    ['application/x-www-form-urlencoded', 'type=message&text=help'],
    ['text/plain', '{"type":"message","text":"help"}'],
    ['application/json; charset=utf-16', '{"type":"message","text":"help"}'],
    ['application/jsonx', '{"type":"message","text":"help"}'],
    ['application/octet-stream', 'AAAA'],
  ])('refuses %s with 415', async (contentType, body) => {
    const res = await post({ 'content-type': contentType }, body);
    expect(res.status).toBe(415);
  });

  it('refuses a body without a Content-Type with 415', async () => {
    const res = await post({}, '{"type":"message","text":"help"}');
    expect(res.status).toBe(415);
  });

  it('refuses a gzip-compressed body with 415 (its inflated size is unknown)', async () => {
    const res = await post({ 'content-type': 'application/json', 'content-encoding': 'gzip' }, Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
    expect(res.status).toBe(415);
  });

  it('refuses JSON over 1 MB announced by Content-Length with 413', async () => {
    const body = JSON.stringify({ type: 'message', text: 'x'.repeat(MB + 10) });
    const res = await post({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, body);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'PayloadTooLarge' });
  });

  it('refuses chunked JSON with 413 as soon as it passes 1 MB, without reading it all', async () => {
    const res = await rawRequest(`${bot.url}/api/messages`, {
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: { size: 64 * 1024, max: 256 * MB },
    });
    expect(res.status).toBe(413);
    // The answer came while the client was still uploading: the server did not wait for 256 MB.
    expect(res.sent).toBeLessThan(32 * MB);
  });
});

describe.each([
  ['Emulator mode (no app id)', {}, 200],
  ['production mode with an app id and no token', PRODUCTION_ENV, 401],
])('after refusals the endpoint still serves: %s', (_mode, env, expected) => {
  it('accepts application/json with a UTF-8 charset', async () => {
    const bot = await startBot({ env });
    const post = (headers: Record<string, string | number>, body: Buffer | string) => rawRequest(`${bot.url}/api/messages`, { headers, body });
    for (const contentType of ['text/plain', 'multipart/form-data; boundary=x']) expect((await post({ 'content-type': contentType }, 'x')).status).toBe(415);
    expect((await post({ 'content-type': 'application/json', 'content-length': 2 * MB }, Buffer.alloc(1024))).status).toBe(413);
    const body = JSON.stringify(message('help', { serviceUrl: bot.connector.url }));
    const res = await post({ 'content-type': 'application/json;charset=UTF-8' }, body);
    // Past the body checks, production asks for the token; the Emulator gets its answer.
    expect(res.status).toBe(expected);
    expect(bot.connector.calls.length > 0).toBe(expected === 200);
    await bot.stop();
  });
});

describe('HEAD /api/messages (the Agents Playground start-up probe)', () => {
  it('answers 200 without processing anything or logging a warning', async () => {
    const bot = await startBot();
    const before = bot.logs.length;
    const res = await fetch(`${bot.url}/api/messages`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(bot.connector.calls).toHaveLength(0);
    expect(bot.logs.slice(before).filter((l) => JSON.parse(l).level >= 40)).toEqual([]);
    await bot.stop();
  });
});

describe('the JSON body reader', () => {
  const parse = (text: string | Buffer) => parseJsonObject(Buffer.isBuffer(text) ? text : Buffer.from(text));
  const status = (text: string | Buffer) => {
    try {
      parse(text);
      return 200;
    } catch (err) {
      return (err as BodyError).status;
    }
  };

  it('accepts application/json with or without a UTF-8 charset, nothing else', () => {
    for (const ok of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=utf8',
    ])
      expect(isJsonContentType(ok)).toBe(true);
    for (const bad of [
      undefined,
      '',
      'text/json',
      'application/json; charset=latin1',
      'application/json; boundary=x',
      'application/json-patch+json',
      'multipart/form-data',
    ])
      expect(isJsonContentType(bad)).toBe(false);
  });

  it('drops __proto__ keys at every level, so nothing downstream can set a prototype', () => {
    const body = parse('{"type":"message","__proto__":{"polluted":1},"value":{"a":[{"__proto__":{"polluted":2}}]}}');
    expect(Object.keys(body)).toEqual(['type', 'value']);
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect({ ...(body.value as any).a[0] }).toEqual({});
    expect(({} as any).polluted).toBeUndefined();
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    const deep = (n: number) => `{"v":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(status(deep(MAX_JSON_DEPTH - 2))).toBe(200);
    expect(status(deep(MAX_JSON_DEPTH))).toBe(400);
    expect(status(deep(400_000))).toBe(400);
  });

  it('refuses invalid UTF-8, lone surrogates (in values and keys), and non-objects with 400', () => {
    expect(status(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).toBe(400);
    expect(status('{"text":"\\ud800"}')).toBe(400);
    expect(status('{"\\udfff":1}')).toBe(400);
    expect(status('{"text":"\\ud83d\\ude00"}')).toBe(200);
    for (const notObject of ['[]', '"activity"', '42', 'null', '', '{"type":'] as const) expect(status(notObject)).toBe(400);
  });
});
