import { createHash } from 'node:crypto';
import type { UnhealthyResource } from '../../core/defender-model.js';
import { RecommendationAccumulator } from '../../core/recommendations.js';
import { FingerprintRecorder, RowFingerprints, rowFingerprint, type StoredRecommendationView } from '../../core/rowFingerprints.js';
import type { Recommendation } from '../../core/model.js';

const SUB = '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const A = 'ab12cd34-0000-4000-8000-00000000000a';
const B = 'ab12cd34-0000-4000-8000-00000000000b';
const NOW = new Date('2025-06-01T00:00:00.000Z');
const vm = (name: string) => `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;

function row(key: string, name: string, severity: UnhealthyResource['severity'] = 'Medium'): UnhealthyResource {
  const resourceId = vm(name);
  return {
    assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
    assessmentKey: key,
    resourceId,
    resourceName: name,
    resourceType: 'Microsoft.Compute/virtualMachines',
    subscriptionId: SUB,
    resourceGroup: 'rg-app',
    severity,
    status: 'Unhealthy',
    statusChangeDate: '2025-05-01T00:00:00.000Z',
    displayName: `Recommendation ${key.slice(-1)}`,
    description: 'Fix findings.',
    remediationSteps: 'Apply the fix.',
    portalLink: 'https://portal.azure.com/#x',
  };
}

/** The bytes a row would arrive as; its fingerprint is that of these bytes. */
const bytesOf = (r: UnhealthyResource) => Buffer.from(JSON.stringify(r));

/** One pass the way SyncJob runs it: rows the table knows are added as known, the rest parsed. */
function pass(rows: UnhealthyResource[], table: RowFingerprints, previous: Map<string, Recommendation>) {
  const acc = new RecommendationAccumulator((k) => previous.get(k));
  const recorder = new FingerprintRecorder();
  let known = 0;
  for (const r of rows) {
    const { hi, lo } = rowFingerprint(bytesOf(r));
    const entry = table.lookup(hi, lo);
    if (entry >= 0) {
      const prev = previous.get(table.recommendationKey(entry))!;
      const resource = prev.resources[table.position(entry)]!;
      acc.addKnown(prev, table.position(entry), table.severity(entry));
      recorder.addKnown(hi, lo, table, entry, resource.resourceId);
      known++;
    } else {
      acc.add([r]);
      recorder.addParsed(hi, lo, r.assessmentKey.toLowerCase(), r.resourceId, r.severity);
    }
  }
  const next = acc.snapshots((k) => previous.get(k), NOW);
  const nextTable = recorder.finish(
    (k) => next.get(k),
    (k) => next.get(k) === previous.get(k),
  );
  return { next, table: nextTable, known, subscriptions: acc.subscriptionIds() };
}

describe('rowFingerprint', () => {
  it('is 64 bits of the SHA-256 of the bytes: equal bytes agree, one changed byte does not', () => {
    const a = rowFingerprint(Buffer.from('{"id":"x","n":1}'));
    expect(rowFingerprint(Buffer.from('{"id":"x","n":1}'))).toEqual(a);
    expect(rowFingerprint(Buffer.from('{"id":"x","n":2}'))).not.toEqual(a);
    // sha256('abc') starts ba7816bf 8f01cfea.
    expect(rowFingerprint(Buffer.from('abc'))).toEqual({ hi: 0xba7816bf, lo: 0x8f01cfea });
  });

  it('agrees with the first 8 bytes of createHash for every digest byte value, on a view into a larger buffer', () => {
    const big = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const view = big.subarray(i, i + 1 + ((i * 37) % 900));
      const d = createHash('sha256').update(view).digest();
      for (let b = 0; b < 8; b++) seen.add(d[b]!);
      expect(rowFingerprint(view)).toEqual({ hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) });
    }
    // The digests covered (nearly) every byte value, so none is mangled by the string form.
    expect(seen.size).toBeGreaterThan(250);
  });
});

describe('FingerprintRecorder.reserve', () => {
  it('a table built with a reservation (too small, too large or nonsense) equals one built without', () => {
    const rows = Array.from({ length: 3000 }, (_, i) => row(i % 2 ? A : B, `vm${i}`, i % 3 === 0 ? 'High' : 'Low'));
    const build = (reserve?: number) => {
      const acc = new RecommendationAccumulator();
      acc.add(rows);
      const next = acc.snapshots(() => undefined, NOW);
      const recorder = new FingerprintRecorder();
      if (reserve !== undefined) recorder.reserve(reserve);
      for (const r of rows) {
        const { hi, lo } = rowFingerprint(bytesOf(r));
        recorder.addParsed(hi, lo, r.assessmentKey.toLowerCase(), r.resourceId, r.severity);
      }
      expect(recorder.rows).toBe(rows.length);
      const table = recorder.finish(
        (k) => next.get(k),
        () => false,
      );
      return rows.map((r) => {
        const { hi, lo } = rowFingerprint(bytesOf(r));
        const e = table.lookup(hi, lo);
        return e < 0 ? [] : [table.recommendationKey(e), table.position(e), table.severity(e)];
      });
    };
    const plain = build();
    expect(plain.every((e) => e.length === 3)).toBe(true);
    for (const reserve of [0, 10, 3000, 5000, -1, Number.NaN, 1e12]) expect(build(reserve)).toEqual(plain);
  });
});

describe('RowFingerprints across passes', () => {
  const first = [row(A, 'vm1'), row(A, 'vm2'), row(A, 'vm3'), row(B, 'vm1', 'High')];

  it('an empty table knows nothing', () => {
    const { hi, lo } = rowFingerprint(bytesOf(first[0]!));
    expect(RowFingerprints.empty().lookup(hi, lo)).toBe(-1);
  });

  it('a pass over the same rows knows every one and keeps every stored snapshot object', () => {
    const one = pass(first, RowFingerprints.empty(), new Map());
    expect(one.known).toBe(0);
    expect(one.table.size).toBe(4);
    const two = pass(first, one.table, one.next);
    expect(two.known).toBe(4);
    for (const [k, rec] of one.next) expect(two.next.get(k)).toBe(rec);
    // Known rows still name their subscriptions (ancestry and names are read for them).
    expect(two.subscriptions).toEqual([SUB]);
    // The table it leaves knows them all again.
    expect(pass(first, two.table, two.next).known).toBe(4);
  });

  it('a changed row is parsed and the card content follows it; a removed row takes its resource off', () => {
    const one = pass(first, RowFingerprints.empty(), new Map());
    const changed = [row(A, 'vm1'), row(A, 'vm2', 'High'), row(B, 'vm1', 'High')];
    const two = pass(changed, one.table, one.next);
    expect(two.known).toBe(2);
    const a = two.next.get(A)!;
    expect(a).not.toBe(one.next.get(A));
    expect(a.severity).toBe('High');
    expect(a.resources.map((r) => r.name)).toEqual(['vm1', 'vm2']);
    expect(a.contentHash).not.toBe(one.next.get(A)!.contentHash);
    expect(two.next.get(B)).toBe(one.next.get(B));
    // Positions were recomputed for the changed recommendation: the next pass finds the right resources.
    const three = pass(changed, two.table, two.next);
    expect(three.known).toBe(3);
    expect(three.next.get(A)).toBe(a);
  });

  it("a known row's severity counts: the one High row leaving lowers the recommendation's severity", () => {
    const rows = [row(A, 'vm1', 'High'), row(A, 'vm2'), row(A, 'vm3')];
    const one = pass(rows, RowFingerprints.empty(), new Map());
    expect(one.next.get(A)!.severity).toBe('High');
    const two = pass(rows.slice(1), one.table, one.next);
    expect(two.known).toBe(2);
    expect(two.next.get(A)!.severity).toBe('Medium');
  });

  it('validate() drops the rows of a recommendation stored differently since (another process, a resolve)', () => {
    const one = pass(first, RowFingerprints.empty(), new Map());
    const stored = new Map<string, StoredRecommendationView>(one.next);
    stored.set(A, { ...one.next.get(A)!, contentHash: 'edited-elsewhere' });
    expect(one.table.validate((k) => stored.get(k))).toBe(1);
    const print = (r: UnhealthyResource) => rowFingerprint(bytesOf(r));
    expect(one.table.lookup(print(first[0]!).hi, print(first[0]!).lo)).toBe(-1);
    expect(one.table.lookup(print(first[3]!).hi, print(first[3]!).lo)).toBeGreaterThanOrEqual(0);
    stored.set(B, { ...one.next.get(B)!, status: 'resolved' });
    expect(one.table.validate((k) => stored.get(k))).toBe(0);
    expect(one.table.lookup(print(first[3]!).hi, print(first[3]!).lo)).toBe(-1);
  });

  it('rows of a recommendation that is not unhealthy, or whose resource its snapshot lacks, are not recorded', () => {
    const recorder = new FingerprintRecorder();
    recorder.addParsed(1, 2, A, vm('vm1'), 'Low');
    recorder.addParsed(3, 4, B, vm('vm1'), 'Low');
    recorder.addParsed(5, 6, B, vm('gone'), 'Low');
    const snaps: Record<string, StoredRecommendationView> = {
      [A]: { contentHash: 'a', status: 'resolved', resources: [] },
      [B]: { contentHash: 'b', status: 'unhealthy', resources: [{ resourceId: vm('VM1') }] },
    };
    const table = recorder.finish(
      (k) => snaps[k],
      () => false,
    );
    expect(table.size).toBe(1);
    const e = table.lookup(3, 4);
    expect(e).toBeGreaterThanOrEqual(0);
    expect([table.recommendationKey(e), table.position(e), table.severity(e)]).toEqual([B, 0, 'Low']);
    expect(table.lookup(1, 2)).toBe(-1);
    expect(table.lookup(5, 6)).toBe(-1);
  });

  it('finds every one of many fingerprints whose low halves collide (open addressing)', () => {
    const recorder = new FingerprintRecorder();
    const ids = Array.from({ length: 3000 }, (_, i) => vm(`vm${i}`));
    for (let i = 0; i < ids.length; i++) recorder.addParsed(i, 7, A, ids[i]!, 'Medium');
    const resources = [...ids].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1)).map((resourceId) => ({ resourceId }));
    const table = recorder.finish(
      () => ({ contentHash: 'h', status: 'unhealthy', resources }),
      () => false,
    );
    expect(table.size).toBe(3000);
    for (const i of [0, 1, 1234, 2999]) expect(resources[table.position(table.lookup(i, 7))]!.resourceId).toBe(ids[i]);
    expect(table.lookup(3000, 7)).toBe(-1);
  });
});
