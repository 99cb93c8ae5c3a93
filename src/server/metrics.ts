/**
 * Prometheus metrics of the daemon (prom-client), served at /metrics by the dashboard server.
 *
 * Two kinds: event metrics the pipeline updates as things happen (`ingestPixels`, `batchLatency`,
 * `rejectedFrames`, `alertEvents`) and the server's own (`droppedUpdates`, `clients`, `mapMessages`, `mapBytes`);
 * and level metrics read from the hub at scrape time (ingest rate, queue depth, lag, open alerts, model version,
 * fine-tuning state), so the pipeline never has to push them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FINETUNE_STATES } from '../contracts/finetune-state.ts';
import type { DashboardHub } from './hub.ts';

/** The metric objects, exported so the pipeline updates them directly. */
export interface DashboardMetrics {
  registry: Registry;
  /** pipeline: `ingestPixels.inc(n)` for every pixel accepted (live or replay) */
  ingestPixels: Counter;
  /** pipeline: `batchLatency.observe(seconds)` for every inference call */
  batchLatency: Histogram;
  /** pipeline: `rejectedFrames.inc({ code })` for every refused frame (FrameError code) */
  rejectedFrames: Counter<'code'>;
  /** pipeline: `alertEvents.inc({ type })` for every alert event (open, updated, closed) */
  alertEvents: Counter<'type'>;
  /** server: display updates a busy client could not take (drop-to-latest) */
  droppedUpdates: Counter;
  /** server: map messages sent, by kind (snapshot, delta) */
  mapMessages: Counter<'kind'>;
  /** server: bytes of map payload sent */
  mapBytes: Counter;
  /** server: connected dashboard clients */
  clients: Gauge;
  /** facility publisher (src/facility): events published to the facility stream, or dropped (Redis down, queue full) */
  facilityEvents: Counter<'outcome'>;
  /** server: HTTP requests and Socket.IO handshakes refused, by reason (origin, token) */
  refusedRequests: Counter<'reason'>;
  /** read from hub.stats() at scrape: pixels per second */
  ingestRate: Gauge;
  /** read from hub.stats() at scrape: pixels waiting for inference */
  queueDepth: Gauge;
  /** read from hub.stats() at scrape: acquisition → encoding lag, seconds */
  lag: Gauge;
  /** read from hub.alerts() at scrape: alerts not closed, over all scans */
  alertsOpen: Gauge;
  /** read from hub.model() at scrape: model version encoding new pixels */
  modelVersion: Gauge;
  /** read from hub.model() at scrape: 1 for the current fine-tuning state, 0 for the others */
  finetuneState: Gauge<'state'>;
  /** read from hub.scans() at scrape: 1 when the model does not fit the scan, 0 when it does (scans checked so far) */
  scanOod: Gauge<'scan'>;
  /** read from hub.scans() at scrape: scan median error ÷ training median error */
  scanErrorRatio: Gauge<'scan'>;
  /** read from hub.scans() at scrape: 1 when the scan is scored for alerts, 0 when alerts are off for it */
  scanAlertsEnabled: Gauge<'scan'>;
  /** read from hub.stats() at scrape: 1 while ingest is halted (a recording could not be written), else 0 */
  ingestHalted: Gauge;
  /** give the level metrics their source; the server calls it with its hub */
  readFrom(hub: DashboardHub): void;
}

/**
 * A fresh registry with every loopstream metric (and Node's default process metrics, prefixed `loopstream_`).
 * One per daemon; tests make their own.
 */
