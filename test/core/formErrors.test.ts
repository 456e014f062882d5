import { z } from 'zod';
import { humanFormErrors, humanSentence, labelledErrors, labelOf } from '../../core/formErrors.js';
import { futureDaySchema } from '../../core/calendar.js';

const LABELS = { justification: 'Reason', eta: 'New date', name: 'Name' };

describe('validation messages as a person reads them', () => {
  const schema = z.object({
    justification: z.string().trim().min(10, 'must be at least 10 characters').max(1000, 'must be at most 1000 characters'),
    eta: futureDaySchema(() => '2026-11-30'),
    name: z.string().trim().min(1, 'is required'),
    ticketType: z.enum(['incident', 'problem']),
    email: z.email(),
    count: z.number().int().min(3),
    tags: z.array(z.string()).min(1),
  });
  const errorsOf = (input: unknown) => {
    const r = schema.safeParse(input);
    if (r.success) throw new Error('expected a failure');
    return humanFormErrors(r.error, LABELS);
  };

  it('uses the label and an instruction instead of the input id and the validator text', () => {
    expect(errorsOf({ justification: 'too short', eta: '2026-11-29', name: ' ', ticketType: 'task', email: 'x', count: 1, tags: [] })).toEqual({
      justification: 'Reason: write at least 10 characters',
      eta: 'New date: pick a date after today',
      name: 'Name: required',
      ticketType: 'Ticket type: choose one of the options',
      email: 'Email: enter an e-mail address such as name@contoso.com',
      count: 'Count: must be at least 3',
      tags: 'Tags: choose at least one',
    });
  });

  it('a missing field is "required"; only the first problem of a field is shown', () => {
    expect(errorsOf({})).toMatchObject({ justification: 'Reason: required', eta: 'New date: required', name: 'Name: required' });
    const many = errorsOf({ justification: 'x'.repeat(1001), eta: '2026-02-30', name: 'n', ticketType: 'incident', email: 'a@b.co', count: 3, tags: ['a'] });
    expect(many).toEqual({ justification: 'Reason: write at most 1000 characters', eta: 'New date: pick a date that exists' });
  });

  it("turns our validators' wording into instructions and keeps a message it does not know", () => {
    expect(humanSentence('must be within a year')).toBe('pick a date within a year from today');
    expect(humanSentence('must be a date (YYYY-MM-DD)')).toBe('pick a date (YYYY-MM-DD)');
    expect(humanSentence('must be one of /subscriptions/{id}, /providers/x')).toBe('use one of: /subscriptions/{id}, /providers/x');
    expect(humanSentence("No ServiceNow user matches 'nobody@contoso.com'")).toBe("No ServiceNow user matches 'nobody@contoso.com'");
    expect(labelledErrors({ assignedTo: 'is required', caller: 'must be an email / UPN or a ServiceNow user name' }, { assignedTo: 'Assigned to' })).toEqual({
      assignedTo: 'Assigned to: required',
      caller: 'Caller: enter an e-mail address (name@contoso.com) or a ServiceNow user name',
    });
  });

  it('an input without a label reads as words, a problem of the whole form as "This form"', () => {
    expect(labelOf('shortDescription', {})).toBe('Short description');
    expect(labelOf('custom_fields.incident', {})).toBe('Custom fields incident');
    expect(humanFormErrors(z.string().safeParse(1).error!, {})).toEqual({ '': 'This form: has the wrong kind of value' });
  });
});
