/**
 * Wire alerting into a daemon: one AlertEngine per scan (opened with the scan), fed after every encoded batch,
 * finished at scan end; one set of sinks for the daemon. The pipeline itself never depends on alerts.
 *
 * Alerts can be off — disabled in the config, no usable alerts reference in the bundle (missing, invalid, stale),
 * or a scan the model cannot read. Then every scan carries `alertsStatus = { enabled: false, reason }`, which the
 * dashboard shows as "alerts off: <reason>" (an empty alert table must never read as "no anomalies"), the results
 * file and the replay summary record, and the log says once.
 *
 * Opt-in (`alerts.calibrateFromScan` = N > 0): without a usable bundle reference, each scan calibrates its own from
 * its first N encoded pixels (taken as clean) and is scored from then on, those N pixels included.
 */
import { Subscription } from 'rxjs';
import type { AlertSink } from '../alerts/types.ts';
import { AlertEngine, alertsToTable, closeAlertSinks, createAlertSinks, fanOut, loadAlertsReference, referenceFromEncodings, type AlertsReference } from '../alerts/index.ts';
import type { Config } from '../config/schema.ts';
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import type { Logger } from '../util/log.ts';
import type { Daemon } from '../pipeline/daemon.ts';
import { guarded } from '../pipeline/fan-out.ts';
import type { PipelineHub } from './hub.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';

export interface AlertsWiring {
  /** alert engines' sinks are closed; engines stop with their scans */
  close(): Promise<void>;
}

/** Reference statistics from the encoded pixels of a scan so far (live calibration). */
export function referenceFromScan(ctx: ScanContext, description: string): AlertsReference {
  const { maps } = ctx;
  const d = maps.latentDim;
  const idx: number[] = [];
  for (let i = 0; i < maps.size; i++) if (maps.state[i] === PIXEL_DONE) idx.push(i);
  const error = Float32Array.from(idx, (i) => maps.error[i]!);
  const mu = new Float32Array(idx.length * d);
  idx.forEach((i, k) => mu.set(maps.mu.subarray(i * d, (i + 1) * d), k * d));
  return referenceFromEncodings({ error, mu, dim: d, description });
}

