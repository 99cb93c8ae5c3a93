/**
 * Turns a stream of decoded frames into ScanEvents, enforcing the per-scan rules of protocol v1:
 * pixels before their start are held (up to a limit), seq gaps become `gap` events, duplicate or backwards
 * seqs and pixels of ended (stale) scans are refused and counted. Bounded by config: at most `maxOpenScans` scans
 * open at once and grids of at most `maxScanPixels` (a refused start's later frames are refused with
 * LS_SCAN_REFUSED, never held). Accepted data that looks like the wrong unit is warned about once per scan.
 * Transport-free: the ZeroMQ source feeds it frames (`accept`); HDF5 replays feed it the events they read
 * (`acceptEvent`), so a file is held to the same rules, with the same codes.
 */
import { checkPixelValues, checkStartLayout, decodeFrames, decodePixelData } from './decode.ts';
import { FrameError, IngestWarning } from './errors.ts';
import type { ScanEvent } from './events.ts';
import { MAX_BUFFER_ELEMENTS, PixelHeader, StartHeader, StopHeader } from './messages.ts';

/** Most buffers a start may declare (messages.ts StartHeader.buffers). */
const MAX_BUFFERS = 8;

interface ActiveScan {
  start: StartHeader;
  /** the seq the next pixel should carry */
  nextSeq: number;
  /** plausibility checks already warned about (once per scan) */
  warned?: Set<string>;
  /**
   * seqs ahead of nextSeq whose pixel arrived but was refused: a later gap skips them (they are counted as
   * rejected, not missing). Only seqs below rows × cols, the ones a gap can locate: at most one entry per pixel.
   */
  refusedSeqs?: Set<number>;
}

interface HeldPixel {
  header: PixelHeader;
  buffers: Buffer[];
}

export interface ScanTrackerOptions {
  /** pixels held across all scans whose start has not arrived yet */
  pendingLimit: number;
  /** bytes of buffers held across all scans whose start has not arrived yet (default: no byte cap) */
  pendingMaxBytes?: number;
  /** ended scan ids remembered, so their late pixels are drained as stale */
  staleMemory?: number;
  /** scans open at once; a start beyond it is refused (LS_SCAN_LIMIT). Default: no limit */
  maxOpenScans?: number;
  /** largest rows × cols a start may declare (LS_SCAN_TOO_LARGE). Default: no limit beyond the protocol's */
  maxScanPixels?: number;
}

/** Result of feeding one multipart message. */
export interface TrackResult {
  events: ScanEvent[];
  rejects: FrameError[];
  /** accepted data that looks wrong (docs/protocol.md §Plausibility), at most once per scan and check */
  warnings: IngestWarning[];
}

/** Below this a sho frequency in Hz is implausible for band excitation (docs/protocol.md §Plausibility). */
export const PLAUSIBLE_MIN_HZ = 1e4;
/** Above this `t` (seconds since the Unix epoch, the year 5138) is almost surely milliseconds. */
export const PLAUSIBLE_MAX_T = 1e11;

export class ScanTracker {
  private readonly active = new Map<string, ActiveScan>();
  private readonly ended = new Set<string>();
  /** scan ids whose start was refused, with why: their pixels and stop are refused, not held */
  private readonly refused = new Map<string, FrameError>();
  private readonly held = new Map<string, HeldPixel[]>();
  private heldCount = 0;
  private heldBytes = 0;

  constructor(private readonly opts: ScanTrackerOptions) {}

  /** Continue a scan recorded before a restart: its next expected seq is `nextSeq`. */
  resume(start: StartHeader, nextSeq: number): void {
    this.active.set(start.scanId, { start, nextSeq });
  }

  /** Scans started and not yet stopped. */
  activeScans(): StartHeader[] {
    return [...this.active.values()].map((s) => s.start);
  }

  /** Number of pixels held for scans whose start has not arrived. */
  get pendingCount(): number {
    return this.heldCount;
  }

