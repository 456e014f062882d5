import { assignmentFormSchema, DEFAULT_SEVERITY_IMPACT_URGENCY, formErrors, parseSeverityImpactUrgency, ticketFields } from '../../core/assignments.js';
import { zonedDayEnd } from '../../core/calendar.js';
import { isEntraObjectId, parseOwnerInput, PERSON_NOT_FOUND } from '../../core/owner.js';
import { applyWrite } from '../../sandbox/servicenow/rules.js';

const users = { ownerSysId: 'o', callerSysId: 'c', groupSysId: 'g' };
const form = { ticketType: 'incident' as const, shortDescription: 's', description: 'd', dueDate: '2026-12-20' };

describe('ticketFields', () => {
  it('default field set: texts, users, impact/urgency from the severity and the due date, nothing else', () => {
    expect(ticketFields({ ...form, severity: 'High', assignmentGroup: 'Ops', impact: '3', urgency: '3' }, users, false)).toEqual({
      short_description: 's',
      description: 'd',
      assigned_to: 'o',
      caller_id: 'c',
      impact: '1',
      urgency: '1',
      due_date: '2026-12-20 23:59:59',
    });
    expect(ticketFields({ ...form, severity: 'Medium' }, users, false)).toMatchObject({ impact: '2', urgency: '2' });
    expect(ticketFields({ ...form, severity: 'Low', ticketType: 'problem' }, users, false)).toMatchObject({ impact: '3', urgency: '3', opened_by: 'c' });
  });

  it('customized: the group, and the chosen impact/urgency over the severity; the policy and time zone apply', () => {
    expect(ticketFields({ ...form, severity: 'High', assignmentGroup: 'Ops', impact: '2' }, users, true)).toMatchObject({
      assignment_group: 'g',
      impact: '2',
      urgency: '1',
    });
    const policy = { severityImpactUrgency: { ...DEFAULT_SEVERITY_IMPACT_URGENCY, Low: { impact: '2', urgency: '3' } } as const, timeZone: 'America/New_York' };
    expect(ticketFields({ ...form, severity: 'Low' }, users, false, policy)).toMatchObject({ impact: '2', urgency: '3', due_date: '2026-12-21 04:59:59' });
  });
});

describe('zonedDayEnd', () => {
  it.each([
    ['2026-12-20', 'UTC', '2026-12-20T23:59:59.000Z'],
    ['2026-12-20', 'Asia/Tokyo', '2026-12-20T14:59:59.000Z'],
    ['2026-12-20', 'America/New_York', '2026-12-21T04:59:59.000Z'],
    // The days daylight-saving time starts and ends: the offset at the end of the day counts.
    ['2026-03-29', 'Europe/Dublin', '2026-03-29T22:59:59.000Z'],
    ['2026-10-25', 'Europe/Dublin', '2026-10-25T23:59:59.000Z'],
    ['2026-11-01', 'America/Los_Angeles', '2026-11-02T07:59:59.000Z'],
    ['2026-12-20', 'Asia/Kathmandu', '2026-12-20T18:14:59.000Z'],
  ])('%s in %s ends at %s', (day, zone, iso) => {
    expect(zonedDayEnd(day, zone).toISOString()).toBe(iso);
  });
});

describe('SEVERITY_IMPACT_URGENCY', () => {
  it('parses severity=impact/urgency, any case and spacing; a severity left out keeps its default', () => {
    expect(parseSeverityImpactUrgency('High=1/1,Medium=2/2,Low=3/3')).toEqual({ ok: true, value: DEFAULT_SEVERITY_IMPACT_URGENCY });
    expect(parseSeverityImpactUrgency(' high = 2 / 1 ')).toEqual({
      ok: true,
      value: { ...DEFAULT_SEVERITY_IMPACT_URGENCY, High: { impact: '2', urgency: '1' } },
    });
  });
  it.each([['High=0/1'], ['High=1'], ['Critical=1/1'], ['High=1/1,High=2/2'], ['High=1/4']])('refuses %s', (text) => {
    const parsed = parseSeverityImpactUrgency(text);
    expect(parsed.ok).toBe(false);
  });
});

describe('owner field: e-mail or Entra object id', () => {
  it('tells e-mail, object id and user name apart', () => {
    expect(parseOwnerInput(' Bob.Martinez@Contoso.com ')).toEqual({ kind: 'email', email: 'bob.martinez@contoso.com' });
    expect(parseOwnerInput('2F3C1A9E-1D4B-4C8E-9A7F-0B6D5E4C3B2A')).toEqual({ kind: 'objectId', objectId: '2f3c1a9e-1d4b-4c8e-9a7f-0b6d5e4c3b2a' });
    expect(parseOwnerInput('bob.martinez')).toEqual({ kind: 'userName', userName: 'bob.martinez' });
    expect(parseOwnerInput('  ')).toEqual({ kind: 'empty' });
    expect(parseOwnerInput('bob martinez')).toEqual({ kind: 'invalid' });
    expect(isEntraObjectId('not-a-guid')).toBe(false);
  });

  it('the form refuses an object id nobody turned into a UPN, with a message for the field (not a ServiceNow lookup of a GUID)', () => {
    const parsed = assignmentFormSchema(new Date('2026-11-26T09:00:00Z'), 'UTC').safeParse({
      recommendationKey: 'k',
      resourceIds: '/a',
      integrationId: 'i',
      ticketType: 'incident',
      assignedTo: '2f3c1a9e-1d4b-4c8e-9a7f-0b6d5e4c3b2a',
      caller: 'c@x.com',
      shortDescription: 's',
      description: 'd',
      dueDate: '2026-12-01',
    });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(formErrors(parsed.error)).toEqual({ assignedTo: PERSON_NOT_FOUND });
  });
});

describe('ServiceNow simulator: due_date', () => {
  const write = (due_date: string) =>
    applyWrite({
      table: 'incident',
      existing: undefined,
      input: { short_description: 'x', due_date },
      actorSysId: 'u',
      now: new Date('2026-11-26T09:00:00Z'),
      settings: { problemStateTransitions: false },
    });
  it('stores a raw date-time and ignores any other format, as a raw write does', () => {
    expect(write('2026-12-20 23:59:59')).toMatchObject({ ok: true, changes: { due_date: '2026-12-20 23:59:59' } });
    const iso = write('2026-12-20T23:59:59Z');
    expect(iso.ok && iso.changes.due_date).toBeUndefined();
  });
});
