/** Reader for loopstream's own scan files (src/store/scan-file.ts, docs/formats.md "Scan files"). */
import { INDEX_DATASETS, SCAN_PATHS, completeRows, readStartAttrs, readStopAttr, readTruth } from '../../store/scan-file.ts';
import { specElements } from '../../protocol/messages.ts';
import type { PixelEvent } from '../../protocol/events.ts';
import { FileFormatError } from '../../hdf5/errors.ts';
import { checkNumeric, groupAt, needDataset, type Dataset, type File } from '../../hdf5/h5.ts';
import { iteratePixels, type ScanFileReader } from './reader.ts';

// Rows read per HDF5 call: one slice per dataset per block instead of per pixel (~70 µs each).
const BLOCK = 256;

/** Open an own-layout file that `openH5` already opened. */
export function readOwnLayout(file: File, path: string): ScanFileReader {
  const start = readStartAttrs(file, path);
  const stop = readStopAttr(groupAt(file, SCAN_PATHS.root)!, path);
  const truth = readTruth(file, start, path);
  const idx = INDEX_DATASETS.map((n) => needDataset(file, `${SCAN_PATHS.pixels}/${n}`, path));
  const bufs = start.buffers.map((b) => needDataset(file, `${SCAN_PATHS.pixels}/${b.name}`, path));
  // Text where numbers belong would be replayed as NaN or garbage: refused, naming the dataset.
  for (const ds of [...idx, ...bufs]) checkNumeric(ds, path);
  const elements = start.buffers.map((b) => specElements(b));
  bufs.forEach((ds, b) => {
    const shape = ds.shape ?? [];
    if (shape.slice(1).join() !== start.buffers[b].shape.join()) {
      throw new FileFormatError('LS_FILE_SHAPE', `${path}: ${ds.path} has shape [${shape.join(', ')}]; the start header declares [N, ${start.buffers[b].shape.join(', ')}]`, path);
    }
  });
  // A recording cut short by a crash may hold torn rows; only complete ones are replayed.
  const count = completeRows(file, path, start);

  let blockAt = -1;
  let seq: ArrayLike<number> = [];
  let row: ArrayLike<number> = [];
  let col: ArrayLike<number> = [];
  let t: ArrayLike<number> = [];
  let data: Float32Array[] = [];
  const load = (i: number) => {
    blockAt = Math.floor(i / BLOCK) * BLOCK;
    const end = Math.min(count, blockAt + BLOCK);
    const rd = (ds: Dataset) => {
      try {
        return ds.slice([[blockAt, end]]) as unknown as ArrayLike<number>;
      } catch (err) {
        throw new FileFormatError('LS_FILE_UNREADABLE', `${path}: reading ${ds.path} rows ${blockAt}..${end - 1} failed (${(err as Error).message}); the file is damaged`, path);
      }
    };
    [seq, row, col, t] = idx.map(rd);
    data = bufs.map((ds) => {
      const v = rd(ds);
      return v instanceof Float32Array ? v : Float32Array.from(v);
    });
  };
  const pixel = (i: number): PixelEvent => {
    if (!(i >= 0 && i < count)) throw new RangeError(`${path}: pixel ${i} is outside 0..${count - 1}`);
    if (blockAt < 0 || i < blockAt || i >= blockAt + BLOCK) load(i);
    const j = i - blockAt;
    return {
      type: 'pixel',
      scanId: start.scanId,
      seq: seq[j],
      row: row[j],
      col: col[j],
      t: t[j],
      // Copies, not views: events outlive the block cache.
      data: data.map((d, b) => d.slice(j * elements[b], (j + 1) * elements[b])),
    };
  };
  const reader: ScanFileReader = {
    layout: 'loopstream',
    path,
    start,
    ...(truth ? { truth } : {}),
    ...(stop ? { stop } : {}),
    count,
    pixel,
    pixels: () => iteratePixels(reader),
    close: () => file.close(),
  };
  return reader;
}
