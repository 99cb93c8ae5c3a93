/** `loopstream validate toy [--summary-json]`: the paper's toy-data comparison, β-VAE vs dictionary learning. */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('validate')
      .description('reproduce a validation of the paper: "toy" = β-VAE vs dictionary learning on the toy RGB spectra (docs/science.md §4)')
      .argument('<what>', 'toy')
      .option('--summary-json', 'print one JSON object (vaeMse, dlMse, …) on stdout')
      .option('--max-seconds <s>', 'VAE training time budget, seconds', Number, 150)
      .option('--train-n <n>', 'training spectra', Number, 10000)
      .option('--seed <n>', 'random seed', Number, 1)
      .option('--preset <name>', 'VAE architecture: mlp (default), conv, or edge (the 16-unit BiLSTM)', 'mlp')
      .option('--dl-only', 'only the dictionary-learning baseline'),
  ).action(async (what: string, opts) => {
    // heavy modules load only when the command runs: `loopstream --help` and the other commands stay fast
    const { validateToy } = await import('../../model/validate-toy.ts');
    const config = configFromOptions(opts);
    const log = loggerFor(config);
    if (what !== 'toy') {
      throw Object.assign(new Error(`validate ${what}: unknown validation; expected "toy"`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    }
    const { PRESET_NAMES } = await import('../../model/vae.ts');
    if (!PRESET_NAMES.includes(opts.preset)) {
      throw Object.assign(new Error(`validate toy --preset ${opts.preset}: unknown preset; expected one of ${PRESET_NAMES.join(', ')}`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    }
    const res = await validateToy({
      maxSeconds: opts.maxSeconds,
      trainN: opts.trainN,
      seed: opts.seed,
      preset: opts.preset,
      skipVae: opts.dlOnly === true,
      onEpoch: (m) => log.info({ epoch: m.epoch + 1, mse: +m.mse.toPrecision(4), kl: +m.kl.toPrecision(4), beta: m.beta }, 'toy VAE epoch'),
    });
    if (opts.summaryJson) {
      process.stdout.write(JSON.stringify(res) + '\n');
    } else {
      const v = res.vaeMse === null ? 'skipped' : res.vaeMse.toFixed(4);
      process.stdout.write(`toy validation (${res.validationN} validation spectra): β-VAE MSE ${v}, dictionary learning MSE ${res.dlMse.toFixed(4)} (paper: ${res.paper.vaeMse} vs ${res.paper.dlMse})\n`);
    }
    if (res.vaeMse !== null && !(res.vaeMse < res.dlMse)) log.warn({ vaeMse: res.vaeMse, dlMse: res.dlMse }, 'the β-VAE did not beat dictionary learning; train longer (--max-seconds)');
  });
}
