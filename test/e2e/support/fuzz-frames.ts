/**
 * Malformed-frame generator for fuzzing the daemon (bench/fuzz.ts, test/e2e/fuzz.test.ts).
 *
 * Frames come from fast-check arbitraries (random JSON, mutated headers, random buffers) and from raw random
 * bytes. Each frame carries the outcome protocol v1 prescribes for it (docs/protocol.md §Rules): the refusal code,
 * `held` (a pixel waiting for its start) or `ok`. The expectation is derived from the rules, not by running the
 * decoder, so a daemon that counts a frame under another reason — or not at all — is caught.
 *
 * A session is one ordered stream over one PUSH socket:
 *   E: a scan started and stopped at once (its later frames are stale),
 *   F: a running 4x4 scan with 10 valid pixels (seq 0–9) — the target of pixel-level malformations, which never
 *      advance its seq because each is refused,
 *   V: the valid scan, its pixels interleaved with the fuzz (some with a few NaN values, as failed fits are),
 *   and unknown scan ids `u-…` whose pixels are held up to `pendingLimit`, then refused.
 */
import fc from 'fast-check';
import { encodeHeartbeat, encodePixel, encodeStart, encodeStop } from '../../../src/protocol/encode.ts';
import type { FrameErrorCode } from '../../../src/protocol/errors.ts';
import { MAX_BUFFER_ELEMENTS, MESSAGE_TYPES, type PixelHeader, type StartHeader } from '../../../src/protocol/messages.ts';
import { simulateScan, type SimulatedScan } from '../../../src/sim/index.ts';

/** What the daemon must do with a frame. */
export type Outcome = FrameErrorCode | 'ok' | 'held';

/** One message to send and its prescribed outcome. */
export interface FuzzFrame {
  parts: Buffer[];
  expect: Outcome;
  /** generator that made it (for reports) */
  kind: string;
}

/** What one fuzz session sends. */
export interface FuzzSessionOptions {
  /** malformed frames to generate */
  frames: number;
  seed: number;
  /** the daemon's ingest.pendingLimit */
  pendingLimit: number;
  /** DC steps the bundle reads (the valid scans use them) */
  steps: number;
  /** grid of the valid scan V */
  validRows: number;
  validCols: number;
  /** scan ids */
  validScanId?: string;
}

/** Ids used by a session. */
export const FUZZ_TARGET = 'fuzz-target';
export const FUZZ_STALE = 'fuzz-stale';

const TYPES = new Set<string>(MESSAGE_TYPES);

/** Per-outcome tallies of what a session sent. */
export class OutcomeTally {
  readonly byOutcome = new Map<Outcome, number>();
  readonly byKind = new Map<string, number>();
  messages = 0;
  add(f: FuzzFrame): void {
    this.byOutcome.set(f.expect, (this.byOutcome.get(f.expect) ?? 0) + 1);
    this.byKind.set(f.kind, (this.byKind.get(f.kind) ?? 0) + 1);
    this.messages++;
  }
  /** Expected refusal counts by code (what the daemon's RejectCounts must equal). */
  rejects(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of [...this.byOutcome].sort()) if (k !== 'ok' && k !== 'held') out[k] = v;
    return out;
  }
}

const j = (o: unknown) => Buffer.from(JSON.stringify(o));

/**
 * The ordered frames of one fuzz session: setup (E, F, V's start), `frames` malformed frames with V's pixels
 * spread evenly between them, then V's and F's stops. Lazily generated: 100,000 frames never sit in memory at once.
 */
