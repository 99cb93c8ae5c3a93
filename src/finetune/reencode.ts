/**
 * Re-encode already-seen pixels with a newly swapped-in model, in the background: batches of pixels whose
 * version is older than the new one go through the slot (so live batches interleave between them), and their
 * μ, log σ², error and version are written into the maps (pipeline/encode-into-maps.ts, the one encode path) — the dashboard gets them as ordinary deltas, which
 * amounts to a full refresh once every pixel is done. Scans no longer running get their results file rewritten.
 */
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import { encodeIntoMaps } from '../pipeline/encode-into-maps.ts';
import type { ModelSlot } from '../pipeline/model-slot.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';

/** What re-encoding needs besides the slot. */
export interface ReencodeOptions {
  /** the version just swapped in; re-encoding stops early if the slot moves past it */
  version: number;
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
  /** rewrite the results file of a scan that is no longer running */
  writeResults?: (ctx: ScanContext) => Promise<void>;
  /** checked between batches: give up (the daemon is closing) */
  shouldStop?: () => boolean;
}

/** Pixels of `ctx` encoded by a version older than `version` (flat indices). */
export function stalePixels(ctx: ScanContext, version: number): Uint32Array {
  const { state, version: v } = ctx.maps;
  let n = 0;
  for (let i = 0; i < state.length; i++) if (state[i] === PIXEL_DONE && v[i] < version) n++;
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < state.length; i++) if (state[i] === PIXEL_DONE && v[i] < version) out[k++] = i;
  return out;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Re-encode every stale pixel of `scans` with the slot's model; returns the number of pixels rewritten. */
export async function reencodeScans(slot: ModelSlot, scans: readonly ScanContext[], opts: ReencodeOptions): Promise<number> {
  const work = scans.filter((ctx) => ctx.encodable && ctx.inputs).map((ctx) => ({ ctx, index: stalePixels(ctx, opts.version) }));
  const total = work.reduce((s, w) => s + w.index.length, 0);
  let done = 0;
  for (const { ctx, index } of work) {
    const inputs = ctx.inputs!;
    const stride = inputs.length / ctx.maps.size;
    const x = new Float32Array(Math.min(opts.batchSize, index.length) * stride);
    for (let from = 0; from < index.length; from += opts.batchSize) {
      if (opts.shouldStop?.()) return done;
      const batch = index.subarray(from, Math.min(from + opts.batchSize, index.length));
      for (let k = 0; k < batch.length; k++) x.set(inputs.subarray(batch[k] * stride, (batch[k] + 1) * stride), k * stride);
      const targets = Array.from(batch, (index) => ({ ctx, index }));
      // Only pixels still older than this version are written (nothing else should have touched them, but be exact).
      const out = await slot.run(async (engine) => (engine.version === opts.version ? encodeIntoMaps(engine, x, targets, { accept: (t) => ctx.maps.version[t.index] < opts.version }) : undefined));
      if (!out) return done; // a newer model was swapped in; its own re-encode takes over
      const idx = out.written[0]?.index ?? new Uint32Array(0);
      done += idx.length;
      opts.onProgress?.(done, total);
      await yieldToIo(); // let live batches and socket I/O run between re-encode batches
    }
    if (ctx.state !== 'running' && opts.writeResults) await opts.writeResults(ctx);
  }
  return done;
}
