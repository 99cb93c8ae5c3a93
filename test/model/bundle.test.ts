import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVae } from '../../src/model/vae.ts';
import { saveBundle } from '../../src/model/save-bundle.ts';
import { loadBundle, checkBundleAgainstScan, type BundleManifest } from '../../src/model/bundle.ts';
import { createEngine, perSampleMse } from '../../src/model/runtime.ts';
import { initBackend } from '../../src/model/backend.ts';
import { exportBundleOnnx } from '../../src/model/export-onnx.ts';
import { defaultSpecFor } from '../../src/preprocess/fit.ts';
import { simulateScan } from '../../src/sim/index.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';

const loopStart = (T: number, names: string[]): StartHeader => ({
  type: 'start', protocol: 1, scanId: 'pto', grid: { rows: 2, cols: 2, order: 'raster' }, kind: 'loop',
  dcVoltage: Array.from({ length: T }, (_, i) => i), fields: ['off'], cycles: 1, phaseUnit: 'rad',
  buffers: names.map((name) => ({ name, dtype: 'float32' as const, shape: [T], unit: '' })), metadata: {},
});

function manifestFor(dims: BundleManifest['dims']): BundleManifest {
  return {
    format: 'loopstream-bundle', formatVersion: 1, version: 3, parent: 2, preset: 'edge', dims, beta: 0, created: '2026-01-01T00:00:00Z',
    data: { description: 'random weights (test)', files: [], samples: 0 },
    metrics: { loss: 0, mse: 0, kl: 0, klPerLatent: [], activeChannels: [], epochs: 0, samples: 0, seconds: 0 },
    training: { command: 'test', seed: 1, backend: 'wasm', epochs: 0, batch: 1, learningRate: 1e-3 },
  };
}

describe('model bundle', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'ls-bundle-'));
    const sim = simulateScan({ rows: 2, cols: 2, seed: 1 });
    const spec = defaultSpecFor(sim.start);
    const vae = buildVae({ units: 8, blocks: 1, latentDim: 16, T: 96, C: 2 }, { seed: 3 });
    await saveBundle(join(dir, 'sim'), vae, spec, manifestFor(vae.dims));
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads and accepts a scan of the same layout', async () => {
    const b = await loadBundle(join(dir, 'sim'));
    expect(b).toMatchObject({ T: 96, C: 2, latentDim: 16 });
    expect(b.manifest.onnx).toEqual({ encoder: 'encoder.onnx', decoder: 'decoder.onnx', opset: 13 });
    expect(() => checkBundleAgainstScan(b, simulateScan({ rows: 2, cols: 2, seed: 9 }).start)).not.toThrow();
  });

  it('accepts any scan with a piezoresponse (other kind, T, cycles, channels) and derives its input descriptor', async () => {
    const b = await loadBundle(join(dir, 'sim'));
    // a bundle saved without an `input` gets one derived from its spec: its own voltage axis as fractions of Vmax
    expect(b.input).toMatchObject({ version: 1, axis: 'cycle-from-vmax', T: 96, channels: ['piezoresponse', 'resonance'], normalisation: 'trained' });
    expect(b.input.voltage[0]).toBe(1);
    expect(() => checkBundleAgainstScan(b, loopStart(64, ['piezoresponse']))).not.toThrow();
    expect(() => checkBundleAgainstScan(b, simulateScan({ rows: 2, cols: 2, seed: 1, steps: 64, cycles: 1 }).start)).not.toThrow();
  });

  it('refuses only a scan with no piezoresponse, saying why', async () => {
    const vae = buildVae({ units: 4, blocks: 0, latentDim: 16, T: 8, C: 2 }, { seed: 1 });
    const start2 = loopStart(8, ['piezoresponse', 'resonance']);
    await saveBundle(join(dir, 'loop'), vae, defaultSpecFor(start2), manifestFor(vae.dims));
    const b = await loadBundle(join(dir, 'loop'));
    expect(() => checkBundleAgainstScan(b, loopStart(8, ['piezoresponse']))).not.toThrow();
    let err: any;
    try {
      checkBundleAgainstScan(b, loopStart(8, ['resonance']));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'BundleError', code: 'LS_BUNDLE_MISMATCH' });
    expect(err.message).toBe(`bundle ${b.dir} cannot model scan pto: scan pto: loop data with buffers [resonance] and no "piezoresponse"; nothing to model`);
  });

  it('names a missing ONNX graph and how to make it', async () => {
    const vae = buildVae({ units: 4, blocks: 0, latentDim: 16, T: 8, C: 1 }, { seed: 1 });
    const d = join(dir, 'noonnx');
    await saveBundle(d, vae, defaultSpecFor(loopStart(8, ['piezoresponse'])), manifestFor(vae.dims));
    await unlink(join(d, 'decoder.onnx'));
    await expect(loadBundle(d)).rejects.toThrowError(`bundle ${d}: decoder.onnx is missing; run \`loopstream export ${d}\` to write the ONNX graphs`);
    await expect(loadBundle(join(dir, 'nothing-here'))).rejects.toMatchObject({ code: 'LS_BUNDLE_MISSING' });
    // `loopstream export` writes the graphs back from the tfjs models
    const sizes = await exportBundleOnnx(d);
    expect(sizes.decoderBytes).toBeGreaterThan(1000);
    const b = await loadBundle(d);
    const engine = await createEngine(b, { engine: 'onnx', provider: 'cpu', threads: 1 });
    const recon = await engine.decode(new Float32Array(16).fill(0.5), 1);
    expect(recon).toHaveLength(8);
    await engine.close();
  });

  it('onnx and tfjs engines agree (μ, log σ², reconstruction, per-sample error)', async () => {
    const b = await loadBundle(join(dir, 'sim'));
    const onnx = await createEngine(b, { engine: 'onnx', provider: 'cpu', threads: 1 });
    const tfjs = await createEngine(b, { engine: 'tfjs', provider: 'cpu', threads: 1 });
    expect(onnx.version).toBe(3);
    const n = 4;
    const x = Float32Array.from({ length: n * 96 * 2 }, (_, i) => Math.sin(i * 0.37) * 1.5);
    const a = await onnx.encodeDecode(x, n);
    const t = await tfjs.encodeDecode(x, n);
    for (const key of ['mu', 'logVar', 'recon', 'error'] as const) {
      expect(a[key].length).toBe(t[key].length);
      a[key].forEach((v, i) => expect(Math.abs(v - t[key][i]!)).toBeLessThan(1e-4));
    }
    expect(Array.from(a.error)).toEqual(Array.from(perSampleMse(x, a.recon, n, 192)));
    expect(a.error[0]).toBeGreaterThan(0);
    await onnx.close();
    await tfjs.close();
  });

  it('an unavailable execution provider is a clear error that says how to enable it', async () => {
    const b = await loadBundle(join(dir, 'sim'));
    const err = await createEngine(b, { engine: 'onnx', provider: 'cuda', threads: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EngineError', code: 'LS_ENGINE_PROVIDER' });
    expect((err as Error).message).toMatch(/^onnxruntime cannot use execution provider "cuda" \(.*\); the installed onnxruntime-node has no CUDA provider: on a machine with CUDA 12, remove the `onnxruntime-node-install=skip` line from .npmrc and run `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` \(docs\/operations.md\)$/);
  });
});
