/**
 * Every message between the daemon (main thread) and the fine-tuning worker, as one union discriminated on
 * `type`: one list of every message, and the two directions are derived from it, never retyped.
 *
 *   main → worker   prepare    load tfjs and initialise its backend now (at daemon start, not during a scan)
 *                   train      one round: start from the bundle in `bundleDir`, train on `data`, write `outDir`
 *   worker → main   ready      the backend is initialised (answer to prepare)
 *                   progress   after every training batch (dashboard progress bar)
 *                   epoch      after every epoch (log line)
 *                   trained    the candidate is written (tfjs + ONNX + provisional manifest) in `outDir`
 *                   failed     the round could not run; `message` says why
 *
 * Pausing and stopping do not travel as messages: the worker is busy inside a training loop, so the main thread
 * flips flags in a SharedArrayBuffer (train-control.ts) that the worker reads between batches.
 */
import type { BetaConstraint, BetaControlState } from '../model/beta-control.ts';
import type { EpochMetrics } from '../model/train.ts';

/** One fine-tuning round for the worker. `data` is [n][T][C] scaled model input, transferred (not copied). */
export interface TrainRequest {
  type: 'train';
  round: number;
  /** incumbent bundle folder: its tfjs models are the starting point, its preprocess.json is kept */
  bundleDir: string;
  /** folder the candidate bundle is written into (created) */
  outDir: string;
  /** model version the candidate will carry if accepted */
  version: number;
  data: Float32Array;
  n: number;
  epochs: number;
  batch: number;
  learningRate: number;
  /** fixed β for the whole round (the bundle's β by default); with `constraint`, unused (β starts at its `state`) */
  beta: number;
  /**
   * Constrained β (docs/finetune.md §β in a round): β adapts after every batch so that the reconstruction MSE through
   * μ of the samples flagged in `rows` (the scan's recent pixels, not the reference mix) stays ≤ κ; `state` is where
   * the controller starts.
   */
  constraint?: BetaConstraint & { state?: BetaControlState; rows: Uint8Array };
  seed: number;
  /** longest training time, s; the candidate is written with what it learned by then (0 = no limit) */
  maxSeconds: number;
  /** tfjs backend choice */
  backend: 'auto' | 'wasm' | 'cpu';
  /** the TrainControl's shared memory (CPU share, pause and stop flags; train-control.ts) */
  control: SharedArrayBuffer;
}

/** Initialise tfjs ahead of the first round. */
export interface PrepareRequest {
  type: 'prepare';
  backend: TrainRequest['backend'];
}

/** The worker's tfjs backend is ready. */
export interface WorkerReady {
  type: 'ready';
  backend: string;
}

/** Training progress after one batch. */
export interface TrainProgress {
  type: 'progress';
  round: number;
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  mse: number;
}

/** One finished epoch. */
export interface TrainEpoch {
  type: 'epoch';
  round: number;
  metrics: EpochMetrics;
}

/** The candidate is on disk. */
export interface TrainDone {
  type: 'trained';
  round: number;
  outDir: string;
  history: EpochMetrics[];
  epochsRun: number;
  samplesSeen: number;
  /** wall time of the round in the worker, s */
  seconds: number;
  /** time spent inside training batches, s (wall; the thread's share of one core is at most busySeconds / seconds) */
  busySeconds: number;
  /** time slept to keep to the configured CPU share, s */
  throttledSeconds: number;
  /** time spent paused because ingest lagged, s */
  pausedSeconds: number;
  /** tfjs backend the worker trained on */
  backend: string;
  /** true when the round was stopped before its epochs were done (stop flag or maxSeconds) */
  cut: boolean;
  /** β the candidate ends with (the fixed β, or the controller's last value) */
  beta: number;
  /** constrained rounds: the controller's state at the end */
  control?: BetaControlState;
}

/** The round failed. */
export interface TrainFailed {
  type: 'failed';
  round: number;
  message: string;
  code?: string;
}

/** Every message either way. */
export type FinetuneMessage = PrepareRequest | TrainRequest | WorkerReady | TrainProgress | TrainEpoch | TrainDone | TrainFailed;
/** Messages the main thread sends. */
export type ToWorker = Extract<FinetuneMessage, { type: 'prepare' | 'train' }>;
/** Messages the worker sends (all but `ready` carry the round they belong to). */
export type FromWorker = Exclude<FinetuneMessage, ToWorker>;
/** A message of one type. */
export type MessageOf<K extends FinetuneMessage['type']> = Extract<FinetuneMessage, { type: K }>;