  /** Bytes of buffers held for scans whose start has not arrived. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /** Feed one multipart message. */
  accept(parts: readonly Buffer[]): TrackResult {
    const out: TrackResult = { events: [], rejects: [], warnings: [] };
    const decoded = decodeFrames(parts);
    if (decoded instanceof FrameError) {
      out.rejects.push(decoded);
      return out;
    }
    const { header, buffers } = decoded;
    switch (header.type) {
      case 'heartbeat':
        return out;
      case 'start':
        this.onStart(header, out);
        return out;
      case 'pixel':
        this.onPixel(header, buffers, out);
        return out;
      case 'stop':
        this.onStop(header, out);
        return out;
    }
  }

  private onStop(header: StopHeader, out: TrackResult): void {
    const scan = this.active.get(header.scanId);
    if (!scan) {
      const refusal = this.refused.get(header.scanId);
      if (refusal) {
        out.rejects.push(new FrameError('LS_SCAN_REFUSED', `stop for scan ${header.scanId}, whose start was refused (${refusal.code})`, { scanId: header.scanId }));
        this.refused.delete(header.scanId);
        return;
      }
      const code = this.ended.has(header.scanId) ? 'LS_SCAN_STALE' : 'LS_SCAN_UNKNOWN';
      out.rejects.push(new FrameError(code, `stop for scan ${header.scanId}, which is not running`, { scanId: header.scanId }));
      return;
    }
    if (header.lastSeq >= scan.nextSeq) this.gap(scan, header.lastSeq, out);
    this.active.delete(header.scanId);
    this.remember(header.scanId);
    out.events.push({ type: 'stop', header });
  }

  /**
   * Feed one event whose values were already read (an HDF5 replay, src/sources/hdf5): the same rules as `accept`,
   * with the same codes — headers against their schema (LS_FRAME_HEADER: a seq that is negative, fractional or NaN,
   * a non-finite `t`), a start against its layout and the configured bounds, seq order, grid and values
   * (checkPixelValues). A pixel of a running scan refused for its header is also reported as a `refused` event
   * (its seq, or −1 when the seq itself is not one), so it is counted in the scan's pixels_rejected.
   */
  acceptEvent(ev: ScanEvent): TrackResult {
    const out: TrackResult = { events: [], rejects: [], warnings: [] };
    switch (ev.type) {
      case 'start': {
        const parsed = StartHeader.safeParse(ev.header);
        if (!parsed.success) {
          out.rejects.push(new FrameError('LS_FRAME_HEADER', `invalid start header: ${issues(parsed.error.issues)}`, { scanId: ev.header.scanId }));
          return out;
        }
        const layout = checkStartLayout(parsed.data);
        if (layout) out.rejects.push(layout);
        else this.onStart(parsed.data, out);
        return out;
      }
      case 'pixel': {
        const { data, type, ...fields } = ev;
        const parsed = PixelHeader.safeParse({ type, ...fields });
        if (!parsed.success) {
          const seq = typeof ev.seq === 'number' && Number.isSafeInteger(ev.seq) && ev.seq >= 0 ? ev.seq : -1;
          out.rejects.push(new FrameError('LS_FRAME_HEADER', `invalid pixel header of scan ${ev.scanId} (seq ${String(ev.seq)}, row ${String(ev.row)}, col ${String(ev.col)}, t ${String(ev.t)}): ${issues(parsed.error.issues)}`, { scanId: ev.scanId }));
          if (this.active.has(ev.scanId)) out.events.push({ type: 'refused', scanId: ev.scanId, seq, code: 'LS_FRAME_HEADER' });
          return out;
        }
        this.onPixelValues(parsed.data, (start) => checkPixelValues(parsed.data, data, start) ?? data, out);
        return out;
      }
      case 'stop': {
        const parsed = StopHeader.safeParse(ev.header);
        if (!parsed.success) {
          out.rejects.push(new FrameError('LS_FRAME_HEADER', `invalid stop header of scan ${ev.header.scanId}: ${issues(parsed.error.issues)}`, { scanId: ev.header.scanId }));
          return out;
        }
        this.onStop(parsed.data, out);
        return out;
      }
      default:
        // gap and refused events are the tracker's own output, never its input
        return out;
    }
  }

