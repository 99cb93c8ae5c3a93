import { describe, expect, it } from 'vitest';
import { bboxIoU, evaluateAlerts, type TruthMaps } from '../../src/alerts/evaluate.ts';
import type { Alert } from '../../src/alerts/types.ts';

/** An alert over the given (row, col) pixels of a grid with `cols` columns. */
function alert(id: number, cols: number, cells: Array<[number, number]>): Alert {
  const pixels = Uint32Array.from(cells.map(([r, c]) => r * cols + c)).sort();
  const rs = cells.map((x) => x[0]);
  const cs = cells.map((x) => x[1]);
  return {
    id, scanId: 't', state: 'closed', pixels, area: pixels.length,
    bbox: { rowMin: Math.min(...rs), rowMax: Math.max(...rs), colMin: Math.min(...cs), colMax: Math.max(...cs) },
    peakScore: 2, meanScore: 1.5, reason: 'error', errorPixels: pixels.length, latentPixels: 0, openedAt: 0, updatedAt: 0, merged: [], sequence: 1,
  };
}

// 6×6 grid: region 1 (kind imprint) = rows 0..1 × cols 0..1 (4 px); region 2 (pinched) = rows 4..5 × cols 3..5 (6 px)
function truth(): TruthMaps {
  const rows = 6;
  const cols = 6;
  const anomaly = new Uint8Array(36);
  const region = new Uint16Array(36);
  for (const [r, c] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    anomaly[r! * cols + c!] = 1;
    region[r! * cols + c!] = 1;
  }
  for (let r = 4; r <= 5; r++) for (let c = 3; c <= 5; c++) {
    anomaly[r * cols + c] = 2;
    region[r * cols + c] = 2;
  }
  return {
    rows, cols, anomaly, region,
    regions: [
      { id: 1, kind: 'imprint', rowMin: 0, rowMax: 1, colMin: 0, colMax: 1, pixels: 4 },
      { id: 2, kind: 'pinched', rowMin: 4, rowMax: 5, colMin: 3, colMax: 5, pixels: 6 },
    ],
  };
}

describe('evaluateAlerts', () => {
  it('counts a region detected when one alert covers ≥ 20 % of it, and an alert correct when ≥ 50 % lies on or next to truth', () => {
    const q = evaluateAlerts(
      [
        alert(1, 6, [[0, 0], [0, 1], [1, 1], [2, 2]]), // 3 of region 1 + one pixel of its rim: correct, detects 1
        alert(2, 6, [[2, 5], [3, 5], [2, 4]]), // (3,5) touches region 2's rim; (2,*) is two rows away: 1 of 3 near → wrong
      ],
      truth(),
    );
    expect(q).toEqual({ regions: 2, detected: 1, alerts: 2, correct: 1, bboxIoU: [4 / 9, 0], byKind: { imprint: { regions: 1, detected: 1 }, pinched: { regions: 1, detected: 0 } } });
  });

  it('an alert covering 1 of 6 pixels (< 20 %) does not detect the region; merged-away alerts are ignored', () => {
    const a = alert(3, 6, [[4, 3], [3, 3]]);
    const merged = { ...alert(4, 6, [[4, 4], [4, 5], [5, 5]]), mergedInto: 3 };
    const q = evaluateAlerts([a, merged], truth());
    expect(q.detected).toBe(0);
    expect(q.alerts).toBe(1);
    expect(q.correct).toBe(1);
  });

  it('bounding-box IoU by hand', () => {
    expect(bboxIoU({ rowMin: 0, rowMax: 1, colMin: 0, colMax: 1 }, { rowMin: 1, rowMax: 2, colMin: 1, colMax: 2 })).toBeCloseTo(1 / 7, 12);
    expect(bboxIoU({ rowMin: 0, rowMax: 0, colMin: 0, colMax: 0 }, { rowMin: 2, rowMax: 2, colMin: 2, colMax: 2 })).toBe(0);
  });
});
