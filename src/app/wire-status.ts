/**
 * Wire the status channel (src/sources/zmq-status.ts) to the live daemon: every refusal reaches the producer.
 * Per scan it publishes `accepted` (opened), `refused` (a frame or the scan, with code and message), `warning`
 * (plausibility), `progress` (received / recorded / encoded counts, at most every PROGRESS_MS per scan), `halted`
 * (its recording failed) and `finished` (final counts). docs/protocol.md §Status channel is the prose form.
 */
import { Subscription, filter } from 'rxjs';
import type { FrameError } from '../protocol/errors.ts';
import { guarded } from '../pipeline/fan-out.ts';
import type { StatusChannel } from '../sources/zmq-status.ts';
import type { ZmqSource } from '../sources/zmq.ts';
import type { Daemon } from '../pipeline/daemon.ts';
import type { RecordingFailure, ScanContext } from '../pipeline/scan-context.ts';

/** Least time between two `progress` messages of one scan. */
const PROGRESS_MS = 250;

/** The status side the daemon's other parts may call. */
export interface StatusReporter {
  /**
   * Publish that a scan's recording failed (`halted`). Recording failures reported through
   * `ScanRegistry.recordingFailed` are published already; this is for a halt detected elsewhere.
   */
  halted(scanId: string, failure: Partial<RecordingFailure> & { message: string }): void;
  close(): void;
}

function counts(ctx: ScanContext): Record<string, number> {
  return {
    received: ctx.counters.received,
    recorded: ctx.counters.recorded,
    encoded: ctx.counters.encoded,
    rejected: ctx.counters.rejected,
    missing: ctx.maps.missing,
    ...(ctx.recordingError ? { unrecorded: ctx.recordingError.unrecorded } : {}),
  };
}

/** Publish the daemon's and the source's per-scan news on `channel`; returns the reporter (and its off switch). */
export function wireStatus(daemon: Daemon, source: Pick<ZmqSource, 'rejects$' | 'warnings$'>, channel: StatusChannel): StatusReporter {
  const lastProgress = new Map<string, number>();
  const trailing = new Map<string, NodeJS.Timeout>();
  const haltedScans = new Set<string>();
  const frame = (e: FrameError) => ({ ...e.at, code: e.code, message: e.message });

  const halted = (scanId: string, failure: Partial<RecordingFailure> & { message: string }) => {
    channel.publish('halted', { scanId, ...failure, ingestHalted: Boolean(daemon.ingestHalted) });
  };
  // one Subscription for the whole wiring: `close` ends every subscription below
  const sub = new Subscription();
  const on = <T>(fn: (value: T) => void) => guarded(daemon.log, 'status channel', fn);
  sub.add(source.rejects$.subscribe((e) => channel.publish('refused', frame(e))));
  sub.add(source.warnings$.subscribe((w) => channel.publish('warning', { ...w.at, code: w.code, message: w.message })));
  sub.add(
    daemon.registry.scans$.subscribe(on(({ ctx, what }) => {
      const scanId = ctx.start.scanId;
      if (what === 'open') {
        channel.publish('accepted', { scanId, dataKind: ctx.start.kind, rows: ctx.start.grid.rows, cols: ctx.start.grid.cols, source: ctx.source, recording: ctx.recordingPath ?? null });
        return;
      }
      lastProgress.delete(scanId);
      haltedScans.delete(scanId);
      channel.publish('finished', { scanId, status: ctx.state, ...counts(ctx), results: ctx.refused ? null : ctx.resultsPath });
    })),
  );
  sub.add(daemon.registry.refused$.subscribe(on(({ ctx, refusal }) => channel.publish('refused', { scanId: ctx.start.scanId, ...refusal }))));
  // pixels the model's own check refuses (LS_INPUT_ALL_NONFINITE, LS_INPUT_OVERFLOW): the producer learns them too
  sub.add(daemon.encoder.refused$.subscribe(on(({ ctx, seq, code, message }) => channel.publish('refused', { scanId: ctx.start.scanId, seq, code, message }))));
  sub.add(
    daemon.registry.recordingFailed$.subscribe(on(({ ctx, failure }) => {
      // once per scan: recordingFailed$ is told again for every later batch of the scan
      if (haltedScans.has(ctx.start.scanId)) return;
      haltedScans.add(ctx.start.scanId);
      halted(ctx.start.scanId, failure);
    })),
  );
  sub.add(
    daemon.events$.pipe(filter((ev) => ev.type === 'batch')).subscribe(on((ev) => {
      const { ctx } = ev;
      const scanId = ctx.start.scanId;
      const wait = PROGRESS_MS - (performance.now() - (lastProgress.get(scanId) ?? -Infinity));
      if (wait <= 0) return progress(ctx);
      // throttled: one trailing message at the end of the window, so the latest counts always go out
      if (trailing.has(scanId)) return;
      trailing.set(
        scanId,
        setTimeout(() => {
          trailing.delete(scanId);
          if (ctx.state === 'running') progress(ctx);
        }, wait),
      );
    })),
  );
  function progress(ctx: ScanContext): void {
    lastProgress.set(ctx.start.scanId, performance.now());
    channel.publish('progress', { scanId: ctx.start.scanId, ...counts(ctx) });
  }
  return {
    halted,
    close() {
      sub.unsubscribe();
      for (const t of trailing.values()) clearTimeout(t);
    },
  };
}
