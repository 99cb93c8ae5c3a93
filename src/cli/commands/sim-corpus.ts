/** `loopstream sim-corpus`: write a broad, seeded corpus of simulated scans (src/sim/corpus.ts) with a JSON manifest. */
import { InvalidArgumentError, type Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= min)) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}; got "${v}"`);
  return n;
};
const share = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a share in [0, 1]; got "${v}"`);
  return n;
};
const range = (name: string) => (v: string) => {
  const parts = v.split(',').map(Number);
  if (!(parts.length === 2 && parts.every(Number.isFinite) && parts[0] <= parts[1])) throw new InvalidArgumentError(`${name} must be "lo,hi" with lo ≤ hi; got "${v}"`);
  return parts as [number, number];
};

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('sim-corpus')
      .description('write a broad corpus of simulated BEPS scans (varied resonance, Q, bias range, steps, loop heights, imprint, noise, spikes, mechanisms; sho and loop kinds) with manifest.json')
      .requiredOption('--out <dir>', 'output folder (created; files scan-NNNN.h5 and manifest.json are replaced)')
      .option('--scans <n>', 'number of scans', int('--scans', 0), 20)
      .option('--seed <n>', 'corpus seed: the same seed gives the same scans', int('--seed', -2147483648), 1)
      .option('--loop-share <x>', 'share of loop-kind scans (the rest are sho)', share('--loop-share'))
      .option('--grid <lo,hi>', 'range of grid rows and columns', range('--grid'))
      .option('--steps <lo,hi>', 'range of DC steps per cycle (multiples of 4)', range('--steps'))
      .option('--vmax <lo,hi>', 'range of the bias peak, V', range('--vmax'))
      .option('--spikes <lo,hi>', 'range of the mean spikes per loop and channel', range('--spikes'))
      .option('--nan <lo,hi>', 'range of the mean failed fits (NaN steps) per loop (default none)', range('--nan'))
      .option('--protocol-tanh', 'also write protocol-tanh.h5: the docs/protocol.md scan (372 kHz, ±10 V, Q 180, tanh loops)'),
  ).action(async (opts) => {
    const { DEFAULT_CORPUS_RANGES, writeCorpus } = await import('../../sim/corpus.ts');
    const log = loggerFor(configFromOptions(opts));
    const ranges = {
      ...DEFAULT_CORPUS_RANGES,
      ...(opts.loopShare !== undefined ? { loopShare: opts.loopShare as number } : {}),
      ...(opts.grid ? { rows: opts.grid, cols: opts.grid } : {}),
      ...(opts.steps ? { steps: opts.steps } : {}),
      ...(opts.vmax ? { vmax: opts.vmax } : {}),
      ...(opts.spikes ? { spikesPerLoop: opts.spikes } : {}),
      ...(opts.nan ? { nanPerLoop: opts.nan } : {}),
    };
    const t0 = performance.now();
    let manifest;
    try {
      manifest = await writeCorpus({
        out: opts.out,
        scans: opts.scans,
        seed: opts.seed,
        ranges,
        protocolTanh: Boolean(opts.protocolTanh),
        onScan: (e, i, n) => log.info({ file: e.file, kind: e.kind, pixels: e.pixels, done: i + 1, of: n }, 'corpus scan written'),
      });
    } catch (err) {
      // a bad range is a usage error, not a crash
      if (err instanceof RangeError) throw Object.assign(new Error(`sim-corpus: ${err.message}`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
      throw err;
    }
    const pixels = manifest.files.reduce((a, f) => a + f.pixels, 0);
    process.stdout.write(`${JSON.stringify({ out: opts.out, scans: manifest.files.length, pixels, seconds: (performance.now() - t0) / 1000 })}\n`);
  });
}
