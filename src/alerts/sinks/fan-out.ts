/**
 * Fan-out: one alert event to every configured sink (dashboard, ZeroMQ, JSONL, webhook, metrics, facility), with
 * each sink isolated from the others. A sink that throws, or whose promise rejects, is counted (per sink name) and
 * logged; the other sinks still get the event and the caller never waits on or hears of it (an AlertEngine sends
 * from inside its scoring loop). One FanOut serves every scan's engine (app/wire-alerts.ts).
 */
import type { Logger } from '../../util/log.ts';
import { silentLogger } from '../../util/log.ts';
import type { AlertDelivery, AlertSink } from '../types.ts';

/** Called once per failed delivery, after the fan-out counted and logged it. */
export type SinkFailed = (sink: AlertSink, err: unknown) => void;

export class FanOut {
  /** failed deliveries by sink name */
  readonly failures = new Map<string, number>();
  /** events handed to `deliver` */
  delivered = 0;

  constructor(
    readonly sinks: readonly AlertSink[],
    private readonly log: Logger = silentLogger,
  ) {}

  /** Hand `params` to every sink now; returns at once. `onFailed` hears of each sink that fails with it. */
  deliver(params: AlertDelivery, onFailed?: SinkFailed): void {
    this.delivered++;
    for (const sink of this.sinks) {
      try {
        const r = sink.deliver(params);
        if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((err: unknown) => this.failed(sink, err, params, onFailed));
      } catch (err) {
        this.failed(sink, err, params, onFailed);
      }
    }
  }

  /** Failed deliveries over all sinks. */
  get failureCount(): number {
    let n = 0;
    for (const v of this.failures.values()) n += v;
    return n;
  }

  /** Close every sink, waiting up to timeoutMs each for queued events; a sink that fails to close is skipped. */
  async close(timeoutMs = 1000): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close?.({ timeoutMs }).catch(() => undefined)));
  }

  private failed(sink: AlertSink, err: unknown, params: AlertDelivery, onFailed?: SinkFailed): void {
    this.failures.set(sink.name, (this.failures.get(sink.name) ?? 0) + 1);
    this.log.warn({ sink: sink.name, scanId: params.event.alert.scanId, err }, `alert sink ${sink.name} failed; the other sinks go on`);
    onFailed?.(sink, err);
  }
}

/** A FanOut over `sinks`. */
export function fanOut(sinks: readonly AlertSink[], log?: Logger): FanOut {
  return new FanOut(sinks, log);
}
