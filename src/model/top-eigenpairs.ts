/**
 * The k largest eigenpairs of a symmetric positive semi-definite matrix, for PCA with few components (baselines.ts
 * `fitPca`: 5 axes of a T·C × T·C covariance, 192 × 192 for the default input).
 *
 * Why not only a full decomposition: PCA-5 needs 5 of its 192 eigenvectors, and a full one (Householder
 * tridiagonalisation + QL, ml-matrix) is O(d³) work in code that runs once per replay, cold — ~110 ms of a 2 s
 * 60 × 60 replay (docs/performance.md §Start-up and whole-process replay). Block subspace iteration with
 * Rayleigh–Ritz (Saad, "Numerical Methods for Large Eigenvalue Problems", 2nd ed., §5.2) costs one d × d by d × p
 * product per step, p a few more than k; it converges at the rate λ(p+1)/λ(k) per step, which is fast for the
 * steep spectra of loop data. Each result is accepted only with a small residual ‖C·v − θ·v‖ ≤ tol · θ₁ for every
 * one of the k pairs; when the spectrum is too flat to get there within `maxIter` steps the function returns
 * undefined and the caller decomposes fully, so the answer never depends on whether the fast path converged.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { mulberry32 } from '../util/prng.ts';

export interface EigenPairs {
  /** eigenvalues, largest first */
  values: Float64Array;
  /** unit eigenvectors, one per value, same order */
  vectors: Float64Array[];
}

export interface TopEigenOptions {
  /** relative residual each pair must reach: ‖C·v − θ·v‖ ≤ tol · θ₁ (default 1e-12) */
  tol?: number;
  /** most subspace steps before giving up (default 80) */
  maxIter?: number;
  /** extra basis vectors beyond k: more converge faster per step, cost more per step (default k + 4) */
  extra?: number;
}

/** y = C·x for the row-major d × d matrix C. */
function matVec(C: Float64Array, d: number, x: Float64Array, y: Float64Array): void {
  for (let a = 0; a < d; a++) {
    let s = 0;
    const off = a * d;
    for (let b = 0; b < d; b++) s += C[off + b]! * x[b]!;
    y[a] = s;
  }
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/**
 * Orthonormalise `vs` in place (modified Gram–Schmidt, twice: once is not enough in floating point when vectors are
 * nearly parallel, as they become while the iteration converges). Returns false if a vector vanished (rank < p).
 */
function orthonormalise(vs: Float64Array[]): boolean {
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i]!;
      for (let j = 0; j < i; j++) {
        const u = vs[j]!;
        const c = dot(v, u);
        for (let t = 0; t < v.length; t++) v[t] -= c * u[t]!;
      }
      const norm = Math.sqrt(dot(v, v));
      if (!(norm > 0)) return false;
      for (let t = 0; t < v.length; t++) v[t] /= norm;
    }
  }
  return true;
}

/**
 * The k largest eigenpairs of the symmetric PSD d × d matrix C (row-major, both triangles filled), or undefined when
 * the iteration does not reach the residual bound (flat spectrum, rank below the basis size, k too close to d).
 */
export function topEigenpairs(C: Float64Array, d: number, k: number, opts: TopEigenOptions = {}): EigenPairs | undefined {
  const p = Math.min(d, k + (opts.extra ?? k + 4));
  if (k < 1 || p <= k) return undefined; // nothing left to separate the k from: a full decomposition is as cheap
  const tol = opts.tol ?? 1e-12;
  const maxIter = opts.maxIter ?? 80;
  // A fixed seeded start: the same matrix always gives the same vectors.
  const rng = mulberry32(0x5eed);
  let V: Float64Array[] = Array.from({ length: p }, () => Float64Array.from({ length: d }, () => rng() - 0.5));
  if (!orthonormalise(V)) return undefined;
  const W = Array.from({ length: p }, () => new Float64Array(d));
  const H = new Matrix(p, p);
  for (let iter = 0; iter < maxIter; iter++) {
    for (let i = 0; i < p; i++) matVec(C, d, V[i]!, W[i]!);
    // Rayleigh–Ritz on span(V): H = Vᵀ C V, H = Q Θ Qᵀ; Ritz vectors U = V Q with C U = W Q.
    for (let i = 0; i < p; i++) for (let j = i; j < p; j++) H.set(i, j, dot(V[i]!, W[j]!)), H.set(j, i, H.get(i, j));
    const eig = new EigenvalueDecomposition(H, { assumeSymmetric: true });
    const theta = eig.realEigenvalues;
    const Q = eig.eigenvectorMatrix;
    const order = theta.map((_, i) => i).sort((i, j) => theta[j]! - theta[i]!);
    const U: Float64Array[] = [];
    const CU: Float64Array[] = [];
    for (const c of order) {
      const u = new Float64Array(d);
      const cu = new Float64Array(d);
      for (let i = 0; i < p; i++) {
        const q = Q.get(i, c);
        const v = V[i]!;
        const w = W[i]!;
        for (let t = 0; t < d; t++) {
          u[t] += q * v[t]!;
          cu[t] += q * w[t]!;
        }
      }
      U.push(u);
      CU.push(cu);
    }
    const top = theta[order[0]!]!;
    if (!(top > 0)) return undefined;
    let converged = true;
    for (let i = 0; i < k && converged; i++) {
      const th = theta[order[i]!]!;
      const u = U[i]!;
      const cu = CU[i]!;
      let r2 = 0;
      for (let t = 0; t < d; t++) r2 += (cu[t]! - th * u[t]!) ** 2;
      converged = Math.sqrt(r2) <= tol * top;
    }
    if (converged) {
      const vectors = U.slice(0, k);
      // the Ritz vectors are orthonormal up to rounding; make them unit length exactly as a decomposition's are
      for (const u of vectors) {
        const n = Math.sqrt(dot(u, u));
        for (let t = 0; t < d; t++) u[t] /= n;
      }
      return { values: Float64Array.from(order.slice(0, k), (c) => theta[c]!), vectors };
    }
    // next basis: C applied to the Ritz vectors, largest first (a power step on the rotated basis)
    V = CU;
    if (!orthonormalise(V)) return undefined;
  }
  return undefined;
}