  private onStart(start: StartHeader, out: TrackResult): void {
    const running = this.active.get(start.scanId);
    if (running) {
      // A producer restarted mid-scan re-sends its start: same layout → the scan simply continues (a new metadata
      // is not stored). Any field that changes how pixels are read (phase unit, grid order, …) → refused.
      const differs = layoutDifferences(running.start, start);
      if (differs.length === 0) return;
      out.rejects.push(
        new FrameError(
          'LS_FRAME_START_LAYOUT',
          `scan ${start.scanId} is already running with another layout (${differs.map((f) => `${f}: ${JSON.stringify(running.start[f]).slice(0, 60)} → ${JSON.stringify(start[f]).slice(0, 60)}`).join('; ')}); a restarted producer must send the same start, a new layout needs a new scan id`,
          { scanId: start.scanId },
        ),
      );
      return;
    }
    const refusal = this.checkBounds(start);
    if (refusal) {
      this.refused.set(start.scanId, refusal);
      if (this.refused.size > (this.opts.staleMemory ?? 1024)) this.refused.delete(this.refused.keys().next().value!);
      out.rejects.push(refusal);
      this.dropHeld(start.scanId, refusal, out);
      return;
    }
    this.refused.delete(start.scanId);
    this.ended.delete(start.scanId);
    this.active.set(start.scanId, { start, nextSeq: 0 });
    out.events.push({ type: 'start', header: start });
    const held = this.held.get(start.scanId);
    if (held) {
      this.held.delete(start.scanId);
      this.heldCount -= held.length;
      for (const p of held) this.heldBytes -= bytesOf(p.buffers);
      for (const p of held) this.onPixel(p.header, p.buffers, out);
    }
  }

  /** Why a start must be refused by the configured bounds (open scans, grid size), or undefined. */
  private checkBounds(start: StartHeader): FrameError | undefined {
    const at = { scanId: start.scanId };
    const pixels = start.grid.rows * start.grid.cols;
    const maxPixels = this.opts.maxScanPixels ?? Infinity;
    if (pixels > maxPixels) {
      return new FrameError('LS_SCAN_TOO_LARGE', `scan ${start.scanId}: a ${start.grid.rows}x${start.grid.cols} grid is ${pixels} pixels; this daemon accepts at most ${maxPixels} (ingest.maxScanPixels)`, at);
    }
    const maxOpen = this.opts.maxOpenScans ?? Infinity;
    if (this.active.size >= maxOpen) {
      return new FrameError('LS_SCAN_LIMIT', `scan ${start.scanId}: ${this.active.size} scans are open (started, not stopped); the limit is ${maxOpen} (ingest.maxOpenScans). Stop finished scans, or send the start again later`, at);
    }
    return undefined;
  }

  /** Refuse the pixels held for a scan whose start was refused. */
  private dropHeld(scanId: string, refusal: FrameError, out: TrackResult): void {
    const held = this.held.get(scanId);
    if (!held) return;
    this.held.delete(scanId);
    this.heldCount -= held.length;
    for (const p of held) out.rejects.push(new FrameError('LS_SCAN_REFUSED', `scan ${scanId} pixel seq ${p.header.seq}: the scan's start was refused (${refusal.code})`, { scanId, seq: p.header.seq }));
  }

