/**
 * `loopstream serve`: the live daemon — ZeroMQ in, pipeline, results files, dashboard — until Ctrl-C.
 *
 * Process lifecycle (docs/reliability.md §Zombies): a fatal error (a bind that fails, a source that dies, a
 * start-up that cannot finish) logs one clear `fatal` line and exits non-zero, so a supervisor such as systemd
 * (Restart=on-failure) restarts it; SIGTERM/SIGINT always end the process — gracefully within SHUTDOWN_MS,
 * at once on a second signal.
 */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';
import { exitCodeOf } from '../errors.ts';

/** Longest a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_MS = 15_000;

/** Resolve on SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('serve')
      .description('run the live daemon: receive scans over ZeroMQ (protocol v1), record, encode, serve the dashboard')
      .option('--endpoint <endpoint>', 'ZeroMQ endpoint (overrides ingest.endpoint)')
      .option('--port <port>', 'dashboard HTTP port (overrides server.port; 0 = any free port)', Number)
      .option('--bundle <dir>', 'model bundle (overrides model.bundle)')
      .option('--data <dir>', 'folder for recordings and results (overrides data.dir)')
      .option('--redis <url>', 'Socket.IO Redis adapter URL shared with viewer processes (overrides server.redis; docs/scale.md)')
      .option('--viewer', 'serve only the dashboard of the daemon that shares --redis (server.redis, server.redisKey): no ingest, no model'),
  ).action(async (opts) => {
    if (opts.viewer) return serveViewer(opts);
    // heavy modules (onnxruntime, h5wasm, zeromq) load only when the command runs: `--help` stays fast
    const { startLive } = await import('../../app/live.ts');
    const config = configFromOptions(opts, { 'ingest.endpoint': opts.endpoint, 'server.port': opts.port, 'model.bundle': opts.bundle, 'data.dir': opts.data, 'server.redis': opts.redis });
    const log = loggerFor(config);
    const exit = (code: number): never => process.exit(code);
    const report = (err: unknown, stage: string): number => {
      const e = err as Error & { code?: string };
      log.fatal({ code: e.code, stage, err: e.message }, `fatal: ${e.message}; exiting`);
      process.stderr.write(`loopstream: fatal (${stage}): ${e.code ? `[${e.code}] ` : ''}${e.message}\n`);
      return exitCodeOf(err);
    };
    // Signals are handled from the first moment: a start-up that hangs still ends on SIGTERM.
    let shuttingDown = false;
    const signalled = new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        if (shuttingDown) {
          log.warn({ signal }, 'second signal: exiting now');
          exit(130);
        }
        shuttingDown = true;
        // A graceful close that hangs must not keep the process alive.
        setTimeout(() => {
          log.error({ signal, ms: SHUTDOWN_MS }, 'shutdown took too long; exiting');
          exit(1);
        }, SHUTDOWN_MS).unref();
        resolve(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    const started = startLive(config, log);
    const first = await Promise.race([started.then((live) => ({ live }), (err: unknown) => ({ err })), signalled.then((signal) => ({ signal }))]);
    if ('signal' in first) {
      log.info({ signal: first.signal }, 'signal during start-up; exiting');
      void started.then((live) => live.close(), () => undefined).finally(() => exit(0));
      return;
    }
    if ('err' in first) return exit(report(first.err, 'start-up'));
    const { live } = first;
    log.info({ endpoint: live.endpoint, statusEndpoint: live.statusEndpoint, url: live.url, resumed: live.resumed.length }, 'loopstream serving; Ctrl-C to stop');
    const ended = live.done.then(
      () => ({ err: new Error('the live ZeroMQ source ended on its own') }),
      (err: unknown) => ({ err }),
    );
    const next = await Promise.race([signalled.then((signal) => ({ signal })), ended]);
    if ('err' in next) {
      const code = report(next.err, 'ingest');
      shuttingDown = true;
      setTimeout(() => exit(code), SHUTDOWN_MS).unref();
      await live.close().catch(() => undefined);
      return exit(code);
    }
    log.info({ signal: next.signal }, 'shutting down');
    await live.close();
    log.info({ rejected: live.source.rejects.toJSON(), warnings: live.source.warnings.toJSON(), received: live.source.received }, 'stopped');
    exit(0);
  });
}

/** `serve --viewer`: the dashboard page and Socket.IO for remote viewers, fed by the daemon through the Redis adapter. */
async function serveViewer(opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts, { 'server.port': opts.port, 'server.redis': opts.redis });
  const log = loggerFor(config);
  const { RedisUrlError } = await import('../../redis/redis-url.ts');
  if (!config.server.redis) throw new RedisUrlError('LS_SCALE_REDIS_URL', 'serve --viewer: no Redis URL; give --redis redis://HOST:PORT (the daemon\'s server.redis)');
  const { startDashboardServer } = await import('../../server/index.ts');
  const server = await startDashboardServer({ config, logger: log.child({ stage: 'server' }) });
  log.info({ url: server.url }, `viewer dashboard at ${server.url}`);
  const signal = await untilSignal();
  log.info({ signal }, 'viewer stopping');
  await server.close();
  setTimeout(() => process.exit(0), 200).unref();
}
