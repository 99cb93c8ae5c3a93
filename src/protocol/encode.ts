/**
 * Typed message → multipart frames `[type][header JSON][buffers…]`. Pure: no sockets.
 * The simulator and the Python example publish through the same layout the daemon decodes.
 */
import type { Dtype, HeartbeatHeader, PixelHeader, StartHeader, StopHeader } from './messages.ts';

/** One little-endian buffer frame from a typed array (copies only when the dtype changes). */
export function toBufferFrame(values: Float32Array | Float64Array, dtype: Dtype): Buffer {
  const typed =
    dtype === 'float32'
      ? values instanceof Float32Array
        ? values
        : Float32Array.from(values)
      : values instanceof Float64Array
        ? values
        : Float64Array.from(values);
  // Typed arrays are host-endian; every platform Node 20 ships on is little-endian, which protocol v1 requires.
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
}

function frames(type: string, header: object, buffers: Buffer[] = []): Buffer[] {
  return [Buffer.from(type), Buffer.from(JSON.stringify(header)), ...buffers];
}

/** Frames of a `start` message. */
export function encodeStart(header: StartHeader): Buffer[] {
  return frames('start', header);
}

/** Frames of a `pixel` message; `data[i]` is written with the dtype of `start.buffers[i]`. */
export function encodePixel(header: PixelHeader, data: ArrayLike<number>[], start: StartHeader): Buffer[] {
  const buffers = data.map((values, i) => {
    const dtype = start.buffers[i]?.dtype ?? 'float32';
    const typed = values instanceof Float32Array || values instanceof Float64Array ? values : Float64Array.from(values);
    return toBufferFrame(typed, dtype);
  });
  return frames('pixel', header, buffers);
}

/** Frames of a `stop` message. */
export function encodeStop(header: StopHeader): Buffer[] {
  return frames('stop', header);
}

/** Frames of a `heartbeat` message. */
export function encodeHeartbeat(header: HeartbeatHeader): Buffer[] {
  return frames('heartbeat', header);
}
