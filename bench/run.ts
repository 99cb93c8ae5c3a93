/**
 * `npm run bench [-- --quick] [-- --sections sgemm,inference,peer,stages,e2e,cli,training]`: the benchmark suite (issue 8).
 * Prints tables on stdout and writes everything measured, with the machine and its load, to
 * bench/results/bench-<UTC time>[-quick].json. docs/performance.md explains the sections and holds the numbers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchBundle, type BenchBundle } from './bundles.ts';
import { runCliReplays, runScenarioIsolated, type CliReplayRuns, type E2eResult, type E2eScenario } from './e2e.ts';
import { median as medianOf } from '../src/util/robust-stats.ts';
import { vaeFlops, vaeParams } from './flops.ts';
import { benchInference, type InferenceRow } from './inference.ts';
import { loadNow, machineInfo } from './machine.ts';
import { benchPeer, bestPeer, type PeerResult } from './peer.ts';
import { measureSgemm, type SgemmResult } from './sgemm.ts';
import { benchStages } from './stages.ts';
import { benchFinetuneRound, benchMatmulCeiling, benchTraining, benchTrainingPeer, finetuneAvailable, type MatmulCeilingRow, type TrainingRow } from './training.ts';
import { presetDims } from '../src/model/vae.ts';
import { loadConfig } from '../src/config/load.ts';

const SECTIONS = ['sgemm', 'inference', 'peer', 'stages', 'e2e', 'cli', 'training'] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sections: { type: 'string', default: SECTIONS.join(',') },
    out: { type: 'string' },
  },
});
const quick = args.quick!;
const sections = new Set(args.sections!.split(',').map((s) => s.trim()) as Section[]);
for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`--sections: unknown section "${s}"; expected some of ${SECTIONS.join(',')}`);

/** Print rows as an aligned text table. */
function table(title: string, rows: Array<Record<string, unknown>>): void {
  console.log(`\n## ${title}`);
  if (rows.length === 0) {
    console.log('(nothing measured)');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === undefined || v === null ? '-' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  console.log(cols.map((c, i) => c.padStart(widths[i]!)).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => cell(r[c]).padStart(widths[i]!)).join('  '));
}

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${loadNow()[0]}] ${msg}\n`);

const started = new Date();
const machine = machineInfo();
const result: Record<string, unknown> = { started: started.toISOString(), quick, sections: [...sections], machine, loadAtStart: loadNow() };
console.log(`# loopstream bench${quick ? ' --quick' : ''} — ${machine.cpuModel}, ${machine.logicalCores} logical cores, SIMD ${machine.simdFlags.join(' ')}, node ${machine.node}, onnxruntime-node ${machine.onnxruntime}, load ${loadNow().join(' ')}`);

const presets = quick ? (['edge'] as const) : (['edge', 'paper'] as const);
const bundles = new Map<string, BenchBundle>();
for (const p of ['edge', 'paper'] as const) {
  if (p === 'paper' && quick && !sections.has('inference')) continue;
  bundles.set(p, await benchBundle(p));
}
result.bundles = [...bundles.values()].map((b) => ({ preset: b.preset, origin: b.origin, dir: b.bundle.dir, dims: b.bundle.manifest.dims, params: vaeParams(b.bundle.manifest.dims), flopsPerSeq: vaeFlops(b.bundle.manifest.dims) }));
table('models (matmul FLOPs per sequence, bench/flops.ts)', (result.bundles as Array<{ preset: string; origin: string; params: number; flopsPerSeq: { encoder: number; decoder: number; total: number } }>).map((b) => ({ preset: b.preset, weights: b.origin, params: b.params, 'encoder MFLOP': b.flopsPerSeq.encoder / 1e6, 'decoder MFLOP': b.flopsPerSeq.decoder / 1e6, 'total MFLOP': b.flopsPerSeq.total / 1e6 })));