export function* fuzzSession(o: FuzzSessionOptions): Generator<FuzzFrame> {
  const validId = o.validScanId ?? 'fuzz-valid';
  const V = simulateScan({ rows: o.validRows, cols: o.validCols, seed: o.seed, steps: o.steps, scanId: validId, anomalies: 0 });
  const F = simulateScan({ rows: 4, cols: 4, seed: o.seed + 1, steps: o.steps, scanId: FUZZ_TARGET });
  const E = simulateScan({ rows: 2, cols: 2, seed: o.seed + 2, steps: o.steps, scanId: FUZZ_STALE });
  const fStart = F.start;
  const ok = (parts: Buffer[], kind: string): FuzzFrame => ({ parts, expect: 'ok', kind });

  yield ok(encodeStart(E.start), 'setup');
  yield ok(encodeStop({ type: 'stop', scanId: FUZZ_STALE, status: 'completed', pixelsSent: 0, lastSeq: -1 }), 'setup');
  yield ok(encodeStart(fStart), 'setup');
  for (let s = 0; s < 10; s++) yield ok(pixelFrames(F, s), 'setup');
  yield ok(encodeStart(V.start), 'setup');

  const fData = F.pixel(0).data;
  const ctx: Ctx = { F, state: { held: 0, pendingLimit: o.pendingLimit }, fData, good: encodePixel({ type: 'pixel', scanId: FUZZ_TARGET, seq: 0, row: 0, col: 0, t: 0 }, fData, F.start).slice(2) };
  const nValid = o.validRows * o.validCols;
  const every = Math.max(1, Math.floor(o.frames / (nValid + 1)));
  let vSeq = 0;
  const chunk = 1000;
  for (let base = 0; base < o.frames; base += chunk) {
    const n = Math.min(chunk, o.frames - base);
    const specs = fc.sample(fuzzSpec(fStart), { numRuns: n, seed: o.seed * 1_000_003 + base });
    for (let i = 0; i < n; i++) {
      yield realize(specs[i], ctx);
      if ((base + i + 1) % every === 0 && vSeq < nValid) yield ok(validPixel(V, vSeq++), 'valid');
    }
  }
  while (vSeq < nValid) yield ok(validPixel(V, vSeq++), 'valid');
  yield ok(encodeStop({ type: 'stop', scanId: validId, status: 'completed', pixelsSent: nValid, lastSeq: nValid - 1 }), 'valid');
  yield ok(encodeStop({ type: 'stop', scanId: FUZZ_TARGET, status: 'completed', pixelsSent: 10, lastSeq: 9 }), 'setup');
}

function pixelFrames(scan: SimulatedScan, seq: number, over: Partial<PixelHeader> = {}, data?: ArrayLike<number>[]): Buffer[] {
  const p = scan.pixel(seq);
  return encodePixel({ type: 'pixel', scanId: p.scanId, seq: p.seq, row: p.row, col: p.col, t: p.t, ...over }, data ?? p.data, scan.start);
}

/** A pixel of the valid scan; every 7th carries a few NaN values (failed fits the preprocessing interpolates). */
function validPixel(V: SimulatedScan, seq: number): Buffer[] {
  const p = V.pixel(seq);
  if (seq % 7 !== 3) return pixelFrames(V, seq);
  const data = p.data.map((a) => Float32Array.from(a));
  data[0][seq % data[0].length] = Number.NaN;
  data[2][(seq * 5) % data[2].length] = Number.NaN;
  return pixelFrames(V, seq, {}, data);
}

// ---------------------------------------------------------------------------------------------------------------
// Specs: what fast-check generates. Each names its outcome; `realize` turns it into frames (and tracks held pixels).

type Spec =
  | { k: 'raw'; frames: Uint8Array[] }
  | { k: 'type'; type: string; rest: Uint8Array[] }
  | { k: 'json'; type: string; text: string }
  | { k: 'header-json'; type: string; value: unknown }
  | { k: 'header-pixel'; key: string; value: unknown }
  | { k: 'header-mismatch'; type: string; other: string }
  | { k: 'start-bad'; mutate: 'grid' | 'dims' | 'dtype' | 'extra' | 'scanId' | 'kind' }
  | { k: 'version'; protocol: unknown }
  | { k: 'huge-shape'; shape: number[] }
  | { k: 'layout-kind' }
  | { k: 'relayout'; rows: number }
  | { k: 'extra-buffers'; type: 'stop' | 'heartbeat'; n: number }
  | { k: 'buffer-count'; n: number; seq: number }
  | { k: 'buffer-size'; which: number; bytes: number; seq: number; float64: boolean }
  | { k: 'nonfinite'; which: number; value: number; seq: number }
  | { k: 'out-of-grid'; row: number; col: number; seq: number }
  | { k: 'duplicate'; seq: number }
  | { k: 'stale'; pixel: boolean; seq: number }
  | { k: 'unknown-stop'; id: number }
  | { k: 'unknown-pixel'; id: number; seq: number }
  | { k: 'big'; header: boolean; bytes: number }
  | { k: 'heartbeat'; t: number }
  | { k: 'restart' };

