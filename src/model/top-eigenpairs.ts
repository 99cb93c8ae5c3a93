/**
 * The k largest eigenpairs of a symmetric positive semi-definite matrix, for PCA with few components (baselines.ts
 * `fitPcaRows`: 5 axes of a T·C × T·C covariance, 192 × 192 for the default input).
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
import { mulberry32 } from '../util/prng.ts';
import { axpyAt, dotAt } from './rows.ts';

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

/** Y[yo …] = C·X[xo …] for the row-major d × d matrix C and vectors of length d stored at offsets of X and Y. */
function matVec(C: Float64Array, d: number, X: Float64Array, xo: number, Y: Float64Array, yo: number): void {
  for (let a = 0; a < d; a++) Y[yo + a] = dotAt(C, a * d, X, xo, d);
}

/**
 * Orthonormalise the p vectors of length d stored row-major in V, in place (modified Gram–Schmidt, twice: once is not
 * enough in floating point when vectors are nearly parallel, as they become while the iteration converges). Returns
 * false if a vector vanished (rank < p).
 */
function orthonormalise(V: Float64Array, p: number, d: number): boolean {
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < p; i++) {
      const vo = i * d;
      for (let j = 0; j < i; j++) {
        const uo = j * d;
        axpyAt(-dotAt(V, vo, V, uo, d), V, uo, V, vo, d);
      }
      const norm = Math.sqrt(dotAt(V, vo, V, vo, d));
      if (!(norm > 0)) return false;
      for (let t = 0; t < d; t++) V[vo + t] /= norm;
    }
  }
  return true;
}

/**
 * Eigen-decomposition of the small symmetric p × p matrix H (row-major; destroyed) by cyclic Jacobi rotations
 * (Golub & Van Loan, "Matrix Computations", 4th ed., §8.5): eigenvalues on return in `values`, eigenvectors in the
 * columns of Q (row-major p × p). Rayleigh–Ritz needs one per subspace step; p is k + a few.
 */
function jacobiEigen(H: Float64Array, p: number, values: Float64Array, Q: Float64Array): void {
  Q.fill(0);
  for (let i = 0; i < p; i++) Q[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < p; i++) {
      diag += H[i * p + i]! * H[i * p + i]!;
      for (let j = i + 1; j < p; j++) off += H[i * p + j]! * H[i * p + j]!;
    }
    if (off <= 1e-32 * diag) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const hij = H[i * p + j]!;
        if (hij === 0) continue;
        // the rotation that zeroes H[i][j]: tan θ = t, the smaller root of t² + 2τt − 1 = 0
        const tau = (H[j * p + j]! - H[i * p + i]!) / (2 * hij);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let r = 0; r < p; r++) {
          const hri = H[r * p + i]!;
          const hrj = H[r * p + j]!;
          H[r * p + i] = c * hri - s * hrj;
          H[r * p + j] = s * hri + c * hrj;
        }
        for (let r = 0; r < p; r++) {
          const hir = H[i * p + r]!;
          const hjr = H[j * p + r]!;
          H[i * p + r] = c * hir - s * hjr;
          H[j * p + r] = s * hir + c * hjr;
        }
        for (let r = 0; r < p; r++) {
          const qri = Q[r * p + i]!;
          const qrj = Q[r * p + j]!;
          Q[r * p + i] = c * qri - s * qrj;
          Q[r * p + j] = s * qri + c * qrj;
        }
      }
    }
  }
  for (let i = 0; i < p; i++) values[i] = H[i * p + i]!;
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
  // A fixed seeded start: the same matrix always gives the same vectors. Bases are p vectors of length d, row-major.
  const rng = mulberry32(0x5eed);
  let V = Float64Array.from({ length: p * d }, () => rng() - 0.5);
  if (!orthonormalise(V, p, d)) return undefined;
  const W = new Float64Array(p * d);
  const H = new Float64Array(p * p);
  const Q = new Float64Array(p * p);
  const theta = new Float64Array(p);
  const U = new Float64Array(p * d);
  let CU = new Float64Array(p * d);
  for (let iter = 0; iter < maxIter; iter++) {
    for (let i = 0; i < p; i++) matVec(C, d, V, i * d, W, i * d);
    // Rayleigh–Ritz on span(V): H = Vᵀ C V, H = Q Θ Qᵀ; Ritz vectors U = V Q with C U = W Q, largest θ first.
    for (let i = 0; i < p; i++) for (let j = i; j < p; j++) H[i * p + j] = H[j * p + i] = dotAt(V, i * d, W, j * d, d);
    jacobiEigen(H, p, theta, Q);
    const order = Array.from({ length: p }, (_, i) => i).sort((i, j) => theta[j]! - theta[i]!);
    U.fill(0);
    CU.fill(0);
    order.forEach((c, r) => {
      for (let i = 0; i < p; i++) {
        axpyAt(Q[i * p + c]!, V, i * d, U, r * d, d);
        axpyAt(Q[i * p + c]!, W, i * d, CU, r * d, d);
      }
    });
    const top = theta[order[0]!]!;
    if (!(top > 0)) return undefined;
    let converged = true;
    for (let i = 0; i < k && converged; i++) {
      const th = theta[order[i]!]!;
      let r2 = 0;
      for (let t = 0; t < d; t++) r2 += (CU[i * d + t]! - th * U[i * d + t]!) ** 2;
      converged = Math.sqrt(r2) <= tol * top;
    }
    if (converged) {
      // the Ritz vectors are orthonormal up to rounding; make them unit length exactly as a decomposition's are
      const vectors = Array.from({ length: k }, (_, i) => {
        const u = U.slice(i * d, i * d + d);
        const n = Math.sqrt(dotAt(u, 0, u, 0, d));
        for (let t = 0; t < d; t++) u[t] /= n;
        return u;
      });
      return { values: Float64Array.from(order.slice(0, k), (c) => theta[c]!), vectors };
    }
    // next basis: C applied to the Ritz vectors, largest first (a power step on the rotated basis)
    const next = CU;
    CU = V;
    V = next;
    if (!orthonormalise(V, p, d)) return undefined;
  }
  return undefined;
}
