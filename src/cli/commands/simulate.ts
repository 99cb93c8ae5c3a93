/** `loopstream simulate`: write a synthetic BEPS scan to a scan file (`--out`) or publish it over ZeroMQ (`--zmq`). */
import { InvalidArgumentError, type Command } from 'commander';
import { ANOMALY_KINDS, MECHANISM_NAMES, simulateScan, type AnomalyKind, type MechanismName } from '../../sim/index.ts';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer; got "${v}"`);
  return n;
};
const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a number > 0; got "${v}"`);
  return n;
};
const listOf = <T extends string>(name: string, allowed: readonly T[]) => (v: string) => {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of items) if (!allowed.includes(s as T)) throw new InvalidArgumentError(`${name}: "${s}" is not one of ${allowed.join(', ')}`);
  return items as T[];
};


export function register(program: Command): void {
  withConfigOptions(
    program
      .command('simulate')
      .description('generate a synthetic BEPS scan (with ground truth): write it to an HDF5 scan file or publish it over ZeroMQ')
      .option('--rows <n>', 'grid rows (overrides sim.rows)', int('--rows'))
      .option('--cols <n>', 'grid columns (overrides sim.cols)', int('--cols'))
      .option('--seed <n>', 'random seed (overrides sim.seed)', int('--seed'))
      .option('--anomalies <n>', 'planted anomalous regions (overrides sim.anomalies)', int('--anomalies'))
      .option('--steps <n>', 'DC steps per cycle', int('--steps'), 96)
      .option('--cycles <n>', 'bias cycles', int('--cycles'), 2)
      .option('--noise <x>', 'noise multiplier (0 = noiseless)', Number, 1)
      .option('--mechanisms <list>', `comma-separated subset of ${MECHANISM_NAMES.join(',')}`, listOf('--mechanisms', MECHANISM_NAMES))
      .option('--anomaly-kinds <list>', `comma-separated subset of ${ANOMALY_KINDS.join(',')}`, listOf('--anomaly-kinds', ANOMALY_KINDS))
      .option('--scan-id <id>', 'scan id (default sim-s<seed>-<rows>x<cols>)')
      .option('--scenario <name>', 'protocol-tanh: the docs/protocol.md scan instead (372 kHz, ±10 V, Q 180, tanh loops; honours --rows --cols --seed --steps --cycles --scan-id)')
      .option('--out <file>', 'write an HDF5 scan file (docs/formats.md); replaces an existing file')
      .option('--zmq <endpoint>', 'publish over ZeroMQ (protocol v1) to this endpoint instead')
      .option('--rate <pxps>', 'pixels per second when publishing (overrides sim.ratePxPerSec)', positive('--rate'))
      .option('--socket <kind>', 'push (lossless, default) or pub', 'push')
      .option('--bind', 'bind the endpoint instead of connecting to it')
      .option('--skip-seq <seq>', 'never send this seq (repeatable; forces a gap)', (v: string, acc: number[] = []) => [...acc, int('--skip-seq')(v)])
      .option('--malformed <n>', 'after every n pixels also send one malformed frame', int('--malformed'))
      .option('--limit <n>', 'publish only the first n pixels (stop status aborted)', int('--limit'))
      .option('--linger-ms <ms>', 'how long to keep undelivered messages after the last send, e.g. while the daemon restarts (default 10000)', int('--linger-ms')),
  ).action(async (opts) => {
    // heavy modules load only when the command runs: `loopstream --help` and the other commands stay fast
    const { publishScan } = await import('../../sim/publish.ts');
    const { writeSimulatedScan } = await import('../../sim/write-scan-file.ts');
    const config = configFromOptions(opts, { 'sim.rows': opts.rows, 'sim.cols': opts.cols, 'sim.seed': opts.seed, 'sim.anomalies': opts.anomalies, 'sim.ratePxPerSec': opts.rate });
    const log = loggerFor(config);
    if (!opts.out === !opts.zmq) {
      throw Object.assign(new Error('simulate: give exactly one of --out FILE or --zmq ENDPOINT'), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    }
    if (opts.socket !== 'push' && opts.socket !== 'pub') {
      throw Object.assign(new Error(`simulate: --socket is "${opts.socket}"; expected push or pub`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    }
    const { rows, cols, seed, ratePxPerSec } = config.sim;
    let { anomalies } = config.sim;
    // The configured default (3 regions) does not fit tiny grids; an explicit --anomalies is never changed.
    const fits = Math.floor((rows * cols) / 12);
    if (opts.anomalies === undefined && anomalies > fits) {
      log.warn({ rows, cols, configured: anomalies, used: fits }, 'grid too small for the configured anomalies; planting fewer');
      anomalies = fits;
    }
    if (opts.scenario !== undefined && opts.scenario !== 'protocol-tanh') {
      throw Object.assign(new Error(`simulate: --scenario is "${opts.scenario}"; the only scenario is protocol-tanh`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    }
    const { protocolTanhScan } = await import('../../sim/scenarios.ts');
    const scan = opts.scenario === 'protocol-tanh'
      ? protocolTanhScan({ rows, cols, seed, steps: opts.steps, cycles: opts.cycles, pxPerSec: ratePxPerSec, ...(opts.scanId ? { scanId: opts.scanId } : {}) })
      : simulateScan({
          rows,
          cols,
          seed,
          anomalies,
          steps: opts.steps,
          cycles: opts.cycles,
          noise: opts.noise,
          pxPerSec: ratePxPerSec,
          ...(opts.mechanisms ? { mechanisms: opts.mechanisms as MechanismName[] } : {}),
          ...(opts.anomalyKinds ? { anomalyKinds: opts.anomalyKinds as AnomalyKind[] } : {}),
          ...(opts.scanId ? { scanId: opts.scanId } : {}),
        });
    if (opts.out) {
      const r = await writeSimulatedScan(scan, opts.out);
      log.info({ out: opts.out, scanId: scan.start.scanId, ...r }, 'scan file written');
      process.stdout.write(`${JSON.stringify({ out: opts.out, scanId: scan.start.scanId, rows, cols, regions: scan.truth.regions.length, ...r })}\n`);
      return;
    }
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      log.info({ endpoint: opts.zmq, scanId: scan.start.scanId, ratePxPerSec, socket: opts.socket }, 'publishing');
      const r = await publishScan(scan, {
        endpoint: opts.zmq,
        ratePxPerSec,
        socket: opts.socket,
        bind: Boolean(opts.bind),
        skipSeqs: opts.skipSeq ?? [],
        ...(opts.malformed ? { malformedEvery: opts.malformed } : {}),
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        ...(opts.lingerMs !== undefined ? { lingerMs: opts.lingerMs } : {}),
        signal: abort.signal,
      });
      log.info({ endpoint: opts.zmq, ...r }, 'published');
      process.stdout.write(`${JSON.stringify({ endpoint: opts.zmq, scanId: scan.start.scanId, ...r })}\n`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
