import { userId } from '../../sandbox/servicenow/index.js';
import type { Assignment } from '../../core/model.js';
import { startWorld, type World } from './world.js';

const get = async (w: World, a: Assignment) => (await w.bot.store.assignments.get(a.id))!;

describe('resolution job: one integration whose secret cannot be decrypted', () => {
  let w: World;
  afterEach(() => w?.close());

  it("does not stop the other integration's assignments", async () => {
    w = await startWorld();
    // A second integration whose stored password no longer decrypts (e.g. the key was rotated without re-encrypting).
    const broken = {
      ...w.integration,
      id: 'broken-integration',
      name: 'Broken ITSM',
      password: { ...w.integration.password, data: Buffer.from('not the ciphertext').toString('base64') },
    };
    await w.bot.store.integrations.upsert(broken);
    expect(() => w.bot.app.integrations.clientFor(broken)).toThrow();

    // Its assignment comes first, so a failure that escaped would stop the pass before the good one.
    const lost = await w.seed({ ticketType: 'incident', withCard: false });
    await w.bot.store.assignments.upsertMany([{ ...lost, integrationId: broken.id }]);
    const good = await w.seed({ ticketType: 'incident', withCard: false });
    const fixed = await w.seed({ ticketType: 'incident', withCard: false });
    w.snow.control.setFields('incident', good.ticket!.sysId, { assigned_to: userId('carol.nguyen') });
    w.defender.control.markHealthy({ resourceId: fixed.resourceId, assessmentKey: fixed.recommendationKey });
    w.defender.control.markHealthy({ resourceId: lost.resourceId, assessmentKey: lost.recommendationKey });

    const report = await w.job.runOnce();
    expect(report.errors).toBeGreaterThanOrEqual(1);
    expect(report).toMatchObject({ ownersChanged: 1, resolved: 1 });
    expect(await get(w, good)).toMatchObject({ status: 'open', owner: 'carol.nguyen@contoso.com' });
    expect(await get(w, fixed)).toMatchObject({ status: 'resolved' });
    expect(w.snow.control.record('incident', fixed.ticket!.sysId)!.state).toBe('6');
    // The broken integration's assignment is left as it was, for a later pass.
    expect(await get(w, { ...lost, integrationId: broken.id })).toMatchObject({ status: 'open', integrationId: broken.id });
  });
});
