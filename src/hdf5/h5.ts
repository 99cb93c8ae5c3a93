/**
 * h5wasm plumbing shared by the readers and the recorder: one-time initialisation, opening with clear errors,
 * typed lookups and the filter check (h5wasm reads datasets with unknown filters as garbage, silently).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import h5wasm, { Module, type Dataset, type File, type Group } from 'h5wasm/node';
import { FileFormatError } from './errors.ts';

export type { Dataset, File, Group };

/** Thrown (as a plain Error, turned into LS_FILE_UNREADABLE by the readers) when HDF5 could not read a selection. */
export const READ_FAILED = 'HDF5 read failed';

/**
 * The h5wasm module, initialised once. h5wasm ignores the status of H5Dread: a chunk whose gzip stream is damaged
 * ("filter returned failure during read") comes back as whatever the buffer held, and would be replayed as data.
 * Every dataset read goes through Module.get_dataset_data, so it is wrapped once here to throw on a failed read.
 */
export async function h5(): Promise<typeof h5wasm> {
  const mod = (await h5wasm.ready) as unknown as { get_dataset_data: (...a: unknown[]) => number; __lsChecked?: boolean };
  if (!mod.__lsChecked) {
    const read = mod.get_dataset_data.bind(mod);
    mod.get_dataset_data = (...a: unknown[]) => {
      const status = read(...a);
      if (status < 0) throw new Error(`${READ_FAILED}: ${String(a[1])} (H5Dread returned ${status}; a damaged chunk or a filter that failed)`);
      return status;
    };
    mod.__lsChecked = true;
  }
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

/**
 * The first link on `objPath` (the object itself or a group above it) that points into another file, as
 * "link → file:object", or undefined. HDF5 follows external links silently, so a scan file could make the daemon
 * read any file the process can open.
 */
export function externalLinkOn(fileId: bigint, objPath: string): string | undefined {
  const parts = objPath.split('/').filter(Boolean);
  for (let k = 1; k <= parts.length; k++) {
    const at = '/' + parts.slice(0, k).join('/');
    let link: { filename?: string; obj_path?: string } | undefined;
    try {
      link = Module.get_external_link(fileId, at) as { filename?: string; obj_path?: string };
    } catch {
      return undefined; // a name that does not resolve: the caller reports it missing
    }
    if (link?.filename) return `${at} → ${link.filename}:${link.obj_path ?? ''}`;
  }
  return undefined;
}

/** Refuse an object reached through an external link (LS_FILE_EXTERNAL): scan files are read whole from one file. */
export function checkLocal(fileId: bigint, objPath: string, path: string): void {
  const ext = externalLinkOn(fileId, objPath);
  if (ext) {
    throw new FileFormatError('LS_FILE_EXTERNAL', `${path}: ${objPath} is reached through an external link (${ext}); scan files must hold their data themselves (copy it in, e.g. h5copy or h5py's copy, and replay that)`, path);
  }
}

/**
 * Refuse a dataset whose data h5wasm would read wrongly or from elsewhere: a filter it cannot decode (it would read
 * garbage without an error; LS_FILE_FILTER), or a link or virtual-dataset source in another file (LS_FILE_EXTERNAL).
 */
export function checkFilters(ds: Dataset, path: string): void {
  checkLocal(ds.file_id, ds.path, path);
  const sources = (ds.metadata as { virtual_sources?: Array<{ file_name: string; dset_name: string }> }).virtual_sources ?? [];
  const outside = sources.find((v) => v.file_name !== '.');
  if (outside) {
    throw new FileFormatError('LS_FILE_EXTERNAL', `${path}: dataset ${ds.path} is a virtual dataset whose data lies in ${outside.file_name}:${outside.dset_name}; scan files must hold their data themselves (materialise it, e.g. h5repack -l CONTI, and replay that)`, path);
  }
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

/** HDF5 type classes h5wasm reports (H5T_class_t). */
const TYPE_CLASS: Record<number, string> = { 0: 'integer', 1: 'float', 2: 'time', 3: 'string', 4: 'bitfield', 5: 'opaque', 6: 'compound', 7: 'reference', 8: 'enum', 9: 'variable-length', 10: 'array' };

/**
 * Refuse a dataset that should hold numbers and does not (LS_FILE_DTYPE): a string `seq`, an amplitude stored as
 * text. For a compound dataset, `members` names the fields that must be numeric.
 */
export function checkNumeric(ds: Dataset, path: string, members?: readonly string[]): void {
  const meta = ds.metadata;
  const numeric = (t: number) => t === 0 || t === 1;
  if (members) {
    const types = new Map((meta.compound_type?.members ?? []).map((m) => [m.name, m.type]));
    for (const name of members) {
      const t = types.get(name);
      if (t !== undefined && !numeric(t)) {
        throw new FileFormatError('LS_FILE_DTYPE', `${path}: field "${name}" of dataset ${ds.path} holds ${TYPE_CLASS[t] ?? `type class ${t}`} values; expected numbers (integer or float)`, path);
      }
    }
    return;
  }
  if (!numeric(meta.type)) {
    throw new FileFormatError('LS_FILE_DTYPE', `${path}: dataset ${ds.path} holds ${TYPE_CLASS[meta.type] ?? `type class ${meta.type}`} values; expected numbers (integer or float)`, path);
  }
}

/** The dataset at `name`, or a FileFormatError naming what is missing. */
export function needDataset(file: File, name: string, path: string, why = ''): Dataset {
  checkLocal(file.file_id, name, path);
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

/** A whole numeric dataset as Float64 numbers, whatever its stored type (64-bit integers arrive as BigInt). */
export function numbers(ds: Dataset): Float64Array {
  return Float64Array.from(ds.value as unknown as ArrayLike<number | bigint>, Number);
}

/** Read rows [from, to) of a dataset as Float64 numbers, whatever the stored numeric type. */
export function readRows(ds: Dataset, from: number, to: number): Float64Array | Float32Array {
  const v = ds.slice([[from, to]]);
  if (v instanceof Float32Array || v instanceof Float64Array) return v;
  if (ArrayBuffer.isView(v)) return Float64Array.from(v as unknown as ArrayLike<number | bigint>, Number);
  throw new Error(`dataset ${ds.path} is not numeric`);
}
