/** Where the pixel with sequence number `seq` sits in a raster or serpentine scan; undefined for custom orders. */
import type { ScanOrder } from '../protocol/messages.ts';

export function pixelOfSeq(seq: number, rows: number, cols: number, order: ScanOrder): { row: number; col: number } | undefined {
  if (order === 'custom' || seq < 0 || seq >= rows * cols) return undefined;
  const row = Math.floor(seq / cols);
  const inRow = seq % cols;
  const col = order === 'serpentine' && row % 2 === 1 ? cols - 1 - inRow : inRow;
  return { row, col };
}
