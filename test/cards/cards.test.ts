import { errorCard, helpCard, noticeCard, welcomeCard, welcomeHints } from '../../cards/index.js';
import { adaptActionsForChannel, defineCard, CardTooLargeError } from '../../cards/render.js';
import { cardProblems } from './validate.js';

const samples = {
  help: (ch: string) => helpCard({ commands: [{ name: 'help', usage: 'help', description: 'Show commands' }], sandbox: true }, { channelId: ch }),
  welcome: (ch: string) => welcomeCard({ where: 'this channel', posts: ['a', 'b'], sandbox: false, ...welcomeHints('channel', 'Bot') }, { channelId: ch }),
  welcomeNotSubscribed: (ch: string) =>
    welcomeCard(
      {
        where: 'this channel',
        posts: ['a', 'b'],
        sandbox: true,
        ...welcomeHints('channel', 'Bot'),
        pending: { reason: 'why', hint: 'type **@Bot subscribe**' },
      },
      { channelId: ch },
    ),
  error: (ch: string) => errorCard({ title: 'Oops', message: 'Bad', details: ['x: y'], reference: 'abcd1234' }, { channelId: ch }),
  notice: (ch: string) => noticeCard({ title: 'T', text: 'body', facts: [{ title: 'k', value: 'v' }] }, { channelId: ch }),
};

describe('card templates', () => {
  it.each(Object.entries(samples))('%s renders as a valid 1.5 card in Teams and in the Emulator', (_name, render) => {
    for (const channel of ['msteams', 'emulator']) {
      const card = render(channel);
      expect(card.version).toBe('1.5');
      expect(cardProblems(card)).toEqual([]);
      expect(JSON.stringify(card)).not.toContain('${');
    }
  });

  it('turns Action.Execute into Action.Submit carrying the verb outside Teams, and keeps it in Teams', () => {
    const card = { type: 'AdaptiveCard', body: [], actions: [{ type: 'Action.Execute', title: 'Go', verb: 'refresh', data: { key: 'k1' } }] };
    expect(adaptActionsForChannel(card, 'emulator')).toMatchObject({ actions: [{ type: 'Action.Submit', title: 'Go', data: { key: 'k1', verb: 'refresh' } }] });
    expect((adaptActionsForChannel(card, 'emulator') as any).actions[0].verb).toBeUndefined();
    expect(adaptActionsForChannel(card, 'msteams')).toEqual(card);
  });

  it('leaves a missing field empty instead of printing the binding', () => {
    const card = defineCard<{ a?: string }>({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: 'x${a}y' }] })({}, { channelId: 'msteams' });
    expect((card.body[0] as any).text).toBe('xy');
  });

  it('refuses a card over the size limit', () => {
    const big = defineCard<{ items: string[] }>({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', $data: '${items}', text: '${$data}' }] });
    expect(() => big({ items: Array.from({ length: 2000, length2: 0 } as any, () => 'x'.repeat(30)) }, { channelId: 'msteams' })).toThrow(CardTooLargeError);
  });
});
