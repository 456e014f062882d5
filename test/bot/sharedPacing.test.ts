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

  const busiestSecond = (times: number[]) => Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));

  it('14 sends from two replicas: never more than 7 in any second, all delivered', async () => {
    const [a, b] = [await replica(true), await replica(true)];
    await Promise.all(Array.from({ length: 14 }, (_, i) => (i % 2 ? a : b).send(conversation, { text: `m${i}` })));
    const posts = bot.connector.activities();
    expect(posts).toHaveLength(14);
    expect(busiestSecond(posts.map((p) => p.at))).toBeLessThanOrEqual(7);
  });

  it('without the shared pacing each replica keeps only its own window (the case the port exists for)', async () => {
    const [a, b] = [await replica(false), await replica(false)];
    await Promise.all(Array.from({ length: 14 }, (_, i) => (i % 2 ? a : b).send(conversation, { text: `m${i}` })));
    expect(busiestSecond(bot.connector.activities().map((p) => p.at))).toBeGreaterThan(7);
  });
});
