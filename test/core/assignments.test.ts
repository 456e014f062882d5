import {
  addDays,
  assignmentFormSchema,
  defaultDueDate,
  dueStateText,
  formErrors,
  governanceProperties,
  prefillTexts,
  selectionCorrelationKey,
} from '../../core/assignments.js';
import type { Assignment, Recommendation } from '../../core/model.js';

const NOW = new Date('2026-11-26T15:00:00Z');

describe('assignment rules', () => {
  it('defaults the due date from severity', () => {
    expect(defaultDueDate('High', NOW, 'UTC')).toBe('2026-12-03');
    expect(defaultDueDate('Medium', NOW, 'UTC')).toBe('2026-12-10');
    expect(defaultDueDate('Low', NOW, 'UTC')).toBe('2026-12-26');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });

  it('validates the form: due date after today and within a year, known ticket type, toggles as strings', () => {
    const schema = assignmentFormSchema(NOW, 'UTC');
    const base = {
      recommendationKey: 'k',
      resourceIds: '/a,/b,/a',
      integrationId: 'i',
      ticketType: 'incident',
      assignedTo: 'o@x.com',
      caller: 'c@x.com',
      shortDescription: 's',
      description: 'd',
      dueDate: '2026-12-01',
      gracePeriod: 'true',
      notifyOwner: 'false',
    };
    const ok = schema.parse(base);
    expect(ok).toMatchObject({ resourceIds: ['/a', '/b'], gracePeriod: true, notifyOwner: false, notifyManager: false, grouping: 'perResource' });
    const bad = schema.safeParse({ ...base, dueDate: '2026-11-26', ticketType: 'task' });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(formErrors(bad.error)).toEqual({ dueDate: 'must be after today', ticketType: 'must be incident, change_request or problem' });
    const far = schema.safeParse({ ...base, dueDate: '2028-01-01' });
    expect(far.success || formErrors(far.error).dueDate).toBe('must be within a year');
  });

  it('states the due state for cards', () => {
    expect(dueStateText({ dueDate: '2026-11-30', gracePeriod: true }, NOW, 'UTC')).toBe(' · in grace period (not affecting secure score)');
    expect(dueStateText({ dueDate: '2026-11-20', gracePeriod: true }, NOW, 'UTC')).toBe(' · 6 day(s) overdue, grace period ended (affects secure score)');
    expect(dueStateText({ dueDate: '2026-11-20', gracePeriod: false }, NOW, 'UTC')).toBe(' · 6 day(s) overdue');
    expect(dueStateText({ dueDate: '2026-11-30', gracePeriod: false }, NOW, 'UTC')).toBe('');
  });

  it('keys a whole-selection ticket by recommendation and the set of resources, in any order', () => {
    const a = selectionCorrelationKey('KEY', ['/subscriptions/x/b', '/subscriptions/x/a']);
    expect(a).toBe(selectionCorrelationKey('key', ['/subscriptions/x/A', '/subscriptions/x/B']));
    expect(a.length).toBeLessThanOrEqual(100);
    expect(a).not.toBe(selectionCorrelationKey('key', ['/subscriptions/x/a']));
  });

  it('pre-fills ticket texts from the recommendation, stripped of HTML', () => {
    const rec = {
      displayName: 'Storage accounts should restrict network access',
      severity: 'Medium',
      description: '<p>Open &amp; exposed</p>',
      remediation: '<ol><li>Go to <b>Networking</b></li></ol>',
      portalLink: 'https://portal.azure.com/#x',
    } as Recommendation;
    const r = {
      resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1',
      assessmentId: 'x',
      name: 'st1',
      type: 'Storage/storageAccounts',
      subscriptionId: 's',
      resourceGroup: 'rg',
    };
    const p = prefillTexts(rec, [r]);
    expect(p.shortDescription).toBe('[Defender for Cloud] Storage accounts should restrict network access – st1');
    expect(p.description).toContain('Open & exposed');
    expect(p.description).toContain('Networking');
    expect(p.description).not.toMatch(/<\/?[a-z]/);
    expect(p.description).toContain('https://portal.azure.com/#x');
  });

  it('shapes the governance assignment with the numeric ticket number and both notification flags', () => {
    const a = {
      owner: 'o@x.com',
      dueDate: '2026-12-10',
      gracePeriod: false,
      notifyOwner: true,
      notifyManager: false,
      ticket: { table: 'incident', sysId: 's', number: 'INC0010023', link: 'https://x/nav', state: '2' },
    } as Assignment;
    expect(governanceProperties(a)).toEqual({
      owner: 'o@x.com',
      remediationDueDate: '2026-12-10T23:59:59Z',
      isGracePeriod: false,
      governanceEmailNotification: { disableManagerEmailNotification: true, disableOwnerEmailNotification: false },
      additionalData: { ticketNumber: 10023, ticketLink: 'https://x/nav', ticketStatus: 'INC0010023 (state 2)' },
    });
  });
});