  private onPixel(header: PixelHeader, buffers: Buffer[], out: TrackResult): void {
    const at = { scanId: header.scanId, seq: header.seq };
    const scan = this.active.get(header.scanId);
    if (!scan) {
      const refusal = this.refused.get(header.scanId);
      if (refusal) {
        out.rejects.push(new FrameError('LS_SCAN_REFUSED', `scan ${header.scanId} pixel seq ${header.seq}: the scan's start was refused (${refusal.code}); send an acceptable start first`, at));
        return;
      }
      if (this.ended.has(header.scanId)) {
        out.rejects.push(new FrameError('LS_SCAN_STALE', `scan ${header.scanId} pixel seq ${header.seq}: the scan has stopped; late pixel drained`, at));
        return;
      }
      if (this.heldCount >= this.opts.pendingLimit) {
        out.rejects.push(new FrameError('LS_PENDING_OVERFLOW', `scan ${header.scanId} pixel seq ${header.seq}: no start message for this scan and ${this.heldCount} pixels already held (limit ${this.opts.pendingLimit}); send "start" before pixels`, at));
        return;
      }
      // Held without a start: check what can be checked now, and cap the bytes (a few huge pixels must not take
      // the memory a count cap allows).
      const implausible = heldPixelProblem(buffers);
      if (implausible) {
        out.rejects.push(new FrameError('LS_PENDING_BYTES', `scan ${header.scanId} pixel seq ${header.seq}: no start message for this scan yet and ${implausible}; not held`, at));
        return;
      }
      const bytes = bytesOf(buffers);
      const maxBytes = this.opts.pendingMaxBytes ?? Infinity;
      if (this.heldBytes + bytes > maxBytes) {
        out.rejects.push(
          new FrameError('LS_PENDING_BYTES', `scan ${header.scanId} pixel seq ${header.seq}: no start message for this scan; holding its ${bytes} bytes would exceed ingest.pendingMaxBytes (${this.heldBytes} of ${maxBytes} held); send "start" before pixels`, at),
        );
        return;
      }
      const list = this.held.get(header.scanId) ?? [];
      list.push({ header, buffers: [...buffers] });
      this.held.set(header.scanId, list);
      this.heldCount++;
      this.heldBytes += bytes;
      return;
    }
    this.onPixelValues(header, (start) => decodePixelData(header, buffers, start), out);
  }

  /** A pixel of a started scan (or of none): seq order, then its values by `values` (decoded frames or read ones). */
  private onPixelValues(header: PixelHeader, values: (start: StartHeader) => Float32Array[] | FrameError, out: TrackResult): void {
    const at = { scanId: header.scanId, seq: header.seq };
    const scan = this.active.get(header.scanId);
    if (!scan) {
      // Only a replay gets here without a start (a live pixel is held first): nothing can hold it.
      const refusal = this.refused.get(header.scanId);
      const code = refusal ? 'LS_SCAN_REFUSED' : this.ended.has(header.scanId) ? 'LS_SCAN_STALE' : 'LS_SCAN_UNKNOWN';
      out.rejects.push(new FrameError(code, `scan ${header.scanId} pixel seq ${header.seq}: the scan is not running${refusal ? ` (its start was refused: ${refusal.code})` : ''}`, at));
      return;
    }
    if (header.seq < scan.nextSeq) {
      out.rejects.push(new FrameError('LS_SEQ_DUPLICATE', `scan ${header.scanId} pixel seq ${header.seq}: already past it (next expected seq ${scan.nextSeq}); duplicate or backwards seq`, at));
      return;
    }
    const data = values(scan.start);
    if (data instanceof FrameError) {
      // It arrived, refused: counted as rejected downstream and never reported missing by a later gap. Its seq stays
      // open, so the producer may send the pixel again, corrected.
      out.rejects.push(data);
      out.events.push({ type: 'refused', scanId: header.scanId, seq: header.seq, code: data.code });
      if (header.seq < scan.start.grid.rows * scan.start.grid.cols) (scan.refusedSeqs ??= new Set()).add(header.seq);
      return;
    }
    scan.refusedSeqs?.delete(header.seq);
    if (header.seq > scan.nextSeq) this.gap(scan, header.seq - 1, out);
    scan.nextSeq = header.seq + 1;
    this.checkPlausible(scan, header, data, out);
    out.events.push({ type: 'pixel', scanId: header.scanId, seq: header.seq, row: header.row, col: header.col, t: header.t, data });
  }

  /** Report seqs nextSeq..toSeq as a gap, minus those that arrived and were refused (split into several gaps). */
  private gap(scan: ActiveScan, toSeq: number, out: TrackResult): void {
    const scanId = scan.start.scanId;
    let from = scan.nextSeq;
    if (scan.refusedSeqs?.size) {
      const inside = [...scan.refusedSeqs].filter((q) => q >= from && q <= toSeq).sort((a, b) => a - b);
      for (const q of inside) {
        if (q > from) out.events.push({ type: 'gap', scanId, fromSeq: from, toSeq: q - 1 });
        from = q + 1;
      }
      for (const q of scan.refusedSeqs) if (q <= toSeq) scan.refusedSeqs.delete(q);
    }
    if (from <= toSeq) out.events.push({ type: 'gap', scanId, fromSeq: from, toSeq });
  }

