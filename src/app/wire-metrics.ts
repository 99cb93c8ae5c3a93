/**
 * The event counters of /metrics are the pipeline's to update (src/server/metrics.ts defines them): pixels
 * encoded, inference batch time, refused frames by code, alert events by type. Gauges (rate, queue, lag, model
 * version…) are read from the hub when /metrics is scraped. Used by the live daemon and by replays alike.
 */
import { Subscription, filter, type Observable } from 'rxjs';
import type { AlertSink } from '../alerts/types.ts';
import type { FrameError } from '../protocol/errors.ts';
import type { DashboardMetrics } from '../server/metrics.ts';
import type { Daemon } from '../pipeline/daemon.ts';
import { guarded } from '../pipeline/fan-out.ts';

/** An alert sink that only counts events by type (open, updated, closed). */
export function metricsAlertSink(metrics: DashboardMetrics): AlertSink {
  return { name: 'metrics', deliver: ({ event }) => void metrics.alertEvents.inc({ type: event.type }) };
}

/** Count batches and refused frames into `metrics`; returns the function that stops counting. */
export function wireMetrics(daemon: Daemon, metrics: DashboardMetrics, rejects$?: Observable<FrameError>): () => void {
  const sub = new Subscription();
  if (rejects$) sub.add(rejects$.subscribe((err) => metrics.rejectedFrames.inc({ code: err.code })));
  sub.add(
    daemon.events$.pipe(filter((ev) => ev.type === 'batch')).subscribe(
      guarded(daemon.log, 'metrics', (ev) => {
        metrics.ingestPixels.inc(ev.pixels);
        // one observation per scan in a batch: interleaved scans share the call, each sees its duration
        metrics.batchLatency.observe(ev.latencyMs / 1000);
      }),
    ),
  );
  return () => sub.unsubscribe();
}
