/**
 * `loopstream worker --redis URL`: take reprocessing jobs from the queue and run each through the replay
 * pipeline (src/scale/worker.ts); no dashboard. SIGTERM/SIGINT: take no new job, finish the running ones, exit.
 */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';
import { untilSignal } from './serve.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('worker')
      .description('run reprocessing jobs queued by `loopstream reprocess` (BullMQ on Redis) through the replay pipeline')
      .option('--redis <url>', 'Redis URL: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// (overrides scale.redis)')
      .option('--concurrency <n>', 'jobs run at once in this process', '1'),
  ).action(async (opts) => {
    const config = configFromOptions(opts, { 'scale.redis': opts.redis });
    const log = loggerFor(config);
    const { RedisUrlError, redactRedisUrl } = await import('../../redis/redis-url.ts');
    if (!config.scale.redis) throw new RedisUrlError('LS_SCALE_REDIS_URL', 'worker: no Redis URL; give --redis redis://HOST:PORT or set scale.redis');
    const concurrency = Number(opts.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw Object.assign(new Error(`--concurrency ${opts.concurrency}: expected a whole number ≥ 1`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    const { startReprocessWorker } = await import('../../scale/worker.ts');
    const w = await startReprocessWorker(config, log, { redis: config.scale.redis, concurrency });
    const stop = untilSignal();
    await Promise.race([w.worker.waitUntilReady(), stop]);
    log.info({ queue: config.scale.queue, redis: redactRedisUrl(config.scale.redis), concurrency }, 'worker ready');
    const signal = await stop;
    log.info({ signal, active: w.active() }, 'worker stopping: running jobs finish, no new ones (a second signal stops at once)');
    const again = untilSignal();
    const how = await Promise.race([w.close(), again.then(() => 'signal' as const)]);
    if (how === 'signal') {
      // the running job is released: its lock expires and another worker runs it from the start
      log.warn({ active: w.active() }, 'worker stopped at once by a second signal');
      await Promise.race([w.forceClose(), new Promise((r) => setTimeout(r, 2000))]);
      process.exitCode = 1;
    } else if (how === 'forced') {
      log.warn('worker stopped without saying goodbye to Redis (unreachable)');
    } else {
      log.info('worker stopped');
    }
    // BullMQ or a failed Redis connection may leave timers behind: this command is done
    setTimeout(() => process.exit(), 500).unref();
  });
}