/** `extraSinks` get every event besides the configured sinks (e.g. the metrics counter). */
export async function wireAlerts(daemon: Daemon, hub: PipelineHub | undefined, config: Config, log: Logger, extraSinks: AlertSink[] = []): Promise<AlertsWiring> {
  const calibrateN = config.alerts.calibrateFromScan;
  let reference: AlertsReference | undefined;
  let offReason: string | undefined;
  if (!config.alerts.enabled) {
    offReason = 'alerts are disabled in the configuration (alerts.enabled = false)';
  } else {
    try {
      reference = await loadAlertsReference(daemon.slot.bundle.dir);
    } catch (err) {
      offReason = `${(err as Error).message}${calibrateN > 0 ? '' : '; or set alerts.calibrateFromScan to calibrate from the first pixels of each scan'}`;
      log.warn({ code: (err as { code?: string }).code }, calibrateN > 0 ? `no usable alerts reference: ${(err as Error).message}; each scan calibrates its own from its first ${calibrateN} pixels (alerts.calibrateFromScan)` : `alerts off: ${offReason}`);
    }
  }
  if (!config.alerts.enabled) log.info({}, `alerts off: ${offReason}`);
  const live = config.alerts.enabled && !reference && calibrateN > 0;
  if (!reference && !live) {
    // Alerts off for every scan: say why on each one (dashboard, results, summary).
    const offScans = daemon.registry.scans$.subscribe(
      guarded(log, 'alerts', ({ ctx, what }) => {
        if (what === 'open') ctx.alertsStatus = { enabled: false, reason: offReason! };
      }),
    );
    hub?.setAlertsOff(offReason);
    return { close: async () => offScans.unsubscribe() };
  }
  hub?.setAlertsOff(undefined);
  const sinks = await createAlertSinks(config.alerts.sinks, log);
  sinks.dashboard?.on('alert', (ev) => hub?.alertChanged(ev.alert.scanId));
  // One fan-out for the daemon: every engine's events reach every sink; a failing sink is counted and logged here.
  const out = fanOut([...sinks.all, ...extraSinks], log);
  // Each engine holds per-pixel arrays of its grid: made at the scan's first encoded batch, like the maps, so a start
  // allocates nothing for its grid (docs/protocol.md §Rules).
  const engines = new Map<string, () => AlertEngine>();
  const start = (ctx: ScanContext, ref: AlertsReference) => {
    let engine: AlertEngine | undefined;
    const get = () => (engine ??= new AlertEngine(ctx.maps, ref, config.alerts, out, { log }));
    engines.set(ctx.start.scanId, get);
    ctx.alerts = {
      list: () => engine?.alerts() ?? [],
      table: () => alertsToTable(engine?.alerts({ includeMerged: true }) ?? [], ctx.maps.size),
      finish: () => void engine?.finish(ctx.maps),
    };
    return get;
  };
  // one Subscription for the wiring; scans$ and encoded$ deliver synchronously, so an engine has scored a batch
  // before the next one is written and is finished (by the registry, ctx.alerts.finish) before the results file
  const sub = new Subscription();
  const on = <T>(fn: (value: T) => void) => guarded(log, 'alerts', fn);
  sub.add(daemon.registry.scans$.subscribe(on(({ ctx, what }) => {
    // A finished scan's engine is reached through ctx.alerts only, so it leaves memory with its scan.
    if (what === 'close') {
      engines.delete(ctx.start.scanId);
      if (live && !ctx.alerts && ctx.alertsStatus && !ctx.alertsStatus.enabled) {
        ctx.alertsStatus = { enabled: false, reason: `the scan ended after ${ctx.maps.encoded} encoded pixels, before the ${calibrateN} that alerts.calibrateFromScan calibrates on` };
      }
      return;
    }
    if (!ctx.encodable) {
      ctx.alertsStatus = { enabled: false, reason: `the model cannot read this scan: ${ctx.notEncodableReason ?? 'not encodable'}` };
      return;
    }
    if (reference) {
      start(ctx, reference);
      ctx.alertsStatus = { enabled: true };
    } else {
      ctx.alertsStatus = { enabled: false, reason: `calibrating: alerts start after the first ${calibrateN} encoded pixels of this scan (alerts.calibrateFromScan); no usable bundle reference (${offReason})` };
    }
  })));
  sub.add(daemon.encoder.encoded$.subscribe(on(({ ctx, index }) => {
    const engine = engines.get(ctx.start.scanId);
    if (engine) return engine().onBatch(ctx.maps, index);
    if (!live || !ctx.encodable || ctx.state !== 'running' || ctx.maps.encoded < calibrateN) return;
    let ref: AlertsReference;
    try {
      ref = referenceFromScan(ctx, `first ${ctx.maps.encoded} encoded pixels of scan ${ctx.start.scanId} (alerts.calibrateFromScan)`);
    } catch (err) {
      ctx.alertsStatus = { enabled: false, reason: `calibration from this scan failed: ${(err as Error).message}` };
      return;
    }
    const started = start(ctx, ref);
    ctx.alertsStatus = { enabled: true, reference: ref.source.description };
    log.info({ scanId: ctx.start.scanId, pixels: ref.source.pixels, errorLogMedian: ref.error.logMedian }, `alerts on for scan ${ctx.start.scanId}: calibrated on its first ${ref.source.pixels} encoded pixels`);
    // Score every pixel seen so far (the calibration pixels too: a region in them still stands out from the rest).
    const seen: number[] = [];
    for (let i = 0; i < ctx.maps.size; i++) if (ctx.maps.state[i] === PIXEL_DONE) seen.push(i);
    started().onBatch(ctx.maps, Uint32Array.from(seen));
  })));
  return {
    async close() {
      sub.unsubscribe();
      await closeAlertSinks(sinks);
    },
  };
}
