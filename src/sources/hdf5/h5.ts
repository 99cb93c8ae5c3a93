/**
 * h5wasm plumbing shared by the readers and the recorder: one-time initialisation, opening with clear errors,
 * typed lookups and the filter check (h5wasm reads datasets with unknown filters as garbage, silently).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import h5wasm, { type Dataset, type File, type Group } from 'h5wasm/node';
import { FileFormatError } from './errors.ts';

export type { Dataset, File, Group };

/** The h5wasm module, initialised once. */
export async function h5(): Promise<typeof h5wasm> {
  await h5wasm.ready;
  return h5wasm;
}

/** HDF5 format signature; a file carries it at offset 0, 512, 1024, 2048, … (user block). */
const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

function hasSignature(path: string): boolean {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      readSync(fd, buf, 0, 8, at);
      if (buf.equals(SIGNATURE)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Open an existing HDF5 file, turning every failure into a FileFormatError with the reason. */
export async function openH5(path: string, mode: 'r' | 'a' = 'r'): Promise<File> {
  const lib = await h5();
  if (!existsSync(path)) throw new FileFormatError('LS_FILE_NOT_FOUND', `${path}: no such file`, path);
  if (!statSync(path).isFile()) throw new FileFormatError('LS_FILE_NOT_FOUND', `${path}: not a regular file`, path);
  if (!hasSignature(path)) {
    throw new FileFormatError('LS_FILE_NOT_HDF5', `${path}: not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, …); expected a scan file (docs/formats.md)`, path);
  }
  try {
    return new lib.File(path, mode);
  } catch (err) {
    throw new FileFormatError('LS_FILE_UNREADABLE', `${path}: HDF5 could not open it (${(err as Error).message}); the file is truncated or damaged`, path);
  }
}

/** Filters built into h5wasm's HDF5: deflate, shuffle, fletcher32, nbit, scaleoffset. */
export const SUPPORTED_FILTERS: ReadonlyMap<number, string> = new Map([
  [1, 'deflate'],
  [2, 'shuffle'],
  [3, 'fletcher32'],
  [5, 'nbit'],
  [6, 'scaleoffset'],
]);

/** Refuse a dataset whose filter pipeline h5wasm cannot decode (it would read garbage without an error). */
export function checkFilters(ds: Dataset, path: string): void {
  for (const f of ds.filters) {
    if (!SUPPORTED_FILTERS.has(f.id)) {
      throw new FileFormatError(
        'LS_FILE_FILTER',
        `${path}: dataset ${ds.path} is compressed with filter ${f.id} (${f.name || 'unnamed'}), which this build cannot decode; supported: ${[...SUPPORTED_FILTERS.values()].join(', ')}. Re-save it without that filter (e.g. h5repack -f NONE, or -f GZIP=4)`,
        path,
      );
    }
  }
}

/** The dataset at `name`, or a FileFormatError naming what is missing. */
export function needDataset(file: File, name: string, path: string, why = ''): Dataset {
  const obj = file.get(name);
  if (!obj || (obj as { type?: string }).type !== 'Dataset') {
    throw new FileFormatError('LS_FILE_MISSING', `${path}: dataset ${name} is missing${why ? ` (${why})` : ''}`, path);
  }
  const ds = obj as Dataset;
  checkFilters(ds, path);
  return ds;
}

/** The group at `name`, or undefined. */
export function groupAt(file: File | Group, name: string): Group | undefined {
  try {
    const obj = file.get(name);
    return obj && (obj as { type?: string }).type === 'Group' ? (obj as Group) : undefined;
  } catch {
    return undefined;
  }
}

/** An attribute's value as a JS value (strings decoded), or undefined. */
export function attr(obj: Group | Dataset, name: string): unknown {
  const a = obj.attrs[name];
  if (!a) return undefined;
  try {
    return a.json_value;
  } catch {
    return undefined;
  }
}

/** Flatten an attribute that may be a string, a list of strings or a byte string into string[]. */
export function stringList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flat(4).map((x) => String(x));
  return undefined;
}

/** Read rows [from, to) of a dataset as Float64 numbers, whatever the stored numeric type. */
export function readRows(ds: Dataset, from: number, to: number): Float64Array | Float32Array {
  const v = ds.slice([[from, to]]);
  if (v instanceof Float32Array || v instanceof Float64Array) return v;
  if (ArrayBuffer.isView(v)) return Float64Array.from(v as unknown as ArrayLike<number | bigint>, Number);
  throw new Error(`dataset ${ds.path} is not numeric`);
}
