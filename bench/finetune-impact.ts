/**
 * Ingest latency with and without background fine-tuning (docs/finetune.md §Budget). Prints numbers; asserts none.
 *
 * A simulated scan unlike the bundle's training data (two-step + weak switching, 12 V) is replayed through the
 * real pipeline (Daemon: micro-batches, onnxruntime, maps) at a fixed acquisition rate, once with fine-tuning off
 * and once per CPU share with it on (rounds every `--every` pixels; a warm-up scan of that many pixels starts the
 * first round before the measured scan begins, so training runs during the whole window).
 * Latency of a pixel = time from the source emitting it to its μ/error being in the maps. Also reported: how
 * long training ran during the window, its busy/throttled/paused seconds and the rounds' outcomes.
 *
 *   node --import tsx bench/finetune-impact.ts [--bundle DIR] [--rows 60 --cols 60] [--pace 200pxps]
 *                                              [--shares 0.5,1] [--every 300] [--epochs 2] [--repeat 3]
 *
 * The machine may be shared, so the configurations run interleaved `--repeat` times and the table shows medians
 * (and the load average seen).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tap } from 'rxjs';
import { writeSimulatedScan } from '../src/sim/write-scan-file.ts';
import { Config } from '../src/config/schema.ts';
import { wireFinetune } from '../src/app/wire-finetune.ts';
import { versionsRoot, type RoundRecord } from '../src/finetune/versions.ts';
import { loadBundle } from '../src/model/bundle.ts';
import { Daemon } from '../src/pipeline/daemon.ts';
import { parsePace, replayFile } from '../src/sources/hdf5/index.ts';
import { simulateScan } from '../src/sim/index.ts';
import { silentLogger } from '../src/util/log.ts';
import { quantile } from './timing.ts';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'fixtures/models/edge-sim' },
    rows: { type: 'string', default: '60' },
    cols: { type: 'string', default: '60' },
    pace: { type: 'string', default: '200pxps' },
    shares: { type: 'string', default: '0.5,1' },
    every: { type: 'string', default: '300' },
    epochs: { type: 'string', default: '2' },
    batch: { type: 'string', default: '64' },
    repeat: { type: 'string', default: '3' },
  },
});

let bundleDir = args.bundle!;
if (!existsSync(join(bundleDir, 'manifest.json'))) {
  // No shipped bundle yet: the fine-tuning tests' small pretrained bundle (T = 32) stands in, and says so.
  const { pretrainedTestBundle } = await import('../test/finetune/support/small-bundle.ts');
  bundleDir = await pretrainedTestBundle();
  console.log(`(${args.bundle} not found; using the fine-tuning test bundle ${bundleDir})`);
}
const bundle = await loadBundle(bundleDir);
const rows = Number(args.rows);
const cols = Number(args.cols);
const work = mkdtempSync(join(tmpdir(), 'loopstream-bench-finetune-'));
const file = join(work, 'scan.h5');
await writeSimulatedScan(simulateScan({ rows, cols, seed: 31, steps: bundle.T, mechanisms: ['twoStep', 'weak'], vmax: 12, scanId: 'bench' }), file);
// A warm-up scan of `every` pixels, replayed at max pace before the measured one: with fine-tuning on it starts the
// first round, so training runs from the first measured pixel on (the bench waits for its first finished batch).
const warmFile = join(work, 'warm.h5');
const warmSide = Math.ceil(Math.sqrt(Number(args.every)));
await writeSimulatedScan(simulateScan({ rows: warmSide, cols: warmSide, seed: 32, steps: bundle.T, mechanisms: ['twoStep', 'weak'], vmax: 12, scanId: 'warm' }), warmFile);

interface RunResult {
  label: string;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  pxPerSec: number;
  seconds: number;
  rounds: RoundRecord[];
  load: number;
  /** seconds of the ingest window during which a round was training */
  trainingSeconds: number;
  /** seconds of the window the worker was blocked by the ingest-lag pause */
  pausedSeconds: number;
  /** largest queue depth (pixels received, not yet encoded) seen during the window */
  maxQueue: number;
}

