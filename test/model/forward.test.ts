import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { buildVae, countParams, convBottleneck, type PresetName } from '../../src/model/vae.ts';
import { decodeTrain, encodeTrain, samePadding } from '../../src/model/forward.ts';
import { initBackend } from '../../src/model/backend.ts';

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('non-recurrent presets', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('TensorFlow same padding: 96 → 48 pads 1 + 1, 25 → 13 pads 1 + 2; bottleneck 96 → 12, 25 → 4', () => {
    expect(samePadding(96, 4, 2)).toEqual({ before: 1, after: 1, out: 48 });
    expect(samePadding(25, 4, 2)).toEqual({ before: 1, after: 2, out: 13 });
    expect(samePadding(12, 3, 1)).toEqual({ before: 1, after: 1, out: 12 });
    expect(convBottleneck(96)).toBe(12);
    expect(convBottleneck(25)).toBe(4);
  });

  it('mlp parameter count: 192 → 256 → 128 → 16 and mirrored', () => {
    const vae = buildVae({ preset: 'mlp', T: 96, C: 2 }, { seed: 1 });
    const enc = 192 * 256 + 256 + 256 * 128 + 128 + 2 * (128 * 16 + 16);
    const dec = 16 * 128 + 128 + 128 * 256 + 256 + 256 * 192 + 192;
    expect(countParams(vae)).toBe(enc + dec);
  });

  const cases: Array<{ preset: PresetName; T: number; C: number }> = [
    { preset: 'mlp', T: 96, C: 2 },
    { preset: 'conv', T: 96, C: 2 },
    { preset: 'conv', T: 25, C: 1 },
  ];
  for (const { preset, T, C } of cases) {
    it(`${preset} T=${T} C=${C}: the training forward equals model.predict`, () => {
      const vae = buildVae({ preset, T, C }, { seed: 3 });
      const n = 4;
      const x = tf.tensor3d(randn(n * T * C, 5), [n, T, C]);
      const z = tf.tensor2d(randn(n * 16, 6), [n, 16]);
      const ref = vae.encoder.predict(x) as tf.Tensor[];
      const got = encodeTrain(vae, x);
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(got[i]!, ref[i]!)).toBeLessThan(1e-5);
      const refD = vae.decoder.predict(z) as tf.Tensor[];
      const gotD = decodeTrain(vae, z);
      expect(gotD[0].shape).toEqual([n, T, C]);
      for (let i = 0; i < 2; i++) expect(maxAbsDiff(gotD[i]!, refD[i]!)).toBeLessThan(1e-5);
    });
  }

  // Reference gradients come from tf.conv1d on the cpu backend (wasm has no Conv2DBackpropFilter). The layers graph
  // is the reference for the encoder; the decoder's reference is written out with tf.conv1d here, because tfjs's own
  // UpSampling2D gradient (size [2, 1]) came out wrong against central differences on the cpu backend (tried).
  it('conv: the training forward has the gradients of tf.conv1d (encoder via the layers graph, decoder written out)', async () => {
    await tf.setBackend('cpu');
    try {
      const T = 24;
      const vae = buildVae({ preset: 'conv', T, C: 2 }, { seed: 4 });
      const x = tf.tensor3d(randn(3 * T * 2, 8), [3, T, 2]);
      const z = tf.tensor2d(randn(3 * 16, 9), [3, 16]);
      const compare = (vars: tf.Variable[], fast: () => tf.Scalar, ref: () => tf.Scalar, expectCount: number) => {
        const a = tf.variableGrads(fast, vars);
        const b = tf.variableGrads(ref, vars);
        expect(Object.keys(a.grads).sort()).toEqual(Object.keys(b.grads).sort());
        expect(Object.keys(a.grads)).toHaveLength(expectCount);
        let worst = 0;
        let norm = 0;
        for (const name of Object.keys(b.grads)) {
          worst = Math.max(worst, maxAbsDiff(a.grads[name]!, b.grads[name]!));
          norm = Math.max(norm, tf.max(tf.abs(b.grads[name]!)).dataSync()[0]!);
        }
        expect(norm).toBeGreaterThan(1e-4);
        expect(worst).toBeLessThan(1e-5);
      };
      const encVars = vae.encoder.trainableWeights.map((w) => w.read() as tf.Variable);
      const sq = (t: tf.Tensor) => tf.sum(tf.square(t)) as tf.Scalar;
      compare(encVars, () => sq(encodeTrain(vae, x)[0]), () => sq((vae.encoder.apply(x) as tf.Tensor[])[0]!), encVars.length - 2);

      const decVars = vae.decoder.trainableWeights.map((w) => w.read() as tf.Variable);
      const w = (name: string) => vae.decoder.getLayer(name).trainableWeights.map((v) => v.read());
      const refDecode = () => {
        const [ek, eb] = w('dec_emb');
        const [fk, fb] = w('dec_fc');
        let d = tf.relu(tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(z, ek as tf.Tensor2D), eb!)) as tf.Tensor2D, fk as tf.Tensor2D), fb!)).reshape([3, convBottleneck(T), -1]) as tf.Tensor3D;
        for (let i = 0; i < 3; i++) {
          const [k, b] = w(`dec_conv${i}`);
          const [N, L, F] = d.shape;
          const up = tf.stack([d, d], 2).reshape([N, 2 * L, F]) as tf.Tensor3D;
          const y = tf.add(tf.conv1d(up, k as tf.Tensor3D, 1, 'same'), b!) as tf.Tensor3D;
          d = i < 2 ? tf.relu(y) : y;
        }
        return sq(d.slice([0, 0, 0], [3, T, 2]));
      };
      compare(decVars, () => sq(decodeTrain(vae, z)[0]), refDecode, decVars.length);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
