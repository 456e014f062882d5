import { Writable } from 'node:stream';
import { createLogger } from '../../bot/logger.js';

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
});
