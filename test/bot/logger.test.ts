import { Writable } from 'node:stream';
import { createLogger } from '../../compose/logger.js';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) }) });
  return { logger, lines };
}

describe('logger', () => {
  it('writes structured JSON and redacts secrets at any depth', () => {
    const { logger, lines } = capture();
    logger.info(
      { password: 'p@ss-1', integration: { clientSecret: 'cs-2', nested: { refresh_token: 'rt-3' } }, headers: { authorization: 'Bearer tok-4' } },
      'connected',
    );
    const out = lines.join('');
    for (const secret of ['p@ss-1', 'cs-2', 'rt-3', 'tok-4']) expect(out).not.toContain(secret);
    expect(JSON.parse(lines[0])).toMatchObject({ msg: 'connected', password: '[redacted]' });
  });

  it('keeps request config (with credentials) out of logged HTTP errors', () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error('Request failed with status code 401'), {
      config: { headers: { Authorization: 'Bearer tok-5' }, data: 'grant_type=password&password=pw-6' },
      response: { status: 401, data: 'x' },
    });
    logger.error({ err }, 'call failed');
    const out = lines.join('');
    expect(out).not.toContain('tok-5');
    expect(out).not.toContain('pw-6');
    expect(JSON.parse(lines[0]).err).toMatchObject({ message: 'Request failed with status code 401', status: 401 });
  });

  it('redacts a secret six levels deep, inside arrays, whatever the key casing', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        a: { b: { c: { d: { e: { password: 'deep-pw-6', keep: 'visible-1' } } } } },
        list: [{ token: 'tok-in-array' }, [{ nested: [{ Client_Secret: 'cs-in-nested-array' }] }]],
        headers: { AUTHORIZATION: 'Bearer upper-case-tok' },
      },
      'deep',
    );
    const out = lines.join('');
    for (const secret of ['deep-pw-6', 'tok-in-array', 'cs-in-nested-array', 'upper-case-tok']) expect(out).not.toContain(secret);
    const line = JSON.parse(lines[0]!);
    expect(line.a.b.c.d.e).toEqual({ password: '[redacted]', keep: 'visible-1' });
    expect(line.list[0]).toEqual({ token: '[redacted]' });
    expect(line.list[1][0].nested[0]).toEqual({ Client_Secret: '[redacted]' });
  });

  it('reduces errors nested anywhere (not only under err) and survives cycles and very deep values', () => {
    const { logger, lines } = capture();
    const httpError = Object.assign(new Error('Request failed'), {
      config: { headers: { Authorization: 'Bearer nested-err-tok' }, data: 'password=nested-pw' },
    });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { secret: 'bottom-secret' };
    for (let i = 0; i < 500; i++) deep = { down: deep };
    logger.warn({ details: { attempts: [{ failure: httpError }] }, cyclic, deep }, 'nested');
    const out = lines.join('');
    for (const secret of ['nested-err-tok', 'nested-pw', 'bottom-secret']) expect(out).not.toContain(secret);
    const line = JSON.parse(lines[0]!);
    expect(line.details.attempts[0].failure).toMatchObject({ type: 'Error', message: 'Request failed' });
    expect(line.cyclic).toEqual({ name: 'loop', self: '[circular]' });
  });

  it('redacts child-logger bindings too', () => {
    const { logger, lines } = capture();
    logger.child({ integration: { name: 'Contoso', connection: { password: 'binding-pw' } } }).info('child');
    expect(lines.join('')).not.toContain('binding-pw');
    expect(JSON.parse(lines[0]!).integration).toEqual({ name: 'Contoso', connection: { password: '[redacted]' } });
  });
});
