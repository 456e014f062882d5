/**
 * A resolution pass posts one message per conversation that lists its outcomes (a digest), not one
 * message per outcome; a lone outcome keeps its own text. Real HTTP against both simulators and the
 * fake Bot Connector, real lowdb store (see world.ts).
 */
import { Announcements, ANNOUNCEMENT_WORK, DIGEST_MAX_CHARS, DIGEST_MAX_LINES, digestTexts } from '../../app/announcements.js';
import { GovernanceWriteBack } from '../../app/governance.js';
import type { Messenger } from '../../app/ports.js';
import { ResolutionJob } from '../../app/resolution.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { Assignment } from '../../core/model.js';
import { announcements } from '../../core/resolution.js';
import { message } from '../harness/activities.js';
import { ALL_SCOPES, CHANNEL, healthy, reassign, settled, type World } from './world.js';

const MINUTE = 60_000;
const OTHER_CHANNEL = '19:channel-2@thread.tacv2';
const HEALTHY = { kind: 'Healthy', statusChangeDate: '' } as const;

/** The bullet lines of a digest message. */
const linesOf = (text: string) => text.split('\n').filter((l) => l.startsWith('- '));

function postsTo(w: World, conversationId: string): string[] {
  return w.bot.connector
    .activities()
    .filter((c) => c.method === 'POST' && c.conversationId === conversationId && typeof c.body?.text === 'string')
    .map((c) => c.body.text as string);
}

/** The job of `w` with its own Announcements (messenger and logger), everything else the bot's. */
function jobWith(w: World, messenger: Messenger, logger: Logger = silentLogger): ResolutionJob {
  const { writer, cards } = w.bot.app.services;
  return new ResolutionJob({
    store: w.bot.store,
    writer,
    governance: new GovernanceWriteBack({ defender: w.azure, writer, clock: w.clock, logger: silentLogger }),
    announcements: new Announcements({ store: w.bot.store, messenger, logger }),
    cards,
    azure: w.azure,
    integrations: w.bot.app.integrations,
    clock: w.clock,
    logger: silentLogger,
    scopes: ALL_SCOPES,
  });
}

function capturingLogger(): Logger & { entries: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> } {
  const entries: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      entries.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj: obj as Record<string, unknown>, msg });
    };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger, entries };
  return logger;
}

