/**
 * Socket.IO event maps shared by the daemon (`Server<ClientToServerEvents, ServerToClientEvents>`) and the page
 * (`Socket<ServerToClientEvents, ClientToServerEvents>`). Names are `noun:verb`. Browser-safe: types only.
 *
 * Binary fields travel as Socket.IO attachments: the server sends Buffers, the browser receives ArrayBuffers and
 * Node clients Buffers; `src/server/map-wire.ts` decodes both in one place.
 */
import type { AlertJson } from '../alerts/types.ts';
import type { LiveStats, ModelInfo, PixelDetail, ScanInfo, TraversalRequest, TraversalResult } from './hub.ts';

/** Scan status fields of `ScanInfo` (in `scan:list`), defined beside the hub contract; docs/dashboard.md §Scan status fields. */
export type { AlertsStatus, OodStatus, PixelSize, ScanFailure } from './hub.ts';

/** A binary attachment as sent (Buffer/Uint8Array) or received (ArrayBuffer in the browser, Buffer in Node). */
export type Binary = ArrayBuffer | Uint8Array;

/** Scalar counters common to snapshots and deltas. */
export interface WireCounts {
  scanId: string;
  /** revision of the maps this message brings the client to */
  revision: number;
  received: number;
  encoded: number;
  missing: number;
}

/** The whole maps of one scan (no log σ²: the page does not draw it). */
export interface WireSnapshot extends WireCounts {
  rows: number;
  cols: number;
  latentDim: number;
  /** float32 [rows*cols, latentDim] */
  mu: Binary;
  /** float32 [rows*cols] */
  error: Binary;
  /** int32 [rows*cols] */
  version: Binary;
  /** uint8 [rows*cols], PIXEL_* codes */
  state: Binary;
}

/** The pixels changed between `fromRevision` and `revision`; apply only on top of exactly `fromRevision`. */
export interface WireDelta extends WireCounts {
  fromRevision: number;
  /** uint32 [n] flat pixel indices */
  index: Binary;
  /** float32 [n, latentDim] */
  mu: Binary;
  /** float32 [n] */
  error: Binary;
  /** int32 [n] */
  version: Binary;
  /** uint8 [n] */
  state: Binary;
}

/** Server hello, sent once per connection. */
export interface ServerHello {
  /** Socket.IO protocol of this dashboard (bumped on incompatible event changes) */
  protocol: number;
  maxDeltaHz: number;
  /** whether the hub offers replays */
  replay: boolean;
}

/** Answer to a request: the value, or an error code and message the page shows. */
export type Reply<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** The current alerts of one scan. */
export interface AlertList {
  scanId: string;
  alerts: AlertJson[];
}

/** Events the server emits. Map messages carry an ack: the server sends the next one only after it. */
export interface ServerToClientEvents {
  'server:hello': (hello: ServerHello) => void;
  'scan:list': (scans: ScanInfo[]) => void;
  /** the whole maps of the selected scan; ack when drawn (no ack: sent through the Redis adapter, docs/scale.md) */
  'map:snapshot': (snapshot: WireSnapshot, ack?: () => void) => void;
  /** changed pixels since the client's revision; ack when applied (no ack: a room broadcast through the Redis adapter) */
  'map:delta': (delta: WireDelta, ack?: () => void) => void;
  'alert:list': (list: AlertList) => void;
  'model:info': (info: ModelInfo) => void;
  /** about once a second; volatile (dropped, not queued, for a busy client) */
  'stats:update': (stats: LiveStats) => void;
}

/** Events the page emits. Requests answer through the ack callback. */
export interface ClientToServerEvents {
  /** follow a scan: a snapshot follows, then deltas */
  'scan:select': (scanId: string) => void;
  /** the client lost track (a delta that does not start at its revision): send a snapshot */
  'map:resync': () => void;
  'pixel:get': (req: { scanId: string; row: number; col: number }, reply: (res: Reply<PixelDetail>) => void) => void;
  'latent:traverse': (req: TraversalRequest, reply: (res: Reply<TraversalResult>) => void) => void;
  'replay:list': (reply: (res: Reply<string[]>) => void) => void;
  'replay:start': (req: { file: string }, reply: (res: Reply<string>) => void) => void;
}

/**
 * Between dashboard server processes sharing the Socket.IO Redis adapter (server.redis): a viewer process
 * (`serve --viewer`) forwards what its clients ask to the daemon, which answers them directly (a socket id is a room
 * the adapter reaches on any process). Only the daemon (the process with the hub) acts on these.
 */
export interface InterServerEvents {
  /** a client connected to a viewer: send it the scan list, model, stats and the newest scan's snapshot */
  'viewer:join': (socketId: string) => void;
  /** follow `scanId` (null: send the followed scan afresh, a resync) */
  'viewer:select': (socketId: string, scanId: string | null) => void;
  'viewer:left': (socketId: string) => void;
  /** a pixel or traversal request of a viewer's client; every other process answers (null from viewers) */
  'viewer:request': (event: 'pixel:get' | 'latent:traverse', req: unknown, reply: (res: Reply<unknown> | null) => void) => void;
}

/** Protocol number in `server:hello`. */
export const DASHBOARD_PROTOCOL = 1;
