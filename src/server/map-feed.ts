/**
 * MapFeed: what one client is sent of one scan's maps, and when. Pull-based and lossy by design.
 *
 * The server calls `tick(nowMs)` on a timer. A tick sends at most one message, never sooner than `minIntervalMs`
 * after the previous one (≤ maxDeltaHz), and only when the client is ready: the previous map message was acked and
 * the connection's write buffer is empty. A client that is not ready when there is something new is counted as a
 * dropped display update and sent nothing; when it catches up it gets one delta from its last acked revision to
 * the *current* revision (drop-to-latest: `deltaSince` only ever holds each pixel's newest value), or a snapshot
 * when that is smaller. The pipeline never sees any of this: the maps are only read.
 */
import type { MapDelta, MapSnapshot } from '../maps/scan-maps.ts';
import type { MapSource } from './hub.ts';

/** One map message handed to the transport. */
export type FeedMessage = { kind: 'snapshot'; snapshot: MapSnapshot } | { kind: 'delta'; delta: MapDelta };

/** What the feed needs from the connection. */
export interface FeedTransport {
  /** send a message; call `ack` when the client confirms it (never, for a stalled client) */
  send(message: FeedMessage, ack: () => void): void;
  /** messages or bytes queued in the connection and not yet written; > 0 means the socket is not draining */
  backlog(): number;
}

/**
 * The latest snapshot and delta read from each scan's maps, shared by all feeds: clients in step (the usual case)
 * ask for the same revisions, so the O(pixels) copy or scan runs once per tick, not once per client.
 */
export class MapReadCache {
  private readonly snapshots = new WeakMap<MapSource, MapSnapshot>();
  private readonly deltas = new WeakMap<MapSource, MapDelta>();
  /** reads that had to go to the maps (for tests and logs) */
  reads = 0;

  /** The maps' current snapshot. */
  snapshot(maps: MapSource): MapSnapshot {
    const hit = this.snapshots.get(maps);
    if (hit && hit.revision === maps.revision) return hit;
    this.reads++;
    const snap = maps.snapshot();
    this.snapshots.set(maps, snap);
    return snap;
  }

  /** The pixels changed since `fromRevision`, up to the maps' current revision. */
  deltaSince(maps: MapSource, fromRevision: number): MapDelta {
    const hit = this.deltas.get(maps);
    if (hit && hit.fromRevision === fromRevision && hit.revision === maps.revision) return hit;
    this.reads++;
    const delta = maps.deltaSince(fromRevision);
    this.deltas.set(maps, delta);
    return delta;
  }
}

/** Tuning of one feed. */
export interface MapFeedOptions {
  /** the scan's maps by id (re-read every tick: a scan can appear after it was selected) */
  maps: (scanId: string) => MapSource | undefined;
  transport: FeedTransport;
  /** shortest time between two map messages, ms (1000 / maxDeltaHz) */
  minIntervalMs: number;
  /** called once per update the client could not take (it had not acked or was not draining) */
  onDropped?: () => void;
  /** a delta touching more than this fraction of the grid is sent as a snapshot instead */
  snapshotFraction?: number;
  /** shared reads of the maps (one per server); a private one when absent */
  cache?: MapReadCache;
}

/** Result of one tick, for logs and tests. */
export type TickResult = 'idle' | 'throttled' | 'dropped' | 'snapshot' | 'delta';

/** Per-client, per-scan feed state; see the file comment. */
export class MapFeed {
  private scanId: string | undefined;
  /** revision the client holds (acked); -1 = needs a snapshot */
  private clientRevision = -1;
  /** a sent message is waiting for its ack */
  private inFlight = false;
  /** revision the in-flight message brings the client to */
  private inFlightRevision = -1;
  private lastSentMs = Number.NEGATIVE_INFINITY;
  private lastDropMs = Number.NEGATIVE_INFINITY;
  /** bumped on select/resync so a late ack of an older message is ignored */
  private epoch = 0;
  /** updates not delivered because the client was busy (this feed's share of the dropped metric) */
  dropped = 0;
  /** map messages sent */
  sent = 0;

  private readonly cache: MapReadCache;

  constructor(private readonly opts: MapFeedOptions) {
    this.cache = opts.cache ?? new MapReadCache();
  }

  /** The scan this client follows. */
  get selected(): string | undefined {
    return this.scanId;
  }

  /** The revision the client has acknowledged (-1 before its first snapshot). */
  get acknowledgedRevision(): number {
    return this.clientRevision;
  }

  /** Follow another scan (or the same one afresh): the next tick sends a snapshot. */
  select(scanId: string): void {
    this.scanId = scanId;
    this.resync();
  }

  /** Forget what the client holds: the next tick sends a snapshot, whatever is in flight. */
  resync(): void {
    this.clientRevision = -1;
    this.inFlight = false;
    this.epoch++;
    // a selection or resync is the user waiting: it is not held back by the rate limit
    this.lastSentMs = Number.NEGATIVE_INFINITY;
  }

  /** Decide and maybe send one message. */
  tick(nowMs: number): TickResult {
    if (this.scanId === undefined) return 'idle';
    const maps = this.opts.maps(this.scanId);
    if (!maps) return 'idle';
    // maps rebuilt under the same id (daemon resumed a scan): the revision went backwards, start afresh
    if (!this.inFlight && maps.revision < this.clientRevision) this.clientRevision = -1;
    const needsSnapshot = this.clientRevision < 0;
    const behind = needsSnapshot || maps.revision > this.clientRevision;
    if (!behind) return 'idle';
    if (nowMs - this.lastSentMs < this.opts.minIntervalMs) return 'throttled';
    if (this.inFlight || this.opts.transport.backlog() > 0) {
      // nothing newer than what is already on its way: not a drop
      if (this.inFlight && maps.revision <= this.inFlightRevision) return 'idle';
      // one drop per interval the client could have been updated in; it gets the newest state in one message later
      if (nowMs - this.lastDropMs < this.opts.minIntervalMs) return 'throttled';
      this.lastDropMs = nowMs;
      this.dropped++;
      this.opts.onDropped?.();
      return 'dropped';
    }

    let message: FeedMessage;
    if (needsSnapshot) {
      message = { kind: 'snapshot', snapshot: this.cache.snapshot(maps) };
    } else {
      const delta = this.cache.deltaSince(maps, this.clientRevision);
      const limit = (this.opts.snapshotFraction ?? 0.5) * maps.rows * maps.cols;
      message = delta.index.length > limit ? { kind: 'snapshot', snapshot: this.cache.snapshot(maps) } : { kind: 'delta', delta };
    }
    const revision = message.kind === 'snapshot' ? message.snapshot.revision : message.delta.revision;
    const epoch = this.epoch;
    this.inFlight = true;
    this.inFlightRevision = revision;
    this.lastSentMs = nowMs;
    this.sent++;
    this.opts.transport.send(message, () => {
      if (epoch !== this.epoch) return; // acked after a resync: the client is getting a snapshot anyway
      this.inFlight = false;
      this.clientRevision = revision;
    });
    return message.kind;
  }
}
