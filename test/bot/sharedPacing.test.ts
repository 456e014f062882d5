import { ProactiveMessenger } from '../../bot/messenger.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { openPostgresStore, type PostgresStore } from '../../storage/postgres/store.js';
import { message } from '../harness/activities.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { createTestDatabase, type TestDatabase } from '../storage/postgres/testDatabase.js';

/**
 * Two replicas' messengers sending into one conversation at once, each booking Teams' windows
 * through its own PostgreSQL store on one database (SendPacing): together they stay inside 7 per
 * second. Real time (about 1 s): the fake Bot Connector stamps each POST as it arrives.
 */
describe('Teams send pacing shared by two replicas', () => {
  let bot: BotHarness;
  let db: TestDatabase;
  const stores: PostgresStore[] = [];
  const conversation = '19:channel-1@thread.tacv2';

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  beforeEach(async () => {
    bot = await startBot();
    await bot.send(message('subscribe', { serviceUrl: bot.connector.url, conversationType: 'channel' }));
    bot.connector.reset();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await bot.stop();
  });
  afterAll(async () => {
    await db.drop();
  });

  const replica = async (shared: boolean) => {
    const pg = await openPostgresStore({ connectionString: db.url, clock: systemClock, logger: silentLogger, poolSize: 2 });
    stores.push(pg);
    return new ProactiveMessenger({ adapter: bot.app.adapter, appId: '', store: bot.store, logger: silentLogger, pacing: shared ? pg.sendPacing : undefined });
  };

  /**
   * The shortest span of 8 consecutive arrivals: Teams allows 7 per second, so with shared
   * pacing the 8th send is booked at least 1 s after the 1st (less up to 200 ms of HTTP jitter
   * on a loaded machine: arrivals, not bookings, are measured).
   */
  const shortestSpanOf8 = (times: number[]) => {
    const sorted = [...times].sort((x, y) => x - y);
    return Math.min(...sorted.slice(7).map((t, i) => t - sorted[i]!));
  };

  it('14 sends from two replicas: the 8th goes a second after the 1st (7 per second together), all delivered', async () => {
    const [a, b] = [await replica(true), await replica(true)];
    await Promise.all(Array.from({ length: 14 }, (_, i) => (i % 2 ? a : b).send(conversation, { text: `m${i}` })));
    const posts = bot.connector.activities();
    expect(posts).toHaveLength(14);
    expect(shortestSpanOf8(posts.map((p) => p.at))).toBeGreaterThanOrEqual(800);
  });

  it('without the shared pacing each replica keeps only its own window (the case the port exists for)', async () => {
    const [a, b] = [await replica(false), await replica(false)];
    await Promise.all(Array.from({ length: 14 }, (_, i) => (i % 2 ? a : b).send(conversation, { text: `m${i}` })));
    expect(shortestSpanOf8(bot.connector.activities().map((p) => p.at))).toBeLessThan(800);
  });
});
