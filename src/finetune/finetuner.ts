/**
 * Finetuner: background fine-tuning of the daemon's model (docs/finetune.md: replay buffer → worker thread trains
 * → gate → export ONNX → hot swap → re-encode).
 *
 *   encoded batch ─▶ replay buffer (recent model inputs; a stable share held out)
 *   every N new pixels or T minutes ─▶ round: recent (training part) + reference sample ─▶ worker (tfjs, one thread,
 *     CPU share, paused while ingest lags) ─▶ candidate bundle (tfjs + ONNX) ─▶ gate on held-out recent pixels and
 *     the reference slice (onnxruntime, both models) ─▶ accepted: version folder v<N>, slot.swap between batches,
 *     re-encode seen pixels in the background; rejected: logged and dropped.
 * One round at a time; every decision is logged with its numbers and shown on the dashboard.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.ts';
import { loadBundle, type Bundle } from '../model/bundle.ts';
import { createEngine, type InferenceEngine } from '../model/runtime.ts';
import { encodeRows } from '../model/engine.ts';
import { klPerLatent } from '../model/train.ts';
import { mulberry32 } from '../util/prng.ts';
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import type { EncodedListener } from '../pipeline/model-encoder.ts';
import type { ModelSlot } from '../pipeline/model-slot.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';
import type { FinetuneState } from '../contracts/finetune-state.ts';
import type { Logger } from '../util/log.ts';
import { FinetuneError } from './errors.ts';
import { gate, type GateRule, type GateScores } from './gate.ts';
import type { FromWorker, ToWorker, TrainDone, TrainRequest } from './messages.ts';
import { loadReferenceSample, splitReference, writeTrainSample, type ReferenceSample } from '../model/reference-sample.ts';
import { reencodeScans } from './reencode.ts';
import { roundBeta } from './round-beta.ts';
import { ReplayBuffer, type RecentData } from './replay-buffer.ts';
import { startTrainWorker } from './start-train-worker.ts';
import { TrainControl } from './train-control.ts';
import { appendRound, commitVersion, discardStaging, latestVersion, nextVersion, stagingDir, versionsRoot, type FinetunedManifest, type RoundRecord, type RoundTrigger } from './versions.ts';

/** The parts of the daemon fine-tuning uses (pipeline/daemon.ts `Daemon` has them all). */
export interface FinetuneHost {
  readonly slot: ModelSlot;
  readonly registry: { list(): ScanContext[]; writeResults(ctx: ScanContext, complete: boolean): Promise<void> };
  readonly encoder: { onEncoded(fn: EncodedListener): () => void };
  /** the model-fit check (pipeline/fit-monitor.ts): a scan flagged as not fitting starts a round at minPixels */
  readonly fit?: { onChange(fn: (ctx: ScanContext, status: { flag: boolean }) => void): () => void };
  queueDepth(): number;
}

/** Where fine-tuning reports its state (app/hub.ts `PipelineHub` satisfies it). */
export interface FinetuneStatusSink {
  setFinetuneStatus(state: FinetuneState, text: string, progress?: number): void;
}

/** What the replay summary reports about fine-tuning (CLI contract of `loopstream replay --finetune`). */
export interface FinetuneSummary {
  /** model versions used, the initial one included */
  modelVersions: number;
  /** mean error of the scan's encoded pixels under the initial model */
  errorBeforeFinetune: number | null;
  /** mean error of the same pixels under the last accepted model (after re-encoding) */
  errorAfterFinetune: number | null;
  /** rounds run and the versions they produced */
  finetuneRounds: number;
  acceptedVersions: number[];
}

const mean = (a: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return a.length ? s / a.length : Number.NaN;
};

/** The gate's numbers without the latent arrays the scores carry (they would bloat manifest and rounds.jsonl). */
const plainScores = (s: GateScores): GateScores => ({ heldOutMse: s.heldOutMse, referenceMse: s.referenceMse, ...(s.activeChannels !== undefined ? { activeChannels: s.activeChannels } : {}) });

