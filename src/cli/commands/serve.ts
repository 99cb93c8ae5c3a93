/** `loopstream serve`: the live daemon — ZeroMQ in, pipeline, results files, dashboard — until Ctrl-C. */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

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
      .option('--data <dir>', 'folder for recordings and results (overrides data.dir)'),
  ).action(async (opts) => {
    // heavy modules (onnxruntime, h5wasm, zeromq) load only when the command runs: `--help` stays fast
    const { startLive } = await import('../../pipeline/live.ts');
    const config = configFromOptions(opts, { 'ingest.endpoint': opts.endpoint, 'server.port': opts.port, 'model.bundle': opts.bundle, 'data.dir': opts.data });
    const log = loggerFor(config);
    const live = await startLive(config, log);
    log.info({ endpoint: live.endpoint, url: live.url, resumed: live.resumed.length }, 'loopstream serving; Ctrl-C to stop');
    const signal = await Promise.race([untilSignal(), live.done.then(() => 'source-ended' as const)]);
    log.info({ signal }, 'shutting down');
    await live.close();
    log.info({ rejected: live.source.rejects.toJSON(), received: live.source.received }, 'stopped');
  });
}
