import { helpCard } from '../../cards/index.js';
import { CommandRouter } from '../../bot/commandRouter.js';
import { helpCommand, helpModel } from '../../bot/commands/help.js';

const noop = async () => {};

describe('help model', () => {
  it('is made once per set of commands, frozen, and made again when a command is added', () => {
    const router = new CommandRouter();
    router.register(helpCommand(router, false), { name: 'status', usage: 'status', description: 'Show status.', handle: noop });
    const model = helpModel(router, false);
    expect(helpModel(router, false)).toBe(model);
    expect(Object.isFrozen(model) && Object.isFrozen(model.commands) && Object.isFrozen(model.commands[0])).toBe(true);
    expect(model.commands.map((c) => c.name)).toEqual(['help', 'status']);
    // The same card object each time: found by identity, not rendered or keyed again.
    expect(helpCard(helpModel(router, false), { channelId: 'msteams' })).toBe(helpCard(model, { channelId: 'msteams' }));

    router.register({ name: 'later', usage: 'later', description: 'Registered after the first help.', handle: noop });
    const after = helpModel(router, false);
    expect(after).not.toBe(model);
    expect(after.commands.map((c) => c.name)).toEqual(['help', 'status', 'later']);
    expect(JSON.stringify(helpCard(after, { channelId: 'msteams' }))).toContain('Registered after the first help.');
    expect(helpModel(router, true).sandbox).toBe(true);
  });
});
