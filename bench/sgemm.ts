/**
 * The machine's SGEMM peak, measured in the same run as the model: bench/sgemm.c is compiled with gcc against
 * Debian's libopenblas into a temp folder and run once per thread count. OpenBLAS's runtime detection picks a
 * generic AVX2 kernel on some AVX-512 CPUs, so OPENBLAS_CORETYPE names the AVX-512 kernel (SkylakeX, or
 * Cooperlake with avx512_bf16) when the CPU has avx512f; without it the detected kernel is used (and reported).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One SGEMM measurement. */
export interface SgemmResult {
  threads: number;
  /** OpenBLAS kernel used (openblas_get_corename) */
  core: string;
  coreTypeEnv: string | null;
  /** C [m,n] = A [m,k] · B [k,n] */
  m: number;
  n: number;
  k: number;
  /** what the shape stands for ('peak' for the square one) */
  label: string;
  reps: number;
  /** best round, GFLOP/s: the peak the model is compared with */
  gflops: number;
  meanGflops: number;
}

/** OPENBLAS_CORETYPE for this CPU: the AVX-512 kernel where there is avx512f, else none (runtime detection). */
export function coreTypeFor(cpuFlags: string[]): string | null {
  if (!cpuFlags.includes('avx512f')) return null;
  return cpuFlags.includes('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
}

/** A GEMM shape to time besides the square peak (e.g. the LSTM's own products). */
export interface GemmShape {
  label: string;
  m: number;
  n: number;
  k: number;
  threads: number;
}

/**
 * Compile bench/sgemm.c and measure cblas_sgemm (n × n × n) at each thread count, then each extra shape.
 * Throws if gcc/OpenBLAS are missing.
 */
export function measureSgemm(threads: number[], opts: { n?: number; seconds?: number; shapes?: GemmShape[] } = {}): SgemmResult[] {
  const src = join(dirname(fileURLToPath(import.meta.url)), 'sgemm.c');
  const dir = mkdtempSync(join(tmpdir(), 'loopstream-sgemm-'));
  try {
    const exe = join(dir, 'sgemm');
    try {
      execFileSync('gcc', ['-O2', '-o', exe, src, '-lopenblas'], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(`cannot build bench/sgemm.c (gcc with Debian libopenblas-dev needed: apt-get install gcc libopenblas-dev): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
    }
    const flags = (/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/);
    const coreType = coreTypeFor(flags);
    const n = opts.n ?? 1024;
    const runs: GemmShape[] = [...threads.map((t) => ({ label: 'peak', m: n, n, k: n, threads: t })), ...(opts.shapes ?? [])];
    return runs.map((g) => {
      const env = { ...process.env, OPENBLAS_NUM_THREADS: String(g.threads), ...(coreType ? { OPENBLAS_CORETYPE: coreType } : {}) };
      if (!coreType) delete env.OPENBLAS_CORETYPE;
      const seconds = g.label === 'peak' ? (opts.seconds ?? 1.5) : Math.min(0.5, opts.seconds ?? 0.5);
      const out = execFileSync(exe, [String(g.m), String(g.n), String(g.k), String(seconds)], { env, encoding: 'utf8' });
      const r = JSON.parse(out.trim()) as { core: string; threads: number; m: number; n: number; k: number; reps: number; gflops: number; meanGflops: number };
      return { threads: r.threads, core: r.core, coreTypeEnv: coreType, m: r.m, n: r.n, k: r.k, label: g.label, reps: r.reps, gflops: r.gflops, meanGflops: r.meanGflops };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
