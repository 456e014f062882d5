import helpTemplate from '../../cards/help.json';
import { helpCard } from '../../cards/index.js';
import { defineCard, rememberCards } from '../../cards/render.js';

const commands = [{ name: 'help', usage: 'help', description: 'Show this list of commands.' }];

describe('remembered cards (help)', () => {
  it('expand once per model and channel, and hand out the same frozen card', () => {
    let expansions = 0;
    const render = defineCard<{ title: string }>({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: '${title}' }] });
    const card = rememberCards<{ title: string }>((m, ctx) => (expansions++, render(m, ctx)));
    const a = card({ title: 'x' }, { channelId: 'msteams' });
    expect(card({ title: 'x' }, { channelId: 'msteams' })).toBe(a);
    expect(expansions).toBe(1);
    expect(card({ title: 'y' }, { channelId: 'msteams' }).body).toEqual([{ type: 'TextBlock', text: 'y' }]);
    card({ title: 'x' }, { channelId: 'emulator' });
    expect(expansions).toBe(3);
    expect(Object.isFrozen(a.body[0])).toBe(true);
  });

  it('keep at most `limit` cards', () => {
    let expansions = 0;
    const card = rememberCards<{ n: number }>(() => (expansions++, { type: 'AdaptiveCard', body: [] }), 2);
    for (const n of [1, 2, 3, 1]) card({ n }, { channelId: 'msteams' });
    expect(expansions).toBe(4);
  });

  it('help: the same card as a fresh expansion, Action.Execute for Teams and Action.Submit elsewhere', () => {
    const fresh = defineCard<Parameters<typeof helpCard>[0]>(helpTemplate);
    for (const channelId of ['msteams', 'emulator']) {
      helpCard({ commands, sandbox: false }, { channelId });
      expect(helpCard({ commands, sandbox: false }, { channelId })).toEqual(fresh({ commands, sandbox: false }, { channelId }));
    }
    expect(JSON.stringify(helpCard({ commands, sandbox: true }, { channelId: 'emulator' }))).not.toContain('Action.Execute');
  });
});

describe('remembered cards of a frozen model', () => {
  /** A deep-frozen model that counts how often it is written out as JSON (the per-request key). */
  function countingModel(title: string) {
    const counter = { writes: 0 };
    const model = Object.freeze({
      title,
      toJSON() {
        counter.writes++;
        return { title };
      },
    });
    return { model, counter };
  }

  it('find the card by identity: the model is not written out again, per channel', () => {
    let expansions = 0;
    const render = defineCard<{ title: string }>({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: '${title}' }] });
    const card = rememberCards<{ title: string }>((m, ctx) => (expansions++, render({ title: m.title }, ctx)));
    const { model, counter } = countingModel('x');
    const a = card(model, { channelId: 'msteams' });
    const writes = counter.writes;
    for (let i = 0; i < 5; i++) expect(card(model, { channelId: 'msteams' })).toBe(a);
    expect(counter.writes).toBe(writes);
    const b = card(model, { channelId: 'emulator' });
    expect(b).not.toBe(a);
    expect(card(model, { channelId: 'emulator' })).toBe(b);
    expect(expansions).toBe(2);
  });

  it('a model that is not frozen all the way down is keyed by its content every time', () => {
    const card = rememberCards<{ items: string[] }>(() => ({ type: 'AdaptiveCard', body: [] }));
    const items = ['a'];
    const model = Object.freeze({ items });
    const first = card(model, { channelId: 'msteams' });
    items.push('b');
    expect(card(model, { channelId: 'msteams' })).not.toBe(first);
  });
});
