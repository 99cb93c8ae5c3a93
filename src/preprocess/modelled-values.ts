/**
 * The per-pixel rules on the values the model reads (docs/protocol.md §Rules), applied before a pixel is encoded or
 * used to fit its scan's input state. Live ingest refuses a buffer with no finite value at all (LS_FRAME_ALL_NONFINITE)
 * but cannot know which part of a buffer a model reads: a sho pixel whose other cycle is finite passes it. Here, with
 * the bundle's descriptor, the modelled part (the cycle and field it reads, each channel it reads) is checked:
 *
 *  - no finite value in a modelled channel → LS_INPUT_ALL_NONFINITE (it would be encoded as a flat loop)
 *  - a value beyond MAX_MODELLED_MAGNITUDE → LS_INPUT_OVERFLOW (float32 cleaning arithmetic would overflow to
 *    Inf and write Inf/NaN into the maps, and into the scan's normalisation if it were a warm-up pixel)
 *
 * Such a pixel is refused: counted in pixels_rejected and logged with the code; it stays in the raw recording.
 */
import type { StartHeader } from '../protocol/messages.ts';
import { CodedError } from '../util/coded-error.ts';
import { sourcePlan, type InputDescriptor } from './canonical-input.ts';

/**
 * Largest |value| a modelled channel may hold. Far beyond any physical BEPS value (resonances ~1e6 Hz, amplitudes
 * below 1 V, loops in pm ~1e3), and 3.4e8 below float32's maximum, so sums and differences over up to 2^20 values
 * in the cleaning (Hampel, Savitzky–Golay, linear fill) stay finite.
 */
export const MAX_MODELLED_MAGNITUDE = 1e30;

export type ModelledValuesCode = 'LS_INPUT_ALL_NONFINITE' | 'LS_INPUT_OVERFLOW';

/** A pixel whose modelled values cannot be encoded. */
export class ModelledValuesError extends CodedError<ModelledValuesCode> {
  override readonly name = 'ModelledValuesError';
}

const plans = new WeakMap<StartHeader, { d: InputDescriptor; plan: ReturnType<typeof sourcePlan> }>();

/** Why this pixel's modelled values cannot be encoded, or undefined. */
export function modelledValuesProblem(data: readonly Float32Array[], start: StartHeader, d: InputDescriptor, seq?: number): ModelledValuesError | undefined {
  let cached = plans.get(start);
  if (!cached || cached.d !== d) plans.set(start, (cached = { d, plan: sourcePlan(start, d) }));
  const { plan } = cached;
  // the messages are built only for a refused pixel: this runs for every pixel, and almost all pass
  const where = () => `scan ${start.scanId} pixel${seq === undefined ? '' : ` seq ${seq}`}`;
  const part = () => (plan.kind === 'sho' ? ` (cycle ${plan.cycle}, field ${plan.field})` : '');
  for (let c = 0; c < d.channels.length; c++) {
    const bi = plan.buffer[c]!;
    if (bi < 0) continue; // a channel the scan lacks is filled by design, not refused
    // sho piezoresponse is projected from amplitude and phase: a step counts as finite when both are
    const two = plan.kind === 'sho' && d.channels[c] === 'piezoresponse';
    const a = data[bi];
    const b = two ? data[bi + 1] : a;
    if (!a || !b) continue;
    let finite = 0;
    for (let t = 0; t < plan.steps; t++) {
      const va = a[plan.base + t]!;
      const vb = b[plan.base + t]!;
      const fa = Number.isFinite(va);
      const fb = Number.isFinite(vb);
      if ((fa && Math.abs(va) > MAX_MODELLED_MAGNITUDE) || (fb && Math.abs(vb) > MAX_MODELLED_MAGNITUDE)) {
        const [at, v] = fa && Math.abs(va) > MAX_MODELLED_MAGNITUDE ? [bi, va] : [two ? bi + 1 : bi, vb];
        return new ModelledValuesError('LS_INPUT_OVERFLOW', `${where()}: ${start.buffers[at]?.name ?? 'a buffer'} value ${v} at step ${t}${part()} is beyond ±${MAX_MODELLED_MAGNITUDE}; no physical value is, and its cleaning would overflow float32`);
      }
      if (fa && fb) finite++;
    }
    if (finite === 0) {
      return new ModelledValuesError('LS_INPUT_ALL_NONFINITE', `${where()}: the ${d.channels[c]} the model reads${part()} has no finite value (all NaN/Inf: a failed fit); not encoded`);
    }
  }
  return undefined;
}
