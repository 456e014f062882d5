/**
 * The lowdb file's stored form of an assignment (storage/storedForm.ts): every model field has a
 * place, and a row comes back exactly as it went in, whatever its optional fields and ids.
 */
import fc from 'fast-check';
import { assignmentSchema, type Assignment } from '../../core/model.js';
import { ASSIGNMENT_FIELDS, toAssignment, toStoredAssignment } from '../../storage/storedForm.js';
import { anAssignment } from './contract.js';

const roundTrip = (a: Assignment) => toAssignment(JSON.parse(JSON.stringify(toStoredAssignment(a))) as unknown[]);

describe('stored form of an assignment', () => {
  it('lists every field of the model (a field left out would go to the trailing object, not be lost)', () => {
    expect([...ASSIGNMENT_FIELDS].sort()).toEqual(Object.keys(assignmentSchema.shape).sort());
  });

  it('leaves out defaults and absent fields, packs the resource assessment id, and restores both', () => {
    const a = anAssignment({ id: 'a1' });
    const stored = toStoredAssignment(a);
    expect(stored[0]).toBe('a1');
    expect(stored[6]).toBe('~rec-a');
    expect(stored).not.toContain('perResource');
    expect(stored.length).toBeLessThan(ASSIGNMENT_FIELDS.length);
    expect(JSON.stringify(stored).length).toBeLessThan(JSON.stringify(a).length * 0.7);
    expect(roundTrip(a)).toEqual(a);
    expect(Object.keys(roundTrip(a))).toEqual(Object.keys(a));
  });

  it('keeps assessment ids that are not the resource assessment, including ones that start with ~', () => {
    for (const assessmentId of [
      '~odd',
      '~~odd',
      'a1',
      '/other/providers/Microsoft.Security/assessments/rec-a',
      `x/providers/Microsoft.Security/assessments/~n`,
    ]) {
      const a = anAssignment({ assessmentId, resourceId: 'x' });
      expect(roundTrip(a).assessmentId).toBe(assessmentId);
    }
  });

  it('keeps fields it does not list in a trailing object', () => {
    const a = { ...anAssignment(), later: { x: 1 } } as Assignment;
    const stored = toStoredAssignment(a);
    expect(stored[ASSIGNMENT_FIELDS.length]).toEqual({ later: { x: 1 } });
    expect(roundTrip(a)).toEqual(a);
  });

  it('refuses what cannot be a stored row', () => {
    expect(() => toAssignment(new Array(ASSIGNMENT_FIELDS.length + 2).fill(null))).toThrow(/at most/);
    const bad: unknown[] = new Array(ASSIGNMENT_FIELDS.length).fill(null);
    bad.push('not an object');
    expect(() => toAssignment(bad)).toThrow(/must be an object/);
  });

  it('round-trips any valid assignment', () => {
    const text = fc.string({ maxLength: 12 });
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          id: text,
          assessmentName: text,
          assessmentId: optional(text),
          status: fc.constantFrom('pending', 'open', 'resolved', 'failed'),
          lastError: optional(text),
          attempts: fc.nat(5),
          healthyPasses: fc.nat(5),
          description: text,
          customFields: fc.constantFrom({}, { impact: '2' }),
          ticketGrouping: fc.constantFrom('perResource', 'single'),
          ticket: optional(fc.record({ table: fc.constant('incident'), sysId: text, number: text, link: text })),
        }),
        (r) => {
          const base = anAssignment();
          const { assessmentName, assessmentId, ...over } = r;
          const a = assignmentSchema.parse(
            Object.fromEntries(
              Object.entries({
                ...base,
                ...over,
                assessmentId: assessmentId ?? `${base.resourceId}/providers/Microsoft.Security/assessments/${assessmentName}`,
              }).filter(([, v]) => v !== undefined),
            ),
          );
          expect(roundTrip(a)).toEqual(a);
        },
      ),
    );
  });
});