export function createDashboardMetrics(opts: { defaultMetrics?: boolean } = {}): DashboardMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'loopstream_' });
  let hub: DashboardHub | undefined;
  const registers = [registry];

  const metrics: DashboardMetrics = {
    registry,
    ingestPixels: new Counter({ name: 'loopstream_ingest_pixels_total', help: 'pixels accepted for processing', registers }),
    batchLatency: new Histogram({
      name: 'loopstream_inference_batch_seconds',
      help: 'duration of one inference call (one micro-batch)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    rejectedFrames: new Counter({ name: 'loopstream_rejected_frames_total', help: 'frames refused, by error code', labelNames: ['code'], registers }),
    alertEvents: new Counter({ name: 'loopstream_alert_events_total', help: 'alert events, by type (open, updated, closed)', labelNames: ['type'], registers }),
    droppedUpdates: new Counter({
      name: 'loopstream_dashboard_dropped_updates_total',
      help: 'display updates not sent because the client had not caught up (it gets the latest state later)',
      registers,
    }),
    mapMessages: new Counter({ name: 'loopstream_dashboard_map_messages_total', help: 'map messages sent to dashboard clients', labelNames: ['kind'], registers }),
    mapBytes: new Counter({ name: 'loopstream_dashboard_map_bytes_total', help: 'bytes of map arrays sent to dashboard clients', registers }),
    clients: new Gauge({ name: 'loopstream_dashboard_clients', help: 'connected dashboard clients', registers }),
    facilityEvents: new Counter({
      name: 'loopstream_facility_events_total',
      help: 'facility-stream events by outcome: published (XADD acknowledged) or dropped (Redis down or slow, queue full); ingest never waits for them',
      labelNames: ['outcome'],
      registers,
    }),
    refusedRequests: new Counter({
      name: 'loopstream_dashboard_refused_total',
      help: 'dashboard HTTP requests and Socket.IO handshakes refused, by reason (origin: a foreign web page; token: no or wrong token)',
      labelNames: ['reason'],
      registers,
    }),
    ingestRate: new Gauge({
      name: 'loopstream_ingest_pixels_per_second',
      help: 'ingest rate over the last seconds',
      registers,
      collect() {
        if (hub) this.set(hub.stats().ingestPxPerSec);
      },
    }),
    queueDepth: new Gauge({
      name: 'loopstream_queue_depth',
      help: 'pixels waiting for inference',
      registers,
      collect() {
        if (hub) this.set(hub.stats().queueDepth);
      },
    }),
    lag: new Gauge({
      name: 'loopstream_lag_seconds',
      help: 'acquisition to encoding lag of the latest batch',
      registers,
      collect() {
        if (hub) this.set(hub.stats().lagSec);
      },
    }),
    alertsOpen: new Gauge({
      name: 'loopstream_alerts_open',
      help: 'alerts not closed, over all scans',
      registers,
      collect() {
        if (!hub) return;
        let open = 0;
        for (const scan of hub.scans()) for (const a of hub.alerts(scan.id)) if (a.state !== 'closed') open++;
        this.set(open);
      },
    }),
    modelVersion: new Gauge({
      name: 'loopstream_model_version',
      help: 'version of the model bundle encoding new pixels',
      registers,
      collect() {
        if (hub) this.set(hub.model().version);
      },
    }),
    finetuneState: new Gauge({
      name: 'loopstream_finetune_state',
      help: 'fine-tuning state: 1 for the current state, 0 for the others',
      labelNames: ['state'],
      registers,
      collect() {
        if (!hub) return;
        const current = hub.model().finetune.state;
        for (const state of FINETUNE_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    }),
    scanOod: new Gauge({
      name: 'loopstream_scan_ood',
      help: 'does the model fit the scan: 1 = no (out of distribution), 0 = yes; scans checked so far',
      labelNames: ['scan'],
      registers,
      collect() {
        if (!hub) return;
        this.reset(); // scans the daemon forgot leave the output
        for (const scan of hub.scans()) if (scan.ood) this.set({ scan: scan.id }, scan.ood.flag ? 1 : 0);
      },
    }),
    scanErrorRatio: new Gauge({
      name: 'loopstream_scan_error_ratio',
      help: "the scan's median reconstruction error over the model's training median",
      labelNames: ['scan'],
      registers,
      collect() {
        if (!hub) return;
        this.reset();
        for (const scan of hub.scans()) if (scan.ood?.errorRatio != null) this.set({ scan: scan.id }, scan.ood.errorRatio);
      },
    }),
    scanAlertsEnabled: new Gauge({
      name: 'loopstream_scan_alerts_enabled',
      help: '1 when the scan is scored for alerts, 0 when alerts are off for it (the log and the dashboard say why)',
      labelNames: ['scan'],
      registers,
      collect() {
        if (!hub) return;
        this.reset();
        for (const scan of hub.scans()) if (scan.alerts) this.set({ scan: scan.id }, scan.alerts.enabled ? 1 : 0);
      },
    }),
    ingestHalted: new Gauge({
      name: 'loopstream_ingest_halted',
      help: '1 while ingest is halted because a recording could not be written (disk full, read-only folder), else 0',
      registers,
      collect() {
        if (hub) this.set(hub.stats().ingestHalted ? 1 : 0);
      },
    }),
    readFrom(source: DashboardHub) {
      hub = source;
    },
  };
  return metrics;
}
