/** Small hand-made scans for protocol and source tests (independent of the simulator). */
import type { StartHeader } from '../../src/protocol/messages.ts';

/** A loop-kind start header: `steps` DC steps, piezoresponse + resonance as float32. */
export function loopStart(scanId = 's1', rows = 3, cols = 4, steps = 8): StartHeader {
  return {
    type: 'start',
    protocol: 1,
    scanId,
    grid: { rows, cols, order: 'raster' },
    kind: 'loop',
    dcVoltage: Array.from({ length: steps }, (_, i) => i - steps / 2),
    fields: ['off'],
    cycles: 1,
    phaseUnit: 'rad',
    buffers: [
      { name: 'piezoresponse', dtype: 'float32', shape: [steps], unit: 'a.u.' },
      { name: 'resonance', dtype: 'float64', shape: [steps], unit: 'Hz' },
    ],
    metadata: {},
  };
}

/** Deterministic loop values for pixel `seq`. */
export function loopValues(seq: number, steps = 8): [Float32Array, Float64Array] {
  const p = new Float32Array(steps).map((_, i) => Math.sin(i + seq));
  const r = new Float64Array(steps).map((_, i) => 1.3e6 + 100 * i + seq);
  return [p, r];
}
