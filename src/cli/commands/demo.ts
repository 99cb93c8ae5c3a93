/**
 * `loopstream demo` (what `npm start` runs): the embedded default — the live daemon plus the simulator
 * publishing a scan to it over ZeroMQ at a live-like rate, through the full pipeline with the bundled model.
 */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';
import { untilSignal } from './serve.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('demo')
      .description('the embedded default: a simulated scan streamed over ZeroMQ into the live daemon, dashboard on localhost')
      .option('--rows <n>', 'grid rows (overrides sim.rows)', Number)
      .option('--cols <n>', 'grid columns (overrides sim.cols)', Number)
      .option('--rate <pxPerSec>', 'pixels per second (overrides sim.ratePxPerSec)', Number)
      .option('--port <port>', 'dashboard HTTP port (overrides server.port)', Number)
      .option('--exit-when-done', 'stop once the scan is complete instead of serving the dashboard until Ctrl-C'),
  ).action(async (opts) => {
    // heavy modules (onnxruntime, h5wasm, zeromq) load only when the command runs: `--help` stays fast
    const { startLive } = await import('../../app/live.ts');
    const { simulateScan } = await import('../../sim/index.ts');
    const { publishScan } = await import('../../sim/publish.ts');
    const { scanMeanError } = await import('../../pipeline/scan-context.ts');
    const config = configFromOptions(opts, { 'sim.rows': opts.rows, 'sim.cols': opts.cols, 'sim.ratePxPerSec': opts.rate, 'server.port': opts.port });
    const log = loggerFor(config);
    const live = await startLive(config, log);
    const scan = simulateScan({ rows: config.sim.rows, cols: config.sim.cols, seed: config.sim.seed, anomalies: config.sim.anomalies });
    const scanId = scan.start.scanId;
    const finished = new Promise<void>((resolve) => {
      live.daemon.registry.scans$.subscribe(({ ctx, what }) => {
        if (what === 'close' && ctx.start.scanId === scanId) resolve();
      });
    });
    if (live.url) process.stdout.write(`loopstream demo: dashboard at ${live.url}\n`);
    log.info({ scanId, rows: config.sim.rows, cols: config.sim.cols, ratePxPerSec: config.sim.ratePxPerSec, endpoint: live.endpoint }, 'simulator publishing');
    const sent = await publishScan(scan, { endpoint: live.endpoint, ratePxPerSec: config.sim.ratePxPerSec });
    await finished;
    const ctx = live.daemon.registry.get(scanId)!;
    const summary = {
      scanId,
      sent: sent.pixels,
      encoded: ctx.counters.encoded,
      missing: ctx.maps.missing,
      meanError: scanMeanError(ctx.counters),
      alerts: ctx.alerts?.list().length ?? 0,
      results: ctx.resultsPath,
    };
    log.info(summary, 'demo scan complete');
    process.stdout.write(`loopstream demo: scan ${scanId} complete: ${summary.encoded}/${sent.pixels} pixels encoded, ${summary.alerts} alert(s), results in ${summary.results}\n`);
    if (!opts.exitWhenDone) {
      if (live.url) process.stdout.write(`loopstream demo: the dashboard stays up at ${live.url}; Ctrl-C to stop\n`);
      await untilSignal();
    }
    await live.close();
  });
}
