/**
 * The consumer side of reprocessing: a BullMQ worker that runs each job through the same code path as
 * `loopstream replay` (app/replay-run.ts: same graph, same model, same results writer), then moves the
 * results file into the shared results folder.
 *
 * Nothing half-done is ever visible, and nothing is done twice under two names:
 * - each attempt replays into its own folder `<results>/.jobs/<job id>/<pid>-<random>/` (a worker killed mid-job
 *   leaves only that folder behind; two attempts of one job — a worker that stalled past its lock and the one
 *   that took the job over — never write into each other's folders), and the job's whole `.jobs/<job id>/` is
 *   removed once one attempt has its results in place;
 * - the finished file is renamed into `<results>/<name>.results.h5` (same filesystem: atomic); a job retried after
 *   its rename (the worker died before acknowledging) renames the same content onto the same name.
 * A killed worker's job is put back by BullMQ's stalled-job check once its lock (scale.lockMs) runs out.
 * A large scan comes as pixel-range jobs and a merge job (a BullMQ flow, src/scale/ranges.ts): range jobs leave part
 * files under `.jobs/<merge id>/parts/`, the merge rebuilds the scan from them and writes its results file.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import { ScaleError } from './errors.ts';
import { sha256File, type ReprocessJobData, type ReprocessJobResult } from './jobs.ts';
import { JOB_NAME, RANGE_JOB_NAME } from './queue.ts';
import { readParts, runRangeJob as encodeRange, type RangeJobResult } from './ranges.ts';
import { whyNotMergeable, type EncodedRange } from '../app/replay-run.ts';
import { redactRedisUrl, redisConnection } from '../redis/redis-url.ts';

export const JOBS_SUBDIR = '.jobs';

export interface WorkerOptions {
  redis: string;
  concurrency: number;
}

export interface ReprocessWorker {
  worker: Worker<ReprocessJobData, ReprocessJobResult | RangeJobResult>;
  /** jobs running in this process now */
  active(): number;
  /**
   * Stop taking jobs, let running ones finish, disconnect: 'closed'. When no job is running and BullMQ still has
   * not closed after `idleGraceMs` (Redis unreachable: the close cannot reach it), force it: 'forced'.
   */
  close(idleGraceMs?: number): Promise<'closed' | 'forced'>;
  /** stop now: a running job is not finished; its lock expires and another worker runs it again */
  forceClose(): Promise<void>;
}

/** A file that changed since it was queued is not what the job id promises (an unreadable one fails in the replay, with its code). */
async function checkUnchanged(d: ReprocessJobData): Promise<void> {
  const now = await sha256File(d.file).catch(() => null);
  if (now !== null && now !== d.sha256) {
    throw new ScaleError('LS_SCALE_FILE_CHANGED', `${d.file}: changed since it was queued (sha256 ${now.slice(0, 12)}…, queued ${d.sha256.slice(0, 12)}…); reprocess it again`);
  }
}

/** Progress `{pixels, expected}` at most every scale.progressMs (a Redis round trip, never awaited on the read path); `final` always. */
function progressReporter(config: Config, job: Pick<Job, 'updateProgress'>): (pixels: number, expected: number, final?: boolean) => Promise<void> {
  let last = 0;
  return async (pixels, expected, final = false) => {
    const t = performance.now();
    if (final) await job.updateProgress({ pixels, expected });
    else if (t - last >= config.scale.progressMs) {
      last = t;
      void job.updateProgress({ pixels, expected }).catch(() => undefined);
    }
  };
}

/** This attempt's own folder `<results>/.jobs/<job id>/<pid>-<random>/` (and the job's folder above it). */
function attemptDirs(d: ReprocessJobData, jobId: string | undefined): { jobDir: string; workDir: string } {
  const jobDir = join(d.resultsDir, JOBS_SUBDIR, String(jobId));
  const workDir = join(jobDir, `${process.pid}-${randomUUID().slice(0, 8)}`);
  mkdirSync(workDir, { recursive: true });
  return { jobDir, workDir };
}