const validType = fc.constantFrom(...MESSAGE_TYPES);
const badType = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('PIXEL', 'start ', 'pixels', '', 'stop\0', 'heart')).filter((s) => !TYPES.has(s));
const seqAhead = fc.integer({ min: 10, max: 1_000_000 });

function fuzzSpec(fStart: StartHeader): fc.Arbitrary<Spec> {
  const { rows, cols } = fStart.grid;
  const nb = fStart.buffers.length;
  const w = (weight: number, arbitrary: fc.Arbitrary<Spec>) => ({ weight, arbitrary });
  return fc.oneof(
    // raw random bytes: one frame (too few parts) or several whose first is not a message type
    w(8, fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 5 }).filter((f) => f.length < 2 || !TYPES.has(Buffer.from(f[0]).toString('utf8'))).map((frames) => ({ k: 'raw', frames }) as Spec)),
    w(4, fc.record({ type: badType, rest: fc.array(fc.uint8Array({ maxLength: 32 }), { minLength: 1, maxLength: 3 }) }).map((r) => ({ k: 'type', ...r }) as Spec)),
    // invalid JSON: truncated headers, NaN/Infinity literals (Python's json.dumps writes them), garbage
    w(8, fc.record({ type: validType, text: fc.oneof(
      fc.constantFrom('{"type":"pixel","scanId":"fuzz-target","seq":10,"row":0,"col":0,"t":NaN}', '{"t": Infinity}', '{"t": -Infinity}', '', '{', 'nul', "{'type': 'pixel'}", '{"a":1,}'),
      fc.json().filter((s) => s.length > 1).map((s) => s.slice(0, -1)).filter((s) => !isJson(s)),
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !isJson(s)),
    ) }).map((r) => ({ k: 'json', ...r }) as Spec)),
    // valid JSON that is not a header of its type
    w(8, fc.record({ type: validType, value: fc.jsonValue() }).filter((r) => !(typeof r.value === 'object' && r.value !== null && (r.value as { type?: unknown }).type === r.type)).map((r) => ({ k: 'header-json', ...r }) as Spec)),
    w(10, fc.oneof(
      fc.record({ key: fc.constant('seq'), value: fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.1, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x)), fc.string(), fc.constant(null)) }),
      fc.record({ key: fc.constantFrom('row', 'col'), value: fc.oneof(fc.integer({ max: -1 }), fc.constant(1.5), fc.boolean()) }),
      fc.record({ key: fc.constant('t'), value: fc.oneof(fc.constant(1e400), fc.constant(-1e400), fc.string(), fc.constant(null)) }),
      fc.record({ key: fc.constant('scanId'), value: fc.oneof(fc.constant(''), fc.string({ minLength: 129, maxLength: 200 }), fc.constantFrom('a b', 'x/y', 'é', 'id;rm'), fc.integer()) }),
      fc.record({ key: fc.constantFrom('extra', 'Seq', '__proto__x'), value: fc.jsonValue() }),
      fc.record({ key: fc.constantFrom('-seq', '-row', '-t', '-scanId'), value: fc.constant(undefined) }),
    ).map((r) => ({ k: 'header-pixel', ...r }) as Spec)),
    w(3, fc.record({ type: validType, other: validType }).filter((r) => r.type !== r.other).map((r) => ({ k: 'header-mismatch', ...r }) as Spec)),
    w(4, fc.constantFrom('grid', 'dims', 'dtype', 'extra', 'scanId', 'kind').map((mutate) => ({ k: 'start-bad', mutate }) as Spec)),
    w(3, fc.oneof(fc.integer().filter((v) => v !== 1), fc.constantFrom('1', 1.5, null, true, [1])).map((protocol) => ({ k: 'version', protocol }) as Spec)),
    // huge declared shapes: more than 2^20 elements in one buffer
    w(4, fc.oneof(
      fc.integer({ min: MAX_BUFFER_ELEMENTS + 1, max: 2 ** 40 }).map((n) => [n]),
      fc.tuple(fc.integer({ min: 1025, max: 1 << 20 }), fc.integer({ min: 1025, max: 1 << 20 })),
      fc.tuple(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 2, max: 64 }), fc.integer({ min: 2, max: 64 }), fc.integer({ min: 256, max: 1 << 16 })).filter((s) => s[0] * s[1] * s[2] * s[3] > MAX_BUFFER_ELEMENTS),
    ).map((shape) => ({ k: 'huge-shape', shape }) as Spec)),
    w(2, fc.constant({ k: 'layout-kind' } as Spec)),
    w(2, fc.integer({ min: 1, max: 8192 }).filter((r) => r !== rows).map((r) => ({ k: 'relayout', rows: r }) as Spec)),
    w(3, fc.record({ type: fc.constantFrom('stop' as const, 'heartbeat' as const), n: fc.integer({ min: 1, max: 3 }) }).map((r) => ({ k: 'extra-buffers', ...r }) as Spec)),
    w(6, fc.record({ n: fc.integer({ min: 0, max: 8 }).filter((n) => n !== nb), seq: seqAhead }).map((r) => ({ k: 'buffer-count', ...r }) as Spec)),
    // truncated, padded, float64 instead of float32, empty
    w(10, fc.record({ which: fc.integer({ min: 0, max: nb - 1 }), bytes: fc.integer({ min: 0, max: 20_000 }), seq: seqAhead, float64: fc.boolean() }).map((r) => ({ k: 'buffer-size', ...r }) as Spec)),
    w(6, fc.record({ which: fc.integer({ min: 0, max: nb - 1 }), value: fc.constantFrom(Number.NaN, Infinity, -Infinity), seq: seqAhead }).map((r) => ({ k: 'nonfinite', ...r }) as Spec)),
    w(6, fc.record({ row: fc.integer({ min: 0, max: 1_000_000 }), col: fc.integer({ min: 0, max: 1_000_000 }), seq: seqAhead }).filter((r) => r.row >= rows || r.col >= cols).map((r) => ({ k: 'out-of-grid', ...r }) as Spec)),
    w(6, fc.integer({ min: 0, max: 9 }).map((seq) => ({ k: 'duplicate', seq }) as Spec)),
    w(4, fc.record({ pixel: fc.boolean(), seq: fc.nat() }).map((r) => ({ k: 'stale', ...r }) as Spec)),
    w(3, fc.nat({ max: 999 }).map((id) => ({ k: 'unknown-stop', id }) as Spec)),
    w(5, fc.record({ id: fc.nat({ max: 999 }), seq: fc.nat() }).map((r) => ({ k: 'unknown-pixel', ...r }) as Spec)),
    // big frames: a pixel buffer of 256 KiB–1 MiB, or a header over the 1 MiB limit (memory must stay flat)
    w(1, fc.record({ header: fc.boolean(), bytes: fc.integer({ min: 256 << 10, max: 1 << 20 }) }).map((r) => ({ k: 'big', ...r }) as Spec)),
    w(2, fc.double({ min: 0, max: 2e9, noNaN: true }).map((t) => ({ k: 'heartbeat', t }) as Spec)),
    w(1, fc.constant({ k: 'restart' } as Spec)),
  );
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

