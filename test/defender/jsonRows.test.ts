import fc from 'fast-check';
import { JsonRowSplitter } from '../../connectors/defender/jsonRows.js';

/**
 * The row splitter (connectors/defender/jsonRows.ts) must give exactly what JSON.parse of the whole
 * text gives, however the bytes are cut into chunks: inside a string, an escape, a multi-byte
 * character or a key.
 */
function split(text: string, cuts: readonly number[], key = 'data'): { envelope: unknown; rows: unknown[] | undefined } {
  const bytes = Buffer.from(text, 'utf8');
  const splitter = new JsonRowSplitter(key);
  let at = 0;
  for (const cut of cuts) {
    const end = Math.min(bytes.length, at + cut);
    splitter.write(bytes.subarray(at, end));
    at = end;
  }
  splitter.write(bytes.subarray(at));
  return { envelope: splitter.end(), rows: splitter.parsedRows() };
}

/** What the splitter should give: the array's elements, and the object with that array emptied. */
function expected(text: string, key = 'data'): { envelope: unknown; rows: unknown[] | undefined } {
  const whole = JSON.parse(text) as Record<string, unknown>;
  const rows = Array.isArray(whole[key]) ? (whole[key] as unknown[]) : undefined;
  return { envelope: rows ? { ...whole, [key]: [] } : whole, rows };
}

const json = fc.oneof(fc.jsonValue(), fc.unicodeJsonValue());
// Keys that look like the array's key, or contain it, escaped or not.
const key = fc.oneof(fc.constantFrom('data', 'Data', 'data2', 'xdata', 'd\u0061ta', '$skipToken', 'totalRecords', 'é"\\'), fc.unicodeString());
const document = fc.record({
  before: fc.dictionary(key, json, { maxKeys: 4 }),
  data: fc.oneof({ weight: 4, arbitrary: fc.array(json, { maxLength: 12 }) }, { weight: 1, arbitrary: json }),
  after: fc.dictionary(key, json, { maxKeys: 4 }),
  indent: fc.constantFrom(undefined, 0, 1, 2, '\t', ' \r\n '),
});
const cuts = fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 400 });

function text(d: { before: Record<string, unknown>; data: unknown; after: Record<string, unknown>; indent: string | number | undefined }): string {
  const object: Record<string, unknown> = { ...d.before };
  delete object['data'];
  object['data'] = d.data;
  for (const [k, v] of Object.entries(d.after)) if (k !== 'data') object[k] = v;
  return JSON.stringify(object, null, d.indent);
}

describe('JsonRowSplitter', () => {
  it('gives what JSON.parse gives, however the text is cut', () => {
    fc.assert(
      fc.property(document, cuts, (d, c) => {
        const t = text(d);
        expect(split(t, c)).toEqual(expected(t));
      }),
      { numRuns: 2_000, seed: 16 },
    );
  });

  it('splits only the top-level array of that key, even when the key is escaped or repeated', () => {
    const t = '{"facets":[{"data":[9]}],"d\\u0061ta":[1,"a\\"]",{"data":[2]},[],null,true,-2.5e3],"other":"data","data":[3]}';
    for (const c of [[], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [17, 3, 40]]) {
      // JSON.parse keeps the last of repeated keys; so does the splitter.
      expect(split(t, c)).toEqual({ envelope: { facets: [{ data: [9] }], data: [], other: 'data' }, rows: [3] });
    }
    expect(split('{"data":{"rows":[1]}}', [2])).toEqual({ envelope: { data: { rows: [1] } }, rows: undefined });
  });

  it('refuses malformed JSON', () => {
    for (const bad of [
      '{"data":[1,2',
      '{"data":[1 2]}',
      '{"data":[1,]}',
      '{"data":[,1]}',
      '{"data":[{"a":1}}',
      '{"data":[1,,2]}',
      '{"data":["abc]}',
      '{"data":[01]}',
      '{"data":[1]',
      '{"data":[1]}}',
      '{"da',
    ]) {
      expect(() => split(bad, [3])).toThrow(SyntaxError);
    }
  });
});
