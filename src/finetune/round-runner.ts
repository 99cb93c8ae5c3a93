/**
 * RoundRunner: one fine-tuning round (docs/finetune.md §A round, step by step): the recent pixels the buffer gave
 * + reference rows ─▶ train in the worker (worker-client.ts; paused while ingest lags) ─▶ gate the candidate against
 * the incumbent ─▶ rejected: logged and dropped; accepted: commit version folder v<N> with its manifest, swap it into
 * the slot between batches, re-encode the seen pixels. *When* a round runs is round-policy.ts's job.
 */
import { mkdir } from 'node:fs/promises';
import type { Config } from '../config/schema.ts';
import { loadBundle, type Bundle } from '../model/bundle.ts';
import { encodeRows } from '../model/engine.ts';
import { createEngine, type InferenceEngine } from '../model/runtime.ts';
import { klPerLatent } from '../model/train.ts';
import { mulberry32 } from '../util/prng.ts';
import type { ModelSlot } from '../pipeline/model-slot.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';
import type { Logger } from '../util/log.ts';
import { gate, type GateRule, type GateScores } from './gate.ts';
import { writeTrainSample, type ReferenceSample, type splitReference } from '../model/reference-sample.ts';
import { reencodeScans } from './reencode.ts';
import { roundBeta } from './round-beta.ts';
import type { RecentData } from './replay-buffer.ts';
import { lagAction } from './round-policy.ts';
import { TrainControl } from './train-control.ts';
import type { TrainDone, TrainRequest } from './messages.ts';
import type { TrainWorkerClient } from './worker-client.ts';
import { appendRound, commitVersion, discardStaging, nextVersion, stagingDir, type FinetunedManifest, type RoundRecord, type RoundTrigger } from './versions.ts';
import type { FinetuneState } from '../contracts/finetune-state.ts';

/** Where fine-tuning reports its state (app/hub.ts `PipelineHub` satisfies it). */
export interface FinetuneStatusSink {
  setFinetuneStatus(state: FinetuneState, text: string, progress?: number): void;
}

/** The parts of the daemon a round uses (pipeline/daemon.ts `Daemon` has them all). */
export interface RoundHost {
  readonly slot: ModelSlot;
  readonly registry: { list(): ScanContext[]; writeResults(ctx: ScanContext, complete: boolean): Promise<void> };
  queueDepth(): number;
}

const mean = (a: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return a.length ? s / a.length : Number.NaN;
};

/** The gate's numbers without the latent arrays the scores carry (they would bloat manifest and rounds.jsonl). */
const plainScores = (s: GateScores): GateScores => ({ heldOutMse: s.heldOutMse, referenceMse: s.referenceMse, ...(s.activeChannels !== undefined ? { activeChannels: s.activeChannels } : {}) });

export class RoundRunner {
  private readonly stride: number;
  private readonly rule: GateRule;
  /** every round, accepted or not */
  readonly rounds: RoundRecord[] = [];
  /** versions the slot has held since start, in order (the initial one first) */
  readonly versionsUsed: number[];

  constructor(
    private readonly host: RoundHost,
    private readonly status: FinetuneStatusSink,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly worker: TrainWorkerClient,
    readonly root: string,
    readonly baseDir: string,
    private readonly initialBundle: Bundle,
    private readonly reference: ReferenceSample,
    private readonly refSplit: ReturnType<typeof splitReference>,
    /** true once fine-tuning is closing: a trained candidate is dropped, re-encoding stops */
    private readonly stopped: () => boolean,
  ) {
    const c = config.finetune;
    this.stride = initialBundle.T * initialBundle.C;
    this.rule = { minImprovement: c.gate.minImprovement, maxReferenceWorsening: c.gate.maxReferenceWorsening };
    this.versionsUsed = [host.slot.engine.version];
  }

  /** Round `round` on `recent`; resolves true when its candidate was accepted and swapped in. */
  async run(round: number, trigger: RoundTrigger, recent: RecentData): Promise<boolean> {
    const c = this.config.finetune;
    const t0 = performance.now();
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
      if (this.stopped()) {
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
        shouldStop: this.stopped,
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

  /** Train in the worker, pausing it while ingest lags (round-policy.ts lagAction), reporting progress. */
  private async train(req: TrainRequest): Promise<TrainDone> {
    const c = this.config.finetune;
    const worker = this.worker;
    const lag = setInterval(() => {
      const depth = this.host.queueDepth();
      const action = lagAction(depth, worker.paused, c.pauseQueueDepth);
      if (action === 'pause') {
        worker.pause();
        this.log.info({ round: req.round, queueDepth: depth }, 'training paused: ingest is lagging');
        this.status.setFinetuneStatus('training', `round ${req.round}: paused while ingest catches up (${depth} pixels waiting)`);
      } else if (action === 'resume') {
        worker.resume();
        this.log.info({ round: req.round, queueDepth: depth }, 'training resumed');
      }
    }, 100);
    lag.unref();
    try {
      return await worker.train(req, {
        onProgress: (m) => {
          const progress = (m.epoch + (m.batch + 1) / m.batches) / Math.max(1, m.epochs);
          this.status.setFinetuneStatus('training', `round ${req.round}: epoch ${m.epoch + 1}/${m.epochs}, batch ${m.batch + 1}/${m.batches}, MSE ${m.mse.toPrecision(4)}`, Math.min(1, progress));
        },
        onEpoch: (m) => this.log.info({ round: req.round, epoch: m.metrics.epoch + 1, loss: +m.metrics.loss.toPrecision(5), mse: +m.metrics.mse.toPrecision(5), kl: +m.metrics.kl.toPrecision(5), seconds: +m.metrics.seconds.toFixed(2) }, 'fine-tuning epoch done'),
      });
    } finally {
      clearInterval(lag);
    }
  }
}
