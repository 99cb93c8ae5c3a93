/** `loopstream train FILE.h5… [--preset mlp|conv|edge|paper] [--max-minutes M] --out BUNDLE_DIR`: train a β-VAE bundle from scan files. */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

/** The command line as typed (recorded in the bundle manifest). */
function commandLine(): string {
  return ['loopstream', ...process.argv.slice(2)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('train')
      .description('train a beta-VAE bundle on replayable scan files (loopstream, NSID or USID SHO HDF5)')
      .argument('<files...>', 'scan files of one layout')
      .requiredOption('--out <dir>', 'bundle folder to write')
      .option('--preset <name>', 'mlp, conv, edge or paper (overrides train.preset; default mlp)')
      .option('--epochs <n>', 'epochs (overrides train.epochs)', Number)
      .option('--batch <n>', 'batch size (overrides train.batch)', Number)
      .option('--lr <x>', 'Adam learning rate (overrides train.learningRate)', Number)
      .option('--seed <n>', 'random seed (overrides train.seed)', Number)
      .option('--max-minutes <m>', 'wall-clock budget: stop after the epoch that crosses it, keep the best held-out weights (overrides train.maxMinutes; default 2, 0 = no limit)', Number)
      .option('--resume', 'continue from the checkpoint in OUT/checkpoint if there is one')
      .option('--resonance-range <lo,hi>', 'resonance values outside [lo, hi] kHz become NaN (sho), e.g. 1300,1340')
      .option('--canonical <spec>', 'train on the canonical model input: T[,resonance][:scan|pixel], e.g. 96,resonance:pixel (files of any layouts may mix; docs/model.md)')
      .option('--no-progress', 'no progress bar (log lines only)'),
  ).action(async (files: string[], opts) => {
    // heavy modules load only when the command runs: `loopstream --help` and the other commands stay fast
    const { trainBundleFromFiles } = await import('../../model/train-bundle.ts');
    const config = configFromOptions(opts, {
      'train.preset': opts.preset,
      'train.epochs': opts.epochs,
      'train.batch': opts.batch,
      'train.learningRate': opts.lr,
      'train.seed': opts.seed,
      'train.maxMinutes': opts.maxMinutes,
    });
    const log = loggerFor(config);
    const t = config.train;
    const showBar = opts.progress !== false && process.stderr.isTTY;
    // loaded here, not at the top: every command's start-up (`--help` too) would otherwise load the package
    const { default: cliProgress } = await import('cli-progress');
    const bar = new cliProgress.SingleBar(
      { format: 'epoch {epoch}/{epochs} |{bar}| {percentage}% batch {value}/{total} loss {loss} mse {mse} kl {kl} β {beta}', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let barEpoch = -1;
    let canonical: { T: number; channels: string[]; normalisation: 'scan' | 'pixel' } | undefined;
    if (typeof opts.canonical === 'string') {
      const m = /^(\d+)(,resonance)?(?::(scan|pixel))?$/.exec(opts.canonical);
      if (!m || Number(m[1]) < 8) {
        throw Object.assign(new Error(`--canonical "${opts.canonical}": expected T[,resonance][:scan|pixel] with T ≥ 8, e.g. 96,resonance:pixel`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
      }
      canonical = { T: Number(m[1]), channels: m[2] ? ['piezoresponse', 'resonance'] : ['piezoresponse'], normalisation: (m[3] as 'scan' | 'pixel' | undefined) ?? 'pixel' };
    }
    const range = typeof opts.resonanceRange === 'string' ? (opts.resonanceRange.split(',').map(Number) as [number, number]) : undefined;
    await trainBundleFromFiles(
      {
        files,
        out: opts.out,
        preset: t.preset,
        epochs: t.epochs,
        batch: t.batch,
        learningRate: t.learningRate,
        schedule: { primingEpochs: t.primingEpochs, step: t.betaStep, every: t.betaEvery, max: t.betaMax },
        ...(t.betaMode === 'constrained' ? { constraint: { target: t.betaTarget, initial: t.betaInitial, min: t.betaMin, max: t.betaLimit, rate: t.betaRate, smoothing: t.betaSmoothing, baseline: t.betaBaseline } } : {}),
        checkpointEvery: t.checkpointEvery,
        checkpointSeconds: t.checkpointSeconds,
        seed: t.seed,
        valFraction: t.valFraction,
        maxMinutes: t.maxMinutes,
        stepEngine: t.stepEngine,
        threads: t.threads,
        resume: opts.resume === true,
        ...(range ? { preprocess: { resonanceRangeKHz: range } } : {}),
        ...(canonical ? { canonical } : {}),
        command: commandLine(),
        onBatch: (p) => {
          if (!showBar) return;
          const payload = { epoch: p.epoch + 1, epochs: t.epochs, loss: p.loss.toFixed(4), mse: p.mse.toFixed(4), kl: p.kl.toFixed(3), beta: p.beta.toFixed(4) };
          if (p.epoch !== barEpoch) {
            if (barEpoch >= 0) bar.stop();
            bar.start(p.batches, 0, payload);
            barEpoch = p.epoch;
          }
          bar.update(p.batch + 1, payload);
        },
        onEpoch: (m) => {
          if (showBar) {
            bar.stop();
            barEpoch = -1;
          }
          log.info({ epoch: m.epoch + 1, beta: +m.beta.toPrecision(4), ...(m.constraint !== undefined ? { constraint: +m.constraint.toPrecision(3) } : {}), ...(m.valMse !== undefined ? { valMse: +m.valMse.toPrecision(4) } : {}), ...(m.valActive !== undefined ? { valActive: m.valActive } : {}), loss: +m.loss.toPrecision(5), mse: +m.mse.toPrecision(5), kl: +m.kl.toPrecision(5), samplesPerSec: +m.samplesPerSec.toFixed(1) }, 'epoch done');
        },
      },
      log,
    );
  });
}
