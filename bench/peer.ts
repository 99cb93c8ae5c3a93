/**
 * The PyTorch peer: writes an input and onnxruntime's answers for it into a temp folder, runs bench/torch-peer.py
 * (Debian python3-torch) on the same bundle, which checks its model against those answers (1e-4) and times the
 * same parts and batches. The ratio is taken against PyTorch's best thread count per part and batch.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createEngine } from '../src/model/runtime.ts';
import type { BenchBundle } from './bundles.ts';
import { benchInput } from './inference.ts';

/** One PyTorch measurement. */
export interface PeerRow {
  part: 'encoder' | 'decoder' | 'both';
  threads: number;
  batch: number;
  reps: number;
  medianMs: number;
  bestMs: number;
  cpuMs: number;
  seqPerSec: number;
  load1: number;
}

/** What the peer script reports. */
export interface PeerResult {
  preset: string;
  python: string;
  torch?: string;
  check?: { n: number; muMaxAbsDiff: number; reconMaxAbsDiff: number; tolerance: number; ok: boolean };
  rows: PeerRow[];
  error?: string;
}

const PYTHON = '/usr/bin/python3';

/** Run the PyTorch peer for one bundle. Never throws: a missing torch or a failed check comes back as `error`. */
export async function benchPeer(bb: BenchBundle, opts: { threads: number[]; batches: number[]; parts: PeerRow['part'][]; minSeconds: number }): Promise<PeerResult> {
  const { bundle } = bb;
  const dir = await mkdtemp(join(tmpdir(), 'loopstream-peer-'));
  try {
    const n = 8;
    const x = benchInput(n * bundle.T * bundle.C, 11);
    const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 1 });
    const out = await engine.encodeDecode(x, n);
    await engine.close();
    const raw = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    await writeFile(join(dir, 'x.f32'), raw(x));
    await writeFile(join(dir, 'mu.f32'), raw(out.mu));
    await writeFile(join(dir, 'recon.f32'), raw(out.recon));
    await writeFile(join(dir, 'n.txt'), String(n));
    const script = join(dirname(fileURLToPath(import.meta.url)), 'torch-peer.py');
    const args = [script, bundle.dir, dir, '--batches', opts.batches.join(','), '--threads', opts.threads.join(','), '--parts', opts.parts.join(','), '--min-seconds', String(opts.minSeconds)];
    try {
      const { stdout } = await promisify(execFile)(PYTHON, args, { maxBuffer: 1 << 24 });
      return { preset: bb.preset, python: PYTHON, ...(JSON.parse(stdout) as Omit<PeerResult, 'preset' | 'python'>) };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      try {
        return { preset: bb.preset, python: PYTHON, ...(JSON.parse(e.stdout ?? '') as Omit<PeerResult, 'preset' | 'python'>) };
      } catch {
        return { preset: bb.preset, python: PYTHON, rows: [], error: `${PYTHON} bench/torch-peer.py failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}` };
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** PyTorch's best (highest seq/s) row over thread counts for a part and batch. */
export function bestPeer(rows: PeerRow[], part: PeerRow['part'], batch: number): PeerRow | undefined {
  return rows.filter((r) => r.part === part && r.batch === batch).sort((a, b) => b.seqPerSec - a.seqPerSec)[0];
}
