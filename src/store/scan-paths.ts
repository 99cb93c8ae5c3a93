/**
 * File names of a scan in `data.dir`: `<name>.raw.h5` (the raw recording) and `<name>.results.h5`, where `<name>`
 * is the scan id, or `<scanId>~<k>` for the k-th instance of a scan id used again after its first scan's files
 * exist (docs/protocol.md §Scan ids): a file is never reused, both scans are kept. `~` cannot occur in a scan id, so
 * an instance name never collides with another scan's id. Every path is checked to stay inside `data.dir`.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { FileFormatError } from '../hdf5/errors.ts';

export const RAW_SUFFIX = '.raw.h5';
export const RESULTS_SUFFIX = '.results.h5';
/** Separates a scan id from its instance number in file names. */
export const INSTANCE_SEPARATOR = '~';

/** `<dir>/<name><suffix>`, refused (LS_FILE_PATH) unless it lies directly inside `dir`. */
export function scanFilePath(dir: string, name: string, suffix: string): string {
  const root = resolve(dir);
  const path = join(root, `${name}${suffix}`);
  const rel = relative(root, path);
  if (name.length === 0 || /^\.+$/.test(name) || rel.startsWith('..') || rel.includes(sep) || rel === '') {
    throw new FileFormatError('LS_FILE_PATH', `scan file name "${name}${suffix}" would not lie directly inside ${root}; refused`, path);
  }
  return path;
}

/**
 * The file name (without suffix) for a new scan with this id: the id itself when neither of its files exists,
 * else the first `<scanId>~<k>` (k = 2, 3, …) that is free.
 */
export function newScanFileName(dir: string, scanId: string): string {
  const taken = (name: string) => existsSync(scanFilePath(dir, name, RAW_SUFFIX)) || existsSync(scanFilePath(dir, name, RESULTS_SUFFIX));
  if (!taken(scanId)) return scanId;
  for (let k = 2; ; k++) {
    const name = `${scanId}${INSTANCE_SEPARATOR}${k}`;
    if (!taken(name)) return name;
  }
}
