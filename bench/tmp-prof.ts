import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend.ts';
import { trainVae } from '../src/model/train.ts';
import { buildVae } from '../src/model/vae.ts';
await initBackend('wasm');
const time = (label: string, f: () => tf.Tensor | tf.Tensor[], reps = 50) => {
  tf.dispose(f());
  const t = performance.now();
  for (let i = 0; i < reps; i++) { const r = f(); const a = Array.isArray(r) ? r : [r]; a[0]!.dataSync(); tf.dispose(a); }
  console.log(label, ((performance.now() - t) / reps).toFixed(3), 'ms');
};
const a = tf.randomNormal([128, 192]); const w = tf.randomNormal([192, 256]); const g = tf.randomNormal([128, 256]);
time('matmul 128x192 · 192x256', () => tf.matMul(a, w));
time('matmul aT·g (dW)', () => tf.matMul(a, g, true, false));
time('matmul g·wT (dx)', () => tf.matMul(g, w, false, true));
const n = 2048;
const data = Float32Array.from({ length: n * 192 }, (_, i) => Math.sin(i * 0.37));
const vae = buildVae({ preset: 'mlp', T: 96, C: 2 }, { seed: 1 });
const r = await trainVae(vae, data, n, { epochs: 2, batch: 128, learningRate: 1e-3, schedule: { primingEpochs: 0, step: 0.01, every: 1, max: 0.01 }, seed: 1 });
console.log('train', r.history.map((h) => h.samplesPerSec.toFixed(0)));
tf.profile(async () => { await trainVae(vae, data, 256, { epochs: 1, batch: 128, learningRate: 1e-3, schedule: { primingEpochs: 0, step: 0.01, every: 1, max: 0.01 }, seed: 1 }); }).then((p) => {
  const by = new Map<string, number>();
  for (const k of p.kernels) by.set(k.name, (by.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log('kernels', p.kernels.length, [...by.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
});