// 1. SGEMM peak ---------------------------------------------------------------------------------------------------
let sgemm: SgemmResult[] = [];
if (sections.has('sgemm') || sections.has('inference') || sections.has('training')) {
  log('SGEMM peak (OpenBLAS)');
  try {
    // besides the square peak: the LSTM's own products at batch 256, 1 thread — what OpenBLAS itself does on them
    const shapes = [...bundles.values()].flatMap((b) => {
      const { units: U, blocks, latentDim: L, T, C } = b.bundle.manifest.dims;
      const ins = [...new Set([C, L, ...(blocks > 0 ? [2 * U] : [])])];
      return [
        { label: `${b.preset} recurrent h·R (N 256, U ${U})`, m: 256, n: 4 * U, k: U, threads: 1 },
        ...ins.map((k) => ({ label: `${b.preset} input x·W, all ${T} steps (in ${k})`, m: T * 256, n: 4 * U, k, threads: 1 })),
      ];
    });
    sgemm = measureSgemm([1, 2], { n: 1024, seconds: quick ? 0.6 : 3, shapes });
  } catch (err) {
    result.sgemmError = (err as Error).message;
    log((err as Error).message);
  }
  result.sgemm = sgemm;
  table('SGEMM (cblas_sgemm, best round; peak = 1024³)', sgemm.map((s) => ({ shape: s.label, 'm×n×k': `${s.m}×${s.n}×${s.k}`, threads: s.threads, kernel: s.core, OPENBLAS_CORETYPE: s.coreTypeEnv ?? '(detected)', 'best GFLOP/s': s.gflops, 'mean GFLOP/s': s.meanGflops })));
}
// The peak a t-thread run is compared with: the t-thread SGEMM peak, but never less than the 1-thread one — on a
// busy machine the 2-thread SGEMM often cannot get both cores and measures below 1 thread, which would put a
// model above "100 %".
const peakAt = (threads: number) => {
  const at = (t: number) => sgemm.find((s) => s.label === 'peak' && s.threads === t)?.gflops;
  const t = at(threads);
  const one = at(1);
  return t === undefined ? one : one === undefined ? t : Math.max(t, one);
};

// 2. inference ----------------------------------------------------------------------------------------------------
const inference: InferenceRow[] = [];
if (sections.has('inference')) {
  type Plan = { threads: number[]; parts: Array<InferenceRow['part']>; batches: number[]; minSeconds: number };
  const all = ['encoder', 'decoder', 'both'] as Array<InferenceRow['part']>;
  const plans: Record<string, Plan[]> = quick
    ? { edge: [{ threads: [1, 2], parts: all, batches: [1, 16, 256], minSeconds: 0.2 }], paper: [{ threads: [1], parts: ['both'], batches: [1, 16], minSeconds: 0.2 }] }
    : {
        edge: [{ threads: [1, 2], parts: all, batches: [1, 4, 16, 64, 256, 1024], minSeconds: 0.5 }],
        // paper calls take seconds at large batches: 256 only at 1 thread (its throughput is flat beyond 64)
        paper: [{ threads: [1], parts: all, batches: [1, 8, 64, 256], minSeconds: 0.5 }, { threads: [2], parts: all, batches: [1, 8, 64], minSeconds: 0.5 }],
      };
  for (const preset of presets) {
    const bb = bundles.get(preset)!;
    for (const plan of plans[preset]!) {
      log(`inference ${preset} (${bb.origin} weights): threads ${plan.threads} × ${plan.parts} × batch ${plan.batches}`);
      const rows = await benchInference(bb, plan);
      for (const r of rows) {
        const peak = peakAt(r.threads);
        const peak1 = peakAt(1);
        if (peak) r.pctPeak = +((100 * r.gflops) / peak).toFixed(1);
        // per CPU-second (both threads' time summed) against one core's peak: far less disturbed by other load
        r.seqPerCpuSec = +((r.batch * 1000) / r.cpuMs).toFixed(1);
        r.gflopsPerCpuSec = +((r.gflops * r.seqPerCpuSec) / r.seqPerSec).toFixed(3);
        if (peak1) r.pctPeakCpu = +((100 * r.gflopsPerCpuSec) / peak1).toFixed(1);
        inference.push(r);
      }
    }
  }
  result.inference = inference;
  table('inference (onnxruntime-node via createEngine; seq/s from the median call; per CPU-s vs the 1-thread peak)', inference.map((r) => ({ preset: r.preset, part: r.part, threads: r.threads, batch: r.batch, 'median ms': r.medianMs, 'seq/s': r.seqPerSec, 'GFLOP/s': r.gflops, '% peak': r.pctPeak, 'cpu ms': r.cpuMs, 'seq/CPU-s': r.seqPerCpuSec, 'GFLOP/CPU-s': r.gflopsPerCpuSec, '% 1-core peak': r.pctPeakCpu, load: r.load1 })));
}

