/**
 * Perceptually uniform colormaps as 256-entry RGB lookup tables built from d3-scale-chromatic
 * (viridis for latent maps, magma for the reconstruction error, cividis for traversal curves).
 */
import { interpolateCividis, interpolateMagma, interpolateViridis } from 'd3-scale-chromatic';

/** Names of the colormaps the page uses. */
export type ColormapName = 'viridis' | 'magma' | 'cividis';

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = {
  viridis: interpolateViridis,
  magma: interpolateMagma,
  cividis: interpolateCividis,
};

/** Parse '#rrggbb' or 'rgb(r, g, b)' (the two forms d3 interpolators return) into [r, g, b]. */
export function parseColor(css: string): [number, number, number] {
  if (css.startsWith('#')) {
    const v = Number.parseInt(css.slice(1, 7), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  const m = css.match(/(\d+(?:\.\d+)?)/g);
  if (!m || m.length < 3) throw new Error(`colormap: cannot parse colour "${css}"`);
  return [Math.round(Number(m[0])), Math.round(Number(m[1])), Math.round(Number(m[2]))];
}

const cache = new Map<ColormapName, Uint8Array>();

/** RGB lookup table, 256 × 3 bytes, for a colormap name. */
export function lut(name: ColormapName): Uint8Array {
  let table = cache.get(name);
  if (!table) {
    table = new Uint8Array(256 * 3);
    const f = INTERPOLATORS[name];
    for (let i = 0; i < 256; i++) table.set(parseColor(f(i / 255)), i * 3);
    cache.set(name, table);
  }
  return table;
}

/** CSS colour at t ∈ [0, 1]. */
export function cssColor(name: ColormapName, t: number): string {
  return INTERPOLATORS[name](Math.min(1, Math.max(0, t)));
}
