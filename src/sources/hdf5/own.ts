/**
 * Replay of loopstream's own scan files: the rows the layout module (src/hdf5/own-format.ts, docs/formats.md "Scan
 * files") reads, turned into PixelEvents.
 */
import type { PixelEvent } from '../../protocol/events.ts';
import type { File } from '../../hdf5/h5.ts';
import { ScanDatasets, checkReadable, completeRows, readRowBlock, readStart, readStop, readTruth, type RowBlock } from '../../hdf5/own-format.ts';
import type { SimTruth } from '../../contracts/sim-truth.ts';
import { iteratePixels, type ScanFileReader } from './reader.ts';

// Rows read per HDF5 call: one slice per dataset per block instead of per pixel (~70 µs each).
const BLOCK = 256;

/** Open an own-layout file that `openH5` already opened. */
export function readOwnLayout(file: File, path: string): ScanFileReader {
  const start = readStart(file, path);
  const stop = readStop(file, path);
  const ds = new ScanDatasets(file, path, start);
  // Text where numbers belong would be replayed as NaN or garbage: refused, naming the dataset.
  checkReadable(ds);
  // A recording cut short by a crash may hold torn rows; only complete ones are replayed.
  const count = completeRows(ds);
  const { elements } = ds;

  let block: RowBlock | undefined;
  const pixel = (i: number): PixelEvent => {
    if (!(i >= 0 && i < count)) throw new RangeError(`${path}: pixel ${i} is outside 0..${count - 1}`);
    if (!block || i < block.from || i >= block.from + block.length) {
      const from = Math.floor(i / BLOCK) * BLOCK;
      block = readRowBlock(ds, from, Math.min(count, from + BLOCK));
    }
    const j = i - block.from;
    const data: Float32Array[] = new Array(elements.length);
    // Views into the block's arrays, not copies: one allocation per block and buffer instead of one per pixel. Each
    // block is read into new arrays, so a pixel's data stays valid after the reader moves on.
    for (let b = 0; b < elements.length; b++) data[b] = block.buffers[b].subarray(j * elements[b], (j + 1) * elements[b]);
    return { type: 'pixel', scanId: start.scanId, seq: block.seq[j], row: block.row[j], col: block.col[j], t: block.t[j], data };
  };
  // The truth is read when first asked for: a replay never uses it, and its datasets cost ~20 ms of cold HDF5 reads.
  let truth: { value: SimTruth | undefined } | undefined;
  const reader: ScanFileReader = {
    layout: 'loopstream',
    path,
    start,
    get truth() {
      truth ??= { value: readTruth(file, start, path) };
      return truth.value;
    },
    ...(stop ? { stop } : {}),
    count,
    pixel,
    pixels: () => iteratePixels(reader),
    close: () => file.close(),
  };
  return reader;
}
