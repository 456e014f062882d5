import { execute, submit } from '../harness/activities.js';
import { assignmentFormValues, SANDBOX_ADMIN, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { MAX_SELECTED_ACROSS_PAGES } from '../../cards/recommendationCards.js';
import { MAX_CARD_BYTES } from '../../cards/render.js';
import type { Recommendation } from '../../core/model.js';
import { cardProblems } from '../cards/validate.js';

const CHANNEL = { conversationType: 'channel' as const, from: SANDBOX_ADMIN };

/** Every node of a card with the given type. */
function nodes(card: unknown, type: string): any[] {
  const out: any[] = [];
  const walk = (n: any) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      if (n.type === type) out.push(n);
      Object.values(n).forEach(walk);
    }
  };
  walk(card);
  return out;
}

const choiceSet = (card: unknown) => nodes(card, 'Input.ChoiceSet').find((c) => c.id === 'resourceIds');
const ticked = (card: unknown) =>
  String(choiceSet(card)?.value ?? '')
    .split(',')
    .filter(Boolean);
const action = (card: unknown, title: string | RegExp) =>
  nodes(card, 'Action.Execute').find((a) => (typeof title === 'string' ? a.title === title : title.test(a.title)));

describe('the selection of a recommendation card is kept across its pages', () => {
  let h: SandboxHarness;
  let rec: Recommendation;
  beforeAll(async () => {
    h = await startSandboxBot();
    const big = (await h.bot.store.recommendations.list()).filter((r) => r.status === 'unhealthy' && r.resources.length > 25);
    if (!big.length) throw new Error('the sandbox data has no recommendation with two pages');
    rec = big[0];
  });
  afterAll(() => h.stop());

  const page = async (n: number, resourceIds: string[]) =>
    (
      await h.bot.send(
        execute(
          'refreshRecommendation',
          { recommendationKey: rec.key, page: String(n), resourceIds: resourceIds.join(',') },
          { serviceUrl: h.bot.connector.url, ...CHANNEL },
        ),
      )
    ).body.value;

  it('Next and Previous keep resources ticked on other pages, and one assignment covers both pages', async () => {
    const [a, b] = rec.resources.slice(0, 2).map((r) => r.resourceId);
    const c = rec.resources[26].resourceId;
    // Ticked a and b on page 1, then Next.
    const two = await page(2, [a, b]);
    expect(ticked(two)).toEqual([a, b]);
    const choices = choiceSet(two).choices.map((ch: any) => ch.value);
    // Carried ones first (still ticked, named with their page), then page 2's own 25 or fewer.
    expect(choices.slice(0, 2)).toEqual([a, b]);
    expect(choiceSet(two).choices[0].title).toBe(`${rec.resources[0].name} · selected on page 1`);
    expect(choices.slice(2)).toEqual(rec.resources.slice(25, 50).map((r) => r.resourceId));
    expect(choiceSet(two).label).toMatch(/· 2 selected on other pages, listed first$/);
    expect(cardProblems(two)).toEqual([]);
    // Tick c on page 2 too, then Previous: page 1 shows a and b ticked in place and c carried.
    const one = await page(1, [...ticked(two), c]);
    expect(new Set(ticked(one))).toEqual(new Set([a, b, c]));
    expect(choiceSet(one).choices[0].value).toBe(c);
    // Unticking b on page 1 drops it.
    const again = await page(2, [a, c]);
    expect(new Set(ticked(again))).toEqual(new Set([a, c]));

    // Create assignment sends the choice set's value: everything ticked, from both pages.
    const form = await h.bot.send(
      execute('createAssignment', { recommendationKey: rec.key, resourceIds: [a, b, c].join(',') }, { serviceUrl: h.bot.connector.url, ...CHANNEL }),
    );
    expect(JSON.stringify(form.body.value)).toContain('3 ');
    await h.bot.send(
      submit(
        { verb: 'submitAssignment', recommendationKey: rec.key, resourceIds: [a, b, c].join(','), ...assignmentFormValues(h.integrationId) },
        { serviceUrl: h.bot.connector.url, channelId: 'msteams', ...CHANNEL },
      ),
    );
    const live = (await h.bot.store.assignments.list()).filter((x) => x.recommendationKey === rec.key);
    expect(new Set(live.map((x) => x.resourceId))).toEqual(new Set([a, b, c]));
  });

  it('keeps at most the bound, drops ids that are not unhealthy resources of this recommendation', async () => {
    const all = rec.resources.map((r) => r.resourceId);
    const card = await page(1, [...all, '/subscriptions/forged/resourceGroups/x/providers/y/z', 'not-an-id']);
    expect(ticked(card)).toHaveLength(Math.min(all.length, MAX_SELECTED_ACROSS_PAGES));
    expect(ticked(card).every((id) => all.includes(id))).toBe(true);
    // The last page carries the most from elsewhere; it stays well inside Teams' card size.
    const last = await page(99, all);
    expect(cardProblems(last)).toEqual([]);
    expect(Buffer.byteLength(JSON.stringify(last))).toBeLessThan(MAX_CARD_BYTES * 0.75);
    const tooLong = await h.bot.send(
      execute(
        'refreshRecommendation',
        { recommendationKey: rec.key, page: '1', resourceIds: 'x'.repeat(50_000) },
        { serviceUrl: h.bot.connector.url, ...CHANNEL },
      ),
    );
    expect(tooLong.status).toBe(200);
    expect(choiceSet(tooLong.body.value)).toBeUndefined();
  });

  it('offers "Assign all N unhealthy resources" on the card, which opens the form for all of them without the inputs', async () => {
    const card = await page(1, []);
    const all = action(card, `Assign all ${rec.resources.length} unhealthy resources`);
    expect(all).toMatchObject({ verb: 'createAssignment', associatedInputs: 'none', data: { recommendationKey: rec.key, resourceIds: '*' } });
    const form = await h.bot.send(execute('createAssignment', all.data, { serviceUrl: h.bot.connector.url, ...CHANNEL }));
    expect(JSON.stringify(form.body.value)).toContain(String(rec.resources.length));
    expect(JSON.stringify(form.body.value)).not.toContain('Assign all');
  });
});
