/**
 * Bundles the benchmark runs: the shipped pretrained `fixtures/models/edge-sim` for the edge preset when it is
 * there, otherwise a random-weight bundle per preset built with the project's own model code (buildVae →
 * saveBundle: tfjs weights + ONNX), its preprocessing fitted on a small simulated scan. Speed does not depend on
 * the weights' values, so random weights time the same graphs; the dims are the preset's (T = 96, C = 2).
 * Built bundles are cached in the OS temp folder (keyed by preset and a format version).
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/model/backend.ts';
import { BUNDLE_FILES, loadBundle, type Bundle, type BundleManifest } from '../src/model/bundle.ts';
import { saveBundle } from '../src/model/save-bundle.ts';
import { buildVae, presetDims, type PresetName } from '../src/model/vae.ts';
import { fitPreprocess } from '../src/preprocess/fit.ts';
import { simulateScan } from '../src/sim/index.ts';

/** The shipped pretrained edge bundle. */
export const SHIPPED_EDGE = 'fixtures/models/edge-sim';

/** A bundle to benchmark and where it came from. */
export interface BenchBundle {
  preset: PresetName;
  bundle: Bundle;
  /** 'shipped' (pretrained fixture) or 'random' (built here) */
  origin: 'shipped' | 'random';
}

function complete(dir: string): boolean {
  return [BUNDLE_FILES.encoderOnnx, BUNDLE_FILES.decoderOnnx, BUNDLE_FILES.tfjsEncoder, BUNDLE_FILES.tfjsDecoder, BUNDLE_FILES.manifest].every((f) => existsSync(join(dir, f)));
}

/** The bundle for a preset (shipped edge-sim when complete, else random weights built once). */
export async function benchBundle(preset: PresetName, opts: { allowShipped?: boolean } = {}): Promise<BenchBundle> {
  const shipped = resolve(SHIPPED_EDGE);
  if (preset === 'edge' && (opts.allowShipped ?? true) && complete(shipped)) {
    const bundle = await loadBundle(shipped);
    if (bundle.manifest.preset === 'edge') return { preset, bundle, origin: 'shipped' };
  }
  const d = presetDims(preset, 96, 2);
  // keyed by the preset's dims: a preset whose size changes gets a new bundle, not a stale one
  const dir = join(tmpdir(), `loopstream-bench-${preset}-u${d.units}-b${d.blocks}-l${d.latentDim}-random`);
  if (!complete(dir)) await buildRandomBundle(preset, dir);
  return { preset, bundle: await loadBundle(dir), origin: 'random' };
}

async function buildRandomBundle(preset: PresetName, dir: string): Promise<void> {
  await initBackend('wasm'); // tfjs needs a backend before it can draw the initial weights
  const sim = simulateScan({ rows: 16, cols: 16, seed: 11 });
  const pixels = [...sim.pixels()].map((p) => p.data.map((d) => Float32Array.from(d)));
  const { spec } = fitPreprocess([{ start: sim.start, pixels }]);
  const dims = presetDims(preset, spec.T, spec.C);
  const vae = buildVae(dims, { seed: 5, fastInit: true });
  const manifest: BundleManifest = {
    format: 'loopstream-bundle', formatVersion: 1, version: 1, parent: null, preset, dims, beta: 0,
    created: new Date().toISOString(),
    data: { description: 'untrained random weights for the benchmark (speed only)', files: [], samples: 0 },
    metrics: { loss: 0, mse: 0, kl: 0, klPerLatent: [], activeChannels: [], epochs: 0, samples: 0, seconds: 0 },
    training: { command: 'bench/bundles.ts', seed: 5, backend: 'none', epochs: 0, batch: 0, learningRate: 0 },
  };
  // Build beside the target and rename, so an interrupted build never leaves a half bundle behind.
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await saveBundle(tmp, vae, spec, manifest);
  vae.encoder.dispose();
  vae.decoder.dispose();
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}
