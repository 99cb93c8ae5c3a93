/**
 * The project's seeded randomness, in one place: every shuffle, sample and simulated scan draws from here, so the
 * same seed gives the same result on every machine and in every version. Hand-written because each generator is a
 * few lines and must never change (a library update could silently re-draw every test scan and training split).
 *
 *   mulberry32(seed)        Tommy Ettinger's 32-bit generator, uniform [0, 1), with a Box–Muller normal companion;
 *                           seeded with `seed` as given (training splits, baselines, dictionary learning)
 *   seededRng(seed)         the same generator seeded through mix32, so nearby seeds diverge (the simulator)
 *   subRng(seed, stream)    an independent sub-stream per (seed, stream) (e.g. one per simulated pixel)
 *   xorshift32(seed)        Marsaglia's xorshift, raw uint32 draws (alert statistics: reservoir slots, kNN sample)
 *   partialShuffle / shuffleInPlace   seeded Fisher–Yates over index arrays
 */

/** A uniform [0, 1) generator with a normal companion. */
export interface Rng {
  (): number;
  normal(): number;
}

/** mulberry32 seeded with `seed` exactly as given (an integer; its low 32 bits). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  let spare: number | undefined;
  next.normal = () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    // Box–Muller; 1 - u keeps log() away from 0.
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return next;
}

/** mulberry32 seeded through mix32, so seeds 1, 2, 3… start far apart (the simulator's generator). */
export function seededRng(seed: number): Rng {
  return mulberry32(mix32(seed));
}

/** murmur3 finaliser: turns (seed, stream) pairs into well-spread 32-bit seeds. */
export function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A generator for sub-stream `stream` of `seed` (e.g. one per pixel, so pixels can be generated in any order). */
export function subRng(seed: number, stream: number): Rng {
  return seededRng(mix32(seed) ^ mix32(stream + 0x9e3779b9));
}

/** xorshift32 (13, 17, 5): each call returns the next state, a uint32 (never 0 for a non-zero seed). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * Partial Fisher–Yates: the first min(k, length) entries of `order` become a seeded sample without replacement of
 * all its entries, in draw order (shuffled in place; returned for chaining). One draw of `rnd` per sampled entry.
 */
export function partialShuffle(order: Uint32Array, k: number, rnd: () => number): Uint32Array {
  const take = Math.min(k, order.length);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(rnd() * (order.length - i));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Fisher–Yates from the end (Durstenfeld), in place: `pick(i)` draws an index in [0, i]. */
export function shuffleInPlace<T extends { [i: number]: unknown; length: number }>(a: T, pick: (i: number) => number): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = pick(i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