// 3. PyTorch peer -------------------------------------------------------------------------------------------------
const peers: PeerResult[] = [];
if (sections.has('peer')) {
  for (const preset of presets) {
    const bb = bundles.get(preset)!;
    const plan =
      preset === 'edge'
        ? // encoder+decoder only: the ratio the pipeline sees (PyTorch at 2 threads makes the full grid take minutes)
          { threads: [1, 2], parts: ['both'] as const, batches: quick ? [1, 16, 256] : [1, 4, 16, 64, 256, 1024], minSeconds: quick ? 0.2 : 0.5 }
        : { threads: [1], parts: ['both'] as const, batches: [1, 8, 64], minSeconds: 0.5 };
    log(`PyTorch peer ${preset}: threads ${plan.threads} × ${plan.parts} × batch ${plan.batches}`);
    const peer = await benchPeer(bb, { ...plan, parts: [...plan.parts] });
    if (preset === 'paper' && !quick && !peer.error) {
      // PyTorch at 2 threads takes about a minute per paper call at batch 64 here: small batches show the trend
      const two = await benchPeer(bb, { threads: [2], parts: ['both'], batches: [1, 8], minSeconds: 0.5 });
      peer.rows.push(...two.rows);
    }
    peers.push(peer);
    if (peer.error) log(`peer ${preset}: ${peer.error}`);
  }
  result.peer = peers;
  for (const peer of peers) {
    console.log(`\nPyTorch ${peer.torch ?? '?'} (${peer.python}) ${peer.preset}: parity with onnxruntime on ${peer.check?.n ?? '?'} inputs: max |Δμ| ${peer.check?.muMaxAbsDiff.toExponential(1) ?? '?'}, max |Δx̂| ${peer.check?.reconMaxAbsDiff.toExponential(1) ?? '?'} (tolerance 1e-4: ${peer.check?.ok ? 'ok' : 'FAILED'})${peer.error ? ` — ${peer.error}` : ''}`);
  }
  const ratios = peers.flatMap((peer) =>
    [...new Set(peer.rows.map((r) => `${r.part}|${r.batch}`))].map((key) => {
      const [part, b] = key.split('|') as [InferenceRow['part'], string];
      const batch = Number(b);
      const torch = bestPeer(peer.rows, part, batch)!;
      const ours = inference.filter((r) => r.preset === peer.preset && r.part === part && r.batch === batch).sort((x, y) => y.seqPerSec - x.seqPerSec)[0];
      // the same at 1 thread by CPU time (seq per CPU-second): the comparison least disturbed by other load
      const ours1 = inference.find((r) => r.preset === peer.preset && r.part === part && r.batch === batch && r.threads === 1);
      const torch1 = peer.rows.find((r) => r.part === part && r.batch === batch && r.threads === 1);
      const cpuRatio = ours1 && torch1 ? +(torch1.cpuMs / ours1.cpuMs).toFixed(2) : undefined;
      return { preset: peer.preset, part, batch, 'torch threads': torch.threads, 'torch seq/s': torch.seqPerSec, 'ours threads': ours?.threads, 'ours seq/s': ours?.seqPerSec, ratio: ours ? +(ours.seqPerSec / torch.seqPerSec).toFixed(2) : undefined, 'ratio by CPU time, 1 thread': cpuRatio };
    }),
  );
  result.peerRatios = ratios;
  table('PyTorch peer (each at its best thread count; ratio = ours ÷ PyTorch)', peers.flatMap((p) => p.rows.map((r) => ({ preset: p.preset, part: r.part, threads: r.threads, batch: r.batch, 'median ms': r.medianMs, 'seq/s': r.seqPerSec, 'cpu ms': r.cpuMs, load: r.load1 }))));
  table('onnxruntime ÷ PyTorch', ratios);
}

