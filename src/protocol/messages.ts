/**
 * Wire protocol v1: the header of every multipart message, one zod schema per message type.
 * Types are inferred from the schemas, never written twice (docs/protocol.md is the prose form).
 *
 * A message on the wire is `[type][header JSON][buffer 0][buffer 1]…`; buffers are little-endian and
 * their dtype and shape are declared once, in the scan's `start` header.
 */
import { z } from 'zod';

/** Protocol version spoken by this build; a `start` with another version is refused. */
export const PROTOCOL_VERSION = 1;

/** The data kinds a scan may carry (docs/science.md §1–2). */
export const DataKind = z.enum(['sho', 'loop']);
export type DataKind = z.infer<typeof DataKind>;

/** Element types a buffer may use; every one is decoded to Float32Array on the hot path. */
export const Dtype = z.enum(['float32', 'float64']);
export type Dtype = z.infer<typeof Dtype>;

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<Dtype, number> = { float32: 4, float64: 8 };

/** Channel (buffer) names per kind, in the order buffers travel. */
export const SHO_BUFFERS = ['amplitude', 'phase', 'frequency', 'quality'] as const;
export const LOOP_BUFFERS = ['piezoresponse', 'resonance'] as const;

/** Longest a pixel's buffer may be, in elements: a guard against huge declared shapes. */
export const MAX_BUFFER_ELEMENTS = 1 << 20;
/** Largest grid side accepted. */
export const MAX_GRID_SIDE = 8192;

/**
 * A scan id names the scan's files in data.dir (`<scanId>.raw.h5`): letters, digits and . _ : - only (no path
 * separator), and not made of dots alone (`.` and `..` name folders, not files).
 */
export function scanIdProblem(id: string): string | undefined {
  if (id.length === 0 || id.length > 128) return `is ${id.length} characters; 1..128 allowed`;
  if (!/^[A-Za-z0-9._:-]+$/.test(id)) return 'may hold letters, digits and . _ : - only';
  if (/^\.+$/.test(id)) return 'is made of dots only, which names a folder, not a scan';
  return undefined;
}

const ScanId = z.string().superRefine((id, ctx) => {
  const problem = scanIdProblem(id);
  if (problem) ctx.addIssue({ code: 'custom', message: `scan id ${problem}` });
});

/** Deepest nesting of `start.metadata` accepted (objects and arrays); deeper is refused at decode (LS_FRAME_METADATA). */
export const MAX_METADATA_DEPTH = 32;
/** Largest `start.metadata` accepted, in bytes of its JSON; it is stored with the recording and the results. */
export const MAX_METADATA_BYTES = 32 * 1024;

export const BufferSpec = z
  .object({
    name: z.string().min(1),
    dtype: Dtype,
    shape: z.array(z.number().int().positive()).min(1).max(4),
    unit: z.string().default(''),
  })
  .strict();
export type BufferSpec = z.infer<typeof BufferSpec>;

/** Physical pixel pitch of a scan: positive finite steps along x (columns) and y (rows), one length unit. */
export const PixelSize = z
  .object({
    x: z.number().finite().positive(),
    y: z.number().finite().positive(),
    unit: z.string().min(1).max(16),
  })
  .strict();
export type PixelSize = z.infer<typeof PixelSize>;

export const ScanOrder = z.enum(['raster', 'serpentine', 'custom']);
export type ScanOrder = z.infer<typeof ScanOrder>;

