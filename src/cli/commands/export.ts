/** `loopstream export BUNDLE_DIR`: write encoder.onnx and decoder.onnx from the bundle's tfjs models. */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

export function register(program: Command): void {
  withConfigOptions(
    program.command('export').description('convert a bundle\'s tfjs models to ONNX (encoder.onnx: x → mu, logvar; decoder.onnx: z → recon)').argument('<bundle>', 'bundle folder'),
  ).action(async (dir: string, opts) => {
    // heavy modules load only when the command runs: `loopstream --help` and the other commands stay fast
    const { exportBundleOnnx } = await import('../../model/export-onnx.ts');
    const { initBackend } = await import('../../model/backend.ts');
    const log = loggerFor(configFromOptions(opts));
    await initBackend();
    const res = await exportBundleOnnx(dir);
    log.info({ bundle: dir, ...res }, 'ONNX graphs written');
  });
}