async function run(label: string, finetune: Record<string, unknown> | undefined): Promise<RunResult> {
  const dataDir = join(work, label.replace(/[^a-z0-9]+/gi, '-'));
  const config = Config.parse({
    model: { bundle: bundleDir, threads: 1 },
    data: { dir: dataDir },
    alerts: { enabled: false },
    server: { enabled: false },
    finetune: { enabled: Boolean(finetune), ...(finetune ?? {}) },
  });
  const daemon = await Daemon.create(config, silentLogger, { source: 'replay', record: false });
  // Time spent in each fine-tuning state during the ingest window (a round still training at the end counts too).
  const inState = new Map<string, number>();
  let state = 'disabled';
  let since = performance.now();
  const status = {
    progress: 0,
    setFinetuneStatus(next: string, _text: string, progress?: number) {
      if (next === 'training' && progress !== undefined) this.progress = progress;
      const now = performance.now();
      inState.set(state, (inState.get(state) ?? 0) + (now - since) / 1000);
      state = next;
      since = now;
    },
  };
  const ft = finetune ? await wireFinetune(daemon, status, config, silentLogger) : undefined;
  const emitted = new Float64Array(rows * cols);
  const latency: number[] = [];
  daemon.encoder.encoded$.subscribe(({ ctx, index }) => {
    if (ctx.start.scanId !== 'bench') return;
    const now = performance.now();
    for (const i of index) latency.push(now - emitted[i]!); // raster scan: pixel index = seq
  });
  await daemon.run(replayFile(warmFile, { pace: { kind: 'max' } }));
  // Measure from the first finished training batch on: steady-state training, not the round's start-up.
  while (ft && !(state === 'training' && status.progress > 0)) await new Promise((r) => setTimeout(r, 20));
  inState.clear();
  since = performance.now();
  const t0 = performance.now();
  // Seconds the worker was actually blocked by the ingest-lag pause during the window.
  let pausedSeconds = 0;
  let maxQueue = 0;
  const pausePoll = setInterval(() => {
    if (ft?.trainingPaused) pausedSeconds += 0.02;
    maxQueue = Math.max(maxQueue, daemon.queueDepth());
  }, 20);
  await daemon.run(
    replayFile(file, { pace: parsePace(args.pace!) }).pipe(
      tap((ev) => {
        if (ev.type === 'pixel') emitted[ev.seq] = performance.now();
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(pausePoll);
  status.setFinetuneStatus(state, "");
  const trainingSeconds = inState.get('training') ?? 0; // before close(): stopping the round is not ingest time
  const load = loadavg()[0]!;
  await ft?.close(); // the round still running when ingest ends is dropped: only the ingest window counts
  await daemon.close();
  const roundsFile = join(versionsRoot(config), 'rounds.jsonl');
  const rounds = existsSync(roundsFile) ? readFileSync(roundsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RoundRecord) : [];
  const sorted = Float64Array.from(latency).sort();
  return { label, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]!, pxPerSec: latency.length / seconds, seconds, rounds, load, trainingSeconds, pausedSeconds, maxQueue };
}

console.log(`bundle ${bundleDir} (T=${bundle.T}, ${bundle.manifest.preset}); scan ${rows}x${cols} = ${rows * cols} px, pace ${args.pace}; rounds every ${args.every} px, ${args.epochs} epochs, batch ${args.batch}; ${args.repeat} interleaved repeats`);
const configs: Array<[string, Record<string, unknown> | undefined]> = [['fine-tuning off', undefined]];
for (const share of args.shares!.split(',').map(Number)) {
  configs.push([`fine-tuning on, cpuShare ${share}`, { cpuShare: share, everyPixels: Number(args.every), epochs: Number(args.epochs), batch: Number(args.batch), learningRate: 1e-3 }]);
}
const all = new Map<string, RunResult[]>(configs.map(([label]) => [label, []]));
for (let k = 0; k < Number(args.repeat); k++) {
  for (const [label, ft] of configs) all.get(label)!.push(await run(label, ft));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};
console.log('\n| run (median of repeats) | window s | training s in window | paused s in window | max queue px | ingest px/s | latency p50 ms | p95 ms | p99 ms | max ms | load avg (min–max) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const [label, rs] of all) {
  const m = (f: (r: RunResult) => number, d = 1) => median(rs.map(f)).toFixed(d);
  const loads = rs.map((r) => r.load);
  console.log(`| ${label} | ${m((r) => r.seconds)} | ${m((r) => r.trainingSeconds)} | ${m((r) => r.pausedSeconds)} | ${m((r) => r.maxQueue, 0)} | ${m((r) => r.pxPerSec, 0)} | ${m((r) => r.p50)} | ${m((r) => r.p95)} | ${m((r) => r.p99)} | ${m((r) => r.max)} | ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} |`);
}
console.log('\nper run: ' + [...all.values()].flat().map((r) => `${r.label}: ${r.pxPerSec.toFixed(0)} px/s, p95 ${r.p95.toFixed(0)} ms, load ${r.load.toFixed(1)}`).join('; '));
rmSync(work, { recursive: true, force: true });