export class Finetuner {
  private readonly buffer: ReplayBuffer;
  private readonly stride: number;
  private readonly rule: GateRule;
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly initialError = new WeakMap<ScanContext, Float32Array>();
  private worker?: Worker;
  private control?: TrainControl;
  private running?: Promise<void>;
  private closed = false;
  /** rounds started (failed ones included) */
  private started = 0;
  private lastRoundAt = Date.now();
  private lastCollectingAt = 0;
  /** scans flagged as not fitting now: while any is, a round needs only minPixels new pixels */
  private readonly notFitting = new Set<string>();
  private readonly offFit?: () => void;
  /** set by `drain` (replay end): keep running rounds while the gate accepts them */
  private draining = false;
  /** whether the latest round was accepted */
  private lastAccepted = false;
  /** every round, accepted or not */
  readonly rounds: RoundRecord[] = [];
  /** versions the slot has held since start, in order (the initial one first) */
  readonly versionsUsed: number[];

  private constructor(
    private readonly host: FinetuneHost,
    private readonly status: FinetuneStatusSink,
    private readonly config: Config,
    private readonly log: Logger,
    readonly root: string,
    readonly baseDir: string,
    private readonly initialBundle: Bundle,
    private readonly reference: ReferenceSample,
    private readonly refSplit: ReturnType<typeof splitReference>,
  ) {
    const c = config.finetune;
    this.stride = initialBundle.T * initialBundle.C;
    this.buffer = new ReplayBuffer(c.bufferPixels, this.stride, c.holdoutFraction, c.seed);
    this.rule = { minImprovement: c.gate.minImprovement, maxReferenceWorsening: c.gate.maxReferenceWorsening };
    this.versionsUsed = [host.slot.engine.version];
    this.unsubscribe = host.encoder.onEncoded((ctx, index) => this.onEncoded(ctx, index));
    this.offFit = host.fit?.onChange((ctx, status) => {
      if (status.flag) {
        this.notFitting.add(ctx.start.scanId);
        this.log.info({ scanId: ctx.start.scanId, minPixels: c.minPixels }, `scan ${ctx.start.scanId} does not fit the model: the next round starts after ${c.minPixels} new pixels instead of ${c.everyPixels}`);
        this.maybeStart('ood');
      } else this.notFitting.delete(ctx.start.scanId);
    });
    // Start the worker and its tfjs backend now, so the first round does not pay for loading them during a scan.
    this.ensureWorker();
    // The time trigger: checked every few seconds; a round starts when T minutes passed and enough pixels arrived.
    this.timer = setInterval(() => {
      if (Date.now() - this.lastRoundAt >= c.everyMinutes * 60_000) this.maybeStart('time');
    }, Math.min(5000, c.everyMinutes * 60_000));
    this.timer.unref();
  }

  /**
   * Start fine-tuning on `host`: continue from the latest accepted version when configured (swapped in before
   * any pixel is encoded), find the reference sample, and listen to encoded batches.
   */
  static async create(host: FinetuneHost, status: FinetuneStatusSink, config: Config, log: Logger): Promise<Finetuner> {
    const c = config.finetune;
    const root = versionsRoot(config);
    const baseDir = resolve(config.model.bundle);
    if (c.continueFromLatest) {
      const latest = await latestVersion(root, baseDir);
      if (latest && latest.version > host.slot.engine.version) {
        const bundle = await loadBundle(latest.dir);
        const engine = await createEngine(bundle, { engine: config.model.engine, provider: config.model.provider, threads: config.model.threads, version: latest.version });
        await host.slot.swap(engine, bundle);
        log.info({ version: latest.version, parent: latest.parent, dir: latest.dir }, `continuing from accepted version v${latest.version}`);
      }
    }
    const initialBundle = host.slot.bundle;
    const reference = await loadReferenceSample(initialBundle, { maxPixels: c.referencePixels, seed: c.seed, log });
    if (reference.source === 'none') log.warn({ bundle: initialBundle.dir }, `${reference.description}: rounds train on recent pixels only and the gate has no reference slice`);
    else log.info({ source: reference.source, pixels: reference.n }, `reference sample: ${reference.description}`);
    const refSplit = splitReference(reference, initialBundle.T * initialBundle.C, c.referenceHoldout, c.seed);
    const ft = new Finetuner(host, status, config, log, root, baseDir, initialBundle, reference, refSplit);
    status.setFinetuneStatus('collecting', `collecting pixels: a round starts after ${c.everyPixels} new pixels or ${c.everyMinutes} min (model v${host.slot.engine.version})`);
    return ft;
  }

