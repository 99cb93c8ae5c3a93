/**
 * Small seeded PRNGs for the simulator: mulberry32 (Tommy Ettinger's 32-bit generator) and a Box–Muller normal.
 * Hand-written because they are a few lines and must never change between versions: the same seed gives the same scan.
 */

/** A uniform [0, 1) generator with a normal companion. */
export interface Rng {
  (): number;
  normal(): number;
}

/** mulberry32 seeded with `seed` (any integer; mixed so nearby seeds diverge). */
export function mulberry32(seed: number): Rng {
  let a = mix32(seed) >>> 0;
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

/** murmur3 finaliser: turns (seed, stream) pairs into well-spread 32-bit seeds. */
export function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A generator for sub-stream `stream` of `seed` (e.g. one per pixel, so pixels can be generated in any order). */
export function subRng(seed: number, stream: number): Rng {
  return mulberry32(mix32(seed) ^ mix32(stream + 0x9e3779b9));
}
