/**
 * A daemon's side of the facility view: reads what the dashboard hub already announces (scan changes, model
 * changes) and the alert events (as one more alert sink), and publishes them through a FacilityPublisher. No hook
 * inside ingest: hub notifications only mark things dirty, the work happens on a timer or setImmediate, like the
 * dashboard server's.
 */
import { hostname } from 'node:os';
import type { AlertSink } from '../alerts/types.ts';
import type { Config } from '../config/schema.ts';
import type { DashboardHub, ScanInfo } from '../server/hub.ts';
import type { DashboardMetrics } from '../server/metrics.ts';
import type { Logger } from '../util/log.ts';
import type { FacilityEvent, FacilityScan } from '../facility/events.ts';
import { FacilityPublisher } from '../facility/publisher.ts';

export interface FacilityWiring {
  publisher: FacilityPublisher;
  /** the name this daemon publishes under */
  daemonId: string;
  close(): Promise<void>;
}

/**
 * An alert sink that forwards to the facility once it is wired (the alert wiring starts before the dashboard,
 * whose URL names the daemon). Pass `sink` to wireAlerts, then `attach` the wiring.
 */
export function facilityAlertSink(): { sink: AlertSink; attach(w: { alert: AlertSink['deliver'] } | undefined): void } {
  let target: { alert: AlertSink['deliver'] } | undefined;
  return {
    sink: { name: 'facility', deliver: (d) => target?.alert(d) },
    attach: (w) => void (target = w),
  };
}

/** Start publishing this daemon's scans to `config.facility.redis`. `dashboardUrl`/`port` name the daemon. */
export function wireFacility(hub: DashboardHub, opts: { config: Pick<Config, 'facility'>; log: Logger; metrics?: DashboardMetrics; dashboardUrl: string; port: number }): FacilityWiring & { alert: AlertSink['deliver'] } {
  const cfg = opts.config.facility;
  const daemonId = cfg.daemonId || `${hostname()}:${opts.port}`;
  const url = cfg.dashboardUrl || opts.dashboardUrl;
  const publisher = new FacilityPublisher({ redis: cfg.redis, stream: cfg.stream, maxLen: cfg.maxLen, queueMax: cfg.queueMax, log: opts.log, counter: opts.metrics?.facilityEvents });

  const base = (type: FacilityEvent['type']): FacilityEvent => {
    const m = hub.model();
    return { type, daemon: daemonId, url, at: Date.now(), model: { name: m.name, version: m.version } };
  };
  const scanOf = (s: ScanInfo, withError: boolean): FacilityScan => ({
    scanId: s.id,
    source: s.source,
    rows: s.rows,
    cols: s.cols,
    state: s.state,
    startedAt: s.startedAt,
    received: s.received,
    encoded: s.encoded,
    missing: s.missing,
    expected: s.rows * s.cols,
    meanError: withError ? s.meanError : null,
    ood: s.ood ? { flag: s.ood.flag, errorRatio: s.ood.errorRatio, reasons: s.ood.reasons } : null,
    alertsEnabled: s.alerts?.enabled ?? false,
    ...(s.failure ? { failure: s.failure } : {}),
  });

  /** what was last published per scan: its state and counts */
  const known = new Map<string, { state: ScanInfo['state']; received: number; encoded: number }>();
  const checkScans = (progress: boolean) => {
    const scans = hub.scans();
    const seen = new Set<string>();
    for (const s of scans) {
      seen.add(s.id);
      const prev = known.get(s.id);
      const changed = !prev || prev.received !== s.received || prev.encoded !== s.encoded;
      if (!prev) publisher.publish({ ...base('scan:start'), scan: scanOf(s, false) });
      if (s.state !== 'running' && prev?.state !== s.state) {
        publisher.publish({ ...base(s.state === 'error' ? 'scan:failed' : 'scan:end'), scan: scanOf(s, true) });
      } else if (progress && s.state === 'running' && changed) {
        publisher.publish({ ...base('scan:progress'), scan: scanOf(s, true) });
      }
      known.set(s.id, { state: s.state, received: s.received, encoded: s.encoded });
    }
    for (const id of known.keys()) if (!seen.has(id)) known.delete(id); // forgotten by the daemon
  };

  let dirty = false;
  const markDirty = () => {
    if (dirty) return;
    dirty = true;
    setImmediate(() => {
      dirty = false;
      checkScans(false);
    });
  };
  const notifications = hub.events$.subscribe((ev) => {
    if (ev.type === 'scan:change') markDirty();
    else if (ev.type === 'model:change') setImmediate(() => publisher.publish(base('model')));
  });
  const heartbeat = () => {
    const st = hub.stats();
    publisher.publish({ ...base('daemon'), stats: { ingestPxPerSec: st.ingestPxPerSec, queueDepth: st.queueDepth, scans: known.size, ...(st.ingestHalted ? { ingestHalted: st.ingestHalted } : {}) } });
    checkScans(true);
  };
  heartbeat();
  const timer = setInterval(heartbeat, cfg.progressMs);
  timer.unref();

  return {
    publisher,
    daemonId,
    // called by the alert engine on the ingest path: builds a small object and queues it, nothing more
    alert: ({ event }) => {
      const a = event.alert;
      publisher.publish({ ...base('alert'), alert: { scanId: a.scanId, id: a.id, type: event.type, area: a.area, peakScore: a.peakScore, reason: a.reason, ...(a.kindHint ? { kindHint: a.kindHint } : {}) } });
    },
    async close() {
      clearInterval(timer);
      notifications.unsubscribe();
      checkScans(false); // a scan that just ended is published before the goodbye
      await publisher.close();
    },
  };
}