  /** True while a round's training is blocked because ingest lags (the worker is waiting, not just asked to). */
  get trainingPaused(): boolean {
    return this.control?.waiting ?? false;
  }

  /** Version the slot holds now. */
  get version(): number {
    return this.host.slot.engine.version;
  }

  private onEncoded(ctx: ScanContext, index: Uint32Array): void {
    if (!ctx.inputs) return;
    const maps = ctx.maps;
    let before = this.initialError.get(ctx);
    if (!before) this.initialError.set(ctx, (before = new Float32Array(maps.size).fill(Number.NaN)));
    const v0 = this.versionsUsed[0];
    for (let k = 0; k < index.length; k++) if (maps.version[index[k]] === v0) before[index[k]] = maps.error[index[k]];
    this.buffer.add(ctx.start.scanId, maps.cols, ctx.start.grid.order, ctx.inputs, index);
    if (!this.running && Date.now() - this.lastCollectingAt > 1000) {
      this.lastCollectingAt = Date.now();
      this.status.setFinetuneStatus('collecting', `collecting: ${this.buffer.added} of ${this.pixelsNeeded} new pixels (model v${this.version})`, Math.min(1, this.buffer.added / this.pixelsNeeded));
    }
    this.maybeStart(this.notFitting.size > 0 ? 'ood' : 'pixels');
  }

  /** Pixels a round needs now: everyPixels, or minPixels while a scan does not fit the model. */
  private get pixelsNeeded(): number {
    const c = this.config.finetune;
    return this.notFitting.size > 0 ? Math.min(c.minPixels, c.everyPixels) : c.everyPixels;
  }

  private maybeStart(trigger: RoundTrigger): void {
    const c = this.config.finetune;
    if (this.closed || this.running) return;
    if (c.maxRounds > 0 && this.started >= c.maxRounds) return;
    if ((trigger === 'pixels' || trigger === 'ood') && this.buffer.added < this.pixelsNeeded) {
      // a new pixel-triggered round waits for its pixels; only a drain goes on on what the buffer holds
      if (!(this.draining && this.lastAccepted)) return;
      trigger = 'end';
    }
    if (trigger === 'time' && this.buffer.added < c.minPixels) return;
    if (trigger === 'end' && !(this.buffer.added >= c.minPixels || (this.lastAccepted && this.buffer.size >= c.minPixels))) return;
    this.running = this.runRound(trigger)
      .then((accepted) => {
        this.lastAccepted = accepted;
      })
      // runRound handles its own failures; this catches the rest (a versions folder it cannot read) so a failed
      // round never becomes an unhandled rejection that would take the daemon down.
      .catch((err: Error & { code?: string }) => {
        this.log.error({ code: err.code, err: err.message }, `fine-tuning round failed: ${err.message}`);
        this.status.setFinetuneStatus('failed', `round failed: ${err.message}`);
      })
      .finally(() => {
        this.running = undefined;
        this.lastRoundAt = Date.now();
        this.maybeStart('pixels'); // pixels that arrived during the round may already call for the next one
      });
  }

  /**
   * The end of a replay: run a round on the buffered pixels when at least minPixels arrived since the last one (a
   * scan smaller than everyPixels still gets one), then further rounds on the same pixels while the gate accepts
   * them. `settle()` waits for all of them. Logs why when no round can run.
   */
  drain(): void {
    const c = this.config.finetune;
    this.draining = true;
    if (this.running) return; // the chain continues from the running round's end
    if (this.buffer.added < c.minPixels && !this.lastAccepted) {
      if (this.started === 0) this.log.warn({ pixels: this.buffer.added, minPixels: c.minPixels }, `no fine-tuning round: the scan gave ${this.buffer.added} encoded pixels, fewer than finetune.minPixels = ${c.minPixels}`);
      return;
    }
    this.maybeStart('end');
  }

