/**
 * Adam as one typed-array loop per variable instead of tfjs's ~20 tensor ops per variable and step.
 *
 * Why: on the wasm backend every tfjs op costs tens of µs of dispatch whatever its size, and tf.train.adam runs
 * about 20 ops per variable (moments, bias corrections, sqrt, divide, assigns): for the mlp preset's 14 variables
 * that is ~280 of the ~470 kernels of a training step, and most of its time beyond the matmuls
 * (docs/performance.md, issue 15). Here a step reads each gradient once (dataSync), updates the first and second
 * moments and the weights in one loop, and writes each variable back with one assign.
 *
 * Same maths as tf.train.adam (tfjs-core adam_optimizer.ts): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * w ← w − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), ε = the backend's epsilon (1e−7 in float32); the loop computes in
 * float64 and stores float32, so results agree with tf.train.adam to float32 rounding (test/model/fused-adam.test.ts).
 * The state saves and loads in tf.train.adam's format (iterations, then `<var>/m`…, `<var>/v`…), so checkpoints
 * written before stay loadable and the other way round.
 */
import * as tf from '@tensorflow/tfjs';

/** A named tensor as tfjs optimizers take and give them (tfjs-core's NamedTensor, not re-exported by @tensorflow/tfjs). */
type NamedTensor = { name: string; tensor: tf.Tensor };

interface Moments {
  name: string;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

/** One Adam step over a variable's values in place (a plain function over typed arrays, so V8 optimises it). */
function adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, b1: number, b2: number, stepOverC1: number, invC2: number, eps: number): void {
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  for (let k = 0; k < w.length; k++) {
    const gk = g[k]!;
    const mk = b1 * m[k]! + a1 * gk;
    const vk = b2 * v[k]! + a2 * gk * gk;
    m[k] = mk;
    v[k] = vk;
    w[k] = w[k]! - (stepOverC1 * mk) / (Math.sqrt(vk * invC2) + eps);
  }
}

export class FusedAdam extends tf.Optimizer {
  /** Serialisation name: the state is tf.train.adam's, so it is saved as 'Adam'. */
  static get className(): string {
    return 'Adam';
  }

  private moments: Moments[] = [];
  private readonly epsilon: number;

  constructor(
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    epsilon?: number,
  ) {
    super();
    this.epsilon = epsilon ?? tf.backend().epsilon();
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named: NamedTensor[] = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const t = this.iterations + 1;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    const { beta1: b1, beta2: b2, learningRate: lr, epsilon: eps } = this;
    const copyFree = tf.getBackend() === 'wasm';
    named.forEach(({ name, tensor: grad }, i) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`FusedAdam: no variable named ${name}`);
      const mo = (this.moments[i] ??= { name, shape: variable.shape, m: new Float32Array(variable.size), v: new Float32Array(variable.size) });
      if (grad == null) return;
      // the wasm backend's dataSync is a fresh copy of the heap, updated in place and written back; the cpu
      // backend's may be the variable's own (shared) storage, so it is copied first
      const read = variable.dataSync() as Float32Array;
      const w = copyFree ? read : read.slice();
      adamUpdate(w, grad.dataSync() as Float32Array, mo.m, mo.v, b1, b2, lr / c1, 1 / c2, eps);
      const next = tf.tensor(w, variable.shape, 'float32');
      variable.assign(next);
      next.dispose();
    });
    this.incrementIterations();
  }

  /** The moments as tfjs variables for getWeights, reused from call to call (like tf.train.adam, the caller must
   *  not dispose them). */
  private saved = new Map<string, tf.Variable>();

  private savedAs(name: string, shape: number[], values: Float32Array): NamedTensor {
    const next = tf.tensor(values, shape);
    let v = this.saved.get(name);
    if (v && tf.util.arraysEqual(v.shape, shape)) v.assign(next);
    else {
      v?.dispose();
      v = tf.variable(next, false);
      this.saved.set(name, v);
    }
    next.dispose();
    return { name, tensor: v };
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const ms = this.moments.map((mo) => this.savedAs(`${mo.name}/m`, mo.shape, mo.m));
    const vs = this.moments.map((mo) => this.savedAs(`${mo.name}/v`, mo.shape, mo.v));
    return [await this.saveIterations(), ...ms, ...vs];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const count = rest.length / 2;
    this.moments = rest.slice(0, count).map((mw, i) => ({
      name: mw.name.replace(/\/m$/, ''),
      shape: mw.tensor.shape,
      m: Float32Array.from(mw.tensor.dataSync() as Float32Array),
      v: Float32Array.from(rest[count + i]!.tensor.dataSync() as Float32Array),
    }));
  }

  override dispose(): void {
    this.moments = [];
    for (const v of this.saved.values()) v.dispose();
    this.saved.clear();
    super.dispose();
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
