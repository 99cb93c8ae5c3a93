import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RegionLabeler } from '../../src/alerts/regions.ts';

/** Label a 0/1 grid by breadth-first search (independent of the disjoint-set code): component id per pixel, -1 none. */
function bfsLabels(grid: Uint8Array, rows: number, cols: number): Int32Array {
  const label = new Int32Array(rows * cols).fill(-1);
  let next = 0;
  for (let s = 0; s < grid.length; s++) {
    if (!grid[s] || label[s] >= 0) continue;
    const queue = [s];
    label[s] = next;
    while (queue.length) {
      const i = queue.pop()!;
      const r = Math.floor(i / cols);
      const c = i % cols;
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
          const j = rr * cols + cc;
          if (grid[j] && label[j] < 0) {
            label[j] = next;
            queue.push(j);
          }
        }
      }
    }
    next++;
  }
  return label;
}

describe('RegionLabeler', () => {
  it('joins diagonal neighbours (8-neighbourhood) and keeps separate what does not touch', () => {
    // 4×5 grid:   x . x . .
    //             . x . . .
    //             . . . . x
    //             . . . . x
    const g = new RegionLabeler(4, 5);
    for (const i of [0, 2, 6, 14, 19]) g.add(i, true);
    expect(g.find(0)).toBe(g.find(6));
    expect(g.find(2)).toBe(g.find(6)); // (0,2) touches (1,1) diagonally
    expect(g.find(14)).toBe(g.find(19));
    expect(g.find(14)).not.toBe(g.find(0));
    const r = g.find(0);
    expect(g.area(r)).toBe(3);
    expect(g.bbox(r)).toEqual({ rowMin: 0, rowMax: 1, colMin: 0, colMax: 2 });
    expect(Array.from(g.members(r))).toEqual([0, 2, 6]);
    expect(g.bbox(g.find(19))).toEqual({ rowMin: 2, rowMax: 3, colMin: 4, colMax: 4 });
  });

  it('does not wrap around the row end', () => {
    // (0,4) and (1,0) are adjacent in flat order but not on the grid
    const g = new RegionLabeler(3, 5);
    g.add(4, true);
    g.add(5, true);
    expect(g.find(4)).not.toBe(g.find(5));
  });

  it('merging two alert-carrying regions keeps the older id and reports the merge', () => {
    // 1×5 row: ids 1 at col 0, 2 at col 4; cols 1..3 fill in and bridge them
    const g = new RegionLabeler(1, 5);
    g.setAlertId(g.add(4, true), 2);
    g.setAlertId(g.add(0, true), 1);
    g.add(1, false);
    g.add(3, false);
    expect(g.takeMerges()).toEqual([]);
    g.add(2, false);
    expect(g.alertId(g.find(2))).toBe(1);
    expect(g.takeMerges()).toEqual([{ absorbed: 2, into: 1 }]);
    expect(g.area(g.find(0))).toBe(5);
    expect(g.strong(g.find(0))).toBe(2);
  });

  it('rebuild splits a region at a removed bridge: the larger part keeps the id, the smaller has none', () => {
    // 1×6 row, all members, alert 7; remove col 2 → parts {0,1} and {3,4,5}
    const g = new RegionLabeler(1, 6);
    for (let i = 0; i < 6; i++) g.add(i, true);
    g.setAlertId(g.find(0), 7);
    const cls = Uint8Array.from([2, 2, 0, 2, 2, 2]);
    const { merges, lost } = g.rebuild(cls);
    expect(merges).toEqual([]);
    expect(lost).toEqual([]);
    expect(g.alertId(g.find(3))).toBe(7);
    expect(g.alertId(g.find(0))).toBe(0);
    expect(g.has(2)).toBe(false);
    expect(Array.from(g.members(g.find(5)))).toEqual([3, 4, 5]);
  });

  it('rebuild reports ids whose pixels all left as lost', () => {
    const g = new RegionLabeler(2, 2);
    g.setAlertId(g.add(0, true), 3);
    expect(g.rebuild(new Uint8Array(4))).toEqual({ merges: [], lost: [3] });
  });

  it('gives the same components as a breadth-first labelling, whatever the order pixels arrive in', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.boolean(), { minLength: 81, maxLength: 81 }),
        fc.integer(),
        (rows, cols, bits, seed) => {
          const n = rows * cols;
          const grid = Uint8Array.from(bits.slice(0, n), (b) => (b ? 1 : 0));
          const order = Array.from({ length: n }, (_, i) => i);
          let s = seed >>> 0 || 1;
          for (let i = n - 1; i > 0; i--) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            const j = s % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const g = new RegionLabeler(rows, cols);
          for (const i of order) if (grid[i]) g.add(i, true);
          const want = bfsLabels(grid, rows, cols);
          for (let i = 0; i < n; i++) {
            for (let j = i + 1; j < n; j++) {
              if (!grid[i] || !grid[j]) continue;
              expect(g.find(i) === g.find(j)).toBe(want[i] === want[j]);
            }
            if (grid[i]) {
              const members = want.reduce((k, l) => k + (l === want[i] ? 1 : 0), 0);
              expect(g.area(g.find(i))).toBe(members);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