  /** Resolves when no round is running and none is due (a replay waits on it before summarising). */
  async settle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** One round; resolves true when its candidate was accepted and swapped in. */
  private async runRound(trigger: RoundTrigger): Promise<boolean> {
    const c = this.config.finetune;
    const round = ++this.started;
    const t0 = performance.now();
    const recent = this.buffer.take();
    if (recent.nTrain === 0 || recent.nHeldOut === 0) {
      this.log.info({ round, train: recent.nTrain, heldOut: recent.nHeldOut }, 'round skipped: it needs at least one training and one held-out pixel');
      return false;
    }
    const parent = this.host.slot.bundle;
    const parentVersion = this.host.slot.engine.version;
    await mkdir(this.root, { recursive: true });
    const version = await nextVersion(this.root, parentVersion);
    const staging = stagingDir(this.root, round);
    const refTrain = this.referenceRows(recent.nTrain, round);
    const n = recent.nTrain + refTrain.n;
    const data = new Float32Array(n * this.stride);
    data.set(recent.train);
    data.set(refTrain.data, recent.nTrain * this.stride);
    const rb = roundBeta(this.config, parent.manifest, recent, this.stride, c.seed + round);
    const beta = rb.mode === 'fixed' ? rb.beta : rb.record.betaStart;
    const rows = rb.mode === 'constrained' ? new Uint8Array(n).fill(1, 0, recent.nTrain) : undefined; // the constraint counts the scan's pixels only
    const betaNote = rb.mode === 'fixed' ? `β ${beta} (${rb.why})` : `constrained β from ${beta.toPrecision(3)}: recent pixels' MSE ≤ κ ${rb.record.kappa.toPrecision(4)} = ${rb.record.target} × their PCA-5 ${rb.record.pca5Mse.toPrecision(4)}`;
    this.log.info({ round, trigger, parent: parentVersion, candidate: version, recent: recent.nTrain, heldOut: recent.nHeldOut, reference: refTrain.n, epochs: c.epochs, beta, ...(rb.mode === 'constrained' ? { constraint: rb.record } : {}), ranges: recent.ranges }, `round ${round}: training candidate v${version} from v${parentVersion}, ${betaNote}`);
    this.status.setFinetuneStatus('training', `round ${round}: training on ${recent.nTrain} recent + ${refTrain.n} reference pixels (v${parentVersion} → candidate v${version})`, 0);
    let candidate: InferenceEngine | undefined;
    try {
      const trained = await this.train({
        type: 'train',
        round,
        bundleDir: parent.dir,
        outDir: staging,
        version,
        data,
        n,
        epochs: c.epochs,
        batch: c.batch,
        learningRate: c.learningRate,
        beta,
        ...(rb.mode === 'constrained' ? { constraint: { ...rb.constraint, rows: rows! } } : {}),
        seed: c.seed + round,
        maxSeconds: c.maxRoundMinutes * 60,
        backend: c.backend,
        control: new TrainControl(c.cpuShare).buffer,
      });
      if (this.closed) {
        await discardStaging(staging);
        return false;
      }
      this.status.setFinetuneStatus('gating', `round ${round}: measuring candidate v${version} against v${parentVersion} on ${recent.nHeldOut} held-out + ${this.refSplit.nHeldOut} reference pixels`);
      const candBundle = await loadBundle(staging);
      candidate = await createEngine(candBundle, { engine: this.config.model.engine, provider: this.config.model.provider, threads: this.config.model.threads, version });
      const cand = await this.scores(candidate, recent);
      const inc = await this.host.slot.run((engine) => this.scores(engine, recent));
      // Constrained rounds: active channels on the held-out recent pixels count in the gate (gate.ts GateTarget).
      const kl = klPerLatent(cand.mu, cand.logVar, cand.n, this.initialBundle.latentDim);
      const constraint = rb.mode === 'constrained' ? { ...rb.record, betaEnd: trained.beta, ...(trained.control ? { constraintEnd: trained.control.constraint, engagedEnd: trained.control.engaged } : {}) } : undefined;
      if (constraint) {
        cand.activeChannels = kl.active.length;
        inc.activeChannels = klPerLatent(inc.mu, inc.logVar, inc.n, this.initialBundle.latentDim).active.length;
      }
      const decision = gate(cand, inc, this.rule, rb.mode === 'constrained' ? rb.gateTarget : undefined);
      const last = trained.history[trained.history.length - 1];
      const record: RoundRecord = {
        round,
        trigger,
        base: this.baseDir,
        parent: parentVersion,
        version,
        accepted: decision.promote,
        finished: new Date().toISOString(),
        dataRange: recent.ranges,
        recentTrainPixels: recent.nTrain,
        heldOutPixels: recent.nHeldOut,
        referenceTrainPixels: refTrain.n,
        referenceHeldOutPixels: this.refSplit.nHeldOut,
        epochs: trained.epochsRun,
        beta: trained.beta,
        ...(constraint ? { constraint } : {}),
        learningRate: c.learningRate,
        last: last ? { loss: last.loss, mse: last.mse, kl: last.kl } : null,
        gate: { incumbent: plainScores(inc), candidate: plainScores(cand), rule: this.rule, decision },
        seconds: 0,
        trainSeconds: trained.seconds,
        busySeconds: trained.busySeconds,
        throttledSeconds: trained.throttledSeconds,
        pausedSeconds: trained.pausedSeconds,
        backend: trained.backend,
      };
      const numbers = { round, parent: parentVersion, candidate: version, heldOut: { incumbent: inc.heldOutMse, candidate: cand.heldOutMse }, reference: { incumbent: inc.referenceMse, candidate: cand.referenceMse }, trainSeconds: +trained.seconds.toFixed(2), pausedSeconds: +trained.pausedSeconds.toFixed(2) };
      this.log.info({ ...numbers, accepted: decision.promote, reasons: decision.reasons }, `round ${round}: candidate v${version} ${decision.promote ? 'accepted' : 'rejected'}: ${decision.reasons.join('; ')}`);
      if (!decision.promote) {
        await candidate.close();
        candidate = undefined;
        await discardStaging(staging);
        record.seconds = (performance.now() - t0) / 1000;
        this.rounds.push(record);
        await appendRound(this.root, record);
        this.status.setFinetuneStatus('collecting', `round ${round} rejected, v${parentVersion} stays: ${decision.reasons.join('; ')}`);
        return false;
      }
      const manifest: FinetunedManifest = {
        ...candBundle.manifest,
        version,
        parent: parentVersion,
        beta: trained.beta,
        created: record.finished,
        data: {
          description: `fine-tuned from v${parentVersion} on ${recent.nTrain} recent pixels (${recent.ranges.map((r) => `${r.scanId} seq ${r.fromSeq}–${r.toSeq}`).join(', ')}) + ${refTrain.n} reference pixels`,
          files: [],
          samples: n,
        },
        metrics: {
          loss: last?.loss ?? Number.NaN,
          mse: last?.mse ?? Number.NaN,
          kl: last?.kl ?? Number.NaN,
          valMse: cand.heldOutMse,
          klPerLatent: kl.kl,
          activeChannels: kl.active,
          epochs: trained.epochsRun,
          samples: trained.samplesSeen,
          seconds: trained.seconds,
          samplesPerSec: trained.samplesSeen / Math.max(trained.busySeconds, 1e-9),
        },
        training: { command: `finetune round ${round}`, seed: c.seed + round, backend: trained.backend, epochs: trained.epochsRun, batch: c.batch, learningRate: c.learningRate, ...(constraint ? { schedule: constraint } : {}) },
        finetune: record,
      };
      const dir = await commitVersion(this.root, staging, manifest);
      if (this.reference.n > 0) await writeTrainSample(dir, this.reference.data, this.reference.n, this.stride);
      const bundle = await loadBundle(dir);
      this.status.setFinetuneStatus('swapping', `round ${round}: v${version} accepted; swapping it in between batches`);
      await this.host.slot.swap(candidate, bundle);
      candidate = undefined;
      this.versionsUsed.push(version);
      const reencoded = await reencodeScans(this.host.slot, this.host.registry.list(), {
        version,
        batchSize: this.config.batch.maxSize,
        onProgress: (done, total) => {
          if (done === total || done % (this.config.batch.maxSize * 8) === 0) this.status.setFinetuneStatus('swapping', `v${version} live; re-encoding seen pixels ${done}/${total}`, total ? done / total : 1);
        },
        writeResults: (ctx) => this.host.registry.writeResults(ctx, ctx.state === 'completed'),
        shouldStop: () => this.closed,
      });
      record.reencoded = reencoded;
      record.seconds = (performance.now() - t0) / 1000;
      this.rounds.push(record);
      await appendRound(this.root, record);
      this.log.info({ round, version, reencoded, seconds: +record.seconds.toFixed(2), dir }, `v${version} live; ${reencoded} pixels re-encoded`);
      this.status.setFinetuneStatus('collecting', `v${version} live (from v${parentVersion}): held-out MSE ${inc.heldOutMse.toPrecision(4)} → ${cand.heldOutMse.toPrecision(4)}; ${reencoded} pixels re-encoded`);
      return true;
    } catch (err) {
      const e = err as Error & { code?: string };
      this.log.error({ round, code: e.code, err: e.message }, `round ${round} failed: ${e.message}`);
      this.status.setFinetuneStatus('failed', `round ${round} failed: ${e.message}`);
      await candidate?.close().catch(() => undefined);
      await discardStaging(staging).catch(() => undefined);
      return false;
    }
  }

