/**
 * Fingerprints of raw Resource Graph rows, so a sync pass can skip the rows it already saw.
 *
 * Most passes over a tenant find nearly every row byte-for-byte as the pass before: parsing,
 * validating and folding those again was most of a no-change pass's time and garbage. A row's
 * fingerprint is the first 64 bits of the SHA-256 of its JSON bytes; a row whose fingerprint the
 * previous pass recorded contributes what it contributed then (its recommendation, severity and
 * the stored resource snapshot it became) without being parsed. A changed row has new bytes, so
 * it is parsed; a removed row is simply absent. Collisions among 64-bit fingerprints of a tenant's
 * rows (2^-64 per pair, about 10^-9 for a million rows) are left to the periodic full parse.
 *
 * Everything is held in typed arrays (about 40 bytes per row), not in an object per row. Pure: the
 * caller brings the bytes and the snapshots.
 */
import { hash } from 'node:crypto';
import type { Severity } from './model.js';

const SEVERITIES: readonly Severity[] = ['High', 'Medium', 'Low'];
const SEVERITY_CODE: Record<Severity, number> = { High: 0, Medium: 1, Low: 2 };

/** The 64-bit fingerprint of a row's bytes, as two unsigned 32-bit halves. */
export interface Fingerprint {
  hi: number;
  lo: number;
}

export function rowFingerprint(bytes: Uint8Array): Fingerprint {
  // One-shot: a Hash object per row holds native memory until a collection finds it. The digest
  // as a 'binary' (latin1) string, one character per byte, is a small young-generation string, where a Buffer
  // per row was a native allocation each (and 1.5-2x slower in a 200k-row micro-benchmark).
  const d = hash('sha256', bytes, 'binary');
  return {
    hi: ((d.charCodeAt(0) << 24) | (d.charCodeAt(1) << 16) | (d.charCodeAt(2) << 8) | d.charCodeAt(3)) >>> 0,
    lo: ((d.charCodeAt(4) << 24) | (d.charCodeAt(5) << 16) | (d.charCodeAt(6) << 8) | d.charCodeAt(7)) >>> 0,
  };
}

/** What the connector asks while reading rows: the entry a fingerprint had last pass, or -1. */
export interface KnownRowLookup {
  lookup(hi: number, lo: number): number;
}

/** What a recorded recommendation must still be for its rows to count as known. */
export interface StoredRecommendationView {
  contentHash: string;
  status: string;
  resources: readonly { resourceId: string }[];
}

/** Rows beyond this are left to growth: a server's totalRecords is not ours to trust (17 MB at most up front). */
const MAX_RESERVE = 1_000_000;

/** A growable Uint32Array. */
class U32 {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) this.reserve(this.data.length * 2);
    this.data[this.length++] = v;
  }
  reserve(capacity: number): void {
    if (capacity <= this.data.length) return;
    const grown = new Uint32Array(capacity);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }
}

/**
 * The rows one pass saw: fingerprint → (recommendation, position of its resource in that
 * recommendation's snapshot, severity). Valid for a recommendation only while the stored snapshot
 * still has the content hash recorded with it (see validate()): another process's pass, a resolve
 * or an edit changes the hash, and that recommendation's rows are parsed again.
 */
