/**
 * Training throughput of trainVae (src/model/train.ts) on random scaled data, by step engine: the ONNX training step
 * on onnxruntime (the default for mlp: src/model/onnx-train-step.ts) and the tfjs wasm backend (the LSTMs, and mlp
 * with train.stepEngine tfjs); a few epochs, samples/s of the fastest after the first (the first includes set-up).
 * And the time of one fine-tuning round, when the project has one (src/finetune).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend.ts';
import { trainVae, type StepEngine } from '../src/model/train.ts';
import { archOf, buildVae, presetDims, type PresetName } from '../src/model/vae.ts';
import type { VaeDims } from '../src/model/bundle.ts';
import { benchInput } from './inference.ts';
import { vaeFlops } from './flops.ts';
import { loadNow } from './machine.ts';

/** One training measurement. */
export interface TrainingRow {
  preset: PresetName;
  /** what ran the steps: 'onnxruntime' or the tfjs backend ('wasm') */
  backend: string;
  /** onnxruntime intra-op threads (1 for tfjs wasm, which is single-threaded in Node) */
  threads: number;
  batch: number;
  samples: number;
  /** samples/s of the timed (second) epoch */
  samplesPerSec: number;
  /** samples per CPU-second of this process in its fastest (by CPU) epoch after the first: what one core does when the
   *  other jobs on a shared machine take turns with it (wall time counts their turns, CPU time does not) */
  samplesPerCpuSec: number;
  /** forward matmul FLOPs × 3 (forward + two backward products) per sample × samples/s, GFLOP/s (an estimate) */
  approxGflops: number;
  epochSeconds: number;
  load1: number;
}

/** Train each preset with its step engine: `epochs` short epochs (default 2), samples/s of the fastest after the first. */
export async function benchTraining(presets: Array<{ preset: PresetName; samples: number; batch: number; epochs?: number; stepEngine?: StepEngine; threads?: number }>): Promise<TrainingRow[]> {
  const wasm = await initBackend('wasm');
  const rows: TrainingRow[] = [];
  for (const { preset, samples, batch, epochs, stepEngine, threads } of presets) {
    const dims = presetDims(preset, 96, 2);
    const vae = buildVae(dims, { seed: 3, fastInit: true });
    const data = benchInput(samples * dims.T * dims.C, 21);
    let cpuMark = process.cpuUsage();
    const cpuSeconds: number[] = [];
    const onEpoch = () => {
      const c = process.cpuUsage(cpuMark);
      cpuSeconds.push((c.user + c.system) / 1e6);
      cpuMark = process.cpuUsage();
    };
    const result = await trainVae(vae, data, samples, { onEpoch, epochs: epochs ?? 2, batch, learningRate: 1e-3, schedule: { primingEpochs: 1, step: 0.5, every: 1, max: 1 }, seed: 1, stepEngine: stepEngine ?? 'auto', threads: threads ?? 1 });
    const onnx = result.stepEngine === 'onnxruntime';
    const timed = [...(result.history.length > 1 ? result.history.slice(1) : result.history)].sort((a, b) => b.samplesPerSec - a.samplesPerSec)[0]!;
    rows.push({ preset, backend: onnx ? 'onnxruntime' : wasm, threads: onnx ? (threads ?? 1) : 1, batch, samples, samplesPerSec: +timed.samplesPerSec.toFixed(2), samplesPerCpuSec: +(samples / Math.min(...(cpuSeconds.length > 1 ? cpuSeconds.slice(1) : cpuSeconds))).toFixed(0), approxGflops: +((timed.samplesPerSec * 3 * vaeFlops(dims).total) / 1e9).toFixed(2), epochSeconds: +timed.seconds.toFixed(2), load1: loadNow()[0] });
    vae.encoder.dispose();
    vae.decoder.dispose();
    tf.disposeVariables();
  }
  return rows;
}

/** The wasm matmul ceiling of one mlp training step (see `benchMatmulCeiling`). */
export interface MatmulCeilingRow {
  batch: number;
  /** the step's products per step: forward x·W, backward dy·Wᵀ and xᵀ·dy for every Dense kernel */
  products: number;
  msPerStep: number;
  gflops: number;
  /** samples/s if a training step were nothing but these products */
  samplesPerSec: number;
  load1: number;
}

/**
 * The products of one mlp training step timed alone on the wasm backend (XNNPACK, one thread): for every Dense
 * kernel [k, n] the forward x[B,k]·W, and the two backward products dy[B,n]·Wᵀ[n,k] and xᵀ[k,B]·dy[B,n] on
 * pre-transposed inputs, as forward.ts `matMulT` runs them. Whatever the rest of the step costs (bias, ReLU, loss,
 * Adam, dispatch), tfjs-wasm on one thread cannot train faster than this — the ceiling any op-level
 * fusion could reach. Best of `rounds` rounds of `reps` steps.
 */
