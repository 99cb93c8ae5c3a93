/** The one interface every HDF5 layout reader implements (LiberTEM style: one reader per format). */
import type { StartHeader, StopHeader } from '../../protocol/messages.ts';
import type { PixelEvent } from '../../protocol/events.ts';
import type { SimTruth } from '../../contracts/sim-truth.ts';

/** The HDF5 layouts loopstream replays (docs/formats.md). */
export type ScanFileLayout = 'loopstream' | 'nsid' | 'usid-sho';

/** An opened scan file: its start header, its pixels by file row, and what else it knows. */
export interface ScanFileReader {
  layout: ScanFileLayout;
  path: string;
  start: StartHeader;
  /** the simulator's ground truth, when the file carries one (own layout; read when first asked for, while open) */
  truth?: SimTruth;
  stop?: StopHeader;
  /** pixels stored in the file */
  count: number;
  /** the i-th stored pixel (0 ≤ i < count), in file order (arrival order for recordings, raster for others) */
  pixel(i: number): PixelEvent;
  /** every stored pixel in file order */
  pixels(): Iterable<PixelEvent>;
  close(): void;
}

/** Nominal pixel period given to files without timestamps (NSID, USID), so `realtime` pacing still means something. */
export const NOMINAL_PIXEL_SECONDS = 0.01;

/** A scan id derived from a file name (protocol v1 allows letters, digits and . _ : -). */
export function scanIdFromPath(path: string): string {
  const base = path.split('/').pop() ?? 'scan';
  const id = base.replace(/\.(h5|hdf5|nxs)$/i, '').replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 128);
  return id || 'scan';
}

/** Iterate a reader's pixels. */
export function* iteratePixels(reader: Pick<ScanFileReader, 'count' | 'pixel'>): Iterable<PixelEvent> {
  for (let i = 0; i < reader.count; i++) yield reader.pixel(i);
}