type ReprocessJob = Pick<Job<ReprocessJobData>, 'id' | 'data' | 'updateProgress'> & Partial<Pick<Job, 'getChildrenValues'>>;

/**
 * Run one job: check the input is what was queued, replay it through the pipeline (or, for the merge job of a
 * split scan, rebuild it from its pixel-range jobs' parts: src/scale/ranges.ts), move the results into place.
 */
export async function runReprocessJob(config: Config, log: Logger, job: ReprocessJob): Promise<ReprocessJobResult> {
  const d = job.data;
  await checkUnchanged(d);
  const { jobDir, workDir } = attemptDirs(d, job.id);
  const jobConfig: Config = { ...config, data: { ...config.data, dir: workDir }, model: { ...config.model, bundle: d.bundle } };
  let expected = 0;
  let pixels = 0;
  const progress = progressReporter(config, job);
  const jobLog = log.child({ job: job.id });
  const { replayThroughPipeline, replayEncodedRanges } = await import('../app/replay-run.ts');
  const { parsePace } = await import('../sources/hdf5/index.ts');
  const replayWhole = () =>
    replayThroughPipeline(jobConfig, jobLog, d.file, {
      pace: parsePace(config.replay.pace),
      onEvent: (ev) => {
        if (ev.type === 'start') expected = ev.header.grid.rows * ev.header.grid.cols;
        else if (ev.type === 'pixel') pixels++;
        void progress(pixels, expected);
      },
    });
  let flowStartedAt: number | undefined;
  let replayedWhole: string | undefined;
  let summary: Awaited<ReturnType<typeof replayWhole>>;
  if (d.ranges) {
    const children = Object.values((await job.getChildrenValues?.()) ?? {}) as RangeJobResult[];
    flowStartedAt = Math.min(...children.map((c) => c.startedAt));
    let parts: EncodedRange[] = [];
    try {
      parts = readParts(children, d.ranges);
      replayedWhole = whyNotMergeable(parts) ?? undefined;
      // fine-tuning on this worker would change the model mid-scan, which the ranges' outputs cannot follow
      if (config.finetune.enabled) replayedWhole ??= 'fine-tuning is on (finetune.enabled) in this worker';
    } catch (err) {
      // an earlier attempt of this merge finished and cleared the parts, then died before BullMQ heard of it
      replayedWhole = `the ranges' parts cannot be read (${(err as Error).message})`;
    }
    if (replayedWhole) {
      jobLog.info({ file: d.file, reason: replayedWhole }, 'the ranges cannot be merged: the scan is replayed whole');
      summary = await replayWhole();
    } else {
      summary = await replayEncodedRanges(jobConfig, jobLog, d.file, parts);
      pixels = expected = summary.pixels;
    }
  } else {
    summary = await replayWhole();
  }
  const target = join(d.resultsDir, d.resultsName);
  renameSync(summary.results, target);
  rmSync(jobDir, { recursive: true, force: true }); // this attempt's folder, any a killed earlier attempt left, a flow's parts
  await progress(pixels, expected, true);
  return {
    file: d.file,
    results: target,
    scanId: summary.scanId,
    pixels: summary.pixels,
    encoded: summary.encoded,
    missing: summary.missing,
    meanError: summary.meanError,
    modelVersion: summary.modelVersion,
    seconds: flowStartedAt !== undefined ? (Date.now() - flowStartedAt) / 1000 : summary.seconds,
    ...(d.ranges ? { ranges: d.ranges.length } : {}),
    ...(replayedWhole ? { replayedWhole } : {}),
  };
}

/** Run one pixel-range job of a split scan: its part file goes to the flow's parts folder (src/scale/ranges.ts). */
export async function runRangeJob(config: Config, log: Logger, job: ReprocessJob): Promise<RangeJobResult> {
  const d = job.data;
  if (!d.range || !d.flow) throw new Error(`job ${job.id}: a range job without its range`);
  await checkUnchanged(d);
  const { jobDir, workDir } = attemptDirs(d, job.id);
  const jobConfig: Config = { ...config, data: { ...config.data, dir: workDir }, model: { ...config.model, bundle: d.bundle } };
  const progress = progressReporter(config, job);
  let last = { pixels: 0, expected: d.range.to - d.range.from };
  const result = await encodeRange(jobConfig, log.child({ job: job.id }), { ...d, range: d.range, flow: d.flow }, workDir, join(d.resultsDir, JOBS_SUBDIR), (pixels, expected) => {
    last = { pixels, expected };
    void progress(pixels, expected);
  });
  rmSync(jobDir, { recursive: true, force: true });
  await progress(last.pixels, last.expected, true);
  return result;
}

