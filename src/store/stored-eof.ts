/**
 * A recording whose last write failed because the disk filled up can be shorter than the end-of-file address its
 * superblock already records (HDF5 updated the superblock, the data it reserved never reached the disk). Every HDF5
 * reader then refuses the whole file as truncated ("eof = A, stored_eof = B"). Extending the file with zeros to B
 * makes it readable again; the rows past `/scan/committed` are not data and are cut when it is reopened. Same
 * repair as examples/python/repair_recording.py, done by the daemon before it resumes a recording.
 */
import { closeSync, openSync, readSync, statSync, truncateSync } from 'node:fs';

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The end-of-file address the superblock at offset 0 records (8-byte offsets), or undefined when unknown. */
export function storedEof(path: string): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(56);
    if (readSync(fd, b, 0, 56, 0) < 56 || !b.subarray(0, 8).equals(SIGNATURE)) return undefined;
    const version = b[8];
    // Superblock v0/v1: offsets size at byte 13, EOF address at 40 (v0) or 44 (v1); v2/v3: size at 9, EOF at 28.
    const [sizeAt, eofAt] = version === 0 ? [13, 40] : version === 1 ? [13, 44] : version === 2 || version === 3 ? [9, 28] : [-1, -1];
    if (sizeAt < 0 || b[sizeAt] !== 8) return undefined;
    const eof = b.readBigUInt64LE(eofAt);
    return eof < BigInt(Number.MAX_SAFE_INTEGER) ? Number(eof) : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Extend `path` with zeros to the end-of-file its superblock records, when it is shorter (never shortens, never
 * grows a file by more than `maxGrowBytes`). Returns the sizes when it extended the file.
 */
export function extendToStoredEof(path: string, maxGrowBytes = 1 << 30): { from: number; to: number } | undefined {
  const eof = storedEof(path);
  const size = statSync(path).size;
  if (eof === undefined || eof <= size || eof - size > maxGrowBytes) return undefined;
  truncateSync(path, eof);
  return { from: size, to: eof };
}