  /**
   * Plausibility (docs/protocol.md §Plausibility), warned once per scan: `t` is seconds since the Unix epoch, so
   * t > 1e11 (the year 5138) is almost surely milliseconds; a sho frequency is in Hz, and the contact resonance BE
   * drives is 10^5–10^6 Hz, so a pixel whose finite frequencies are mostly below 10^4 was almost surely sent in kHz
   * (1324.8 for 1.3248 MHz) or MHz. The threshold sits two decades under the lowest plausible resonance.
   */
  private checkPlausible(scan: ActiveScan, header: PixelHeader, data: Float32Array[], out: TrackResult): void {
    const warn = (code: IngestWarning['code'], message: string) => {
      scan.warned ??= new Set();
      if (scan.warned.has(code)) return;
      scan.warned.add(code);
      out.warnings.push(new IngestWarning(code, message, { scanId: header.scanId, seq: header.seq }));
    };
    if (header.t > PLAUSIBLE_MAX_T) warn('LS_WARN_TIME_UNIT', `scan ${header.scanId} pixel seq ${header.seq}: t = ${header.t} is after the year 5000 as seconds since the Unix epoch; it looks like milliseconds (send seconds)`);
    if (scan.start.kind !== 'sho') return;
    const f = data[scan.start.buffers.findIndex((b) => b.name === 'frequency')];
    if (!f) return;
    let finite = 0;
    let low = 0;
    for (let k = 0; k < f.length; k++) {
      if (!Number.isFinite(f[k])) continue;
      finite++;
      if (Math.abs(f[k]) < PLAUSIBLE_MIN_HZ) low++;
    }
    if (finite > 0 && low * 2 > finite) warn('LS_WARN_FREQUENCY_UNIT', `scan ${header.scanId} pixel seq ${header.seq}: ${low} of ${finite} frequencies are below ${PLAUSIBLE_MIN_HZ} Hz; a BE contact resonance is 10^5–10^6 Hz, so they look like kHz (sho frequency is in Hz)`);
  }

  private remember(scanId: string): void {
    this.ended.add(scanId);
    const limit = this.opts.staleMemory ?? 1024;
    if (this.ended.size > limit) {
      const oldest = this.ended.values().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }
}

/**
 * The fields of a start that differ from the running scan's, ignoring `metadata` (free text a restarted producer may
 * renew): kind, grid (rows, cols, order), dcVoltage, fields, cycles, phaseUnit, buffers — everything that changes how
 * a pixel is read. Empty when the layout is the same.
 */
export function layoutDifferences(a: StartHeader, b: StartHeader): Array<(typeof LAYOUT_FIELDS)[number]> {
  return LAYOUT_FIELDS.filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]));
}
const LAYOUT_FIELDS = ['protocol', 'kind', 'grid', 'dcVoltage', 'fields', 'cycles', 'phaseUnit', 'buffers'] as const;

/** The first zod issues of a header, as "path: message; …". */
function issues(list: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return list
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** Bytes of a pixel's buffers. */
function bytesOf(buffers: readonly Buffer[]): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

/** Why a pixel cannot belong to any valid start (checked before its start arrives), or undefined. */
function heldPixelProblem(buffers: readonly Buffer[]): string | undefined {
  if (buffers.length < 1 || buffers.length > MAX_BUFFERS) return `it carries ${buffers.length} buffer(s); a start declares 1..${MAX_BUFFERS}`;
  for (const [i, b] of buffers.entries()) {
    if (b.length === 0 || b.length % 4 !== 0) return `buffer ${i} has ${b.length} bytes, not a whole number of float32/float64 values`;
    if (b.length > MAX_BUFFER_ELEMENTS * 8) return `buffer ${i} has ${b.length} bytes, beyond the largest a start may declare (${MAX_BUFFER_ELEMENTS} float64 values)`;
  }
  return undefined;
}
