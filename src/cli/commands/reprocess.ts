/**
 * `loopstream reprocess FILES… --bundle DIR --redis URL`: queue one BullMQ job per scan file for
 * `loopstream worker`s to run (src/scale). Idempotent: a file already queued or done with the same bundle is not
 * queued again. `--wait` follows the jobs with one progress bar (stderr) and prints a summary.
 */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('reprocess')
      .description('queue scan files for re-encoding by `loopstream worker`s (BullMQ on Redis), one job per file')
      .argument('<files...>', 'HDF5 scan files (paths must be readable by the workers too)')
      .option('--bundle <dir>', 'model bundle to encode with (overrides model.bundle)')
      .option('--redis <url>', 'Redis URL: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// (overrides scale.redis)')
      .option('--results <dir>', 'folder the results files go to (overrides data.dir)')
      .option('--wait', 'follow the jobs until all completed or failed (progress bar on stderr)')
      .option('--retry-failed', 'queue again the jobs of these files that failed for good')
      .option('--summary-json', 'print the summary as one JSON object on the last stdout line'),
  ).action(async (files: string[], opts) => {
    const config = configFromOptions(opts, { 'model.bundle': opts.bundle, 'scale.redis': opts.redis, 'data.dir': opts.results });
    const log = loggerFor(config);
    const { RedisUrlError, redactRedisUrl } = await import('../../redis/redis-url.ts');
    if (!config.scale.redis) throw new RedisUrlError('LS_SCALE_REDIS_URL', 'reprocess: no Redis URL; give --redis redis://HOST:PORT or set scale.redis');
    const { openQueue, enqueueReprocess, waitForJobs } = await import('../../scale/queue.ts');
    const queue = await openQueue(config, config.scale.redis);
    try {
      const t0 = performance.now();
      const jobs = await enqueueReprocess(queue, config, { files, bundle: config.model.bundle, resultsDir: config.data.dir, redis: config.scale.redis, retryFailed: Boolean(opts.retryFailed) });
      const added = jobs.filter((j) => j.added).length;
      log.info({ queue: config.scale.queue, redis: redactRedisUrl(config.scale.redis), jobs: jobs.length, added }, 'jobs queued');
      const base = { queue: config.scale.queue, files: jobs.length, added, existing: jobs.length - added, jobs: jobs.map((j) => ({ id: j.id, file: j.file, added: j.added })) };
      if (!opts.wait) {
        if (opts.summaryJson) process.stdout.write(`${JSON.stringify(base)}\n`);
        else process.stdout.write(`${jobs.length} job(s) on queue ${config.scale.queue}: ${added} added, ${jobs.length - added} already queued or done\n`);
        return;
      }
      const { SingleBar, Presets } = await import('cli-progress');
      const bar = new SingleBar({ format: 'reprocess {bar} {percentage}% | {completed}/{files} done, {failed} failed | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic);
      bar.start(jobs.length, 0, { completed: 0, failed: 0, files: jobs.length });
      const finished = await waitForJobs(queue, jobs.map((j) => j.id), (p) => bar.update(p.fraction, { completed: p.completed, failed: p.failed }));
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      const pixels = finished.completed.reduce((s, j) => s + j.result.pixels, 0);
      const summary = {
        ...base,
        completed: finished.completed.length,
        pixels,
        seconds,
        pxPerSec: seconds > 0 ? pixels / seconds : 0,
        results: finished.completed.map((j) => j.result),
        failed: finished.failed,
      };
      log.info({ files: summary.files, completed: summary.completed, failed: summary.failed.length, pixels, seconds }, 'reprocess finished');
      if (opts.summaryJson) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        process.stdout.write(`${summary.files} file(s): ${summary.completed} done, ${summary.failed.length} failed, ${pixels} pixels in ${seconds.toFixed(1)} s (${Math.round(summary.pxPerSec)} px/s)\n`);
        for (const f of summary.failed) process.stdout.write(`  failed: ${f.file}: ${f.reason}\n`);
      }
      if (summary.failed.length > 0) process.exitCode = 1;
    } finally {
      await queue.close();
    }
  });
}
