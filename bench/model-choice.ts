/**
 * Choosing the architecture (issue 15): each preset trains for a fixed wall-clock budget with the settings
 * `loopstream train` uses (config `train` defaults, trainVae with held-out validation and best-validation weights),
 * on a scan's pixels, and is scored against PCA-5 and dictionary learning fitted on the same inputs.
 *
 *   node --import tsx bench/model-choice.ts --data pto|sim [--presets mlp,conv,edge] [--seconds 120] [--norm pixel|global]
 *
 * pto: fixtures/external/BEPS_PTO_50x50.h5 (loop file, C = 1, T = 64); sim: a simulated 60 × 60 scan (seed 61, all
 * mechanisms, C = 2, T = 96). The inputs are the project's preprocessing (fitPreprocess: global z-score per channel);
 * `--norm pixel` then z-scores every loop on its own (per pixel and channel), a stand-in for per-scan normalisation.
 * Errors are mean per-pixel MSE in those units: `val` on the 10 % held-out pixels, `all` over every pixel; PCA-5
 * (dataset-mean centred) and dictionary learning (5 atoms, α = 1, each pixel's mean removed: dictionaryBaselineError)
 * are fitted on all pixels — the scan itself, as the replay summary does, which favours them. Active channels: KL per
 * latent > 0.1 nats over all pixels (klPerLatent). Inference: onnxruntime-node, 1 thread, batch 256, encoder+decoder.
 * Prints one JSON line per preset and a table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EVD, Matrix } from 'ml-matrix';
import { initBackend } from '../src/model/backend.ts';
import { dictionaryBaselineError } from '../src/model/dictionary-learning.ts';
import { createEngine } from '../src/model/runtime.ts';
import { loadBundle, type BundleManifest } from '../src/model/bundle.ts';
import { saveBundle } from '../src/model/save-bundle.ts';
import { readTrainingScans, splitSamples } from '../src/model/train-bundle.ts';
import { encodeAll, klPerLatent, reconstructionErrors, trainVae } from '../src/model/train.ts';
import { buildVae, countParams, presetDims, type PresetName } from '../src/model/vae.ts';
import { fitPreprocess, type TrainingScan } from '../src/preprocess/fit.ts';
import { simulateScan } from '../src/sim/index.ts';
import { TrainConfig } from '../src/config/schema.ts';
import { loadNow } from './machine.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'sim' },
    presets: { type: 'string', default: 'mlp,conv,edge' },
    seconds: { type: 'string', default: '120' },
    norm: { type: 'string', default: 'global' },
    batch: { type: 'string' },
    'beta-max': { type: 'string' },
  },
});

/** z-score every pixel's every channel on its own ([n][T][C] in place). */
export function zscorePerPixel(x: Float32Array, n: number, T: number, C: number): void {
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      let m = 0;
      for (let t = 0; t < T; t++) m += x[(i * T + t) * C + c]! / T;
      let v = 0;
      for (let t = 0; t < T; t++) v += (x[(i * T + t) * C + c]! - m) ** 2 / T;
      const sd = Math.sqrt(v) || 1;
      for (let t = 0; t < T; t++) x[(i * T + t) * C + c] = (x[(i * T + t) * C + c]! - m) / sd;
    }
  }
}

/** Mean per-sample MSE of a k-component PCA (centred on the dataset mean) fitted and scored on the rows of x. */
export function pcaError(x: Float32Array, n: number, d: number, k: number): number {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]! / n;
  const cov = new Matrix(d, d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) for (let b = a; b < d; b++) cov.set(a, b, cov.get(a, b) + row[a]! * row[b]!);
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov.set(a, b, cov.get(b, a));
  const evd = new EVD(cov, { assumeSymmetric: true });
  const vals = evd.realEigenvalues;
  const order = vals.map((v, i) => [v, i] as const).sort((p, q) => q[0] - p[0]);
  const total = vals.reduce((s, v) => s + v, 0);
  const kept = order.slice(0, k).reduce((s, [v]) => s + v, 0);
  return (total - kept) / n / d; // residual variance = the sum of the dropped eigenvalues
}

async function loadData(which: string): Promise<{ scans: TrainingScan[]; label: string }> {
  if (which === 'pto') return { scans: await readTrainingScans(['fixtures/external/BEPS_PTO_50x50.h5']), label: 'PTO BEPS_PTO_50x50.h5' };
  const sim = simulateScan({ rows: 60, cols: 60, seed: 61 });
  return { scans: [{ start: sim.start, pixels: [...sim.pixels()].map((p) => p.data.map((d) => Float32Array.from(d))) }], label: 'simulated 60x60 seed 61' };
}

