import { execute, message } from '../harness/activities.js';
import { SANDBOX_ADMIN, SANDBOX_READER, startSandboxBot, type SandboxHarness } from '../harness/sandboxHarness.js';
import { SANDBOX_SCOPE } from '../../sandbox/index.js';

/** The `rules` command and its card actions through the real server (fake Bot Connector), with both simulators. */
const CHANNEL = { conversationType: 'channel' as const };
const STORAGE = 'Secure transfer to storage accounts should be enabled';

describe('rules in Teams', () => {
  let h: SandboxHarness;
  afterEach(() => h?.stop());

  const act = (verb: string, data: Record<string, unknown>, from = SANDBOX_ADMIN) =>
    h.bot.send(execute(verb, data, { serviceUrl: h.bot.connector.url, ...CHANNEL, from }));
  const cardOf = (res: { body: any }) => JSON.stringify(res.body?.value ?? res.body);

  it("lists our rules with their counts and Defender's with Import; preview, disable, enable; a Reader is refused", async () => {
    h = await startSandboxBot({ env: { RULE_MAX_TICKETS_PER_SYNC: '2' } });
    const rules = h.bot.app.services.rules;
    const rule = await rules.add(
      {
        name: 'Storage by tag',
        integration: 'Contoso ServiceNow',
        scope: SANDBOX_SCOPE,
        recommendations: [STORAGE],
        owner: { kind: 'tag', tags: ['owner', 'SecurityOwner'] },
        dueInDays: 14,
      },
      { kind: 'cli', name: 'cli:test' },
    );
    await h.bot.app.runCycle!();

    await h.bot.send(message('rules', { serviceUrl: h.bot.connector.url, ...CHANNEL, from: SANDBOX_ADMIN }));
    await h.bot.connector.waitFor((calls) => calls.some((c) => JSON.stringify(c.body).includes('Governance rules')));
    const listed = JSON.stringify(h.bot.connector.cards().find((c) => JSON.stringify(c).includes('Governance rules')));
    const stats = (await rules.get(rule.id)).stats;
    expect(listed).toContain('**Storage by tag** · paused: ');
    expect(listed).toContain(`matched ${stats.matched} · assigned 2 · needs an owner ${stats.needsOwner} · last run 2026-11-26 09:00 UTC`);
    expect(listed).toContain('Needs an owner:');
    expect(listed).toContain("Defender for Cloud's governance rules");
    expect(listed.match(/importDefenderRule/g)).toHaveLength(3);

    // The recommendation card's ticket lines say which rule assigned them.
    await h.bot.app.messenger.drain();
    const recCards = h.bot.connector.activities().filter((c) => JSON.stringify(c.body).includes('by rule Storage by tag'));
    expect(recCards.length).toBeGreaterThan(0);

    const preview = await act('previewRule', { ruleId: rule.id });
    expect(cardOf(preview)).toContain('Preview of Storage by tag');
    expect(cardOf(preview)).toContain('Nothing was created.');

    await act('disableRule', { ruleId: rule.id }, SANDBOX_READER);
    // A refusal is a reply of its own (the list card stays as it was).
    await h.bot.connector.waitFor((calls) => calls.some((c) => JSON.stringify(c.body).includes('Not allowed')));
    expect((await rules.get(rule.id)).enabled).toBe(true);

    const confirmed = await act('confirmRule', { ruleId: rule.id });
    expect(cardOf(confirmed)).toContain('Confirmed by Alice Johnson');
    await h.bot.app.runCycle!();
    expect((await rules.get(rule.id)).paused).toBeUndefined();
    expect((await h.bot.store.assignments.list()).filter((a) => a.byRule).length).toBe((await rules.get(rule.id)).stats.assigned);
    expect((await rules.get(rule.id)).stats.assigned).toBeGreaterThan(2);

    const disabled = await act('disableRule', { ruleId: rule.id });
    expect(cardOf(disabled)).toContain('The assignments and tickets it made stay as they are');
    expect((await rules.get(rule.id)).enabled).toBe(false);

    const defenderId = listed.match(/"defenderRuleId":"([^"]+)"/)![1]!;
    const imported = await act('importDefenderRule', { defenderRuleId: defenderId, integrationId: h.integrationId });
    expect(cardOf(imported)).toContain('Imported as');
    expect((await h.bot.store.rules.list()).find((r) => r.source?.id === defenderId)).toMatchObject({
      enabled: false,
      conversationId: '19:channel-1@thread.tacv2',
    });
  });
});