// per-stage costs ----------------------------------------------------------------------------------------------
if (sections.has('stages')) {
  log('per-stage costs (edge)');
  const stages = await benchStages(bundles.get('edge')!, { batches: quick ? [1, 16, 256] : [1, 4, 16, 64, 256], minSeconds: quick ? 0.15 : 0.4, resultsGrids: quick ? [60] : [60, 256] });
  result.stages = stages;
  table('pipeline stages alone (edge, 2 threads; median per batch)', stages.map((r) => ({ stage: r.stage, batch: r.batch, 'median ms': r.medianMs, 'µs per pixel': r.perPixelUs })));
}

// 4. end to end ---------------------------------------------------------------------------------------------------
const e2e: E2eResult[] = [];
/** the bundle `loopstream replay FILE` uses with no flag (config default, package-relative) */
const DEFAULT_BUNDLE = loadConfig().model.bundle;
if (sections.has('e2e')) {
  const edge = bundles.get('edge')!;
  const base = { bundle: edge.bundle.dir, threads: 2 };
  const scenarios: E2eScenario[] = [
    { kind: 'replay', rows: 60, cols: 60, ...base, label: 'replay 60x60 max pace (defaults)' },
    ...(quick ? [] : [{ kind: 'replay' as const, rows: 60, cols: 60, ...base, threads: 1, label: 'replay 60x60 max pace, model.threads 1' }]),
    { kind: 'cli', rows: 60, cols: 60, ...base, label: 'CLI `loopstream replay` 60x60 (whole process, no dashboard)' },
    // the same with the default bundle (what `loopstream replay FILE` runs with no flag), 60x60 and 256x256: issue 13's
    // whole-process targets (≤ 2 s and ≤ 300 MB at 60x60, ≤ 1 GB at 256x256)
    { kind: 'cli', rows: 60, cols: 60, ...base, bundle: DEFAULT_BUNDLE, label: 'CLI `loopstream replay` 60x60, default bundle (whole process)' },
    ...(quick ? [] : [{ kind: 'cli' as const, rows: 256, cols: 256, ...base, bundle: DEFAULT_BUNDLE, label: 'CLI `loopstream replay` 256x256, default bundle (whole process)' }]),
    ...(quick ? [] : [{ kind: 'replay' as const, rows: 256, cols: 256, ...base, label: 'replay 256x256 max pace (defaults)' }]),
    { kind: 'live', rows: 60, cols: 60, rate: 100, ...(quick ? { limit: 300 } : {}), ...base, label: 'live 60x60 at 100 px/s (defaults)' },
    ...(quick ? [] : [{ kind: 'live' as const, rows: 60, cols: 60, rate: 100, limit: 1500, ...base, maxDeltaHz: 30, label: 'live 60x60 at 100 px/s, server.maxDeltaHz 30' }]),
    { kind: 'live', rows: 60, cols: 60, rate: 100, limit: quick ? 300 : 1500, ...base, maxDeltaHz: 60, label: 'live 60x60 at 100 px/s, server.maxDeltaHz 60' },
    ...(quick ? [] : [{ kind: 'live' as const, rows: 60, cols: 60, rate: 100, limit: 1500, ...base, threads: 1, maxDeltaHz: 60, label: 'live 60x60 at 100 px/s, maxDeltaHz 60, 1 thread' }]),
    ...(quick ? [] : [{ kind: 'live' as const, rows: 256, cols: 256, rate: 100, limit: 2000, ...base, label: 'live 256x256 at 100 px/s, first 2000 px (defaults)' }]),
  ];
  for (const s of scenarios) {
    log(`end to end: ${s.label}`);
    const r = await runScenarioIsolated(s);
    if (r.error) log(`  failed: ${r.error}`);
    e2e.push(r);
  }
  result.e2e = e2e;
  table(
    'end to end (edge bundle, 2 threads, one socket.io-client dashboard client, each run in its own process)',
    e2e.map((r) => ({
      scenario: r.scenario.label,
      pixels: r.pixels,
      'wall s': r.wallSeconds,
      'run s': r.runSeconds,
      'CLI start s': r.startupSeconds,
      'px/s': r.pxPerSec,
      'client all s': r.clientAllSeconds,
      'p50 ms': r.latencyMs?.p50,
      'p99 ms': r.latencyMs?.p99,
      'max ms': r.latencyMs?.max,
      'steady p50/p99': r.latencySteadyMs ? `${r.latencySteadyMs.p50}/${r.latencySteadyMs.p99}` : undefined,
      '→maps p50/p99': r.latencySplitMs ? `${r.latencySplitMs.sendToMaps.p50}/${r.latencySplitMs.sendToMaps.p99}` : undefined,
      'RSS MiB start/peak/end': r.scenario.kind === 'cli' ? `–/${r.rss.peakMiB}/–` : `${r.rss.startMiB}/${r.rss.peakMiB}/${r.rss.endMiB}`,
      msgs: `${r.clientMessages.snapshots}+${r.clientMessages.deltas}`,
      load: `${r.load1[0]}→${r.load1[1]}`,
      error: r.error,
    })),
  );
}

