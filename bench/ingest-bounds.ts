/**
 * What one hostile number costs (issue 12 item 2, 10): grid memory at a start (none: allocated at the first pixel),
 * the allocation itself, and a seq gap to 2^31 or 2^53 − 1 (one pass over the grid, never over the seq range).
 *
 *   node --import tsx bench/ingest-bounds.ts [side]     (default side 1024: a 1024 x 1024 grid, latent 16)
 */
import { ScanMaps } from '../src/maps/scan-maps.ts';
import type { StartHeader } from '../src/protocol/messages.ts';

const side = Number(process.argv[2] ?? 1024);
const start = (scanId: string): StartHeader => ({
  type: 'start', protocol: 1, scanId, grid: { rows: side, cols: side, order: 'raster' }, kind: 'loop',
  dcVoltage: [0, 1], fields: ['off'], cycles: 1, phaseUnit: 'rad',
  buffers: [{ name: 'piezoresponse', dtype: 'float32', shape: [2], unit: '' }], metadata: {},
});
const mib = () => process.memoryUsage().arrayBuffers / 2 ** 20;

const before = mib();
const maps = new ScanMaps(start('m'), 16);
console.log(`${side}x${side} start: +${(mib() - before).toFixed(1)} MiB of array buffers before the first pixel`);
let t = performance.now();
maps.allocate();
console.log(`allocate at the first pixel: +${(mib() - before).toFixed(1)} MiB in ${(performance.now() - t).toFixed(0)} ms`);
for (const to of [2 ** 31, Number.MAX_SAFE_INTEGER]) {
  const g = new ScanMaps(start('g'), 16);
  g.allocate();
  t = performance.now();
  const n = g.markMissing(0, to);
  console.log(`gap 0..${to}: ${n} pixels marked missing in ${(performance.now() - t).toFixed(0)} ms`);
}
