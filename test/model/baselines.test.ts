import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { scanBaselines } from '../../src/model/baselines.ts';
import { dictionaryBaselineError } from '../../src/model/dictionary-learning.ts';
import { mulberry32 } from '../../src/util/prng.ts';

/** n rows of `stride` values: offset + Σ_k c_k · atom_k (+ noise), 5 random smooth atoms, codes ≥ 0. */
function lowRank(n: number, stride: number, rank: number, seed: number, noise = 0): Float32Array {
  const rnd = mulberry32(seed);
  const atoms = Array.from({ length: rank }, (_, k) => Float64Array.from({ length: stride }, (_, j) => Math.sin(((k + 1) * Math.PI * j) / stride + k) + 0.3 * (rnd() - 0.5)));
  const x = new Float32Array(n * stride);
  for (let i = 0; i < n; i++) {
    const codes = Array.from({ length: rank }, () => 3 * rnd());
    for (let j = 0; j < stride; j++) {
      let v = 0.5;
      for (let k = 0; k < rank; k++) v += codes[k]! * atoms[k]![j]!;
      x[i * stride + j] = v + noise * (rnd() - 0.5);
    }
  }
  return x;
}

const all = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

describe('scan baselines (PCA-5, dictionary learning)', () => {
  it('data of exactly rank 5 (plus a mean) give pca5Mse ≈ 0; rank 8 does not', () => {
    const stride = 48;
    const r5 = scanBaselines(lowRank(400, stride, 5, 1), all(400), stride, { samplePixels: 200, evalPixels: 400, seed: 1, dlMaxIter: 5 });
    expect(r5.pca5Mse!).toBeLessThan(1e-8);
    expect(r5.pixelsUsed).toBe(200);
    expect(r5.pixelsEvaluated).toBe(400);
    expect(r5.seconds).toBeGreaterThan(0);
    const r8 = scanBaselines(lowRank(400, stride, 8, 1), all(400), stride, { samplePixels: 200, evalPixels: 400, seed: 1, dlMaxIter: 5 });
    expect(r8.pca5Mse!).toBeGreaterThan(1e-3);
  });

  it('pca5Mse equals scikit-learn PCA(5) fitted on the same sample and scored on the same pixels', () => {
    const stride = 40;
    const n = 300;
    const x = lowRank(n, stride, 9, 7, 0.2);
    const pixels = all(n);
    const res = scanBaselines(x, pixels, stride, { samplePixels: n, evalPixels: n, seed: 3, dlMaxIter: 5 });
    const py = `
import sys, json, numpy as np
from sklearn.decomposition import PCA
d = json.load(sys.stdin)
X = np.array(d['x'], dtype=np.float64).reshape(-1, d['stride'])
p = PCA(n_components=5, svd_solver='full').fit(X)
R = p.inverse_transform(p.transform(X))
print(json.dumps(float(np.mean((X - R) ** 2))))`;
    const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py], { input: JSON.stringify({ x: Array.from(x), stride }), encoding: 'utf8' })) as number;
    expect(ref).toBeGreaterThan(1e-3);
    expect(Math.abs(res.pca5Mse! - ref) / ref).toBeLessThan(1e-6);
  });

  it('dlMse equals the dictionary-learning baseline of the same pixels, and a sample caps the fit', () => {
    const stride = 32;
    const n = 200;
    const x = lowRank(n, stride, 5, 11, 0.1);
    const res = scanBaselines(x, all(n), stride, { samplePixels: n, evalPixels: n, seed: 0, dlMaxIter: 20 });
    const ref = dictionaryBaselineError(x, n, stride, { seed: 0, maxIter: 20 });
    expect(ref).toBeGreaterThan(1e-4);
    expect(Math.abs(res.dlMse! - ref) / ref).toBeLessThan(1e-3);
    // only encoded pixels count: a scan with 150 of 200 pixels uses those, and the sample caps the fit
    const capped = scanBaselines(x, all(150), stride, { samplePixels: 60, evalPixels: 100, seed: 0, dlMaxIter: 5 });
    expect(capped.pixelsUsed).toBe(60);
    expect(capped.pixelsEvaluated).toBe(100);
  });

  it('too few pixels give nulls, not NaN', () => {
    const res = scanBaselines(new Float32Array(3 * 8), all(3), 8, { samplePixels: 100, evalPixels: 100, seed: 0 });
    expect(res.pca5Mse).toBeNull();
    expect(res.dlMse).toBeNull();
  });
});