// 4b. whole-process replays (issue 13) ------------------------------------------------------------------------------
// `loopstream replay FILE --pace max` with the default bundle, as a user runs it: node start, module loading, the
// pipeline, the results file, exit. Several runs of the same file: one run varies by ±10 % here.
const cliRuns: CliReplayRuns[] = [];
if (sections.has('cli')) {
  const plan = [{ rows: 60, cols: 60, repeat: quick ? 3 : 7 }, ...(quick ? [] : [{ rows: 256, cols: 256, repeat: 1 }])];
  for (const p of plan) {
    log(`whole-process replay ${p.rows}x${p.cols} × ${p.repeat}`);
    const r = await runCliReplays({ kind: 'cli', rows: p.rows, cols: p.cols, bundle: DEFAULT_BUNDLE, threads: 2, label: `loopstream replay ${p.rows}x${p.cols}` }, p.repeat);
    if (r.error) log(`  failed: ${r.error}`);
    cliRuns.push(r);
  }
  result.cli = cliRuns;
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const median = (xs: number[]) => (xs.length ? +medianOf(xs).toFixed(3) : undefined);
  table(
    'whole-process `loopstream replay FILE --pace max` (default bundle, simulated scan seed 1; --help = node start + CLI modules)',
    cliRuns.map((r) => ({
      scan: `${r.scenario.rows}x${r.scenario.cols}`,
      runs: r.wallSeconds.length,
      'median wall s': median(r.wallSeconds),
      'walls s (sorted)': sorted(r.wallSeconds).join(' '),
      'pipeline s (median)': median(r.runSeconds),
      'peak RSS MiB (max)': r.peakMiB.length ? Math.max(...r.peakMiB) : undefined,
      '--help s': r.startupSeconds,
      load: `${r.load1[0]}→${r.load1[1]}`,
      error: r.error,
    })),
  );
}

