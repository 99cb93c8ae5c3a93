/**
 * Wire alerting into a daemon: one AlertEngine per scan (opened with the scan), fed after every encoded batch,
 * finished at scan end; one set of sinks for the daemon. Without the bundle's alerts reference, alerting is
 * off with a log line saying how to make one — the pipeline itself never depends on alerts.
 */
import type { AlertSink } from '../alerts/types.ts';
import { AlertEngine, alertsToTable, closeAlertSinks, createAlertSinks, loadAlertsReference, type AlertsReference } from '../alerts/index.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import type { Daemon } from './daemon.ts';
import type { PipelineHub } from './hub.ts';

export interface AlertsWiring {
  /** alert engines' sinks are closed; engines stop with their scans */
  close(): Promise<void>;
}

/** `extraSinks` get every event besides the configured sinks (e.g. the metrics counter). */
export async function wireAlerts(daemon: Daemon, hub: PipelineHub | undefined, config: Config, log: Logger, extraSinks: AlertSink[] = []): Promise<AlertsWiring> {
  if (!config.alerts.enabled) {
    hub?.setAlertsOff('alerts.enabled is false in the configuration');
    return { close: async () => undefined };
  }
  let reference: AlertsReference;
  try {
    reference = await loadAlertsReference(daemon.slot.bundle.dir);
  } catch (err) {
    const code = (err as { code?: string }).code;
    log.warn({ code }, `alerts off: ${(err as Error).message}`);
    hub?.setAlertsOff(`${code ? `[${code}] ` : ''}${(err as Error).message}`);
    return { close: async () => undefined };
  }
  hub?.setAlertsOff(undefined);
  const sinks = await createAlertSinks(config.alerts.sinks, log);
  sinks.dashboard?.on('alert', (ev) => hub?.alertChanged(ev.alert.scanId));
  // Each engine holds per-pixel arrays of its grid: made at the scan's first encoded batch, like the maps, so a start
  // allocates nothing for its grid (docs/protocol.md §Rules).
  const engines = new Map<string, () => AlertEngine>();
  const offScan = daemon.registry.onScan((ctx, what) => {
    // A finished scan's engine is reached through ctx.alerts only, so it leaves memory with its scan.
    if (what === 'close') engines.delete(ctx.start.scanId);
    if (what !== 'open' || !ctx.encodable) return;
    let engine: AlertEngine | undefined;
    const get = () => (engine ??= new AlertEngine(ctx.maps, reference, config.alerts, [...sinks.all, ...extraSinks], { log }));
    engines.set(ctx.start.scanId, get);
    ctx.alerts = {
      list: () => engine?.alerts() ?? [],
      table: () => alertsToTable(engine?.alerts({ includeMerged: true }) ?? [], ctx.maps.size),
      finish: () => void engine?.finish(ctx.maps),
    };
  });
  const offBatch = daemon.encoder.onEncoded((ctx, index) => engines.get(ctx.start.scanId)?.().onBatch(ctx.maps, index));
  return {
    async close() {
      offScan();
      offBatch();
      await closeAlertSinks(sinks);
    },
  };
}
