/**
 * The producer side of reprocessing: enqueue one BullMQ job per scan file (idempotent job ids, src/scale/jobs.ts;
 * a large scan as a flow of pixel-range jobs under its merge job, src/scale/ranges.ts) and, for `--wait`, follow those jobs until each has completed or failed for good.
 *
 * Following polls the jobs' states (one Redis round trip per unfinished job per poll) rather than subscribing to
 * queue events: a poll cannot miss a job that finished before the subscription, and a re-run over finished jobs
 * returns at once.
 */
import { existsSync, statSync } from 'node:fs';
import { FlowProducer, Queue, type Job } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { FileFormatError } from '../hdf5/errors.ts';
import { ScaleError } from './errors.ts';
import { bundleKey, reprocessJobFor, type ReprocessJobData, type ReprocessJobResult } from './jobs.ts';
import { planRanges, rangeJobId } from './ranges.ts';
import { redactRedisUrl, redisConnection } from '../redis/redis-url.ts';

export const JOB_NAME = 'reprocess';
/** a pixel-range job of a split scan (src/scale/ranges.ts); its parent, the merge, is a JOB_NAME job with `ranges` */
export const RANGE_JOB_NAME = 'reprocess-range';

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

/** Pixels of a scan file's grid, or null when it cannot be opened here (its job then fails in a worker, with its code). */
async function gridPixels(file: string): Promise<number | null> {
  const { openScanFile } = await import('../sources/hdf5/index.ts');
  try {
    const reader = await openScanFile(file);
    reader.close();
    return reader.start.grid.rows * reader.start.grid.cols;
  } catch {
    return null;
  }
}

/**
 * Enqueue one job per file (files hashed here); jobs already queued or done for the same file and bundle are left as
 * they are. A scan of more than `scale.rangePixels` pixels becomes a BullMQ flow: pixel-range jobs and, as their
 * parent, the merge job under the file's job id (src/scale/ranges.ts). Fine-tuning while reprocessing changes the
 * model mid-scan, which ranges cannot share: such scans stay one job.
 */
export async function enqueueReprocess(queue: Queue<ReprocessJobData, ReprocessJobResult>, config: Config, opts: EnqueueOptions): Promise<EnqueuedJob[]> {
  if (opts.files.length === 0) throw new ScaleError('LS_SCALE_NO_FILES', 'reprocess: no scan files given');
  for (const f of opts.files) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new FileFormatError('LS_FILE_NOT_FOUND', `${f}: no such file`, f);
  }
  const key = await bundleKey(opts.bundle);
  const out: EnqueuedJob[] = [];
  const jobOpts = {
    attempts: config.scale.attempts,
    backoff: { type: 'exponential', delay: config.scale.backoffMs },
    // finished jobs stay: they are what makes a re-run a no-op, and what --wait reads results from
    removeOnComplete: false,
    removeOnFail: false,
  };
  let flows: FlowProducer | undefined;
  try {
    for (const file of opts.files) {
      const { id, data } = await reprocessJobFor(file, opts.bundle, key, opts.resultsDir);
      const existing = await queue.getJob(id);
      if (existing) {
        const again = opts.retryFailed && (await existing.getState()) === 'failed';
        if (!again || !existing.data.ranges) {
          if (again) await existing.retry('failed');
          out.push({ id, file: data.file, added: false });
          continue;
        }
        // a split scan that failed: the flow (merge and ranges) is removed and queued afresh below
        await existing.remove({ removeChildren: true });
      }
      const pixels = config.scale.rangePixels > 0 && !config.finetune.enabled ? await gridPixels(data.file) : null;
      const ranges = pixels === null ? [] : planRanges(pixels, config.scale.rangePixels);
      if (ranges.length > 1) {
        flows ??= new FlowProducer({ connection: queue.opts.connection });
        const withIds = ranges.map((r) => ({ ...r, id: rangeJobId(id, r) }));
        await flows.add({
          name: JOB_NAME,
          queueName: queue.name,
          data: { ...data, ranges: withIds },
          opts: { jobId: id, ...jobOpts },
          // a range that fails for good fails the merge (and so the file) with its reason
          children: withIds.map((r) => ({ name: RANGE_JOB_NAME, queueName: queue.name, data: { ...data, range: { from: r.from, to: r.to }, flow: id }, opts: { jobId: r.id, ...jobOpts, failParentOnFailure: true } })),
        });
      } else {
        await queue.add(JOB_NAME, data, { jobId: id, ...jobOpts });
      }
      out.push({ id, file: data.file, added: true });
    }
  } finally {
    await flows?.close();
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

/** Fraction done of a split scan: its ranges' progress, and the merge as one more step. */
async function flowFraction(queue: Queue<ReprocessJobData, ReprocessJobResult>, job: Job<ReprocessJobData, ReprocessJobResult>): Promise<number> {
  const ranges = job.data.ranges ?? [];
  const children = await Promise.all(ranges.map((r) => queue.getJob(r.id)));
  const states = await Promise.all(ranges.map((r) => queue.getJobState(r.id)));
  const done = children.reduce((s, c, k) => s + (states[k] === 'completed' ? 1 : c ? fractionOf(c) : 0), 0);
  return (done + fractionOf(job)) / (ranges.length + 1);
}

/** Why a job failed for good: a split scan's merge fails with the failed range's reason and attempts. */
async function failureOf(queue: Queue<ReprocessJobData, ReprocessJobResult>, job: Job<ReprocessJobData, ReprocessJobResult>): Promise<{ reason: string; attempts: number }> {
  for (const r of job.data.ranges ?? []) {
    if ((await queue.getJobState(r.id)) !== 'failed') continue;
    const child = await queue.getJob(r.id);
    if (child) return { reason: child.failedReason, attempts: child.attemptsMade };
  }
  return { reason: job.failedReason, attempts: job.attemptsMade };
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
    for (const [i, job] of jobs.entries()) {
      const state = states[i];
      if (!job || state === 'unknown') throw new ScaleError('LS_SCALE_REDIS', `job ${open[i]} vanished from the queue (removed by hand, or Redis was flushed)`);
      // 'failed' is final: BullMQ moves a job there only when no attempt is left (retries wait in 'delayed')
      if (state === 'completed' || state === 'failed') done.set(open[i], { state, job });
      else fraction += job.data.ranges ? await flowFraction(queue, job) : fractionOf(job);
    }
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
    else out.failed.push({ id, file: job.data.file, ...(await failureOf(queue, job)) });
  }
  return out;
}