// 5. training -----------------------------------------------------------------------------------------------------
let training: TrainingRow[] = [];
if (sections.has('training')) {
  // the default architecture (mlp) at the batches the PyTorch peer runs too, then the LSTMs
  const mlpBatches = quick ? [128] : [128, 256];
  const mlpSamples = quick ? 1024 : 4096;
  const mlpEpochs = quick ? 3 : 5; // the fastest epoch after the first: more epochs, less of the other jobs' noise
  // mlp: the ONNX step (its default) at 1 and 2 threads, and the tfjs wasm step it replaced
  const plan = [
    ...mlpBatches.flatMap((batch) => [
      { preset: 'mlp' as const, samples: mlpSamples, batch, epochs: mlpEpochs, stepEngine: 'onnxruntime' as const, threads: 1 },
      { preset: 'mlp' as const, samples: mlpSamples, batch, epochs: mlpEpochs, stepEngine: 'onnxruntime' as const, threads: 2 },
      { preset: 'mlp' as const, samples: mlpSamples, batch, epochs: mlpEpochs, stepEngine: 'tfjs' as const },
    ]),
    ...(quick ? [{ preset: 'edge' as const, samples: 64, batch: 32 }] : [{ preset: 'edge' as const, samples: 256, batch: 64 }, { preset: 'paper' as const, samples: 4, batch: 4 }]),
  ];
  log(`training: ${plan.map((p) => `${p.preset} ${p.samples} samples batch ${p.batch}${p.preset === 'mlp' ? ` ${p.stepEngine}${p.stepEngine === 'onnxruntime' ? ` ${p.threads} thr` : ''}` : ' tfjs'}`).join(', ')}`);
  training = await benchTraining(plan);
  const mlpDims = presetDims('mlp', 96, 2);
  log(`PyTorch training peer (mlp, batches ${mlpBatches}, threads 1,2)`);
  const torchTraining = await benchTrainingPeer({ T: 96, C: 2, hidden: mlpDims.hidden!, latent: 16, samples: mlpSamples, batches: mlpBatches, threads: [1, 2], epochs: mlpEpochs });
  result.torchTraining = torchTraining;
  if (torchTraining.error) log(torchTraining.error);
  const trainFlops = 3 * vaeFlops(mlpDims).total; // forward + two backward products per sample
  log(`wasm matmul ceiling of an mlp training step (batches ${mlpBatches})`);
  const ceiling: MatmulCeilingRow[] = [];
  for (const batch of mlpBatches) ceiling.push(await benchMatmulCeiling(mlpDims, batch, quick ? { reps: 10, rounds: 2 } : {}));
  result.trainingMatmulCeiling = ceiling;
  const g = (sps?: number) => (sps === undefined ? undefined : +((sps * trainFlops) / 1e9).toFixed(2));
  const pct = (sps: number, threads: number) => (peakAt(threads) ? +((100 * g(sps)!) / peakAt(threads)!).toFixed(1) : undefined);
  // every measurement of the default architecture, each against PyTorch's best thread count at the same batch
  const side = mlpBatches.flatMap((batch) => {
    const torchBest = torchTraining.rows.filter((r) => r.batch === batch).sort((a, b) => b.samplesPerSec - a.samplesPerSec)[0];
    const ratio = (sps: number) => (torchBest ? +(sps / torchBest.samplesPerSec).toFixed(2) : undefined);
    const ours = training.filter((t) => t.preset === 'mlp' && t.batch === batch);
    const cap = ceiling.find((c) => c.batch === batch);
    return [
      ...ours.map((t) => ({ batch, what: t.backend === 'onnxruntime' ? 'trainVae, ONNX step on onnxruntime (the default)' : `trainVae, tfjs ${t.backend}`, threads: t.threads, 'samples/s': t.samplesPerSec, 'samples/CPU-s': t.samplesPerCpuSec, 'GFLOP/s': g(t.samplesPerSec), '% peak': pct(t.samplesPerSec, t.threads), '÷ torch best': ratio(t.samplesPerSec), load: t.load1 })),
      ...(cap ? [{ batch, what: `tfjs wasm, the step's ${cap.products} matmuls alone (ceiling)`, threads: 1, 'samples/s': cap.samplesPerSec, 'samples/CPU-s': undefined, 'GFLOP/s': cap.gflops, '% peak': pct(cap.samplesPerSec, 1), '÷ torch best': ratio(cap.samplesPerSec), load: cap.load1 }] : []),
      ...torchTraining.rows
        .filter((r) => r.batch === batch)
        .map((r) => ({ batch, what: `PyTorch ${torchTraining.torch ?? ''}${r === torchBest ? ' (best)' : ''}`, threads: r.threads, 'samples/s': r.samplesPerSec, 'samples/CPU-s': r.samplesPerCpuSec, 'GFLOP/s': g(r.samplesPerSec), '% peak': pct(r.samplesPerSec, r.threads), '÷ torch best': ratio(r.samplesPerSec), load: r.load1 })),
    ];
  });
  result.trainingSideBySide = side;
  table(`training the default architecture (mlp, T=96 C=2, ${(trainFlops / 1e6).toFixed(2)} MFLOP per sample incl. backward, ${mlpSamples} samples, fastest epoch after the first; % of the SGEMM peak at that thread count)`, side);
  const ft = finetuneAvailable();
  result.training = training;
  result.finetune = ft;
  if (ft.available) {
    // issue 15 item 4: ~1,000 recent pixels + reference pixels (finetune.referenceMix 2 → 2,000), the config's 3 epochs
    const mlp = await benchBundle('mlp');
    const plan = quick ? { samples: 600, epochs: 1, batch: 128 } : { samples: 3000, epochs: 3, batch: 128 };
    log(`fine-tuning round (trainRound, ${mlp.bundle.dir}, ${plan.samples} samples × ${plan.epochs} epoch, batch ${plan.batch})`);
    try {
      const round = await benchFinetuneRound(mlp.bundle.dir, plan);
      result.finetuneRound = round;
      console.log(`fine-tuning round: ${round.samples} samples × ${round.epochs} epoch(s), batch ${round.batch}: ${round.seconds} s including load and candidate write (${round.samplesPerSec} samples/s, load ${round.load1}); at finetune.cpuShare s the daemon's round takes 1/s as long`);
    } catch (err) {
      result.finetuneRound = { error: (err as Error).message };
      log(`fine-tuning round failed: ${(err as Error).message}`);
    }
  }
  table('training (trainVae, fastest epoch after the first)', training.map((t) => ({ preset: t.preset, engine: t.backend, threads: t.threads, batch: t.batch, samples: t.samples, 'samples/s': t.samplesPerSec, '~GFLOP/s': t.approxGflops, 'epoch s': t.epochSeconds, load: t.load1 })));
  if (!ft.available) console.log(`fine-tuning round: ${ft.note}`);
}

