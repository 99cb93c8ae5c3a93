/**
 * Finetuner: background fine-tuning of the daemon's model (docs/finetune.md: replay buffer → worker thread trains
 * → gate → export ONNX → hot swap → re-encode). A thin coordinator of four parts:
 *
 *   encoded batch ─▶ replay buffer (replay-buffer.ts: recent model inputs; a stable share held out)
 *   round-policy.ts  decides when a round starts (every N new pixels or T minutes, early on a fit flag, at a
 *                    replay's end) and when training pauses (ingest lags)
 *   round-runner.ts  runs one round: recent + reference sample ─▶ worker ─▶ gate ─▶ accepted: version folder v<N>,
 *                    slot.swap between batches, re-encode seen pixels; rejected: logged and dropped
 *   worker-client.ts the training worker thread (tfjs, one thread, CPU share, pause/resume/cancel)
 *   summary.ts       the replay summary's before/after errors
 * One round at a time; every decision is logged with its numbers and shown on the dashboard. The daemon's events
 * reach it through app/wire-finetune.ts, which subscribes `encoded` and `fitChanged`.
 */
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { loadBundle } from '../model/bundle.ts';
import { createEngine } from '../model/runtime.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';
import type { Logger } from '../util/log.ts';
import { loadReferenceSample, splitReference } from '../model/reference-sample.ts';
import { ReplayBuffer } from './replay-buffer.ts';
import { RoundPolicy } from './round-policy.ts';
import { RoundRunner, type FinetuneStatusSink, type RoundHost } from './round-runner.ts';
import { InitialErrors, type FinetuneSummary } from './summary.ts';
import { TrainWorkerClient } from './worker-client.ts';
import { latestVersion, versionsRoot, type RoundRecord, type RoundTrigger } from './versions.ts';

export type { FinetuneStatusSink, RoundHost } from './round-runner.ts';
export type { FinetuneSummary } from './summary.ts';

export class Finetuner {
  private readonly buffer: ReplayBuffer;
  private readonly policy: RoundPolicy;
  private readonly runner: RoundRunner;
  private readonly worker: TrainWorkerClient;
  private readonly initial: InitialErrors;
  private readonly timer: NodeJS.Timeout;
  private readonly teardown: (() => void)[] = [];
  private running?: Promise<void>;

  private constructor(
    private readonly host: RoundHost,
    private readonly status: FinetuneStatusSink,
    private readonly config: Config,
    private readonly log: Logger,
    runner: (worker: TrainWorkerClient, stopped: () => boolean) => RoundRunner,
    initialBundle: { T: number; C: number },
  ) {
    const c = config.finetune;
    this.buffer = new ReplayBuffer(c.bufferPixels, initialBundle.T * initialBundle.C, c.holdoutFraction, c.seed);
    this.policy = new RoundPolicy(c);
    this.worker = new TrainWorkerClient(c.backend, log);
    this.runner = runner(this.worker, () => this.policy.closed);
    this.initial = new InitialErrors(config, host.slot.bundle, this.runner.versionsUsed);
    // Start the worker and its tfjs backend now, so the first round does not pay for loading them during a scan.
    this.worker.start();
    // The time trigger: checked every few seconds; a round starts when T minutes passed and enough pixels arrived.
    this.timer = setInterval(() => {
      if (this.policy.timeDue()) this.maybeStart('time');
    }, this.policy.timeCheckMs);
    this.timer.unref();
  }

  /**
   * Start fine-tuning on `host`: continue from the latest accepted version when configured (swapped in before
   * any pixel is encoded) and find the reference sample. Feed it with `encoded` and `fitChanged`.
   */
  static async create(host: RoundHost, status: FinetuneStatusSink, config: Config, log: Logger): Promise<Finetuner> {
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
    const ft = new Finetuner(host, status, config, log, (worker, stopped) => new RoundRunner(host, status, config, log, worker, root, baseDir, initialBundle, reference, refSplit, stopped), initialBundle);
    status.setFinetuneStatus('collecting', `collecting pixels: a round starts after ${c.everyPixels} new pixels or ${c.everyMinutes} min (model v${host.slot.engine.version})`);
    return ft;
  }