export const StartHeader = z
  .object({
    type: z.literal('start'),
    protocol: z.literal(PROTOCOL_VERSION),
    scanId: ScanId,
    grid: z
      .object({
        rows: z.number().int().positive().max(MAX_GRID_SIDE),
        cols: z.number().int().positive().max(MAX_GRID_SIDE),
        order: ScanOrder.default('raster'),
      })
      .strict(),
    kind: DataKind,
    /** DC bias of each voltage step, volts, in acquisition order. */
    dcVoltage: z.array(z.number()).min(2),
    /** Field states in the order of the buffers' field axis (sho only), e.g. ['on', 'off']. */
    fields: z.array(z.enum(['on', 'off'])).min(1).default(['off']),
    /** Number of bias cycles in the buffers' cycle axis (sho only). */
    cycles: z.number().int().positive().default(1),
    /** Phase unit of sho data: older files carry degrees (docs/science.md §2). */
    phaseUnit: z.enum(['rad', 'deg']).default('rad'),
    buffers: z.array(BufferSpec).min(1).max(8),
    /** Optional physical step between neighbouring pixels (x: along a row, y: between rows) and its unit, e.g. 'um'. */
    pixelSize: PixelSize.optional(),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type StartHeader = z.infer<typeof StartHeader>;

export const PixelHeader = z
  .object({
    type: z.literal('pixel'),
    scanId: ScanId,
    seq: z.number().int().min(0),
    row: z.number().int().min(0),
    col: z.number().int().min(0),
    /** Acquisition time, seconds since the Unix epoch. */
    t: z.number().finite(),
  })
  .strict();
export type PixelHeader = z.infer<typeof PixelHeader>;

export const StopHeader = z
  .object({
    type: z.literal('stop'),
    scanId: ScanId,
    status: z.enum(['completed', 'aborted', 'error']),
    pixelsSent: z.number().int().min(0),
    lastSeq: z.number().int().min(-1),
  })
  .strict();
export type StopHeader = z.infer<typeof StopHeader>;

export const HeartbeatHeader = z
  .object({
    type: z.literal('heartbeat'),
    t: z.number().finite(),
    scanId: ScanId.optional(),
  })
  .strict();
export type HeartbeatHeader = z.infer<typeof HeartbeatHeader>;

export const Header = z.discriminatedUnion('type', [StartHeader, PixelHeader, StopHeader, HeartbeatHeader]);
export type Header = z.infer<typeof Header>;
export type MessageType = Header['type'];
export type HeaderOf<K extends MessageType> = Extract<Header, { type: K }>;
export const MESSAGE_TYPES: readonly MessageType[] = ['start', 'pixel', 'stop', 'heartbeat'];

/** Units of the sho buffers as loopstream writes them (phase in rad, frequency in Hz). */
export const SHO_UNITS: Record<(typeof SHO_BUFFERS)[number], string> = { amplitude: 'V', phase: 'rad', frequency: 'Hz', quality: '' };

/**
 * The `start` header of a sho scan: the four SHO buffers as float32 [cycles, fields, steps], phase in rad, raster
 * order. The simulator and the USID reader both describe their scans with it.
 */
export function shoStartHeader(s: { scanId: string; rows: number; cols: number; dcVoltage: number[]; fields: Array<'on' | 'off'>; cycles: number; metadata: Record<string, unknown>; pixelSize?: PixelSize }): StartHeader {
  const shape = [s.cycles, s.fields.length, s.dcVoltage.length];
  return {
    type: 'start',
    protocol: PROTOCOL_VERSION,
    scanId: s.scanId,
    grid: { rows: s.rows, cols: s.cols, order: 'raster' },
    kind: 'sho',
    dcVoltage: s.dcVoltage,
    fields: s.fields,
    cycles: s.cycles,
    phaseUnit: 'rad',
    buffers: SHO_BUFFERS.map((name) => ({ name, dtype: 'float32' as const, shape, unit: SHO_UNITS[name] })),
    ...(s.pixelSize ? { pixelSize: s.pixelSize } : {}),
    metadata: s.metadata,
  };
}

/**
 * The pixel pitch implied by position values: the median positive step between distinct sorted values of each axis,
 * when both axes have one (a single row/column borrows the other axis' step). Undefined when unknown.
 */
export function pixelSizeFrom(xValues: ArrayLike<number> | undefined, yValues: ArrayLike<number> | undefined, unit: string): PixelSize | undefined {
  const step = (v: ArrayLike<number> | undefined): number | undefined => {
    if (!v || v.length < 2) return undefined;
    const u = [...new Set(Array.from(v).filter(Number.isFinite))].sort((a, b) => a - b);
    const d = u.slice(1).map((x, i) => x - u[i]!).filter((x) => x > 0).sort((a, b) => a - b);
    return d.length ? d[d.length >> 1] : undefined;
  };
  const x = step(xValues);
  const y = step(yValues);
  const parsed = PixelSize.safeParse({ x: x ?? y, y: y ?? x, unit: unit.trim() || 'a.u.' });
  return parsed.success ? parsed.data : undefined;
}

/** Elements in one buffer of the given spec. */
export function specElements(spec: Pick<BufferSpec, 'shape'>): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}