  /** Reference rows mixed into a round: referenceMix per recent pixel, rotating through the sample by round. */
  private referenceRows(nRecent: number, round: number): { data: Float32Array; n: number } {
    const { train, nTrain } = this.refSplit;
    const n = Math.min(nTrain, Math.round(nRecent * this.config.finetune.referenceMix));
    if (n === 0) return { data: new Float32Array(0), n: 0 };
    const out = new Float32Array(n * this.stride);
    const start = Math.floor(mulberry32(this.config.finetune.seed + round)() * nTrain);
    for (let k = 0; k < n; k++) {
      const r = (start + k) % nTrain;
      out.set(train.subarray(r * this.stride, (r + 1) * this.stride), k * this.stride);
    }
    return { data: out, n };
  }

  /** Gate scores of one model: mean MSE on the held-out recent pixels and on the reference slice (+ its μ, log σ²). */
  private async scores(engine: InferenceEngine, recent: RecentData): Promise<GateScores & { mu: Float32Array; logVar: Float32Array; n: number }> {
    const held = await encodeRows(engine, recent.heldOut, recent.nHeldOut);
    const ref = this.refSplit.nHeldOut > 0 ? await encodeRows(engine, this.refSplit.heldOut, this.refSplit.nHeldOut) : undefined;
    return { heldOutMse: mean(held.error), referenceMse: ref ? mean(ref.error) : null, mu: held.mu.slice(), logVar: held.logVar.slice(), n: recent.nHeldOut };
  }

