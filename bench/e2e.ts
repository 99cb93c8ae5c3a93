/**
 * End to end through the real pipeline, with one connected dashboard client (socket.io-client):
 *
 * - replay: a simulated scan written to an HDF5 scan file, replayed at `max` pace by replayThroughPipeline (what
 *   `loopstream replay --dashboard` runs: preprocessing, inference, maps, results file, alerts, dashboard). Wall
 *   time from the call to the summary, the pipeline's own run time, px/s, and when the client held every pixel.
 * - live: startLive (ZeroMQ PULL, recording on) fed by publishScan at a fixed rate from a worker thread (the
 *   instrument: bench/publisher-worker.ts); per pixel, the latency from
 *   the moment publishScan's send of it resolved (queued in ZeroMQ) to the moment the client received the map
 *   message that first shows it encoded — receive → preprocessing → inference → maps → dashboard emit, plus the
 *   localhost hops. Same machine, same clock (Date.now()).
 * Both sample RSS every 100 ms. Each scenario runs in a child process (`node --import tsx bench/e2e.ts '<json>'`)
 * so RSS and the event loop are the pipeline's, not the rest of the benchmark's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io as connect, type Socket } from 'socket.io-client';
import { writeSimulatedScan } from '../src/sim/write-scan-file.ts';
import { parseConfig, type Config } from '../src/config/index.ts';
import { PIXEL_DONE } from '../src/maps/scan-maps.ts';
import { replayThroughPipeline } from '../src/app/replay-run.ts';
import { startLive } from '../src/app/live.ts';
import type { ServerToClientEvents, WireDelta, WireSnapshot } from '../src/server/events.ts';
import { fromWireDelta, fromWireSnapshot } from '../src/server/map-wire.ts';
import { Worker } from 'node:worker_threads';
import { simulateScan } from '../src/sim/index.ts';
import type { PublisherJob } from './publisher-worker.ts';
import { silentLogger } from '../src/util/log.ts';
import { loadNow } from './machine.ts';
import { quantile } from './timing.ts';

/** One scenario (what the child process is told). */
export interface E2eScenario {
  kind: 'replay' | 'live' | 'cli';
  rows: number;
  cols: number;
  bundle: string;
  threads: number;
  /** live: pixels per second */
  rate?: number;
  /** live: publish only the first N pixels */
  limit?: number;
  /** config overrides (batch.maxSize, batch.maxWaitMs, server.maxDeltaHz) */
  batch?: { maxSize?: number; maxWaitMs?: number };
  maxDeltaHz?: number;
  label?: string;
}

/** RSS samples, MiB. */
export interface RssSeries {
  startMiB: number;
  peakMiB: number;
  endMiB: number;
  /** [seconds since start, MiB] every ~0.5 s */
  series: Array<[number, number]>;
}

/** What a scenario measured. */
export interface E2eResult {
  scenario: E2eScenario;
  pixels: number;
  /** replay: from the replayThroughPipeline call until its summary and results file are done (model load, server start, replay, results) */
  wallSeconds?: number;
  /** cli: wall time of `loopstream --help` (node start + module loading), s */
  startupSeconds?: number;
  /** replay: the pipeline's own run time (summary.seconds) */
  runSeconds?: number;
  pxPerSec?: number;
  /** seconds from the call until the client held every pixel */
  clientAllSeconds?: number | null;
  encoded?: number;
  /** live: latency from acquisition timestamp to client receipt, ms */
  latencyMs?: { n: number; p50: number; p90: number; p99: number; max: number };
  /** live: p50/p99 latency per tenth of the run (seq order), ms: shows start-up transients and drift */
  latencyByTenth?: Array<[number, number]>;
  /** live: latency without the first 10 % of pixels (start-up transient), ms */
  latencySteadyMs?: { p50: number; p99: number };
  /** live: the latency split at the maps: send → maps written (pipeline) and maps → client (dashboard feed) */
  latencySplitMs?: { sendToMaps: { p50: number; p99: number }; mapsToClient: { p50: number; p99: number } };
  publisher?: { seconds: number; pixels: number };
  clientMessages: { snapshots: number; deltas: number };
  rss: RssSeries;
  load1: [number, number];
  error?: string;
}