const backend = await initBackend('wasm');
const defaults = TrainConfig.parse({});
const seconds = Number(args.seconds);
const { scans, label } = await loadData(args.data!);
const { spec, data, n } = fitPreprocess(scans);
const { T, C } = spec;
if (args.norm === 'pixel') zscorePerPixel(data, n, T, C);
const stride = T * C;
const { train, nTrain, val, nVal } = splitSamples(data, n, stride, defaults.valFraction, defaults.seed);
const pca5 = pcaError(data, n, stride, 5);
const dl = dictionaryBaselineError(data, n, stride, { seed: 1 });
console.error(`${label}: n ${n}, T ${T}, C ${C}, norm ${args.norm}; PCA-5 ${pca5.toFixed(4)}, DL ${dl.toFixed(4)}; load ${loadNow().join(' ')}`);

const rows: Array<Record<string, unknown>> = [];
for (const preset of args.presets!.split(',') as PresetName[]) {
  const dims = presetDims(preset, T, C);
  const vae = buildVae(dims, { seed: defaults.seed });
  const load0 = loadNow()[0];
  const batch = args.batch ? Number(args.batch) : defaults.batch;
  const res = await trainVae(vae, train, nTrain, {
    epochs: defaults.epochs,
    batch,
    learningRate: defaults.learningRate,
    schedule: { primingEpochs: defaults.primingEpochs, step: defaults.betaStep, every: defaults.betaEvery, max: args['beta-max'] ? Number(args['beta-max']) : defaults.betaMax },
    seed: defaults.seed,
    maxSeconds: seconds,
    validation: { data: val, n: nVal },
  });
  const errs = reconstructionErrors(vae, data, n);
  const all = errs.reduce((s, e) => s + e, 0) / n;
  const { mu, logVar } = encodeAll(vae, data, n);
  const { active } = klPerLatent(mu, logVar, n, dims.latentDim);
  // inference: the exported graphs on onnxruntime-node, 1 thread
  const dir = await mkdtemp(join(tmpdir(), 'ls-choice-'));
  const manifest = { format: 'loopstream-bundle', formatVersion: 1, version: 1, parent: null, preset, dims, beta: 0, created: new Date().toISOString(), data: { description: label, files: [], samples: n }, metrics: { loss: 0, mse: 0, kl: 0, klPerLatent: [], activeChannels: [], epochs: 0, samples: 0, seconds: 0 }, training: { command: 'bench/model-choice.ts', seed: 1, backend, epochs: 0, batch: 0, learningRate: 0 } } satisfies BundleManifest;
  await saveBundle(dir, vae, spec, manifest);
  const engine = await createEngine(await loadBundle(dir), { engine: 'onnx', provider: 'cpu', threads: 1 });
  const B = Math.min(256, n);
  const xb = data.subarray(0, B * stride);
  await engine.encodeDecode(xb, B);
  const times: number[] = [];
  const tEnd = performance.now() + 2000;
  while (performance.now() < tEnd || times.length < 5) {
    const t = performance.now();
    await engine.encodeDecode(xb, B);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  await engine.close();
  await rm(dir, { recursive: true, force: true });
  const trainSamples = res.history.reduce((s, h) => s + h.samplesPerSec * h.seconds, 0);
  const trainSecs = res.history.reduce((s, h) => s + h.seconds, 0);
  const row = {
    data: label,
    norm: args.norm,
    preset,
    params: countParams(vae),
    batch,
    epochs: res.history.length,
    bestEpoch: res.best ? res.best.epoch + 1 : null,
    beta: res.best?.beta ?? res.last?.beta,
    val: +(res.best?.valMse ?? Number.NaN).toFixed(4),
    all: +all.toFixed(4),
    pca5: +pca5.toFixed(4),
    dl: +dl.toFixed(4),
    active: active.length,
    samplesPerSec: +(trainSamples / trainSecs).toFixed(0),
    inferUsPerPixel: +((times[Math.floor(times.length / 2)]! * 1000) / B).toFixed(1),
    seconds: +res.seconds.toFixed(0),
    load: `${load0}→${loadNow()[0]}`,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
  vae.encoder.dispose();
  vae.decoder.dispose();
}