interface Ctx {
  F: SimulatedScan;
  state: { held: number; pendingLimit: number };
  /** the target scan's pixel 0 and its correctly encoded buffers (dtype and length as its start declares) */
  fData: Float32Array[];
  good: Buffer[];
}

function fHeader(seq: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'pixel', scanId: FUZZ_TARGET, seq, row: 1, col: 2, t: 1.7e9, ...over };
}

const PAD = 'x'.repeat((1 << 20) + 1);

function realize(s: Spec, { F, state, fData, good }: Ctx): FuzzFrame {
  const fBufs = (n = good.length) => Array.from({ length: n }, (_, i) => Buffer.from(good[i % good.length]));
  switch (s.k) {
    case 'raw':
      return { parts: s.frames.map((f) => Buffer.from(f)), expect: s.frames.length < 2 ? 'LS_FRAME_PARTS' : 'LS_FRAME_TYPE', kind: 'raw-bytes' };
    case 'type':
      return { parts: [Buffer.from(s.type), ...s.rest.map((f) => Buffer.from(f))], expect: 'LS_FRAME_TYPE', kind: 'unknown-type' };
    case 'json':
      return { parts: [Buffer.from(s.type), Buffer.from(s.text)], expect: 'LS_FRAME_JSON', kind: 'invalid-json' };
    case 'header-json':
      return { parts: [Buffer.from(s.type), j(s.value)], expect: 'LS_FRAME_HEADER', kind: 'random-json-header' };
    case 'header-pixel': {
      const h = fHeader(10);
      if (s.key.startsWith('-')) delete h[s.key.slice(1)];
      else h[s.key] = s.value;
      // JSON.stringify(1e400) writes null: still not a finite number, still refused by the schema.
      return { parts: [Buffer.from('pixel'), j(h), ...fBufs()], expect: 'LS_FRAME_HEADER', kind: 'bad-pixel-header' };
    }
    case 'header-mismatch':
      return { parts: [Buffer.from(s.type), j({ ...fHeader(10), type: s.other })], expect: 'LS_FRAME_HEADER', kind: 'type-mismatch' };
    case 'start-bad': {
      const st: Record<string, unknown> = { ...F.start, scanId: 'fuzz-new' };
      if (s.mutate === 'grid') st.grid = { rows: 8193, cols: 4, order: 'raster' };
      if (s.mutate === 'dims') st.buffers = F.start.buffers.map((b) => ({ ...b, shape: [1, 1, 1, 1, b.shape[0]] }));
      if (s.mutate === 'dtype') st.buffers = F.start.buffers.map((b) => ({ ...b, dtype: 'int16' }));
      if (s.mutate === 'extra') st.compression = 'zstd';
      if (s.mutate === 'scanId') st.scanId = '../../etc/passwd';
      if (s.mutate === 'kind') st.kind = 'spectrogram';
      return { parts: encodeStartRaw(st), expect: 'LS_FRAME_HEADER', kind: 'bad-start' };
    }
    case 'version':
      return { parts: encodeStartRaw({ ...F.start, scanId: 'fuzz-new', protocol: s.protocol }), expect: 'LS_FRAME_VERSION', kind: 'version' };
    case 'huge-shape':
      return {
        parts: encodeStartRaw({ ...F.start, scanId: 'fuzz-huge', buffers: F.start.buffers.map((b, i) => (i === 0 ? { ...b, shape: s.shape } : b)) }),
        expect: 'LS_FRAME_START_LAYOUT',
        kind: 'huge-shape',
      };
    case 'layout-kind':
      return { parts: encodeStartRaw({ ...F.start, scanId: 'fuzz-new', kind: 'loop' }), expect: 'LS_FRAME_START_LAYOUT', kind: 'layout-kind' };
    case 'relayout':
      // the running target scan "restarted" with another grid: refused, the scan goes on
      return { parts: encodeStartRaw({ ...F.start, grid: { ...F.start.grid, rows: s.rows } }), expect: 'LS_FRAME_START_LAYOUT', kind: 'relayout' };
    case 'extra-buffers': {
      const base = s.type === 'stop' ? encodeStop({ type: 'stop', scanId: 'u-0', status: 'completed', pixelsSent: 0, lastSeq: -1 }) : encodeHeartbeat({ type: 'heartbeat', t: 1 });
      return { parts: [...base, ...fBufs(s.n)], expect: 'LS_FRAME_BUFFER_COUNT', kind: 'extra-buffers' };
    }
    case 'buffer-count':
      return { parts: [Buffer.from('pixel'), j(fHeader(s.seq)), ...fBufs(s.n)], expect: 'LS_FRAME_BUFFER_COUNT', kind: 'buffer-count' };
    case 'buffer-size': {
      const bufs = fBufs();
      const want = bufs[s.which].length;
      const bytes = s.float64 ? want * 2 : s.bytes === want ? want + 4 : s.bytes;
      bufs[s.which] = Buffer.alloc(bytes, 0x3f);
      return { parts: [Buffer.from('pixel'), j(fHeader(s.seq)), ...bufs], expect: 'LS_FRAME_BUFFER_SIZE', kind: s.float64 ? 'wrong-dtype' : 'wrong-length' };
    }
    case 'nonfinite': {
      const data = fData.map((a) => Float32Array.from(a));
      data[s.which].fill(s.value);
      return { parts: encodePixel(fHeader(s.seq) as PixelHeader, data, F.start), expect: 'LS_FRAME_ALL_NONFINITE', kind: 'nan-inf' };
    }
    case 'out-of-grid':
      return { parts: [Buffer.from('pixel'), j(fHeader(s.seq, { row: s.row, col: s.col })), ...fBufs()], expect: 'LS_FRAME_OUT_OF_GRID', kind: 'out-of-grid' };
    case 'duplicate':
      return { parts: [Buffer.from('pixel'), j(fHeader(s.seq)), ...fBufs()], expect: 'LS_SEQ_DUPLICATE', kind: 'duplicate-seq' };
    case 'stale':
      return s.pixel
        ? { parts: [Buffer.from('pixel'), j({ ...fHeader(s.seq), scanId: FUZZ_STALE, row: 0, col: 0 }), ...good], expect: 'LS_SCAN_STALE', kind: 'stale' }
        : { parts: encodeStop({ type: 'stop', scanId: FUZZ_STALE, status: 'aborted', pixelsSent: 1, lastSeq: s.seq }), expect: 'LS_SCAN_STALE', kind: 'stale' };
    case 'unknown-stop':
      return { parts: encodeStop({ type: 'stop', scanId: `u-${s.id}`, status: 'completed', pixelsSent: 1, lastSeq: 0 }), expect: 'LS_SCAN_UNKNOWN', kind: 'unknown-scan' };
    case 'unknown-pixel': {
      const held = state.held < state.pendingLimit;
      if (held) state.held++;
      return { parts: [Buffer.from('pixel'), j({ ...fHeader(s.seq), scanId: `u-${s.id}` }), ...fBufs()], expect: held ? 'held' : 'LS_PENDING_OVERFLOW', kind: 'unknown-scan' };
    }
    case 'big':
      if (s.header) {
        return { parts: [Buffer.from('pixel'), j({ ...fHeader(10), pad: PAD })], expect: 'LS_FRAME_JSON', kind: 'big' };
      }
      return { parts: [Buffer.from('pixel'), j(fHeader(11)), Buffer.alloc(s.bytes, 0x41), ...fBufs(good.length - 1)], expect: 'LS_FRAME_BUFFER_SIZE', kind: 'big' };
    case 'heartbeat':
      return { parts: encodeHeartbeat({ type: 'heartbeat', t: s.t }), expect: 'ok', kind: 'heartbeat' };
    case 'restart':
      return { parts: encodeStart(F.start), expect: 'ok', kind: 'restart' };
  }
}

function encodeStartRaw(st: Record<string, unknown>): Buffer[] {
  return [Buffer.from('start'), j(st)];
}