export class RowFingerprints implements KnownRowLookup {
  /** Open addressing over the entries: entry index + 1, 0 when free. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly valid: Uint8Array;

  private constructor(
    private readonly hi: Uint32Array,
    private readonly lo: Uint32Array,
    private readonly rec: Uint32Array,
    private readonly pos: Uint32Array,
    private readonly sev: Uint8Array,
    readonly size: number,
    private readonly recKeys: readonly string[],
    private readonly recHashes: readonly string[],
  ) {
    let capacity = 16;
    while (capacity < size * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let e = 0; e < size; e++) {
      let s = this.lo[e]! & this.mask;
      while (this.slots[s] !== 0) s = (s + 1) & this.mask;
      this.slots[s] = e + 1;
    }
    this.valid = new Uint8Array(recKeys.length).fill(1);
  }

  static empty(): RowFingerprints {
    return new RowFingerprints(new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint8Array(0), 0, [], []);
  }

  /** @internal FingerprintRecorder builds tables. */
  static build(
    hi: Uint32Array,
    lo: Uint32Array,
    rec: Uint32Array,
    pos: Uint32Array,
    sev: Uint8Array,
    size: number,
    recKeys: readonly string[],
    recHashes: readonly string[],
  ): RowFingerprints {
    return new RowFingerprints(hi, lo, rec, pos, sev, size, recKeys, recHashes);
  }

  /**
   * Keeps only the recommendations stored as they were recorded (unhealthy, same content hash):
   * the others' rows are unknown this pass. Returns how many recommendations stay valid.
   */
  validate(stored: (key: string) => StoredRecommendationView | undefined): number {
    let kept = 0;
    for (let r = 0; r < this.recKeys.length; r++) {
      const s = stored(this.recKeys[r]!);
      const ok = s !== undefined && s.status === 'unhealthy' && s.contentHash === this.recHashes[r];
      this.valid[r] = ok ? 1 : 0;
      if (ok) kept++;
    }
    return kept;
  }

  lookup(hi: number, lo: number): number {
    let s = lo & this.mask;
    for (;;) {
      const e = this.slots[s]! - 1;
      if (e < 0) return -1;
      if (this.lo[e] === lo && this.hi[e] === hi) return this.valid[this.rec[e]!] ? e : -1;
      s = (s + 1) & this.mask;
    }
  }

  recommendationKey(entry: number): string {
    return this.recKeys[this.rec[entry]!]!;
  }

  /** Index of the row's resource in its recommendation's stored (sorted) resources. */
  position(entry: number): number {
    return this.pos[entry]!;
  }

  severity(entry: number): Severity {
    return SEVERITIES[this.sev[entry]!]!;
  }
}

/**
 * Collects one pass's rows (fingerprint, recommendation, resource, severity) and, once the pass's
 * snapshots are known, turns them into the table the next pass looks rows up in.
 */
export class FingerprintRecorder {
  private readonly hi = new U32();
  private readonly lo = new U32();
  private readonly rec = new U32();
  /** Position in the previous snapshot for a known row (valid while its recommendation is unchanged), else 0xffffffff. */
  private readonly knownPos = new U32();
  private sev = new Uint8Array(1024);
  /** Each row's resource id: a string its snapshot holds anyway, so a reference per row. */
  private readonly resourceIds: string[] = [];
  private readonly recIndex = new Map<string, number>();
  private readonly recKeys: string[] = [];

  get rows(): number {
    return this.hi.length;
  }

  /**
   * Room for `rows` rows (Resource Graph's totalRecords, known from the first page), so the arrays
   * are allocated once at their size instead of doubled about eight times up to it. More rows than
   * that still fit: the arrays grow again.
   */
  reserve(rows: number): void {
    if (!Number.isFinite(rows)) return;
    const capacity = Math.min(Math.max(0, Math.floor(rows)), MAX_RESERVE);
    for (const a of [this.hi, this.lo, this.rec, this.knownPos]) a.reserve(capacity);
    if (capacity > this.sev.length) {
      const grown = new Uint8Array(capacity);
      grown.set(this.sev.subarray(0, this.hi.length));
      this.sev = grown;
    }
  }

  private recOf(key: string): number {
    let r = this.recIndex.get(key);
    if (r === undefined) {
      r = this.recKeys.length;
      this.recKeys.push(key);
      this.recIndex.set(key, r);
    }
    return r;
  }