  /** The worker thread, started (and its backend prepared) if there is none; a worker that exits is forgotten. */
  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startTrainWorker();
    worker.on('error', (err: Error) => this.log.warn({ err: err.message }, 'the fine-tuning worker failed; a new one starts at the next round'));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    worker.postMessage({ type: 'prepare', backend: this.config.finetune.backend } satisfies ToWorker);
    this.worker = worker;
    return worker;
  }

  /** Send one round to the worker; resolves with its `trained` message. Pauses it while ingest lags. */
  private train(req: TrainRequest): Promise<TrainDone> {
    const c = this.config.finetune;
    const worker = this.ensureWorker();
    const control = (this.control = new TrainControl(req.control));
    return new Promise<TrainDone>((resolve, reject) => {
      const lag = setInterval(() => {
        const depth = this.host.queueDepth();
        if (depth > c.pauseQueueDepth && !control.paused) {
          control.pause();
          this.log.info({ round: req.round, queueDepth: depth }, 'training paused: ingest is lagging');
          this.status.setFinetuneStatus('training', `round ${req.round}: paused while ingest catches up (${depth} pixels waiting)`);
        } else if (depth <= c.pauseQueueDepth / 2 && control.paused) {
          control.resume();
          this.log.info({ round: req.round, queueDepth: depth }, 'training resumed');
        }
      }, 100);
      lag.unref();
      const done = () => {
        clearInterval(lag);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        this.control = undefined;
      };
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready' || m.round !== req.round) return;
        if (m.type === 'progress') {
          const progress = (m.epoch + (m.batch + 1) / m.batches) / Math.max(1, m.epochs);
          this.status.setFinetuneStatus('training', `round ${req.round}: epoch ${m.epoch + 1}/${m.epochs}, batch ${m.batch + 1}/${m.batches}, MSE ${m.mse.toPrecision(4)}`, Math.min(1, progress));
        } else if (m.type === 'epoch') {
          this.log.info({ round: req.round, epoch: m.metrics.epoch + 1, loss: +m.metrics.loss.toPrecision(5), mse: +m.metrics.mse.toPrecision(5), kl: +m.metrics.kl.toPrecision(5), seconds: +m.metrics.seconds.toFixed(2) }, 'fine-tuning epoch done');
        } else if (m.type === 'trained') {
          done();
          resolve(m);
        } else {
          done();
          reject(new FinetuneError(m.code === 'LS_FINETUNE_NO_WEIGHTS' ? 'LS_FINETUNE_NO_WEIGHTS' : 'LS_FINETUNE_WORKER', m.message));
        }
      };
      const onError = (err: Error) => {
        done();
        reject(new FinetuneError('LS_FINETUNE_WORKER', `the fine-tuning worker failed: ${err.message}`));
      };
      const onExit = (code: number) => {
        done();
        reject(new FinetuneError('LS_FINETUNE_WORKER', `the fine-tuning worker exited (code ${code}) during round ${req.round}`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(req, [req.data.buffer as ArrayBuffer]);
    });
  }

  /** Numbers for the replay summary of `ctx` (call after `settle`). */
  async summary(ctx: ScanContext | undefined): Promise<FinetuneSummary> {
    const base = { modelVersions: new Set(this.versionsUsed).size, finetuneRounds: this.rounds.length, acceptedVersions: this.versionsUsed.slice(1) };
    if (!ctx) return { ...base, errorBeforeFinetune: null, errorAfterFinetune: null };
    const { maps } = ctx;
    const before = this.initialError.get(ctx) ?? new Float32Array(maps.size).fill(Number.NaN);
    // Pixels first encoded after a swap never met the initial model: encode them with it now (a private engine).
    const missing: number[] = [];
    for (let i = 0; i < maps.size; i++) if (maps.state[i] === PIXEL_DONE && Number.isNaN(before[i])) missing.push(i);
    if (missing.length && ctx.inputs) {
      const engine = await createEngine(this.initialBundle, { engine: this.config.model.engine, provider: this.config.model.provider, threads: this.config.model.threads, version: this.versionsUsed[0] });
      try {
        const x = new Float32Array(missing.length * this.stride);
        missing.forEach((i, k) => x.set(ctx.inputs!.subarray(i * this.stride, (i + 1) * this.stride), k * this.stride));
        const { error } = await encodeRows(engine, x, missing.length, this.config.batch.maxSize);
        missing.forEach((i, k) => (before[i] = error[k]));
      } finally {
        await engine.close();
      }
    }
    let sBefore = 0;
    let sAfter = 0;
    let n = 0;
    for (let i = 0; i < maps.size; i++) {
      if (maps.state[i] !== PIXEL_DONE) continue;
      sBefore += before[i];
      sAfter += maps.error[i];
      n++;
    }
    return { ...base, errorBeforeFinetune: n ? sBefore / n : null, errorAfterFinetune: n ? sAfter / n : null };
  }

  /** Stop: the running round ends after its current batch and is dropped; the worker thread exits. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribe();
    this.offFit?.();
    this.control?.stop();
    await this.running?.catch(() => undefined);
    await this.worker?.terminate();
    this.worker = undefined;
    this.status.setFinetuneStatus('disabled', `fine-tuning stopped (model v${this.version})`);
  }
}
