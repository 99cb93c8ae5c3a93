/**
 * Connected regions (8-neighbourhood) of anomalous pixels, grown incrementally as pixels arrive in any order.
 *
 * A disjoint-set forest (union by size, path halving; Tarjan 1975) over flat pixel indices, with per-root area,
 * bounding box, count of "strong" pixels (over the threshold, not only over the hysteresis level) and the alert
 * id the region carries. Members of a set form a circular linked list (`next`), so splicing two lists on a union
 * is O(1) and listing a region is O(area). Pure data structure: no clock, no I/O.
 */

/** What a union did to alert ids: `absorbed` was merged into the older `into`. */
export interface RegionMerge {
  absorbed: number;
  into: number;
}

const NOT_MEMBER = -1;

export class RegionLabeler {
  readonly size: number;
  /** parent pixel, or -1 for pixels not in any region */
  private readonly parent: Int32Array;
  private readonly next: Int32Array;
  private readonly areaOf: Int32Array;
  private readonly strongOf: Int32Array;
  private readonly rowMinOf: Int32Array;
  private readonly rowMaxOf: Int32Array;
  private readonly colMinOf: Int32Array;
  private readonly colMaxOf: Int32Array;
  private readonly alertOf: Int32Array;
  /** 1 for pixels over the threshold, 0 for hysteresis-only members */
  private readonly strongPixel: Uint8Array;
  /** merges of two alert-carrying regions since the last `takeMerges()` */
  private merges: RegionMerge[] = [];

  constructor(
    readonly rows: number,
    readonly cols: number,
  ) {
    const n = rows * cols;
    this.size = n;
    this.parent = new Int32Array(n).fill(NOT_MEMBER);
    this.next = new Int32Array(n);
    this.areaOf = new Int32Array(n);
    this.strongOf = new Int32Array(n);
    this.rowMinOf = new Int32Array(n);
    this.rowMaxOf = new Int32Array(n);
    this.colMinOf = new Int32Array(n);
    this.colMaxOf = new Int32Array(n);
    this.alertOf = new Int32Array(n);
    this.strongPixel = new Uint8Array(n);
  }

  /** True if pixel i belongs to a region. */
  has(i: number): boolean {
    return this.parent[i] !== NOT_MEMBER;
  }

  /** True if pixel i is a strong member. */
  isStrong(i: number): boolean {
    return this.strongPixel[i] === 1;
  }

  /** Root pixel of i's region; i must be a member. */
  find(i: number): number {
    let x = i;
    while (this.parent[x] !== x) {
      const p = this.parent[x];
      this.parent[x] = this.parent[p]; // path halving
      x = this.parent[x];
    }
    return x;
  }

  /** Add pixel i (strong: over the threshold) and join it to its member neighbours; returns its root. */
  add(i: number, strong: boolean): number {
    if (this.parent[i] !== NOT_MEMBER) {
      if (strong && !this.strongPixel[i]) {
        this.strongPixel[i] = 1;
        this.strongOf[this.find(i)]++;
      }
      return this.find(i);
    }
    const row = Math.floor(i / this.cols);
    const col = i - row * this.cols;
    this.parent[i] = i;
    this.next[i] = i;
    this.areaOf[i] = 1;
    this.strongPixel[i] = strong ? 1 : 0;
    this.strongOf[i] = strong ? 1 : 0;
    this.rowMinOf[i] = this.rowMaxOf[i] = row;
    this.colMinOf[i] = this.colMaxOf[i] = col;
    this.alertOf[i] = 0;
    for (let dr = -1; dr <= 1; dr++) {
      const r = row + dr;
      if (r < 0 || r >= this.rows) continue;
      for (let dc = -1; dc <= 1; dc++) {
        const c = col + dc;
        if ((dr === 0 && dc === 0) || c < 0 || c >= this.cols) continue;
        const j = r * this.cols + c;
        if (this.parent[j] !== NOT_MEMBER) this.union(i, j);
      }
    }
    return this.find(i);
  }

