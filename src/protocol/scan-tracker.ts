/**
 * Turns a stream of decoded frames into ScanEvents, enforcing the per-scan rules of protocol v1:
 * pixels before their start are held (up to a limit), seq gaps become `gap` events, duplicate or backwards
 * seqs and pixels of ended (stale) scans are refused and counted. Transport-free: the ZeroMQ source feeds it.
 */
import { decodeFrames, decodePixelData } from './decode.ts';
import { FrameError } from './errors.ts';
import type { ScanEvent } from './events.ts';
import { MAX_BUFFER_ELEMENTS, type PixelHeader, type StartHeader } from './messages.ts';

/** Most buffers a start may declare (messages.ts StartHeader.buffers). */
const MAX_BUFFERS = 8;

interface ActiveScan {
  start: StartHeader;
  /** the seq the next pixel should carry */
  nextSeq: number;
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
}

/** Result of feeding one multipart message. */
export interface TrackResult {
  events: ScanEvent[];
  rejects: FrameError[];
}

export class ScanTracker {
  private readonly active = new Map<string, ActiveScan>();
  private readonly ended = new Set<string>();
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
    const out: TrackResult = { events: [], rejects: [] };
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
      case 'stop': {
        const scan = this.active.get(header.scanId);
        if (!scan) {
          const code = this.ended.has(header.scanId) ? 'LS_SCAN_STALE' : 'LS_SCAN_UNKNOWN';
          out.rejects.push(new FrameError(code, `stop for scan ${header.scanId}, which is not running`, { scanId: header.scanId }));
          return out;
        }
        if (header.lastSeq >= scan.nextSeq) {
          out.events.push({ type: 'gap', scanId: header.scanId, fromSeq: scan.nextSeq, toSeq: header.lastSeq });
        }
        this.active.delete(header.scanId);
        this.remember(header.scanId);
        out.events.push({ type: 'stop', header });
        return out;
      }
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

  private onPixel(header: PixelHeader, buffers: Buffer[], out: TrackResult): void {
    const at = { scanId: header.scanId, seq: header.seq };
    const scan = this.active.get(header.scanId);
    if (!scan) {
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
    if (header.seq < scan.nextSeq) {
      out.rejects.push(new FrameError('LS_SEQ_DUPLICATE', `scan ${header.scanId} pixel seq ${header.seq}: already past it (next expected seq ${scan.nextSeq}); duplicate or backwards seq`, at));
      return;
    }
    const data = decodePixelData(header, buffers, scan.start);
    if (data instanceof FrameError) {
      out.rejects.push(data);
      return;
    }
    if (header.seq > scan.nextSeq) {
      out.events.push({ type: 'gap', scanId: header.scanId, fromSeq: scan.nextSeq, toSeq: header.seq - 1 });
    }
    scan.nextSeq = header.seq + 1;
    out.events.push({ type: 'pixel', scanId: header.scanId, seq: header.seq, row: header.row, col: header.col, t: header.t, data });
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
