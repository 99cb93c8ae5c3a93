/**
 * The bundles the fine-tuning tests start from: the edge preset (16 units, 1 block, latent 16) on short loops
 * (T = 32 DC steps, to keep rounds quick on a 2-core CPU), pretrained briefly on a simulated scan of ONE switching
 * mechanism (classic 180°, vmax 16 V). The scans the tests fine-tune on use other mechanisms and another bias
 * amplitude, so the pretrained model reconstructs them worse than its own data. Built once per machine into the
 * OS temp folder (rename-into-place, so parallel test files do not race), with its training sample stored as
 * train-sample.bin and its training file listed in the manifest. The folder is keyed by a hash of this module and
 * every source file it imports (test/helpers/source-hash.ts): an edit to the model, training, preprocessing or
 * simulator code trains a fresh bundle instead of reusing a stale one.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSimulatedScan } from '../../../src/sim/write-scan-file.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { BUNDLE_FILES, type BundleManifest } from '../../../src/model/bundle.ts';
import { saveBundle } from '../../../src/model/save-bundle.ts';
import { sha256File } from '../../../src/model/train-bundle.ts';
import { trainVae } from '../../../src/model/train.ts';
import { buildVae } from '../../../src/model/vae.ts';
import { fitPreprocess } from '../../../src/preprocess/fit.ts';
import type { PreprocessSpec } from '../../../src/preprocess/index.ts';
import { simulateScan, type SimOptions } from '../../../src/sim/index.ts';
import { writeTrainSample } from '../../../src/model/reference-sample.ts';
import { sourceHash } from '../../helpers/source-hash.ts';

/** DC steps of the test bundles' loops. */
export const TEST_STEPS = 32;
/** The pretraining scan: classic 180° switching only. */
export const PRETRAIN_SCAN: SimOptions = { rows: 16, cols: 16, seed: 21, steps: TEST_STEPS, mechanisms: ['classic180'], vmax: 16, scanId: 'pretrain' };
/** A scan unlike the pretraining data: two-step and weak switching at a lower bias amplitude. */
export const SHIFTED_SCAN: SimOptions = { rows: 16, cols: 16, seed: 22, steps: TEST_STEPS, mechanisms: ['twoStep', 'weak'], vmax: 12, scanId: 'shifted' };

let cached: Promise<string> | undefined;

/** Folder of the pretrained test bundle (built on first use). */
export function pretrainedTestBundle(): Promise<string> {
  cached ??= (async () => {
    const key = (await sourceHash('test/finetune/support/small-bundle.ts')).slice(0, 16);
    const dir = join(tmpdir(), `loopstream-finetune-test-bundle-${key}`);
    if (existsSync(join(dir, BUNDLE_FILES.decoderOnnx))) return dir;
    // Test files run in parallel processes: one builds, the others wait for its folder (a lock older than
    // 10 minutes is a builder that died, and is taken over).
    const lock = `${dir}.lock`;
    for (;;) {
      try {
        await mkdir(lock);
        break;
      } catch {
        if (existsSync(join(dir, BUNDLE_FILES.decoderOnnx))) return dir;
        const held = statSync(lock, { throwIfNoEntry: false });
        if (held && Date.now() - held.mtimeMs > 600_000) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    try {
      if (existsSync(join(dir, BUNDLE_FILES.decoderOnnx))) return dir;
      await build(dir);
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
    return dir;
  })();
  return cached;
}

async function build(dir: string): Promise<void> {
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const scan = simulateScan(PRETRAIN_SCAN);
  const file = join(tmp, 'pretrain.h5');
  await writeSimulatedScan(scan, file);
  const finalFile = join(dir, 'pretrain.h5'); // where it will be once the folder is renamed into place
  const pixels = [...scan.pixels()].map((p) => p.data.map((d) => Float32Array.from(d)));
  const { spec, data, n } = fitPreprocess([{ start: scan.start, pixels }]);
  const backend = await initBackend('wasm');
  const vae = buildVae({ preset: 'edge', T: spec.T, C: spec.C }, { seed: 5 });
  const schedule = { primingEpochs: 6, step: 0.005, every: 2, max: 0.005 };
  const r = await trainVae(vae, data, n, { epochs: 8, batch: 32, learningRate: 3e-3, schedule, seed: 5 });
  const last = r.last!;
  const manifest: BundleManifest = {
    format: 'loopstream-bundle', formatVersion: 1, version: 1, parent: null, preset: 'edge', dims: vae.dims, beta: last.beta,
    created: new Date().toISOString(),
    data: { description: `test: 1 simulated scan, classic180 only, T=${spec.T}`, files: [{ path: finalFile, sha256: await sha256File(file), pixels: n }], samples: n },
    metrics: { loss: last.loss, mse: last.mse, kl: last.kl, klPerLatent: [], activeChannels: [], epochs: 8, samples: r.samplesSeen, seconds: r.seconds },
    training: { command: 'test/finetune/support/small-bundle.ts', seed: 5, backend, epochs: 8, batch: 32, learningRate: 3e-3 },
  };
  await saveBundle(tmp, vae, spec as PreprocessSpec, manifest);
  await writeTrainSample(tmp, data, n, spec.T * spec.C);
  vae.encoder.dispose();
  vae.decoder.dispose();
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another test file built it first
  }
}