describe('resolution job: one message per conversation and pass', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('several outcomes in one pass: one message with a line for each', async () => {
    let seeded: Assignment[];
    ({ w, seeded } = await settled(4));
    const [fixed1, fixed2, moved1, moved2] = seeded as [Assignment, Assignment, Assignment, Assignment];
    healthy(w, fixed1);
    healthy(w, fixed2);
    reassign(w, moved1);
    reassign(w, moved2);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ resolved: 2, ownersChanged: 2, announcements: 4, announcementMessages: 1, errors: 0 });
    const sent = postsTo(w, CHANNEL);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.split('\n')[0]).toBe('4 updates from the resolution job:');
    const lines = linesOf(sent[0]!);
    expect(lines).toHaveLength(4);
    // Each line is the outcome's own text, as a lone announcement would have said it.
    for (const a of [fixed1, fixed2]) expect(lines).toContain(`- ${announcements.resolved(a, HEALTHY, a.ticket!.number)}`);
    for (const a of [moved1, moved2]) expect(lines).toContain(`- ${announcements.ownerChanged(a, a.ticket!.number, 'carol.nguyen@contoso.com')}`);
    expect(await w.bot.store.work.list({ kind: ANNOUNCEMENT_WORK, statuses: ['queued', 'running'] })).toEqual([]);

    // Claimed is claimed: a later full pass sends none of them again.
    w.bot.connector.reset();
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce({ full: true })).toMatchObject({ announcements: 0, announcementMessages: 0, errors: 0 });
    expect(w.announcements()).toEqual([]);
  });

  it('one outcome: its own text, as before digests', async () => {
    let seeded: Assignment[];
    ({ w, seeded } = await settled(2));
    const fixed = seeded[0]!;
    healthy(w, fixed);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ resolved: 1, announcements: 1, announcementMessages: 1, errors: 0 });
    expect(w.announcements()).toEqual([announcements.resolved(fixed, HEALTHY, fixed.ticket!.number)]);
  });

  it(`more than ${DIGEST_MAX_LINES} outcomes: split into messages of at most ${DIGEST_MAX_LINES} lines, in order`, async () => {
    const count = DIGEST_MAX_LINES + 5;
    let seeded: Assignment[];
    ({ w, seeded } = await settled(count));
    for (const a of seeded) healthy(w, a);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ resolved: count, announcements: count, announcementMessages: 2, errors: 0 });
    const sent = postsTo(w, CHANNEL);
    expect(sent).toHaveLength(2);
    expect(sent[0]!.split('\n')[0]).toBe(`${count} updates from the resolution job (1–${DIGEST_MAX_LINES}):`);
    expect(sent[1]!.split('\n')[0]).toBe(`${count} updates from the resolution job (${DIGEST_MAX_LINES + 1}–${count}):`);
    expect(linesOf(sent[0]!)).toHaveLength(DIGEST_MAX_LINES);
    expect(linesOf(sent[1]!)).toHaveLength(5);
    const all = sent.flatMap(linesOf);
    for (const a of seeded) expect(all.filter((l) => l.includes(`${a.ticket!.number} resolved automatically`))).toHaveLength(1);
  });

  it(`long outcomes: each message stays under ${DIGEST_MAX_CHARS} characters and 28 KB on the wire`, async () => {
    let seeded: Assignment[];
    ({ w, seeded } = await settled(12));
    // Long, non-ASCII names (2 bytes each in UTF-8): about 1,300 characters a line.
    const renamed = seeded.map((a, i) => ({ ...a, recommendationName: `Vérifié ${i} ${'é'.repeat(1_200)}` }));
    await w.bot.store.assignments.upsertMany(renamed);
    for (const a of renamed) healthy(w, a);
    w.clock.advance(MINUTE);
    const report = await w.job.runOnce();
    expect(report).toMatchObject({ resolved: 12, announcements: 12, errors: 0 });
    const posts = w.bot.connector.activities().filter((c) => c.method === 'POST' && c.conversationId === CHANNEL);
    expect(posts.length).toBeGreaterThan(1);
    expect(report.announcementMessages).toBe(posts.length);
    for (const p of posts) {
      expect((p.body.text as string).length).toBeLessThanOrEqual(DIGEST_MAX_CHARS);
      expect(Buffer.byteLength(JSON.stringify(p.body), 'utf8')).toBeLessThan(28 * 1024);
    }
    const all = posts.flatMap((p) => linesOf(p.body.text as string));
    expect(all).toHaveLength(12);
    for (const a of renamed) expect(all).toContain(`- ${announcements.resolved(a, HEALTHY, a.ticket!.number)}`);
  });

  it('two conversations: one message each; a conversation with one outcome gets its own text', async () => {
    let seeded: Assignment[];
    ({ w, seeded } = await settled(3));
    await w.bot.send(message('subscribe', { serviceUrl: w.bot.connector.url, conversationType: 'channel', conversationId: OTHER_CHANNEL }));
    const [a, b, c] = seeded as [Assignment, Assignment, Assignment];
    const elsewhere = { ...c, conversationId: OTHER_CHANNEL };
    await w.bot.store.assignments.upsertMany([elsewhere]);
    w.bot.connector.reset();
    for (const x of [a, b, c]) healthy(w, x);
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ resolved: 3, announcements: 3, announcementMessages: 2, errors: 0 });
    const here = postsTo(w, CHANNEL);
    expect(here).toHaveLength(1);
    expect(linesOf(here[0]!)).toEqual(expect.arrayContaining([a, b].map((x) => `- ${announcements.resolved(x, HEALTHY, x.ticket!.number)}`)));
    expect(linesOf(here[0]!)).toHaveLength(2);
    expect(postsTo(w, OTHER_CHANNEL)).toEqual([announcements.resolved(elsewhere, HEALTHY, c.ticket!.number)]);
  });

  it('a digest that Teams refuses is logged with all its keys, which stay claimed: not sent again', async () => {
    let seeded: Assignment[];
    ({ w, seeded } = await settled(3));
    for (const a of seeded) healthy(w, a);
    w.clock.advance(MINUTE);
    const logger = capturingLogger();
    // 400 is neither retried (botbuilder retries 5xx, the messenger 412/429) nor a removal.
    w.bot.connector.failNext(1, 400);
    expect(await jobWith(w, w.bot.app.messenger, logger).runOnce()).toMatchObject({ resolved: 3, announcements: 0, announcementMessages: 0 });
    expect(w.announcements()).toEqual([]);
    const failed = logger.entries.filter((e) => e.msg === 'announcement could not be sent');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.obj.keys).toHaveLength(3);
    expect(failed[0]!.obj.conversationId).toBe(CHANNEL);

    w.clock.advance(MINUTE);
    expect(await w.job.runOnce({ full: true })).toMatchObject({ announcements: 0, announcementMessages: 0, errors: 0 });
    expect(w.announcements()).toEqual([]);
  });

  it('a process killed after the claim, before the send: after a restart the digest is not sent (at most once)', async () => {
    let seeded: Assignment[];
    ({ w, seeded } = await settled(3));
    for (const a of seeded) healthy(w, a);
    w.clock.advance(MINUTE);
    // The claim's transaction commits on the real store; the process dies before anything reaches Teams.
    const dying: Messenger = Object.create(w.bot.app.messenger) as Messenger;
    dying.send = () => Promise.reject(new Error('killed after the claim'));
    expect(await jobWith(w, dying).runOnce()).toMatchObject({ resolved: 3, announcements: 0 });
    await w.bot.store.flush();
    expect(await w.bot.store.work.list({ kind: ANNOUNCEMENT_WORK, statuses: ['queued', 'running'] })).toEqual([]);

    await w.restart();
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce()).toMatchObject({ announcements: 0, announcementMessages: 0, errors: 0 });
    w.clock.advance(MINUTE);
    expect(await w.job.runOnce({ full: true })).toMatchObject({ announcements: 0, errors: 0 });
    expect(w.announcements()).toEqual([]);
  });
});

describe('digestTexts', () => {
  it('keeps the order given, and a text too long to share a message goes alone, as is', () => {
    const long = 'x'.repeat(DIGEST_MAX_CHARS + 10);
    const out = digestTexts(['one', 'two', long, 'three']);
    expect(out.map((m) => m.count)).toEqual([2, 1, 1]);
    expect(out[0]!.text).toBe('4 updates from the resolution job (1–2):\n\n- one\n- two');
    expect(out[1]!.text).toBe(long);
    expect(out[2]!.text).toBe('three');
    expect(digestTexts([])).toEqual([]);
  });
});
