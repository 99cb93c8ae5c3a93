/** Small real ScanMaps for the server tests, filled through applyBatch as the pipeline fills them. */
import { ScanMaps } from '../../../src/maps/scan-maps.ts';
import { PROTOCOL_VERSION, type StartHeader } from '../../../src/protocol/messages.ts';

/** A start header for a rows×cols loop scan. */
export function startHeader(scanId: string, rows: number, cols: number): StartHeader {
  return {
    type: 'start',
    protocol: PROTOCOL_VERSION,
    scanId,
    grid: { rows, cols, order: 'raster' },
    kind: 'loop',
    dcVoltage: [0, 1, 2, 3],
    fields: ['off'],
    cycles: 1,
    phaseUnit: 'rad',
    buffers: [{ name: 'piezoresponse', dtype: 'float32', shape: [4], unit: '' }],
    metadata: {},
  };
}

/** Empty maps of a rows×cols scan with a latentDim-d embedding. */
export function makeMaps(scanId = 's1', rows = 8, cols = 8, latentDim = 4): ScanMaps {
  return new ScanMaps(startHeader(scanId, rows, cols), latentDim);
}

/**
 * Encode pixels `indices` with known values: μ[k] = value + k/10, error = value, version = `version`.
 * So a test can tell exactly which write a client ended up with.
 */
export function encode(maps: ScanMaps, indices: number[], value: number, version = 1): void {
  const d = maps.latentDim;
  const mu = new Float32Array(indices.length * d);
  const logVar = new Float32Array(indices.length * d);
  const error = new Float32Array(indices.length).fill(value);
  indices.forEach((_, j) => {
    for (let k = 0; k < d; k++) mu[j * d + k] = value + k / 10;
  });
  maps.applyBatch({ index: indices, mu, logVar, error, version });
}