/**
 * Start a worker on the reprocessing queue. The pipeline's modules (onnxruntime, h5wasm) load first: compiling
 * them blocks the event loop for seconds on a busy machine, and a job taken before would miss its lock renewal
 * and be handed to a second worker as if this one had died.
 */
export async function startReprocessWorker(config: Config, log: Logger, opts: WorkerOptions): Promise<ReprocessWorker> {
  await Promise.all([import('../app/replay-run.ts'), import('../sources/hdf5/index.ts'), import('../hdf5/h5.ts').then((m) => m.h5())]);
  let active = 0;
  const worker = new Worker<ReprocessJobData, ReprocessJobResult | RangeJobResult>(
    config.scale.queue,
    async (job) => {
      if (job.name !== JOB_NAME && job.name !== RANGE_JOB_NAME) throw new Error(`unknown job kind ${job.name}`);
      log.info({ job: job.id, file: job.data.file, range: job.data.range, merge: job.data.ranges ? job.data.ranges.length : undefined, attempt: job.attemptsMade + 1 }, 'job started');
      active++;
      try {
        if (job.name === RANGE_JOB_NAME) {
          const result = await runRangeJob(config, log, job);
          log.info({ job: job.id, file: job.data.file, range: job.data.range, part: result.part, pixels: result.pixels }, 'job completed');
          return result;
        }
        const result = await runReprocessJob(config, log, job);
        log.info({ job: job.id, file: job.data.file, results: result.results, pixels: result.pixels, seconds: result.seconds, ranges: result.ranges }, 'job completed');
        return result;
      } catch (err) {
        const e = err as Error & { code?: string };
        log.warn({ job: job.id, file: job.data.file, code: e.code, err: e.message, attempt: job.attemptsMade + 1, attempts: job.opts.attempts }, 'job attempt failed');
        // the code leads the job's failedReason, where `reprocess --wait` and the BullMQ tools show it
        if (e.code && !e.message.startsWith(`[${e.code}]`)) e.message = `[${e.code}] ${e.message}`;
        throw e;
      } finally {
        active--;
      }
    },
    {
      connection: redisConnection(opts.redis),
      concurrency: opts.concurrency,
      lockDuration: config.scale.lockMs,
      stalledInterval: config.scale.stalledMs,
      maxStalledCount: config.scale.maxStalled,
    },
  );
  worker.on('error', (err) => log.error({ err: err.message, redis: redactRedisUrl(opts.redis) }, 'worker: Redis error'));
  worker.on('failed', (job, err) => {
    if (job) log.warn({ job: job.id, err: err.message, attemptsMade: job.attemptsMade }, 'job failed');
  });
  worker.on('stalled', (id) => log.warn({ job: id }, 'job stalled (its worker died); put back in the queue'));
  const forceClose = () => worker.close(true).catch(() => undefined);
  return {
    worker,
    active: () => active,
    forceClose,
    async close(idleGraceMs = 10_000) {
      let idleSince = active === 0 ? performance.now() : NaN;
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<'forced'>((resolve) => {
        timer = setInterval(() => {
          if (active > 0) idleSince = NaN;
          else if (Number.isNaN(idleSince)) idleSince = performance.now();
          else if (performance.now() - idleSince >= idleGraceMs) resolve('forced');
        }, 250);
      });
      const how = await Promise.race([worker.close().then(() => 'closed' as const), stuck]);
      clearInterval(timer);
      if (how === 'forced') await Promise.race([forceClose(), new Promise((r) => setTimeout(r, 2000))]);
      return how;
    },
  };
}
