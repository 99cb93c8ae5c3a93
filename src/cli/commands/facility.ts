/**
 * `loopstream facility --redis URL`: the facility page — every daemon that publishes to the facility stream
 * (facility.redis in its config) and its scans, live, with links to each daemon's own dashboard. Loopback by default.
 */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';
import { untilSignal } from './serve.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('facility')
      .description('serve the facility page: every daemon publishing to the Redis facility stream and its scans, live')
      .option('--redis <url>', 'Redis URL: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// (overrides facility.redis)')
      .option('--port <port>', 'HTTP port of the page (overrides facility.port; 0 = any free port)', Number)
      .option('--host <host>', 'address to listen on (overrides facility.host; beyond loopback needs facility.token)'),
  ).action(async (opts) => {
    const config = configFromOptions(opts, { 'facility.redis': opts.redis, 'facility.port': opts.port, 'facility.host': opts.host });
    const log = loggerFor(config);
    const { RedisUrlError } = await import('../../redis/redis-url.ts');
    if (!config.facility.redis) throw new RedisUrlError('LS_SCALE_REDIS_URL', 'facility: no Redis URL; give --redis redis://HOST:PORT or set facility.redis');
    const { startFacilityServer } = await import('../../facility/server.ts');
    const server = await startFacilityServer({ redis: config.facility.redis, config, log });
    process.stderr.write(`loopstream facility: ${server.url}\n`);
    const signal = await untilSignal();
    log.info({ signal }, 'facility page stopping');
    await server.close();
    setTimeout(() => process.exit(0), 200).unref();
  });
}