export async function benchMatmulCeiling(dims: VaeDims, batch: number, opts: { reps?: number; rounds?: number } = {}): Promise<MatmulCeilingRow> {
  if (archOf(dims) !== 'mlp') throw new RangeError(`benchMatmulCeiling: mlp only, not ${archOf(dims)}`);
  await initBackend('wasm');
  const vae = buildVae(dims, { seed: 3, fastInit: true });
  const kernels = [...vae.encoder.trainableWeights, ...vae.decoder.trainableWeights].map((w) => w.shape).filter((s) => s.length === 2) as Array<[number, number]>;
  vae.encoder.dispose();
  vae.decoder.dispose();
  const B = batch;
  const ops = kernels.map(([k, n]) => [tf.randomNormal([B, k]), tf.randomNormal([k, n]), tf.randomNormal([B, n]), tf.randomNormal([n, k]), tf.randomNormal([k, B])] as tf.Tensor2D[]);
  const step = () => {
    const out: tf.Tensor[] = [];
    for (const [x, w, dy, wt, xt] of ops) out.push(tf.matMul(x!, w!), tf.matMul(dy!, wt!), tf.matMul(xt!, dy!));
    out[out.length - 1]!.dataSync(); // the wasm backend runs each kernel synchronously; one read fences the step
    tf.dispose(out);
  };
  const reps = opts.reps ?? 30;
  for (let i = 0; i < 5; i++) step();
  let best = Infinity;
  for (let r = 0; r < (opts.rounds ?? 5); r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) step();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  tf.dispose(ops.flat());
  const flops = 2 * B * 3 * kernels.reduce((s, [k, n]) => s + k * n, 0);
  return { batch, products: 3 * kernels.length, msPerStep: +best.toFixed(3), gflops: +(flops / best / 1e6).toFixed(2), samplesPerSec: +((1000 * B) / best).toFixed(0), load1: loadNow()[0] };
}

/** One fine-tuning round, timed. */
export interface FinetuneRoundResult {
  bundle: string;
  samples: number;
  epochs: number;
  batch: number;
  /** trainRound's own time: load the incumbent, train, write the candidate bundle (tfjs + ONNX) */
  seconds: number;
  samplesPerSec: number;
  load1: number;
}

/**
 * Time one fine-tuning round as the worker runs it (src/finetune/train-round.ts trainRound), in this process at a
 * CPU share of 1 (the daemon's default share is config finetune.cpuShare; the round then takes 1/share as long).
 */
export async function benchFinetuneRound(bundleDir: string, opts: { samples: number; epochs: number; batch: number }): Promise<FinetuneRoundResult> {
  const { trainRound } = await import('../src/finetune/train-round.ts');
  const { TrainControl } = await import('../src/finetune/train-control.ts');
  const { loadBundle } = await import('../src/model/bundle.ts');
  const bundle = await loadBundle(bundleDir, { requireOnnx: false });
  const outDir = await mkdtemp(join(tmpdir(), 'loopstream-bench-ft-'));
  try {
    const control = new TrainControl(1);
    const data = benchInput(opts.samples * bundle.T * bundle.C, 31);
    const done = await trainRound(
      { type: 'train', round: 1, bundleDir, outDir: join(outDir, 'v2'), version: bundle.manifest.version + 1, data, n: opts.samples, epochs: opts.epochs, batch: opts.batch, learningRate: 3e-4, beta: bundle.manifest.beta, seed: 1, maxSeconds: 0, backend: 'wasm', control: control.buffer },
      () => undefined,
    );
    return { bundle: bundleDir, samples: opts.samples, epochs: opts.epochs, batch: opts.batch, seconds: +done.seconds.toFixed(2), samplesPerSec: +(done.samplesSeen / done.seconds).toFixed(2), load1: loadNow()[0] };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Whether the project has a fine-tuning module to time yet. */
export function finetuneAvailable(): { available: boolean; note: string } {
  const dir = new URL('../src/finetune/', import.meta.url);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts')) : [];
  return files.length ? { available: true, note: `src/finetune has ${files.join(', ')}` } : { available: false, note: 'src/finetune holds no module yet: no fine-tuning round to time' };
}

/** One PyTorch CPU training measurement of the mlp preset (bench/torch-train.py). */
export interface TorchTrainingRow {
  threads: number;
  batch: number;
  samplesPerSec: number;
  /** samples per CPU-second of the process in its fastest (by CPU) epoch after the first */
  samplesPerCpuSec: number;
  epochSeconds: number[];
  load1: number;
}

/**
 * The PyTorch peer of `benchTraining` for the mlp preset: same architecture, loss, optimizer and batch, on
 * /usr/bin/python3 with Debian's torch. Never throws: a missing torch comes back as `error`.
 */
export async function benchTrainingPeer(opts: { T: number; C: number; hidden: readonly number[]; latent: number; samples: number; batches: number[]; threads: number[]; epochs: number }): Promise<{ torch?: string; rows: TorchTrainingRow[]; error?: string }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch-train.py');
  const args = [script, '--T', String(opts.T), '--C', String(opts.C), '--hidden', opts.hidden.join(','), '--latent', String(opts.latent), '--samples', String(opts.samples), '--batches', opts.batches.join(','), '--threads', opts.threads.join(','), '--epochs', String(opts.epochs)];
  try {
    const { stdout } = await promisify(execFile)('/usr/bin/python3', args, { maxBuffer: 1 << 22 });
    return JSON.parse(stdout) as { torch: string; rows: TorchTrainingRow[] };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { rows: [], error: `/usr/bin/python3 bench/torch-train.py failed: ${(e.stderr || e.message).trim().split('\n').slice(-2).join(' | ')}` };
  }
}
