/**
 * TrainWorkerClient: the main thread's side of the fine-tuning worker thread (docs/finetune.md §Worker). It starts
 * the thread (start-train-worker.ts) and has it prepare its tfjs backend at once, sends one `train` request at a
 * time (messages.ts) and turns the answers into a promise, and holds the round's TrainControl so the caller can
 * pause, resume or cancel it between batches. A worker that dies is forgotten; the next round starts a new one.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.ts';
import { FinetuneError } from './errors.ts';
import type { FromWorker, ToWorker, TrainDone, TrainEpoch, TrainProgress, TrainRequest } from './messages.ts';
import { startTrainWorker } from './start-train-worker.ts';
import { TrainControl } from './train-control.ts';

/** What the caller hears while a round trains. */
export interface TrainListeners {
  onProgress?(m: TrainProgress): void;
  onEpoch?(m: TrainEpoch): void;
}

export class TrainWorkerClient {
  private worker?: Worker;
  private control?: TrainControl;

  constructor(
    private readonly backend: TrainRequest['backend'],
    private readonly log: Logger,
  ) {}

  /** The worker thread, started (and told to prepare its backend) if there is none. */
  start(): Worker {
    if (this.worker) return this.worker;
    const worker = startTrainWorker();
    worker.on('error', (err: Error) => this.log.warn({ err: err.message }, 'the fine-tuning worker failed; a new one starts at the next round'));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    worker.postMessage({ type: 'prepare', backend: this.backend } satisfies ToWorker);
    this.worker = worker;
    return worker;
  }

  /** Whether a worker thread is running now. */
  get started(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Send one round to the worker (its data buffer is transferred); resolves with its `trained` message, rejects with
   * a FinetuneError when the round fails or the worker dies.
   */
  train(req: TrainRequest, on: TrainListeners = {}): Promise<TrainDone> {
    const worker = this.start();
    this.control = new TrainControl(req.control);
    return new Promise<TrainDone>((resolve, reject) => {
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        this.control = undefined;
      };
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready' || m.round !== req.round) return;
        if (m.type === 'progress') on.onProgress?.(m);
        else if (m.type === 'epoch') on.onEpoch?.(m);
        else if (m.type === 'trained') {
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

  /** Whether the running round was asked to pause. */
  get paused(): boolean {
    return this.control?.paused ?? false;
  }

  /** True while the running round is actually blocked by a pause (not just asked to). */
  get waiting(): boolean {
    return this.control?.waiting ?? false;
  }

  /** Ask the running round to wait after its current batch. */
  pause(): void {
    this.control?.pause();
  }

  /** Let a paused round go on. */
  resume(): void {
    this.control?.resume();
  }

  /** End the running round after its current batch (it still answers `trained`, with `cut`). */
  cancel(): void {
    this.control?.stop();
  }

  /** Stop the worker thread. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