  /** every round, accepted or not */
  get rounds(): RoundRecord[] {
    return this.runner.rounds;
  }

  /** versions the slot has held since start, in order (the initial one first) */
  get versionsUsed(): number[] {
    return this.runner.versionsUsed;
  }

  get root(): string {
    return this.runner.root;
  }

  get baseDir(): string {
    return this.runner.baseDir;
  }

  /** True while a round's training is blocked because ingest lags (the worker is waiting, not just asked to). */
  get trainingPaused(): boolean {
    return this.worker.waiting;
  }

  /** Version the slot holds now. */
  get version(): number {
    return this.host.slot.engine.version;
  }

  /** Call when `close` runs (the subscriptions app/wire-finetune.ts made). */
  onClose(fn: () => void): void {
    this.teardown.push(fn);
  }

  /** An encoded batch (pixels `index` of `ctx`): into the replay buffer; may start a round. */
  encoded(ctx: ScanContext, index: Uint32Array): void {
    if (!ctx.inputs) return;
    this.initial.record(ctx, index);
    this.buffer.add(ctx.start.scanId, ctx.maps.cols, ctx.start.grid.order, ctx.inputs, index);
    if (this.policy.collectingDue()) {
      const needed = this.policy.pixelsNeeded;
      this.status.setFinetuneStatus('collecting', `collecting: ${this.buffer.added} of ${needed} new pixels (model v${this.version})`, Math.min(1, this.buffer.added / needed));
    }
    this.maybeStart(this.policy.pixelTrigger);
  }

  /** The model-fit check's verdict on a scan (pipeline/fit-monitor.ts): a flagged scan starts a round at minPixels. */
  fitChanged(ctx: ScanContext, flag: boolean): void {
    const c = this.config.finetune;
    if (!this.policy.setFit(ctx.start.scanId, flag)) return;
    this.log.info({ scanId: ctx.start.scanId, minPixels: c.minPixels }, `scan ${ctx.start.scanId} does not fit the model: the next round starts after ${c.minPixels} new pixels instead of ${c.everyPixels}`);
    this.maybeStart('ood');
  }

  private maybeStart(asked: RoundTrigger): void {
    const trigger = this.policy.decide(asked, this.buffer);
    if (!trigger) return;
    const round = this.policy.begin();
    let accepted: boolean | undefined;
    this.running = this.runner
      .run(round, trigger, this.buffer.take())
      .then((a) => {
        accepted = a;
      })
      // run handles its own failures; this catches the rest (a versions folder it cannot read) so a failed
      // round never becomes an unhandled rejection that would take the daemon down.
      .catch((err: Error & { code?: string }) => {
        this.log.error({ code: err.code, err: err.message }, `fine-tuning round failed: ${err.message}`);
        this.status.setFinetuneStatus('failed', `round failed: ${err.message}`);
      })
      .finally(() => {
        this.running = undefined;
        this.policy.end(accepted);
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
    const d = this.policy.drain(this.buffer);
    if (d === 'none-first') this.log.warn({ pixels: this.buffer.added, minPixels: c.minPixels }, `no fine-tuning round: the scan gave ${this.buffer.added} encoded pixels, fewer than finetune.minPixels = ${c.minPixels}`);
    if (d === 'start') this.maybeStart('end');
  }

  /** Resolves when no round is running and none is due (a replay waits on it before summarising). */
  async settle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Numbers for the replay summary of `ctx` (call after `settle`). */
  summary(ctx: ScanContext | undefined): Promise<FinetuneSummary> {
    return this.initial.summary(ctx, this.runner.rounds.length);
  }

  /** Stop: the running round ends after its current batch and is dropped; the worker thread exits. */
  async close(): Promise<void> {
    this.policy.closed = true;
    clearInterval(this.timer);
    for (const fn of this.teardown.splice(0)) fn();
    this.worker.cancel();
    await this.running?.catch(() => undefined);
    await this.worker.close();
    this.status.setFinetuneStatus('disabled', `fine-tuning stopped (model v${this.version})`);
  }
}