  private push(hi: number, lo: number, key: string, severity: Severity, knownPos: number, resourceId: string): void {
    if (this.hi.length === this.sev.length) {
      const grown = new Uint8Array(this.sev.length * 2);
      grown.set(this.sev);
      this.sev = grown;
    }
    this.sev[this.hi.length] = SEVERITY_CODE[severity];
    this.hi.push(hi);
    this.lo.push(lo);
    this.rec.push(this.recOf(key));
    this.knownPos.push(knownPos);
    this.resourceIds.push(resourceId);
  }

  /** A row that was parsed: its recommendation key (lower case), resource id as received and severity. */
  addParsed(hi: number, lo: number, key: string, resourceId: string, severity: Severity): void {
    this.push(hi, lo, key, severity, 0xffffffff, resourceId);
  }

  /** A row found in `table` (entry from its lookup), whose stored resource has this id. */
  addKnown(hi: number, lo: number, table: RowFingerprints, entry: number, resourceId: string): void {
    this.push(hi, lo, table.recommendationKey(entry), table.severity(entry), table.position(entry), resourceId);
  }

  /**
   * The table for the next pass. `snapshots`: this pass's recommendations; `unchanged(key)`: the
   * snapshot is the previous one, so a known row's position still holds. Rows of recommendations
   * that are not unhealthy, or whose resource is not in the snapshot, are not recorded.
   */
  finish(snapshots: (key: string) => StoredRecommendationView | undefined, unchanged: (key: string) => boolean): RowFingerprints {
    const n = this.hi.length;
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    const rec = new Uint32Array(n);
    const pos = new Uint32Array(n);
    const sev = new Uint8Array(n);
    const recKeys: string[] = [];
    const recHashes: string[] = [];
    // Rows are visited one recommendation at a time (a counting sort of their indices), so only one
    // recommendation's id → position map lives at once, keyed by the stored ids themselves: a map
    // of every resource, or a lower-cased copy of every id, was ~70 MB at the peak of a 200k first
    // pass. Lower case is only the fallback for an id that arrived in another case.
    const groups = this.recKeys.length;
    const start = new Uint32Array(groups + 1);
    for (let i = 0; i < n; i++) start[this.rec.data[i]! + 1]!++;
    for (let r = 0; r < groups; r++) start[r + 1]! += start[r]!;
    const order = new Uint32Array(n);
    const fill = start.slice(0, groups);
    for (let i = 0; i < n; i++) order[fill[this.rec.data[i]!]!++] = i;
    let size = 0;
    for (let r = 0; r < groups; r++) {
      if (start[r] === start[r + 1]) continue;
      const key = this.recKeys[r]!;
      const snap = snapshots(key);
      if (!snap || snap.status !== 'unhealthy') continue;
      const t = recKeys.length;
      recKeys.push(key);
      recHashes.push(snap.contentHash);
      const keep = unchanged(key);
      let byId: Map<string, number> | undefined;
      let byLowerId: Map<string, number> | undefined;
      for (let j = start[r]!; j < start[r + 1]!; j++) {
        const i = order[j]!;
        let p = this.knownPos.data[i]!;
        if (p === 0xffffffff || !keep) {
          if (!byId) {
            byId = new Map();
            for (let k = 0; k < snap.resources.length; k++) byId.set(snap.resources[k]!.resourceId, k);
          }
          const id = this.resourceIds[i]!;
          let found = byId.get(id);
          if (found === undefined) {
            if (!byLowerId) {
              byLowerId = new Map();
              for (let k = 0; k < snap.resources.length; k++) byLowerId.set(snap.resources[k]!.resourceId.toLowerCase(), k);
            }
            found = byLowerId.get(id.toLowerCase());
          }
          if (found === undefined) continue;
          p = found;
        }
        hi[size] = this.hi.data[i]!;
        lo[size] = this.lo.data[i]!;
        rec[size] = t;
        pos[size] = p;
        sev[size] = this.sev[i]!;
        size++;
      }
    }
    return RowFingerprints.build(hi, lo, rec, pos, sev, size, recKeys, recHashes);
  }
}