function configFor(s: E2eScenario, dataDir: string): Config {
  return parseConfig(
    {
      model: { bundle: s.bundle, threads: s.threads },
      data: { dir: dataDir },
      server: { port: 0, ...(s.maxDeltaHz ? { maxDeltaHz: s.maxDeltaHz } : {}) },
      ingest: { endpoint: 'tcp://127.0.0.1:*' },
      batch: { ...(s.batch ?? {}) },
    },
    'bench/e2e.ts',
  );
}

function rssSampler(): { stop(): RssSeries } {
  const t0 = performance.now();
  const mib = () => process.memoryUsage().rss / 2 ** 20;
  const all: Array<[number, number]> = [[0, mib()]];
  const timer = setInterval(() => all.push([(performance.now() - t0) / 1000, mib()]), 100);
  return {
    stop() {
      clearInterval(timer);
      all.push([(performance.now() - t0) / 1000, mib()]);
      const series = all.filter((_, i) => i % 5 === 0 || i === all.length - 1).map(([t, m]) => [+t.toFixed(2), +m.toFixed(1)] as [number, number]);
      return { startMiB: +all[0]![1].toFixed(1), peakMiB: +Math.max(...all.map((a) => a[1])).toFixed(1), endMiB: +all[all.length - 1]![1].toFixed(1), series };
    },
  };
}

/**
 * A dashboard client that acks every map message and records, per flat pixel index, when it first saw the pixel
 * encoded (PIXEL_DONE), as Date.now() ms.
 */
function dashboardClient(url: string, total: number): { socket: Socket<ServerToClientEvents>; seenAt: Float64Array; counts: { snapshots: number; deltas: number }; all: Promise<number>; connected: Promise<void> } {
  const socket: Socket<ServerToClientEvents> = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  const seenAt = new Float64Array(total).fill(Number.NaN);
  const counts = { snapshots: 0, deltas: 0 };
  let seen = 0;
  let resolveAll!: (t: number) => void;
  const all = new Promise<number>((r) => (resolveAll = r));
  // index undefined: a snapshot, whose k-th entry is pixel k
  const mark = (index: Uint32Array | undefined, state: Uint8Array, now: number) => {
    for (let k = 0; k < state.length; k++) {
      const i = index ? index[k]! : k;
      if (state[k] === PIXEL_DONE && i < total && Number.isNaN(seenAt[i]!)) {
        seenAt[i] = now;
        if (++seen === total) resolveAll(now);
      }
    }
  };
  socket.on('map:snapshot', (w: WireSnapshot, ack?: () => void) => {
    const now = Date.now();
    counts.snapshots++;
    mark(undefined, fromWireSnapshot(w).state, now);
    ack?.();
  });
  socket.on('map:delta', (w: WireDelta, ack?: () => void) => {
    const now = Date.now();
    counts.deltas++;
    const n = w.index.byteLength / 4;
    const d = fromWireDelta(w, n > 0 ? w.mu.byteLength / 4 / n : 0);
    mark(d.index, d.state, now);
    ack?.();
  });
  const connected = new Promise<void>((res, rej) => {
    socket.once('connect', () => res());
    socket.once('connect_error', (err) => rej(err));
  });
  return { socket, seenAt, counts, all, connected };
}

const timeout = <T>(p: Promise<T>, ms: number, fallback: T) => Promise.race([p, new Promise<T>((r) => setTimeout(() => r(fallback), ms).unref())]);

