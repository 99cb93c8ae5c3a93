/**
 * Map snapshots and deltas to and from their Socket.IO form. Browser-safe (no Node imports): the server encodes
 * with `toWireSnapshot`/`toWireDelta`, the page and the tests decode with `fromWireSnapshot`/`fromWireDelta`.
 */
import type { MapDelta, MapSnapshot } from '../maps/scan-maps.ts';
import type { Binary, WireDelta, WireSnapshot } from './events.ts';

/** Map state decoded from the wire (no log σ²). */
export type DecodedSnapshot = Omit<MapSnapshot, 'logVar'>;
/** Delta decoded from the wire. */
export type DecodedDelta = MapDelta;

/** A byte view of a typed array, no copy (Socket.IO sends Uint8Array/Buffer attachments as binary frames). */
function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

type TypedCtor<T> = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T; BYTES_PER_ELEMENT: number };

/**
 * A typed view over a received attachment. ArrayBuffers (browser) are viewed in place; Node Buffers are often
 * slices of a pooled buffer at an unaligned offset, so those are copied when the alignment requires it.
 */
function view<T>(ctor: TypedCtor<T>, bin: Binary, what: string): T {
  const size = ctor.BYTES_PER_ELEMENT;
  if (bin instanceof ArrayBuffer) {
    if (bin.byteLength % size !== 0) throw new RangeError(`map wire: ${what} has ${bin.byteLength} bytes, not a multiple of ${size}`);
    return new ctor(bin);
  }
  if (bin.byteLength % size !== 0) throw new RangeError(`map wire: ${what} has ${bin.byteLength} bytes, not a multiple of ${size}`);
  if (bin.byteOffset % size === 0) return new ctor(bin.buffer as ArrayBuffer, bin.byteOffset, bin.byteLength / size);
  const copy = new Uint8Array(bin.byteLength);
  copy.set(bin);
  return new ctor(copy.buffer);
}

/** A snapshot as sent: typed arrays as byte views, no copies. */
export function toWireSnapshot(s: MapSnapshot): WireSnapshot {
  return {
    scanId: s.scanId,
    rows: s.rows,
    cols: s.cols,
    latentDim: s.latentDim,
    revision: s.revision,
    received: s.received,
    encoded: s.encoded,
    missing: s.missing,
    mu: bytes(s.mu),
    error: bytes(s.error),
    version: bytes(s.version),
    state: bytes(s.state),
  };
}

/** A delta as sent. */
export function toWireDelta(d: MapDelta): WireDelta {
  return {
    scanId: d.scanId,
    fromRevision: d.fromRevision,
    revision: d.revision,
    received: d.received,
    encoded: d.encoded,
    missing: d.missing,
    index: bytes(d.index),
    mu: bytes(d.mu),
    error: bytes(d.error),
    version: bytes(d.version),
    state: bytes(d.state),
  };
}

/** Decode a received snapshot, checking every array's length against the grid. */
export function fromWireSnapshot(w: WireSnapshot): DecodedSnapshot {
  const n = w.rows * w.cols;
  const out: DecodedSnapshot = {
    scanId: w.scanId,
    rows: w.rows,
    cols: w.cols,
    latentDim: w.latentDim,
    revision: w.revision,
    received: w.received,
    encoded: w.encoded,
    missing: w.missing,
    mu: view(Float32Array, w.mu, 'snapshot.mu'),
    error: view(Float32Array, w.error, 'snapshot.error'),
    version: view(Int32Array, w.version, 'snapshot.version'),
    state: view(Uint8Array, w.state, 'snapshot.state'),
  };
  if (out.mu.length !== n * w.latentDim || out.error.length !== n || out.version.length !== n || out.state.length !== n) {
    throw new RangeError(
      `map wire: snapshot of ${w.scanId} has mu ${out.mu.length}, error ${out.error.length}, version ${out.version.length}, ` +
        `state ${out.state.length} values; expected ${n * w.latentDim}, ${n}, ${n}, ${n} for ${w.rows}x${w.cols}x${w.latentDim}`,
    );
  }
  return out;
}

/** Decode a received delta, checking that its arrays agree on the pixel count. */
export function fromWireDelta(w: WireDelta, latentDim: number): DecodedDelta {
  const out: DecodedDelta = {
    scanId: w.scanId,
    fromRevision: w.fromRevision,
    revision: w.revision,
    received: w.received,
    encoded: w.encoded,
    missing: w.missing,
    index: view(Uint32Array, w.index, 'delta.index'),
    mu: view(Float32Array, w.mu, 'delta.mu'),
    error: view(Float32Array, w.error, 'delta.error'),
    version: view(Int32Array, w.version, 'delta.version'),
    state: view(Uint8Array, w.state, 'delta.state'),
  };
  const n = out.index.length;
  if (out.mu.length !== n * latentDim || out.error.length !== n || out.version.length !== n || out.state.length !== n) {
    throw new RangeError(
      `map wire: delta of ${w.scanId} (${w.fromRevision}→${w.revision}) has ${n} indices but mu ${out.mu.length}, ` +
        `error ${out.error.length}, version ${out.version.length}, state ${out.state.length}; expected ${n * latentDim}, ${n}, ${n}, ${n}`,
    );
  }
  return out;
}

/**
 * Apply a decoded delta to a decoded snapshot in place. Returns false (and changes nothing) when the delta starts
 * after the snapshot's revision (a message was lost) or belongs to another scan: the client must then ask for a
 * snapshot. A delta that ends at or before the snapshot's revision is already held: true, nothing changes.
 */
export function applyDelta(target: DecodedSnapshot, delta: DecodedDelta): boolean {
  // A delta carries every pixel changed after `fromRevision` with its value at `revision`: it applies on top of any
  // revision in [fromRevision, revision] (a snapshot taken between two room broadcasts, docs/scale.md §Many viewers).
  if (delta.scanId !== target.scanId || delta.fromRevision > target.revision) return false;
  if (delta.revision <= target.revision) return true; // nothing newer than what the client holds
  const d = target.latentDim;
  for (let k = 0; k < delta.index.length; k++) {
    const i = delta.index[k];
    target.mu.set(delta.mu.subarray(k * d, (k + 1) * d), i * d);
    target.error[i] = delta.error[k];
    target.version[i] = delta.version[k];
    target.state[i] = delta.state[k];
  }
  target.revision = delta.revision;
  target.received = delta.received;
  target.encoded = delta.encoded;
  target.missing = delta.missing;
  return true;
}
