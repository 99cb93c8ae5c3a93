/**
 * Multipart frames → typed header and buffers, validated. Pure: no sockets, no state.
 * Every malformed input becomes a FrameError with a code and a message that names the values.
 */
import { FrameError } from './errors.ts';
import {
  DTYPE_BYTES,
  Header,
  LOOP_BUFFERS,
  MAX_BUFFER_ELEMENTS,
  MAX_METADATA_BYTES,
  MAX_METADATA_DEPTH,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  scanIdProblem,
  SHO_BUFFERS,
  specElements,
  type MessageType,
  type PixelHeader,
  type StartHeader,
} from './messages.ts';

/** A frame set whose header passed its schema; buffers are still raw bytes. */
export interface DecodedFrames {
  header: Header;
  buffers: Buffer[];
}

const MAX_HEADER_BYTES = 1 << 20;

function describeZodIssues(issues: { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** Decode and validate the type and header frames; buffers are passed through. */
export function decodeFrames(parts: readonly Buffer[]): DecodedFrames | FrameError {
  if (parts.length < 2) {
    return new FrameError('LS_FRAME_PARTS', `message has ${parts.length} frame(s); expected [type][header JSON][buffers…]`);
  }
  const type = parts[0].toString('utf8');
  if (!MESSAGE_TYPES.includes(type as MessageType)) {
    return new FrameError('LS_FRAME_TYPE', `unknown message type "${type.slice(0, 40)}"; expected one of ${MESSAGE_TYPES.join(', ')}`);
  }
  if (parts[1].length > MAX_HEADER_BYTES) {
    return new FrameError('LS_FRAME_JSON', `${type} header is ${parts[1].length} bytes; the limit is ${MAX_HEADER_BYTES}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(parts[1].toString('utf8'));
  } catch (err) {
    return new FrameError('LS_FRAME_JSON', `${type} header is not valid JSON: ${(err as Error).message}`);
  }
  const scanRef = refOf(json);
  const rawId = typeof json === 'object' && json !== null ? (json as { scanId?: unknown }).scanId : undefined;
  // `.`, `..`: would name data.dir or its parent, not a file in it (other bad characters fail the schema below)
  if (typeof rawId === 'string' && /^\.+$/.test(rawId)) {
    return new FrameError('LS_FRAME_SCAN_ID', `${type} header: scan id "${rawId.slice(0, 40)}" ${scanIdProblem(rawId)}; use letters or digits`, {});
  }
  if (type === 'start' && typeof json === 'object' && json !== null && 'metadata' in json) {
    const problem = metadataProblem((json as { metadata: unknown }).metadata);
    if (problem) return new FrameError('LS_FRAME_METADATA', `start of scan ${scanRef.scanId ?? '?'}: metadata ${problem}`, scanRef);
  }
  if (typeof json === 'object' && json !== null && (json as { type?: unknown }).type !== type) {
    return new FrameError('LS_FRAME_HEADER', `type frame says "${type}" but the header says "${String((json as { type?: unknown }).type)}"`, scanRef);
  }
  if (type === 'start' && typeof json === 'object' && json !== null && 'protocol' in json && (json as { protocol: unknown }).protocol !== PROTOCOL_VERSION) {
    return new FrameError('LS_FRAME_VERSION', `start declares protocol ${String((json as { protocol: unknown }).protocol)}; this daemon speaks protocol ${PROTOCOL_VERSION}`, scanRef);
  }
  const parsed = Header.safeParse(json);
  if (!parsed.success) {
    return new FrameError('LS_FRAME_HEADER', `invalid ${type} header: ${describeZodIssues(parsed.error.issues)}`, scanRef);
  }
  const header = parsed.data;
  if (header.type === 'start') {
    const layoutError = checkStartLayout(header);
    if (layoutError) return layoutError;
  }
  if (header.type !== 'pixel' && parts.length > 2) {
    return new FrameError('LS_FRAME_BUFFER_COUNT', `${type} message carries ${parts.length - 2} buffer(s); only pixel messages carry buffers`, scanRef);
  }
  return { header, buffers: parts.slice(2) as Buffer[] };
}

/**
 * Why a start's metadata is refused, or undefined: nested deeper than MAX_METADATA_DEPTH or larger than
 * MAX_METADATA_BYTES. Measured without recursion, so a hostile depth cannot overflow the stack here (it did in
 * JSON.stringify when the recording stored it).
 */
export function metadataProblem(metadata: unknown): string | undefined {
  let depth = 0;
  let bytes = 0;
  const stack: Array<{ v: unknown; d: number }> = [{ v: metadata, d: 0 }];
  while (stack.length) {
    const { v, d } = stack.pop()!;
    if (d > depth) depth = d;
    if (depth > MAX_METADATA_DEPTH) return `is nested deeper than ${MAX_METADATA_DEPTH} levels`;
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x) => ['', x] as const) : Object.entries(v);
      for (const [k, x] of entries) {
        bytes += k.length + 4;
        stack.push({ v: x, d: d + 1 });
      }
      bytes += 2;
    } else {
      bytes += typeof v === 'string' ? v.length + 2 : String(v).length;
    }
    if (bytes > MAX_METADATA_BYTES) return `is larger than ${MAX_METADATA_BYTES} bytes of JSON`;
  }
  return undefined;
}

function refOf(json: unknown): { scanId?: string; seq?: number } {
  if (typeof json !== 'object' || json === null) return {};
  const o = json as { scanId?: unknown; seq?: unknown };
  return {
    ...(typeof o.scanId === 'string' ? { scanId: o.scanId.slice(0, 128) } : {}),
    ...(typeof o.seq === 'number' ? { seq: o.seq } : {}),
  };
}

/** The buffer layout a start header must declare for its kind (docs/protocol.md §Data kinds). */
export function checkStartLayout(start: StartHeader): FrameError | undefined {
  const at = { scanId: start.scanId };
  const steps = start.dcVoltage.length;
  const names = start.buffers.map((b) => b.name);
  for (const spec of start.buffers) {
    const n = specElements(spec);
    if (n > MAX_BUFFER_ELEMENTS) {
      return new FrameError('LS_FRAME_START_LAYOUT', `scan ${start.scanId}: buffer "${spec.name}" declares ${n} elements; the limit is ${MAX_BUFFER_ELEMENTS}`, at);
    }
  }
  if (start.kind === 'sho') {
    const expectedShape = [start.cycles, start.fields.length, steps];
    if (names.join() !== SHO_BUFFERS.join()) {
      return new FrameError('LS_FRAME_START_LAYOUT', `scan ${start.scanId}: sho buffers are [${names.join(', ')}]; expected [${SHO_BUFFERS.join(', ')}]`, at);
    }
    for (const spec of start.buffers) {
      if (spec.shape.join() !== expectedShape.join()) {
        return new FrameError('LS_FRAME_START_LAYOUT', `scan ${start.scanId}: sho buffer "${spec.name}" has shape [${spec.shape.join(', ')}]; expected [cycles, fields, steps] = [${expectedShape.join(', ')}]`, at);
      }
    }
  } else {
    const allowed = LOOP_BUFFERS.slice(0, names.length);
    if (names.length > LOOP_BUFFERS.length || names.join() !== allowed.join()) {
      return new FrameError('LS_FRAME_START_LAYOUT', `scan ${start.scanId}: loop buffers are [${names.join(', ')}]; expected [piezoresponse] or [piezoresponse, resonance]`, at);
    }
    for (const spec of start.buffers) {
      if (spec.shape.join() !== String(steps)) {
        return new FrameError('LS_FRAME_START_LAYOUT', `scan ${start.scanId}: loop buffer "${spec.name}" has shape [${spec.shape.join(', ')}]; expected [${steps}] (one value per DC step)`, at);
      }
    }
  }
  return undefined;
}

/** Grid and buffer-count rules of a pixel, shared by frames (decodePixelData) and replayed files (checkPixelValues). */
function placementProblem(header: PixelHeader, buffers: number, start: StartHeader): FrameError | undefined {
  const at = { scanId: header.scanId, seq: header.seq };
  const where = `scan ${header.scanId} pixel seq ${header.seq}`;
  if (header.row >= start.grid.rows || header.col >= start.grid.cols) {
    return new FrameError('LS_FRAME_OUT_OF_GRID', `${where}: (row ${header.row}, col ${header.col}) is outside the ${start.grid.rows}x${start.grid.cols} grid`, at);
  }
  if (buffers !== start.buffers.length) {
    return new FrameError('LS_FRAME_BUFFER_COUNT', `${where}: ${buffers} buffer(s); the start message declared ${start.buffers.length} (${start.buffers.map((b) => b.name).join(', ')})`, at);
  }
  return undefined;
}

/** The rule on values: a buffer with no finite value is refused (NaN inside a buffer is kept; preprocessing fills it). */
function nonFiniteProblem(header: PixelHeader, i: number, values: Float32Array, start: StartHeader): FrameError | undefined {
  for (let k = 0; k < values.length; k++) if (Number.isFinite(values[k])) return undefined;
  return new FrameError('LS_FRAME_ALL_NONFINITE', `scan ${header.scanId} pixel seq ${header.seq}: buffer ${i} ("${start.buffers[i]!.name}") holds no finite value (all NaN/Inf)`, { scanId: header.scanId, seq: header.seq });
}

/**
 * Check a pixel's buffers against its scan's start header and convert them to Float32Array.
 * NaN inside a buffer is kept (the preprocessing fills it, docs/science.md §2); a buffer with no finite value is refused.
 */
export function decodePixelData(header: PixelHeader, buffers: readonly Buffer[], start: StartHeader): Float32Array[] | FrameError {
  const at = { scanId: header.scanId, seq: header.seq };
  const where = `scan ${header.scanId} pixel seq ${header.seq}`;
  const placed = placementProblem(header, buffers.length, start);
  if (placed) return placed;
  const out: Float32Array[] = [];
  for (let i = 0; i < buffers.length; i++) {
    const spec = start.buffers[i];
    const n = specElements(spec);
    const bytes = n * DTYPE_BYTES[spec.dtype];
    const buf = buffers[i];
    if (buf.length !== bytes) {
      return new FrameError('LS_FRAME_BUFFER_SIZE', `${where}: buffer ${i} ("${spec.name}") has ${buf.length} bytes; the start message declared ${spec.dtype}[${spec.shape.join('×')}] = ${bytes} bytes`, at);
    }
    const values = new Float32Array(n);
    if (spec.dtype === 'float32') {
      for (let k = 0; k < n; k++) values[k] = buf.readFloatLE(k * 4);
    } else {
      for (let k = 0; k < n; k++) values[k] = buf.readDoubleLE(k * 8);
    }
    const empty = nonFiniteProblem(header, i, values, start);
    if (empty) return empty;
    out.push(values);
  }
  return out;
}

/**
 * The same rules for a pixel whose values were already read (an HDF5 replay): grid, buffer count, element count
 * (LS_FRAME_BUFFER_SIZE, in elements), and some finite value in every buffer. Undefined when the pixel is accepted.
 */
export function checkPixelValues(header: PixelHeader, data: readonly Float32Array[], start: StartHeader): FrameError | undefined {
  const placed = placementProblem(header, data.length, start);
  if (placed) return placed;
  for (let i = 0; i < data.length; i++) {
    const spec = start.buffers[i]!;
    const n = specElements(spec);
    if (data[i]!.length !== n) {
      return new FrameError('LS_FRAME_BUFFER_SIZE', `scan ${header.scanId} pixel seq ${header.seq}: buffer ${i} ("${spec.name}") has ${data[i]!.length} values; the start declared [${spec.shape.join('×')}] = ${n}`, { scanId: header.scanId, seq: header.seq });
    }
    const empty = nonFiniteProblem(header, i, data[i]!, start);
    if (empty) return empty;
  }
  return undefined;
}
