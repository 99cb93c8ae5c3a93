/**
 * The model bundle the end-to-end tests run the daemon with: the shipped `fixtures/models/edge-sim` when it is
 * there, otherwise an untrained bundle of the same `edge` dims built once per machine (sho, T = 96, C = 2,
 * latent 16) through the real ONNX export — the tests check transport and bookkeeping, not embedding quality.
 * The built bundle's folder is keyed by a hash of this module and every source file it imports (test/helpers/
 * source-hash.ts): an edit to the model, the export or the preprocessing builds a fresh one.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUNDLE_FILES, loadBundle, writeBundleJson, type Bundle, type BundleManifest } from '../../../src/model/bundle.ts';
import { defaultSpecFor } from '../../../src/preprocess/fit.ts';
import type { StartHeader } from '../../../src/protocol/messages.ts';
import { sourceHash } from '../../helpers/source-hash.ts';

/** Shipped bundle path (relative to the repository root). */
export const SHIPPED_BUNDLE = 'fixtures/models/edge-sim';

/** DC waveform 0 → +vmax → −vmax → 0 in `steps` steps (the benchmark's triangle). */
export function dcWaveform(steps: number, vmax = 16): number[] {
  const q = steps / 4;
  return Array.from({ length: steps }, (_, k) => (k < q ? k / q : k < 3 * q ? 2 - k / q : k / q - 4) * vmax);
}

/** A sho start header with the benchmark layout (used to derive the tiny bundle's preprocessing). */
function benchmarkStart(steps: number): StartHeader {
  const shape = [2, 2, steps];
  return {
    type: 'start', protocol: 1, scanId: 'bundle', grid: { rows: 1, cols: 1, order: 'raster' }, kind: 'sho',
    dcVoltage: dcWaveform(steps), fields: ['on', 'off'], cycles: 2, phaseUnit: 'rad',
    buffers: (['amplitude', 'phase', 'frequency', 'quality'] as const).map((name) => ({ name, dtype: 'float32' as const, shape, unit: '' })),
    metadata: {},
  };
}

let cached: Promise<Bundle> | undefined;

/** Load the bundle for e2e tests (shipped if present, else built once into the OS temp folder). */
export function testBundle(): Promise<Bundle> {
  cached ??= (async () => {
    const shipped = resolve(SHIPPED_BUNDLE);
    if (existsSync(join(shipped, BUNDLE_FILES.encoderOnnx))) return loadBundle(shipped);
    const key = (await sourceHash('test/e2e/support/test-bundle.ts')).slice(0, 16);
    const dir = join(tmpdir(), `loopstream-e2e-edge-untrained-${key}`);
    if (!existsSync(join(dir, BUNDLE_FILES.decoderOnnx))) await buildTinyBundle(dir);
    return loadBundle(dir);
  })();
  return cached;
}

async function buildTinyBundle(dir: string): Promise<void> {
  const { buildVae } = await import('../../../src/model/vae.ts');
  const { exportOnnx } = await import('../../../src/model/export-onnx.ts');
  const T = 96;
  const spec = defaultSpecFor(benchmarkStart(T));
  // Units of the benchmark data (docs/science.md §2), so scaled inputs are O(1).
  spec.mean = [0, 1320];
  spec.std = [1e-4, 10];
  // The `edge` preset's dims: the same inference cost as the shipped model, so soak and fuzz numbers mean something.
  const vae = buildVae({ preset: 'edge', T, C: 2 }, { seed: 7, fastInit: true });
  const { encoder, decoder } = exportOnnx(vae);
  const manifest: BundleManifest = {
    format: 'loopstream-bundle', formatVersion: 1, version: 1, parent: null, preset: 'edge', dims: vae.dims, beta: 0,
    created: new Date().toISOString(),
    data: { description: 'untrained random weights for end-to-end transport tests', files: [], samples: 0 },
    metrics: { loss: 0, mse: 0, kl: 0, klPerLatent: [], activeChannels: [], epochs: 0, samples: 0, seconds: 0 },
    training: { command: 'test/e2e/support/test-bundle.ts', seed: 7, backend: 'none', epochs: 0, batch: 0, learningRate: 0 },
    onnx: { encoder: BUNDLE_FILES.encoderOnnx, decoder: BUNDLE_FILES.decoderOnnx, opset: 13 },
  };
  // Build beside the target and rename: two test files may race to build it.
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeBundleJson(tmp, manifest, spec);
  await writeFile(join(tmp, BUNDLE_FILES.encoderOnnx), encoder);
  await writeFile(join(tmp, BUNDLE_FILES.decoderOnnx), decoder);
  vae.encoder.dispose();
  vae.decoder.dispose();
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another process won the race
  }
}
