import { governancePropertiesSchema, mergeGovernance, mergeIgnoresCurrent } from '../../core/governance.js';
import { governanceProperties } from '../../core/assignments.js';
import type { Assignment } from '../../core/model.js';

const withTicket = {
  owner: 'bob@contoso.com',
  dueDate: '2026-12-10',
  gracePeriod: true,
  notifyOwner: true,
  notifyManager: false,
  ticket: { table: 'incident', sysId: 's', number: 'INC0010023', link: 'https://x.service-now.com/nav', state: '1' },
} as Assignment;
const portalEta = { eta: '2026-12-20T00:00:00Z', justification: 'agreed in the portal' };

describe('governance merge rule (core/governance.ts#mergeGovernance)', () => {
  it('without a current resource: exactly our fields', () => {
    expect(mergeGovernance(undefined, withTicket)).toEqual(governancePropertiesSchema.parse(governanceProperties(withTicket)));
  });

  it('our fields win; the portal keeps the declared fields we have no value for (an ETA set there)', () => {
    const merged = mergeGovernance({ owner: 'someone@contoso.com', remediationDueDate: '2027-01-01T00:00:00Z', remediationEta: portalEta }, withTicket);
    expect(merged).toMatchObject({ owner: 'bob@contoso.com', remediationDueDate: '2026-12-10T23:59:59Z', isGracePeriod: true, remediationEta: portalEta });
    // Before a ticket exists we have no additionalData: the portal's stays.
    const noTicket = { ...withTicket, ticket: undefined } as Assignment;
    expect(
      mergeGovernance({ remediationDueDate: '2027-01-01T00:00:00Z', additionalData: { ticketLink: 'https://elsewhere' } }, noTicket).additionalData,
    ).toEqual({
      ticketLink: 'https://elsewhere',
    });
  });

  it('a malformed portal value is dropped, read-only and unknown ones are not sent back, and the result is valid (the resolution job used to fail here)', () => {
    const current = {
      owner: 'bob@contoso.com',
      remediationDueDate: '2026-12-31T00:00:00Z',
      // Malformed: the justification is missing, so the whole PUT would be refused.
      remediationEta: { eta: '2026-12-20T00:00:00Z' },
      isGracePeriod: 'yes',
      assignedResourceLocation: { lat: 1 },
      lastModified: '2026-11-01T00:00:00Z',
    };
    // The spread the resolution job did sent the malformed ETA back: a body the schema refuses.
    expect(governancePropertiesSchema.safeParse({ ...current, ...governanceProperties(withTicket) }).success).toBe(false);
    const merged = mergeGovernance(current, withTicket);
    expect(governancePropertiesSchema.safeParse(merged).success).toBe(true);
    expect(merged).not.toHaveProperty('remediationEta');
    expect(merged).not.toHaveProperty('assignedResourceLocation');
    expect(merged).not.toHaveProperty('lastModified');
    expect(merged.isGracePeriod).toBe(true);
  });

  it('ours includes an ETA the owner asked for; clearEta removes any ETA once the request is answered', () => {
    const asked = {
      ...withTicket,
      eta: { date: '2026-12-18', justification: 'vendor patch', requestedBy: 'bob@contoso.com', at: '2026-11-26T09:00:00Z' },
    } as Assignment;
    expect(mergeGovernance({ remediationDueDate: '2026-12-31T00:00:00Z', remediationEta: portalEta }, asked).remediationEta).toEqual({
      eta: '2026-12-18T00:00:00Z',
      justification: 'vendor patch',
    });
    expect(mergeGovernance({ remediationDueDate: '2026-12-31T00:00:00Z', remediationEta: portalEta }, withTicket, { clearEta: true })).not.toHaveProperty(
      'remediationEta',
    );
  });

  it('mergeIgnoresCurrent: true exactly when no current resource can change the merge (our ETA, or clearing it)', () => {
    const currents = [
      undefined,
      { owner: 'x@contoso.com', remediationDueDate: '2027-01-01T00:00:00Z', remediationEta: portalEta, isGracePeriod: false },
      { remediationDueDate: '2027-01-01T00:00:00Z', additionalData: { ticketLink: 'https://elsewhere' }, governanceEmailNotification: {} },
    ];
    const withEta = {
      ...withTicket,
      eta: { date: '2026-12-15', justification: 'vendor patch', requestedBy: 'bob@contoso.com', at: '2026-12-01T00:00:00Z' },
    } as Assignment;
    for (const [a, opts] of [
      [withEta, {}],
      [withTicket, { clearEta: true }],
    ] as const) {
      expect(mergeIgnoresCurrent(a, opts)).toBe(true);
      for (const c of currents) expect(mergeGovernance(c, a, opts)).toEqual(mergeGovernance(undefined, a, opts));
    }
    // Without an ETA of ours a portal ETA must survive, and before a ticket the portal's ticket data: the read is needed.
    expect(mergeIgnoresCurrent(withTicket)).toBe(false);
    expect(mergeIgnoresCurrent({ ...withEta, ticket: undefined } as Assignment)).toBe(false);
    expect(mergeGovernance(currents[1], withTicket).remediationEta).toEqual(portalEta);
  });
});
