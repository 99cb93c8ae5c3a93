/**
 * What a daemon publishes to the facility stream (a Redis Stream, `facility.stream`) and what `loopstream facility`
 * shows. Scan bookkeeping only — lifecycle, progress, model, mean error, alerts, the model-fit flag — never pixels.
 * Browser-safe: types and pure functions only (the facility page imports this file).
 */
import type { ScanInfo } from '../server/hub.ts';

/** Kinds of stream entries. */
export type FacilityEventType = 'daemon' | 'scan:start' | 'scan:progress' | 'scan:end' | 'scan:failed' | 'alert' | 'model';

/**
 * A scan as the facility sees it: the daemon's own bookkeeping fields of ScanInfo (same names and meaning; type-only
 * import, so this file stays browser-safe) plus the scan id, its size and mean error.
 */
export interface FacilityScan extends Pick<ScanInfo, 'source' | 'rows' | 'cols' | 'state' | 'startedAt' | 'received' | 'encoded' | 'missing' | 'failure'> {
  scanId: string;
  /** rows × cols */
  expected: number;
  /** mean reconstruction error of the encoded pixels (model's scaled units); null before the first */
  meanError: number | null;
  /** the model-fit check: flag true = the model does not fit this scan; null before the first check */
  ood: { flag: boolean; errorRatio: number | null; reasons: string[] } | null;
  alertsEnabled: boolean;
}

/** One alert event, without its pixel list. */
export interface FacilityAlert {
  scanId: string;
  id: number;
  type: 'open' | 'updated' | 'closed';
  area: number;
  peakScore: number;
  reason: string;
  kindHint?: string;
}

/** One stream entry (field `e` of the XADD, as JSON). Every entry names its daemon, so any entry is a heartbeat. */
export interface FacilityEvent {
  type: FacilityEventType;
  /** facility.daemonId, default <hostname>:<dashboard port> */
  daemon: string;
  /** the daemon's own dashboard */
  url: string;
  /** daemon clock, ms since the epoch */
  at: number;
  /** the bundle encoding new pixels */
  model: { name: string; version: number };
  scan?: FacilityScan;
  alert?: FacilityAlert;
  /** with 'daemon' heartbeats */
  stats?: { ingestPxPerSec: number; queueDepth: number; scans: number; ingestHalted?: string };
}

/** A scan on the facility page. */
export interface FacilityScanView extends FacilityScan {
  /** alerts not closed */
  alertsOpen: number;
  /** alerts opened over the scan */
  alertsTotal: number;
  /** facility-server clock of the latest entry about this scan */
  updatedAt: number;
}

/** A daemon on the facility page. */
export interface FacilityDaemonView {
  id: string;
  url: string;
  model: { name: string; version: number };
  stats?: FacilityEvent['stats'];
  /** facility-server clock of its latest entry */
  lastSeen: number;
  /** not heard from for facility.staleMs */
  stale: boolean;
  /** newest first */
  scans: FacilityScanView[];
}

/** What the facility server pushes to the page (`facility:view`). */
export interface FacilityView {
  /** facility-server clock when this view was made */
  now: number;
  staleMs: number;
  /** whether the server can read the stream right now; the reason when not */
  redis: { up: boolean; error?: string };
  /** stream entries read since the server started */
  entries: number;
  daemons: FacilityDaemonView[];
}

/** Socket.IO events of the facility page. */
export interface FacilityServerToClient {
  'facility:view': (view: FacilityView) => void;
}
export type FacilityClientToServer = Record<string, never>;

/** Only http(s) links are shown on the page: a stream entry is not trusted to carry a `javascript:` URL. */
export function safeDashboardUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}
