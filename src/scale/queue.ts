/**
 * The producer side of reprocessing: enqueue one BullMQ job per scan file (idempotent job ids, src/scale/jobs.ts)
 * and, for `--wait`, follow those jobs until each has completed or failed for good.
 *
 * Following polls the jobs' states (one Redis round trip per unfinished job per poll) rather than subscribing to
 * queue events: a poll cannot miss a job that finished before the subscription, and a re-run over finished jobs
 * returns at once.
 */
import { existsSync, statSync } from 'node:fs';
import { Queue, type Job } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { FileFormatError } from '../hdf5/errors.ts';
import { ScaleError } from './errors.ts';
import { bundleKey, reprocessJobFor, type ReprocessJobData, type ReprocessJobResult } from './jobs.ts';
import { redactRedisUrl, redisConnection } from '../redis/redis-url.ts';

export const JOB_NAME = 'reprocess';

export interface EnqueueOptions {
  files: string[];
  bundle: string;
  resultsDir: string;
  redis: string;
  /** put jobs that failed for good back in the queue (after the file or bundle was fixed) */
  retryFailed?: boolean;
}

export interface EnqueuedJob {
  id: string;
  file: string;
  /** added by this call (false: the same file and bundle were already queued or done) */
  added: boolean;
}

/** Open the reprocessing queue; fails with LS_SCALE_REDIS when Redis does not answer. */
export async function openQueue(config: Config, redis: string): Promise<Queue<ReprocessJobData, ReprocessJobResult>> {
  const queue = new Queue<ReprocessJobData, ReprocessJobResult>(config.scale.queue, { connection: redisConnection(redis) });
  // An unreachable Redis (or a wrong password) would otherwise make the command wait for a reconnect forever:
  // the first connection error, or 10 s without an answer, ends it with the reason (ECONNREFUSED, WRONGPASS…).
  let onError: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (onError = reject));
  queue.on('error', (err) => onError(err));
  try {
    const ready = queue.waitUntilReady();
    ready.catch(() => undefined); // it may reject later, after the first error ended the wait
    await withTimeout(Promise.race([ready, failed]), 10_000);
  } catch (err) {
    // Closing a connection that never came up: BullMQ's RedisConnection drops its listeners, then re-emits the
    // failed connect as 'error' (an unhandled rejection, BullMQ 5.81). A listener added after close takes it.
    const connection = (queue as unknown as { connection?: { on(ev: 'error', fn: () => void): void } }).connection;
    await queue.close().catch(() => undefined);
    connection?.on('error', () => undefined);
    throw new ScaleError('LS_SCALE_REDIS', `Redis at ${redactRedisUrl(redis)} does not answer: ${(err as Error).message}`);
  }
  onError = () => undefined;
  return queue;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Enqueue one job per file (files hashed here); jobs already queued or done for the same file and bundle are left as they are. */
export async function enqueueReprocess(queue: Queue<ReprocessJobData, ReprocessJobResult>, config: Config, opts: EnqueueOptions): Promise<EnqueuedJob[]> {
  if (opts.files.length === 0) throw new ScaleError('LS_SCALE_NO_FILES', 'reprocess: no scan files given');
  for (const f of opts.files) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new FileFormatError('LS_FILE_NOT_FOUND', `${f}: no such file`, f);
  }
  const key = await bundleKey(opts.bundle);
  const out: EnqueuedJob[] = [];
  for (const file of opts.files) {
    const { id, data } = await reprocessJobFor(file, opts.bundle, key, opts.resultsDir);
    const existing = await queue.getJob(id);
    if (existing) {
      if (opts.retryFailed && (await existing.getState()) === 'failed') await existing.retry('failed');
      out.push({ id, file: data.file, added: false });
      continue;
    }
    await queue.add(JOB_NAME, data, {
      jobId: id,
      attempts: config.scale.attempts,
      backoff: { type: 'exponential', delay: config.scale.backoffMs },
      // finished jobs stay: they are what makes a re-run a no-op, and what --wait reads results from
      removeOnComplete: false,
      removeOnFail: false,
    });
    out.push({ id, file: data.file, added: true });
  }
  return out;
}

export interface JobsProgress {
  total: number;
  completed: number;
  failed: number;
  /** sum over jobs of their fraction done (0..1 each) */
  fraction: number;
}

export interface FinishedJobs {
  completed: Array<{ id: string; result: ReprocessJobResult }>;
  failed: Array<{ id: string; file: string; reason: string; attempts: number }>;
}

/** Fraction done of a job from its progress value ({pixels, expected} as the worker reports it). */
function fractionOf(job: Job<ReprocessJobData, ReprocessJobResult>): number {
  const p = job.progress as { pixels?: number; expected?: number } | number;
  if (typeof p === 'number') return Math.min(1, Math.max(0, p / 100));
  if (p && typeof p.pixels === 'number' && typeof p.expected === 'number' && p.expected > 0) return Math.min(1, p.pixels / p.expected);
  return 0;
}

/** Poll until every job has completed or failed for good; `onProgress` after every poll. */
export async function waitForJobs(queue: Queue<ReprocessJobData, ReprocessJobResult>, ids: string[], onProgress: (p: JobsProgress) => void, pollMs = 300): Promise<FinishedJobs> {
  const done = new Map<string, { state: 'completed' | 'failed'; job: Job<ReprocessJobData, ReprocessJobResult> }>();
  for (;;) {
    let fraction = 0;
    const open = ids.filter((id) => !done.has(id));
    // state first, then the job: a job read before its state could predate its completion (no return value yet)
    const states = await Promise.all(open.map((id) => queue.getJobState(id)));
    const jobs = await Promise.all(open.map((id) => queue.getJob(id)));
    jobs.forEach((job, i) => {
      const state = states[i];
      if (!job || state === 'unknown') throw new ScaleError('LS_SCALE_REDIS', `job ${open[i]} vanished from the queue (removed by hand, or Redis was flushed)`);
      // 'failed' is final: BullMQ moves a job there only when no attempt is left (retries wait in 'delayed')
      if (state === 'completed' || state === 'failed') done.set(open[i], { state, job });
      else fraction += fractionOf(job);
    });
    let completed = 0;
    let failed = 0;
    for (const d of done.values()) d.state === 'completed' ? completed++ : failed++;
    onProgress({ total: ids.length, completed, failed, fraction: fraction + completed + failed });
    if (done.size === ids.length) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const out: FinishedJobs = { completed: [], failed: [] };
  for (const id of ids) {
    const { state, job } = done.get(id)!;
    if (state === 'completed') out.completed.push({ id, result: job.returnvalue });
    else out.failed.push({ id, file: job.data.file, reason: job.failedReason, attempts: job.attemptsMade });
  }
  return out;
}