/** Replay a simulated scan at max pace through the pipeline with one dashboard client. */
export async function runReplay(s: E2eScenario): Promise<E2eResult> {
  const dir = await mkdtemp(join(tmpdir(), 'loopstream-bench-e2e-'));
  const load0 = loadNow()[0];
  try {
    const scan = simulateScan({ rows: s.rows, cols: s.cols, seed: 1, anomalies: 3 });
    const file = join(dir, 'scan.h5');
    await writeSimulatedScan(scan, file);
    const total = s.rows * s.cols;
    const config = configFor(s, join(dir, 'data'));
    let client: ReturnType<typeof dashboardClient> | undefined;
    const rss = rssSampler();
    const t0 = Date.now();
    let doneAt = 0;
    const summary = await replayThroughPipeline(config, silentLogger, file, {
      pace: { kind: 'max' },
      dashboard: true,
      onServing: (url) => {
        client = dashboardClient(url, total);
      },
      // keep the server up until the client holds every pixel (at most 30 s), so "client has it all" is measured
      keepServing: () => {
        doneAt = Date.now();
        return timeout(client ? client.all : Promise.resolve(0), 30_000, 0);
      },
    });
    const wallSeconds = ((doneAt || Date.now()) - t0) / 1000;
    const allAt = client ? await timeout(client.all, 0, 0) : 0;
    client?.socket.close();
    return {
      scenario: s,
      pixels: summary.pixels,
      wallSeconds: +wallSeconds.toFixed(3),
      runSeconds: +summary.seconds.toFixed(3),
      pxPerSec: +(summary.pixels / wallSeconds).toFixed(1),
      clientAllSeconds: allAt ? +((allAt - t0) / 1000).toFixed(3) : null,
      encoded: summary.encoded,
      clientMessages: client?.counts ?? { snapshots: 0, deltas: 0 },
      rss: rss.stop(),
      load1: [load0, loadNow()[0]],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Publish a simulated scan at a fixed rate into the live daemon and measure per-pixel latency to the client. */
export async function runLive(s: E2eScenario): Promise<E2eResult> {
  const dir = await mkdtemp(join(tmpdir(), 'loopstream-bench-live-'));
  const load0 = loadNow()[0];
  const rss = rssSampler();
  const live = await startLive(configFor(s, join(dir, 'data')), silentLogger);
  try {
    if (!live.url) throw new Error('the live daemon started without its dashboard server');
    const total = s.rows * s.cols;
    const client = dashboardClient(live.url, total);
    await client.connected;
    // when the maps got each pixel (ModelEncoder's listener runs right after applyBatch): splits the latency into
    // pipeline (send → maps) and dashboard (maps → client)
    const encodedAt = new Float64Array(total).fill(Number.NaN);
    live.daemon.encoder.encoded$.subscribe(({ index }) => {
      const now = Date.now();
      for (let k = 0; k < index.length; k++) if (index[k]! < total) encodedAt[index[k]!] = now;
    });
    const rate = s.rate ?? 100;
    // the instrument runs on its own thread (bench/publisher-worker.ts): simulating pixels costs ~1 ms each
    const job: PublisherJob = { endpoint: live.endpoint, rows: s.rows, cols: s.cols, seed: 2, rate, ...(s.limit ? { limit: s.limit } : {}) };
    // a worker does not inherit the tsx loader: boot it first (as src/finetune/start-train-worker.ts does)
    const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
    const entry = new URL('./publisher-worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`;
    const worker = new Worker(boot, { eval: true, workerData: job });
    const { sentAt, ...sent } = await new Promise<{ sentAt: Float64Array; pixels: number; seconds: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    const scan = simulateScan({ rows: s.rows, cols: s.cols, seed: 2 }); // for seq → (row, col) only
    const n = Math.min(total, s.limit ?? total);
    // wait until the client has every sent pixel (raster order: indices 0 … n-1), at most 10 s
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      let k = 0;
      while (k < n && !Number.isNaN(client.seenAt[k]!)) k++;
      if (k === n) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const lat: number[] = [];
    const toMaps: number[] = [];
    const toClient: number[] = [];
    for (let seq = 0; seq < n; seq++) {
      const px = scan.pixel(seq);
      const i = px.row * s.cols + px.col;
      const at = client.seenAt[i]!;
      if (!Number.isNaN(at) && !Number.isNaN(sentAt[seq]!)) lat.push(at - sentAt[seq]!);
      if (!Number.isNaN(encodedAt[i]!) && !Number.isNaN(sentAt[seq]!)) toMaps.push(encodedAt[i]! - sentAt[seq]!);
      if (!Number.isNaN(encodedAt[i]!) && !Number.isNaN(at)) toClient.push(at - encodedAt[i]!);
    }
    const pct = (a: number[]) => {
      const sorted = a.slice().sort((x, y) => x - y);
      return { p50: +quantile(sorted, 0.5).toFixed(2), p99: +quantile(sorted, 0.99).toFixed(2) };
    };
    const byTenth: Array<[number, number]> = [];
    for (let k = 0; k < 10; k++) {
      const part = lat.slice(Math.floor((k * lat.length) / 10), Math.floor(((k + 1) * lat.length) / 10)).sort((a, b) => a - b);
      if (part.length) byTenth.push([+quantile(part, 0.5).toFixed(1), +quantile(part, 0.99).toFixed(1)]);
    }
    // steady state: without the first 10 % of pixels (start-up: JIT, first inference calls, file creation)
    const steadyLat = lat.slice(Math.floor(lat.length / 10)).sort((a, b) => a - b);
    lat.sort((a, b) => a - b);
    client.socket.close();
    const r = (v: number) => +v.toFixed(2);
    return {
      scenario: s,
      pixels: n,
      latencyMs: { n: lat.length, p50: r(quantile(lat, 0.5)), p90: r(quantile(lat, 0.9)), p99: r(quantile(lat, 0.99)), max: r(lat[lat.length - 1] ?? Number.NaN) },
      latencyByTenth: byTenth,
      latencySplitMs: { sendToMaps: pct(toMaps), mapsToClient: pct(toClient) },
      latencySteadyMs: { p50: r(quantile(steadyLat, 0.5)), p99: r(quantile(steadyLat, 0.99)) },
      publisher: { seconds: +sent.seconds.toFixed(3), pixels: sent.pixels },
      clientMessages: client.counts,
      rss: rss.stop(),
      load1: [load0, loadNow()[0]],
    };
  } finally {
    await live.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The user's view: `node bin/loopstream.js replay FILE --pace max` as a whole process (node start, module loading
 * — the compiled dist/ when it matches src/, else through tsx —, model load, replay, results file, exit), timed from
 * spawn to exit, with the process's peak RSS. No dashboard.
 */
/** Repeated whole-process replays of one file (`runCliReplays`): per run, in run order. */
export interface CliReplayRuns {
  scenario: E2eScenario;
  pixels: number;
  /** wall time of `loopstream --help` (node start + module loading), s */
  startupSeconds: number;
  /** wall time of each `loopstream replay` process, s */
  wallSeconds: number[];
  /** the pipeline's own run time of each (summary.seconds), s */
  runSeconds: number[];
  /** peak RSS of each whole process (getrusage), MiB */
  peakMiB: number[];
  meanError?: number;
  load1: [number, number];
  error?: string;
}

/**
 * `loopstream replay FILE --pace max` as a whole process (node start, module loading, the pipeline, exit), `repeat`
 * times on one simulated file: issue 13's start-up and RSS targets. One run varies by ±10 % on a shared machine, so
 * the targets are read off the median of several.
 */
export async function runCliReplays(s: E2eScenario, repeat: number): Promise<CliReplayRuns> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const dir = await mkdtemp(join(tmpdir(), 'loopstream-bench-cli-'));
  const load0 = loadNow()[0];
  const runs: CliReplayRuns = { scenario: s, pixels: 0, startupSeconds: 0, wallSeconds: [], runSeconds: [], peakMiB: [], load1: [load0, load0] };
  try {
    const scan = simulateScan({ rows: s.rows, cols: s.cols, seed: 1, anomalies: 3 });
    const file = join(dir, 'scan.h5');
    await writeSimulatedScan(scan, file);
    const bin = fileURLToPath(new URL('../bin/loopstream.js', import.meta.url));
    // the CLI's fixed start-up cost: the same process doing nothing but print its help
    const h0 = performance.now();
    await promisify(execFile)(process.execPath, [bin, '--help']);
    runs.startupSeconds = +((performance.now() - h0) / 1000).toFixed(3);
    const rssReporter = fileURLToPath(new URL('./support/report-max-rss.mjs', import.meta.url));
    for (let r = 0; r < repeat; r++) {
      const data = join(dir, `data-${r}`);
      const t0 = performance.now();
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', rssReporter, bin, 'replay', file, '--pace', 'max', '--bundle', s.bundle, '--data', data, '--summary-json', '--set', `model.threads=${s.threads}`, '--set', 'log.level=warn'], { maxBuffer: 1 << 24 });
      runs.wallSeconds.push(+((performance.now() - t0) / 1000).toFixed(3));
      const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { pixels?: number; seconds?: number; meanError?: number };
      runs.pixels = summary.pixels ?? 0;
      runs.meanError = summary.meanError;
      if (summary.seconds !== undefined) runs.runSeconds.push(+summary.seconds.toFixed(3));
      // the whole process's peak RSS (getrusage), printed by the reporter at exit
      runs.peakMiB.push(+(Number(/maxrss (\d+)/.exec(stderr)?.[1] ?? 0) / 1024).toFixed(1));
      await rm(data, { recursive: true, force: true });
    }
  } catch (err) {
    runs.error = (err as Error).message.split('\n').slice(0, 3).join(' | ');
  } finally {
    runs.load1[1] = loadNow()[0];
    await rm(dir, { recursive: true, force: true });
  }
  return runs;
}

/** One whole-process replay as an end-to-end row. */
export async function runCliReplay(s: E2eScenario): Promise<E2eResult> {
  const r = await runCliReplays(s, 1);
  const wall = r.wallSeconds[0];
  const base = { scenario: s, pixels: r.pixels, clientMessages: { snapshots: 0, deltas: 0 }, load1: r.load1 };
  if (r.error || wall === undefined) return { ...base, rss: { startMiB: 0, peakMiB: 0, endMiB: 0, series: [] }, error: r.error ?? 'no run' };
  return { ...base, startupSeconds: r.startupSeconds, wallSeconds: wall, runSeconds: r.runSeconds[0], pxPerSec: +(r.pixels / wall).toFixed(1), rss: { startMiB: 0, peakMiB: r.peakMiB[0]!, endMiB: 0, series: [] } };
}

/** Run one scenario in a child process and return its result (RSS and event loop of the pipeline alone). */
export async function runScenarioIsolated(s: E2eScenario, timeoutMs = 600_000): Promise<E2eResult> {
  if (s.kind === 'cli') return runCliReplay(s); // already its own process
  const { execFile } = await import('node:child_process');
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', self, JSON.stringify(s)], { maxBuffer: 1 << 24, timeout: timeoutMs }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as E2eResult);
      } catch {
        const why = (stderr || (err as Error | null)?.message || 'no output').trim().split('\n').slice(-4).join(' | ');
        resolve({ scenario: s, pixels: 0, clientMessages: { snapshots: 0, deltas: 0 }, rss: { startMiB: 0, peakMiB: 0, endMiB: 0, series: [] }, load1: [0, 0], error: why });
      }
    });
  });
}

// Child-process entry: `node --import tsx bench/e2e.ts '<scenario json>'` prints the result as one JSON line.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const s = JSON.parse(process.argv[2] ?? '{}') as E2eScenario;
  const result = s.kind === 'live' ? await runLive(s) : await runReplay(s);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}