// targets ---------------------------------------------------------------------------------------------------------
const targets: Array<Record<string, unknown>> = [];
const edgeBatched = inference.filter((r) => r.preset === 'edge' && r.part === 'both' && r.batch >= 16 && r.pctPeak !== undefined).sort((a, b) => b.pctPeak! - a.pctPeak!)[0];
if (edgeBatched) targets.push({ target: 'edge batched inference ≥ 70 % of SGEMM peak (wall time)', measured: `${edgeBatched.pctPeak} % (${edgeBatched.gflops} GFLOP/s, batch ${edgeBatched.batch}, ${edgeBatched.threads} thr)`, met: edgeBatched.pctPeak! >= 70 });
const edgeCpu = inference.filter((r) => r.preset === 'edge' && r.part === 'both' && r.batch >= 16 && r.threads === 1 && r.pctPeakCpu !== undefined).sort((a, b) => b.pctPeakCpu! - a.pctPeakCpu!)[0];
if (edgeCpu) targets.push({ target: 'edge batched inference ≥ 70 % of SGEMM peak (per CPU-second, 1 thread)', measured: `${edgeCpu.pctPeakCpu} % (${edgeCpu.gflopsPerCpuSec} GFLOP/CPU-s, batch ${edgeCpu.batch})`, met: edgeCpu.pctPeakCpu! >= 70 });
const replay60 = e2e.find((r) => r.scenario.kind === 'replay' && r.scenario.rows === 60 && !r.error);
if (replay60) targets.push({ target: '60x60 replay end to end ≤ 3 s (replayThroughPipeline with dashboard)', measured: `${replay60.wallSeconds} s wall (pipeline ${replay60.runSeconds} s)`, met: replay60.wallSeconds! <= 3 });
for (const r of cliRuns.filter((x) => !x.error && x.wallSeconds.length)) {
  const mib = Math.max(...r.peakMiB);
  if (r.scenario.rows === 60) {
    const wall = +medianOf(r.wallSeconds).toFixed(3);
    targets.push({ target: 'issue 13: 60x60 `loopstream replay` ≤ 2 s wall, whole process (median of runs)', measured: `${wall} s (runs ${r.wallSeconds.join(', ')})`, met: wall <= 2 });
    targets.push({ target: 'issue 13: 60x60 `loopstream replay` ≤ 300 MB peak RSS', measured: `${mib} MiB (${+((mib * 2 ** 20) / 1e6).toFixed(0)} MB)`, met: mib * 2 ** 20 <= 300e6 });
  } else {
    targets.push({ target: `issue 13: ${r.scenario.rows}x${r.scenario.cols} \`loopstream replay\` ≤ 1 GB peak RSS`, measured: `${mib} MiB (wall ${r.wallSeconds[0]} s)`, met: mib * 2 ** 20 <= 1e9 });
  }
}
const cli60 = e2e.find((r) => r.scenario.kind === 'cli' && !r.error);
if (cli60) targets.push({ target: '60x60 replay ≤ 3 s as a whole `loopstream replay` process', measured: `${cli60.wallSeconds} s (pipeline ${cli60.runSeconds} s)`, met: cli60.wallSeconds! <= 3 });
for (const live of e2e.filter((r) => r.scenario.kind === 'live' && r.scenario.rows === 60 && r.latencyMs)) {
  targets.push({ target: `p99 latency ≤ 50 ms at 100 px/s — ${live.scenario.label}`, measured: `${live.latencyMs!.p99} ms (p50 ${live.latencyMs!.p50}; steady state p99 ${live.latencySteadyMs?.p99})`, met: live.latencyMs!.p99 <= 50 });
}
const ratioAt = (result.peerRatios as Array<{ preset: string; part: string; batch: number; ratio?: number }> | undefined)?.filter((r) => r.preset === 'edge' && r.part === 'both' && r.ratio !== undefined);
if (ratioAt?.length) {
  const at256 = ratioAt.find((r) => r.batch === 256) ?? ratioAt[ratioAt.length - 1]!;
  const cpu256 = (at256 as { 'ratio by CPU time, 1 thread'?: number })['ratio by CPU time, 1 thread'];
  targets.push({ target: '≥ 3x PyTorch (edge, encoder+decoder)', measured: `${at256.ratio}x at batch ${at256.batch} (by CPU time at 1 thread ${cpu256 ?? '-'}x; range ${Math.min(...ratioAt.map((r) => r.ratio!))}–${Math.max(...ratioAt.map((r) => r.ratio!))}x over batches)`, met: at256.ratio! >= 3 });
}
// issue 15: the default architecture trains at least as fast as PyTorch CPU on the same architecture and batch
const sideRows = (result.trainingSideBySide as Array<Record<string, unknown>> | undefined) ?? [];
for (const batch of new Set(sideRows.map((r) => r['batch'] as number))) {
  const at = sideRows.filter((r) => r['batch'] === batch);
  const ours = at.filter((r) => String(r['what']).includes('(the default)')).sort((a, b) => (b['samples/s'] as number) - (a['samples/s'] as number))[0];
  const torch = at.find((r) => String(r['what']).includes('(best)'));
  if (ours && torch) targets.push({ target: `mlp training ≥ PyTorch CPU (batch ${batch}, each at its best thread count)`, measured: `${ours['samples/s']} samples/s (${ours['threads']} thr) vs PyTorch ${torch['samples/s']} (${torch['threads']} thr): ${ours['÷ torch best']}x`, met: (ours['samples/s'] as number) >= (torch['samples/s'] as number) });
}
result.targets = targets;
result.loadAtEnd = loadNow();
result.seconds = +((Date.now() - started.getTime()) / 1000).toFixed(1);
if (targets.length) table('targets', targets);

const outDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(outDir, { recursive: true });
const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const outPath = args.out ?? join(outDir, `bench-${stamp}${quick ? '-quick' : ''}.json`);
writeFileSync(outPath, JSON.stringify(result, null, 1) + '\n');
console.log(`\n${result.seconds} s; load ${loadNow().join(' ')} (1/5/15 min); JSON: ${relative(process.cwd(), outPath)}`);
process.exit(0);
