import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { buildVae } from '../../src/model/vae.ts';
import { decodeFast, encodeFast } from '../../src/model/fast-lstm.ts';
import { trainableVariables } from '../../src/model/vae.ts';
import { initBackend } from '../../src/model/backend.ts';

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
}

describe('fast training path ≡ tfjs layers graph', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('gives the same μ, log σ², embedding and reconstruction, and the same gradients for every weight', () => {
    const T = 12;
    const C = 2;
    const vae = buildVae({ units: 5, blocks: 1, latentDim: 16, T, C }, { seed: 4 });
    // non-zero biases everywhere, so bias gradients and gate order are exercised
    for (const m of [vae.encoder, vae.decoder]) for (const l of m.layers) l.setWeights(l.getWeights().map((w, k) => (w.shape.length === 1 ? tf.randomNormal(w.shape, 0, 0.3, 'float32', 10 + k) : w)));
    const x = tf.randomNormal([3, T, C], 0, 1, 'float32', 5) as tf.Tensor3D;
    const eps = tf.randomNormal([3, 16], 0, 1, 'float32', 6);
    const lossOf = (enc: (x: tf.Tensor3D) => tf.Tensor[], dec: (z: tf.Tensor2D) => tf.Tensor[]) => () => {
      const [mu, lv, emb] = enc(x);
      const z = mu!.add(tf.exp(lv!.mul(0.5)).mul(eps)) as tf.Tensor2D;
      const [xh, demb] = dec(z);
      return tf.mean(tf.squaredDifference(x, xh!)).add(tf.mean(tf.square(mu!)).mul(0.1)).add(tf.sum(tf.abs(emb!)).add(tf.sum(tf.abs(demb!))).mul(1e-3)) as tf.Scalar;
    };
    const layersEnc = (v: tf.Tensor3D) => vae.encoder.apply(v) as tf.Tensor[];
    const layersDec = (z: tf.Tensor2D) => vae.decoder.apply(z) as tf.Tensor[];
    const fastEnc = (v: tf.Tensor3D) => encodeFast(vae, v);
    const fastDec = (z: tf.Tensor2D) => decodeFast(vae, z);

    const a = layersEnc(x);
    const b = fastEnc(x);
    for (let k = 0; k < 3; k++) expect(maxAbs(a[k]!, b[k]!)).toBeLessThan(1e-5);
    expect(maxAbs(layersDec(a[0] as tf.Tensor2D)[0]!, fastDec(a[0] as tf.Tensor2D)[0]!)).toBeLessThan(1e-5);

    const vars = trainableVariables(vae);
    const g1 = tf.variableGrads(lossOf(layersEnc, layersDec), vars);
    const g2 = tf.variableGrads(lossOf(fastEnc, fastDec), vars);
    expect(Math.abs(g1.value.dataSync()[0]! - g2.value.dataSync()[0]!)).toBeLessThan(1e-5);
    let checked = 0;
    for (const v of vars) {
      const ga = g1.grads[v.name]!;
      const gb = g2.grads[v.name]!;
      const scale = Math.max(1e-3, tf.max(tf.abs(ga)).dataSync()[0]!);
      expect(maxAbs(ga, gb) / scale, v.name).toBeLessThan(1e-3);
      checked++;
    }
    expect(checked).toBe(vars.length);
    expect(checked).toBeGreaterThan(20);
  });
});
