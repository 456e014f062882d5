import { ProactiveMessenger } from '../../bot/messenger.js';
import { silentLogger } from '../../core/logger.js';
import { message } from '../harness/activities.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';

describe('proactive messenger', () => {
  let bot: BotHarness;
  let virtualNow = 0;
  const sleeps: number[] = [];
  let messenger: ProactiveMessenger;

  beforeEach(async () => {
    bot = await startBot();
    virtualNow = 0;
    sleeps.length = 0;
    messenger = new ProactiveMessenger({
      adapter: bot.app.adapter,
      appId: '',
      store: bot.store,
      logger: silentLogger,
      now: () => virtualNow,
      // Virtual time: sleeping moves the clock instead of waiting.
      sleep: async (ms) => {
        sleeps.push(ms);
        virtualNow += ms;
      },
    });
    await bot.send(message('subscribe', { serviceUrl: bot.connector.url, conversationType: 'channel' }));
    bot.connector.reset();
  });
  afterEach(() => bot.stop());

  it('posts to a stored conversation and returns the activity id; updates in place', async () => {
    const id = await messenger.send('19:channel-1@thread.tacv2', { text: 'hello channel' });
    expect(id).toMatch(/^act-/);
    await messenger.update('19:channel-1@thread.tacv2', id!, { text: 'edited' });
    const [post, put] = bot.connector.activities();
    expect(post).toMatchObject({ method: 'POST', conversationId: '19:channel-1@thread.tacv2', body: { text: 'hello channel' } });
    expect(put).toMatchObject({ method: 'PUT', activityId: id, body: { text: 'edited' } });
  });

  it('builds a deferred message only when its send comes up, once across retries; a build that throws fails that send alone', async () => {
    const built: string[] = [];
    const deferred = (text: string) => () => {
      // Every send queued before this one has reached Teams by the time it is built.
      built.push(`${text} after ${bot.connector.activities().length} posted`);
      return { text };
    };
    bot.connector.failNext(2, 429);
    const sends = [
      messenger.send('19:channel-1@thread.tacv2', deferred('first')),
      messenger.send('19:channel-1@thread.tacv2', () => {
        throw new Error('render failed');
      }),
      messenger.send('19:channel-1@thread.tacv2', deferred('third')),
    ];
    expect(built).toEqual([]);
    const [first, failed, third] = await Promise.allSettled(sends);
    expect(first.status).toBe('fulfilled');
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'render failed' } });
    expect(third.status).toBe('fulfilled');
    expect(built).toEqual(['first after 0 posted', 'third after 1 posted']);
    expect(bot.connector.activities().map((a) => a.body.text)).toEqual(['first', 'third']);
  });

  it('paces a burst to Teams limits: at most 7 per second and 60 per 30 seconds', async () => {
    await Promise.all(Array.from({ length: 70 }, (_, i) => messenger.send('19:channel-1@thread.tacv2', { text: `m${i}` })));
    const posts = bot.connector.activities();
    expect(posts).toHaveLength(70);
    // Order is kept.
    expect(posts.map((p) => p.body.text)).toEqual(Array.from({ length: 70 }, (_, i) => `m${i}`));
    // 70 sends cannot fit in 30 s of virtual time.
    expect(virtualNow).toBeGreaterThanOrEqual(30_000);
    expect(messenger.pending()).toBe(0);
  });

  it('retries throttled and transient failures with backoff, then delivers once', async () => {
    // botbuilder's connector client already waits out a 429 that carries Retry-After (and retries
    // 5xx); without the header the messenger's own backoff takes over.
    bot.connector.failNext(3, 429);
    const id = await messenger.send('19:channel-1@thread.tacv2', { text: 'after throttling' });
    expect(id).toBeDefined();
    expect(sleeps.length).toBeGreaterThanOrEqual(3);
    expect(bot.connector.calls.filter((c) => c.path.startsWith('FAULT'))).toHaveLength(3);
    expect(bot.connector.activities()).toHaveLength(1);
  });

  it('stops retrying after the bound and reports the failure', async () => {
    bot.connector.failNext(10, 429);
    await expect(messenger.send('19:channel-1@thread.tacv2', { text: 'never' })).rejects.toMatchObject({ status: 429, gone: false });
    expect(bot.connector.calls.filter((c) => c.path.startsWith('FAULT'))).toHaveLength(5);
    expect(bot.connector.activities()).toHaveLength(0);
  });

  it('gives up with a clear error on a 403 (bot removed) and keeps serving other sends', async () => {
    bot.connector.failNext(1, 403);
    await expect(messenger.send('19:channel-1@thread.tacv2', { text: 'x' })).rejects.toMatchObject({ name: 'SendError', status: 403, gone: true });
    await expect(messenger.send('19:channel-1@thread.tacv2', { text: 'y' })).resolves.toBeDefined();
    await expect(messenger.send('unknown-conversation', { text: 'z' })).rejects.toMatchObject({ gone: true });
  });
});
