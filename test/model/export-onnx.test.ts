import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { buildVae, countParams, type PresetName } from '../../src/model/vae.ts';
import { exportOnnx } from '../../src/model/export-onnx.ts';
import { initBackend } from '../../src/model/backend.ts';

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Perturb every bias so gate-order or bias-split mistakes cannot hide behind zero biases. */
function randomiseBiases(model: tf.LayersModel, seed: number): void {
  let k = seed;
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(ws.map((w) => (w.shape.length === 1 ? tf.tensor(randn(w.size, k++)).mul(0.3) : w)));
  }
}

describe('ONNX export: onnxruntime equals tfjs', () => {
  beforeAll(async () => {
    await initBackend();
  });

  const cases: Array<{ preset: PresetName; T: number; C: number; n: number }> = [
    { preset: 'edge', T: 96, C: 2, n: 5 },
    { preset: 'edge', T: 64, C: 1, n: 3 },
    { preset: 'paper', T: 96, C: 2, n: 2 },
    { preset: 'mlp', T: 96, C: 2, n: 5 },
    { preset: 'mlp', T: 64, C: 1, n: 3 },
    { preset: 'conv', T: 96, C: 2, n: 5 },
    { preset: 'conv', T: 25, C: 1, n: 3 },
  ];
  for (const { preset, T, C, n } of cases) {
    it(`${preset} T=${T} C=${C}: mu, logvar and recon within 1e-4`, async () => {
      const vae = buildVae({ preset, T, C }, { seed: 7, fastInit: preset === 'paper' });
      if (preset === 'paper' && C === 2) expect(countParams(vae)).toBe(5018946);
      randomiseBiases(vae.encoder, 1);
      randomiseBiases(vae.decoder, 100);
      const { encoder, decoder } = exportOnnx(vae);
      const x = randn(n * T * C, 42);
      const [muT, lvT] = vae.encoder.predict(tf.tensor3d(x, [n, T, C])) as tf.Tensor[];
      const mu = muT!.dataSync() as Float32Array;
      const lv = lvT!.dataSync() as Float32Array;
      const enc = await ort.InferenceSession.create(encoder);
      const out = await enc.run({ x: new ort.Tensor('float32', x, [n, T, C]) });
      expect(out['mu']!.dims).toEqual([n, 16]);
      expect(maxAbsDiff(out['mu']!.data as Float32Array, mu)).toBeLessThan(1e-4);
      expect(maxAbsDiff(out['logvar']!.data as Float32Array, lv)).toBeLessThan(1e-4);

      const z = randn(n * 16, 9);
      const [rT] = vae.decoder.predict(tf.tensor2d(z, [n, 16])) as tf.Tensor[];
      const dec = await ort.InferenceSession.create(decoder);
      const rec = await dec.run({ z: new ort.Tensor('float32', z, [n, 16]) });
      expect(rec['recon']!.dims).toEqual([n, T, C]);
      expect(maxAbsDiff(rec['recon']!.data as Float32Array, rT!.dataSync() as Float32Array)).toBeLessThan(1e-4);
      await enc.release();
      await dec.release();
    }, 300_000);
  }
});