  /** Merge the regions of members a and b; the alert id of the result is the older (smaller, non-zero) one. */
  union(a: number, b: number): number {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return ra;
    if (this.areaOf[ra] < this.areaOf[rb]) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.areaOf[ra] += this.areaOf[rb];
    this.strongOf[ra] += this.strongOf[rb];
    this.rowMinOf[ra] = Math.min(this.rowMinOf[ra], this.rowMinOf[rb]);
    this.rowMaxOf[ra] = Math.max(this.rowMaxOf[ra], this.rowMaxOf[rb]);
    this.colMinOf[ra] = Math.min(this.colMinOf[ra], this.colMinOf[rb]);
    this.colMaxOf[ra] = Math.max(this.colMaxOf[ra], this.colMaxOf[rb]);
    // splice the two circular member lists into one
    const t = this.next[ra];
    this.next[ra] = this.next[rb];
    this.next[rb] = t;
    const ia = this.alertOf[ra];
    const ib = this.alertOf[rb];
    if (ia && ib) {
      this.alertOf[ra] = Math.min(ia, ib);
      this.merges.push({ absorbed: Math.max(ia, ib), into: Math.min(ia, ib) });
    } else {
      this.alertOf[ra] = ia || ib;
    }
    return ra;
  }

  /** Alert-carrying merges since the last call, in the order they happened. */
  takeMerges(): RegionMerge[] {
    const m = this.merges;
    this.merges = [];
    return m;
  }

  /** Area of root r. */
  area(r: number): number {
    return this.areaOf[r];
  }

  /** Strong pixels in root r. */
  strong(r: number): number {
    return this.strongOf[r];
  }

  /** Inclusive bounding box of root r. */
  bbox(r: number): { rowMin: number; rowMax: number; colMin: number; colMax: number } {
    return { rowMin: this.rowMinOf[r], rowMax: this.rowMaxOf[r], colMin: this.colMinOf[r], colMax: this.colMaxOf[r] };
  }

  /** Alert id carried by root r (0 = none). */
  alertId(r: number): number {
    return this.alertOf[r];
  }

  /** Give root r an alert id. */
  setAlertId(r: number, id: number): void {
    this.alertOf[r] = id;
  }

  /** Member pixels of root r, ascending. */
  members(r: number): Uint32Array {
    const out = new Uint32Array(this.areaOf[r]);
    let x = r;
    let k = 0;
    do {
      out[k++] = x;
      x = this.next[x];
    } while (x !== r);
    return out.sort();
  }

  /**
   * Rebuild every region from a per-pixel class (0 none, 1 hysteresis member, 2 strong) — for when pixels leave
   * regions (a re-encode lowered their score), which a disjoint-set forest cannot undo. Alert ids carry over:
   * a new region takes the oldest id among its members' old regions; the other ids it covers come back as
   * merges, and ids found in no new region come back as `lost`. A region split in two keeps the id in its
   * larger part.
   */
  rebuild(cls: Uint8Array): { merges: RegionMerge[]; lost: number[] } {
    const n = this.size;
    const oldAlert = new Int32Array(n);
    const before = new Set<number>();
    for (let i = 0; i < n; i++) {
      if (this.parent[i] === NOT_MEMBER) continue;
      oldAlert[i] = this.alertOf[this.find(i)];
      if (oldAlert[i]) before.add(oldAlert[i]);
    }
    this.parent.fill(NOT_MEMBER);
    this.strongPixel.fill(0);
    this.merges = [];
    for (let i = 0; i < n; i++) if (cls[i] > 0) this.add(i, cls[i] === 2);
    this.merges = [];
    // gather, per new root, the old ids of its members and its area
    const idsOfRoot = new Map<number, Set<number>>();
    for (let i = 0; i < n; i++) {
      if (!oldAlert[i] || this.parent[i] === NOT_MEMBER) continue;
      const r = this.find(i);
      let s = idsOfRoot.get(r);
      if (!s) idsOfRoot.set(r, (s = new Set()));
      s.add(oldAlert[i]);
    }
    // larger regions choose first, so a split keeps the id in its larger part
    const roots = [...idsOfRoot.keys()].sort((a, b) => this.areaOf[b] - this.areaOf[a]);
    const taken = new Set<number>();
    const merges: RegionMerge[] = [];
    for (const r of roots) {
      const ids = [...idsOfRoot.get(r)!].filter((id) => !taken.has(id)).sort((a, b) => a - b);
      if (ids.length === 0) continue;
      this.alertOf[r] = ids[0];
      for (const id of ids) taken.add(id);
      for (const id of ids.slice(1)) merges.push({ absorbed: id, into: ids[0] });
    }
    const lost = [...before].filter((id) => !taken.has(id)).sort((a, b) => a - b);
    return { merges, lost };
  }
}
