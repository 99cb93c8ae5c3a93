/**
 * Which normalisation should the canonical model input use? A quick proxy for representability (docs/model.md
 * §Normalisation): PCA fitted on the canonical inputs of a scan, reconstruction error with 1 and 5 components
 * relative to the inputs' variance, and whether the PCA-1 score map shows spatial structure (domains): the
 * correlation of each pixel's score with the mean of its 4 neighbours (≈ 0 for noise, → 1 for smooth domains).
 * Also counts the spikes the Hampel step removes.
 *
 *   npx tsx bench/normalisation.ts [file.h5 …]       (default: the PTO fixture and two simulated scans)
 */
import { EVD, Matrix } from 'ml-matrix';
import type { StartHeader } from '../src/protocol/messages.ts';
import { canonicalDescriptor, canonicalInputs, type Normalisation } from '../src/preprocess/canonical-input.ts';
import { fillNonFinite } from '../src/preprocess/fill-non-finite.ts';
import { hampelFilter, HAMPEL_DEFAULTS } from '../src/preprocess/hampel.ts';
import { simulateScan } from '../src/sim/index.ts';
import { openScanFile } from '../src/sources/hdf5/index.ts';

interface Scan {
  name: string;
  start: StartHeader;
  pixels: Float32Array[][];
}

async function fromFile(path: string): Promise<Scan> {
  const r = await openScanFile(path);
  try {
    const pixels = Array.from({ length: r.count }, (_, i) => r.pixel(i).data);
    return { name: path.split('/').pop()!, start: r.start, pixels };
  } finally {
    r.close();
  }
}

function simulated(seed: number): Scan {
  const s = simulateScan({ rows: 40, cols: 40, seed, anomalies: 0 });
  return { name: `sim seed ${seed} (sho, 96 steps, ±16 V)`, start: s.start, pixels: Array.from(s.pixels(), (p) => p.data) };
}

/** PCA-k relative error (residual variance / total variance) for k = 1 and 5, and the PCA-1 score of each sample. */
function pca(x: Float32Array, n: number, d: number): { rel1: number; rel5: number; score1: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]! / n;
  const m = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m.set(i, j, x[i * d + j]! - mean[j]!);
  const cov = m.transpose().mmul(m).div(n);
  const evd = new EVD(cov, { assumeSymmetric: true });
  const ev = evd.realEigenvalues.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v);
  const total = ev.reduce((s, e) => s + Math.max(e.v, 0), 0);
  const kept = (k: number) => ev.slice(0, k).reduce((s, e) => s + Math.max(e.v, 0), 0);
  const v1 = evd.eigenvectorMatrix.getColumn(ev[0]!.i);
  const score1 = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) score1[i]! += m.get(i, j) * v1[j]!;
  return { rel1: 1 - kept(1) / total, rel5: 1 - kept(5) / total, score1 };
}

/** Correlation of a map with the mean of each pixel's 4 neighbours. */
function neighbourCorrelation(v: Float64Array, rows: number, cols: number): number {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let s = 0;
      let k = 0;
      for (const [dr, dc] of [[-1, 0], [1, 0], [0, -1], [0, 1]] as const) {
        const rr = r + dr;
        const cc = c + dc;
        if (rr < 0 || cc < 0 || rr >= rows || cc >= cols) continue;
        s += v[rr * cols + cc]!;
        k++;
      }
      a.push(v[r * cols + c]!);
      b.push(s / k);
    }
  }
  const ma = a.reduce((s, x) => s + x, 0) / a.length;
  const mb = b.reduce((s, x) => s + x, 0) / b.length;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** The global z-score of the reference (one mean/std over the whole scan), for comparison. */
function globalZ(x: Float32Array, C: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    let q = 0;
    let k = 0;
    for (let i = c; i < x.length; i += C) (s += x[i]!), k++;
    const m = s / k;
    for (let i = c; i < x.length; i += C) q += (x[i]! - m) ** 2;
    const sd = Math.sqrt(q / k) || 1;
    for (let i = c; i < x.length; i += C) x[i] = (x[i]! - m) / sd;
  }
}

const scans: Scan[] = [];
const args = process.argv.slice(2);
if (args.length) for (const a of args) scans.push(await fromFile(a));
else scans.push(await fromFile('fixtures/external/BEPS_PTO_50x50.h5'), simulated(11), simulated(12));

for (const scan of scans) {
  const { rows, cols } = scan.start.grid;
  const n = scan.pixels.length;
  console.log(`\n${scan.name}: ${rows}x${cols}, ${scan.start.kind}, ${scan.start.dcVoltage.length} steps`);
  // spikes: how many values the Hampel step replaces per loop (first channel, acquisition order)
  if (scan.start.kind === 'loop') {
    let total = 0;
    let loops = 0;
    let most = 0;
    for (const px of scan.pixels) {
      const x = Float32Array.from(px[0]!);
      fillNonFinite(x, Number.NaN);
      const k = hampelFilter(x, HAMPEL_DEFAULTS);
      total += k;
      loops += k > 0 ? 1 : 0;
      most = Math.max(most, k);
    }
    console.log(`  Hampel (window ${2 * HAMPEL_DEFAULTS.halfWindow + 1}, k ${HAMPEL_DEFAULTS.k}): ${total} values replaced in ${loops}/${n} loops (${(total / n).toFixed(2)} per loop, most ${most})`);
  }
  const T = 64;
  const rowsOut: string[] = [];
  const variants: Array<{ label: string; norm: Normalisation | 'global'; hampel: boolean; C: number }> = [
    { label: 'global z-score', norm: 'global', hampel: true, C: 1 },
    { label: 'per scan (median/MAD, first 64 px)', norm: 'scan', hampel: true, C: 1 },
    { label: 'per pixel (offset, half-height)', norm: 'pixel', hampel: true, C: 1 },
    { label: 'per pixel, no Hampel', norm: 'pixel', hampel: false, C: 1 },
  ];
  for (const v of variants) {
    const d = canonicalDescriptor(T, ['piezoresponse'], v.norm === 'global' ? 'scan' : v.norm);
    if (!v.hampel) d.clean.hampel.halfWindow = 0;
    if (v.norm === 'global') d.warmupPixels = n; // then z-scored globally below
    const { data } = canonicalInputs(scan.start, scan.pixels, d);
    if (v.norm === 'global') globalZ(data, 1);
    const r = pca(data, n, T);
    rowsOut.push(`  ${v.label.padEnd(38)} PCA-1 rel. error ${r.rel1.toFixed(3)}  PCA-5 ${r.rel5.toFixed(3)}  PCA-1 map neighbour corr. ${neighbourCorrelation(r.score1, rows, cols).toFixed(3)}`);
  }
  console.log(rowsOut.join('\n'));
}
