import { CORRELATION_ID_MAX, correlationKey, formatGlideDateTime, isResolvedState, priorityFor, recordLink } from '../../core/servicenow-rules.js';

describe('priorityFor (impact x urgency lookup)', () => {
  it.each([
    ['1', '1', '1'],
    ['1', '2', '2'],
    ['1', '3', '3'],
    ['2', '1', '2'],
    ['2', '2', '3'],
    ['2', '3', '4'],
    ['3', '1', '3'],
    ['3', '2', '4'],
    ['3', '3', '5'],
  ])('impact %s urgency %s -> priority %s', (impact, urgency, priority) => {
    expect(priorityFor(impact, urgency)).toBe(priority);
  });

  it('treats missing or invalid values as the 3/3 default', () => {
    expect(priorityFor(undefined, undefined)).toBe('5');
    expect(priorityFor('9', 1)).toBe('3');
  });
});

describe('correlationKey', () => {
  const assessment = '/subscriptions/0000/providers/Microsoft.Security/assessments/4fb67663-9ab9-475d-b026-8c544cced439';
  const resource = '/subscriptions/0000/resourceGroups/RG-Web/providers/Microsoft.Compute/virtualMachines/vm-01';

  it('is stable, short and ignores Azure id casing', () => {
    const key = correlationKey(assessment, resource);
    expect(key).toMatch(/^mdc-[0-9a-f]{40}$/);
    expect(key.length).toBeLessThanOrEqual(CORRELATION_ID_MAX);
    expect(correlationKey(assessment.toUpperCase(), resource.toLowerCase())).toBe(key);
  });

  it('differs per resource and cannot be confused by moving the separator', () => {
    expect(correlationKey(assessment, resource)).not.toBe(correlationKey(assessment, `${resource}-2`));
    expect(correlationKey('ab', 'c')).not.toBe(correlationKey('a', 'bc'));
  });

  it('rejects empty parts', () => {
    expect(() => correlationKey('', resource)).toThrow(/non-empty/);
  });
});

describe('recordLink', () => {
  it('builds an encoded nav_to.do link on the given origin', () => {
    expect(recordLink('https://contoso.service-now.com/', 'incident', '9d385017c611228701d22104cc95c371')).toBe(
      'https://contoso.service-now.com/nav_to.do?uri=%2Fincident.do%3Fsys_id%3D9d385017c611228701d22104cc95c371',
    );
    expect(recordLink('http://127.0.0.1:4010/api', 'change_request', 'a'.repeat(32))).toBe(
      `http://127.0.0.1:4010/nav_to.do?uri=%2Fchange_request.do%3Fsys_id%3D${'a'.repeat(32)}`,
    );
  });
});

describe('isResolvedState / formatGlideDateTime', () => {
  it('knows each table’s done states', () => {
    expect(isResolvedState('incident', '6')).toBe(true);
    expect(isResolvedState('incident', '2')).toBe(false);
    expect(isResolvedState('problem', '106')).toBe(true);
    expect(isResolvedState('problem', '101')).toBe(false);
    expect(isResolvedState('change_request', '3')).toBe(true);
    expect(isResolvedState('change_request', '0')).toBe(false);
  });

  it('formats UTC as ServiceNow does', () => {
    expect(formatGlideDateTime(new Date('2025-03-01T09:05:07.123Z'))).toBe('2025-03-01 09:05:07');
  });
});
