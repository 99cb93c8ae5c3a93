/** `loopstream export BUNDLE_DIR`: write encoder.onnx and decoder.onnx from the bundle's tfjs models. */
import type { Command } from 'commander';
import { exportBundleOnnx } from '../../model/export-onnx.ts';
import { initBackend } from '../../model/backend.ts';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

export function register(program: Command): void {
  withConfigOptions(
    program.command('export').description('convert a bundle\'s tfjs models to ONNX (encoder.onnx: x → mu, logvar; decoder.onnx: z → recon)').argument('<bundle>', 'bundle folder'),
  ).action(async (dir: string, opts) => {
    const log = loggerFor(configFromOptions(opts));
    await initBackend();
    const res = await exportBundleOnnx(dir);
    log.info({ bundle: dir, ...res }, 'ONNX graphs written');
  });
}
