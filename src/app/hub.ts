/**
 * PipelineHub: the daemon as the dashboard server sees it (the DashboardHub contract of src/server/hub.ts).
 * Reads only: maps, scans, model info, stats; the two on-demand calls decode with the current model.
 * Notifications only mark things dirty on the server side; nothing here waits on a browser.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import type { Alert } from '../alerts/types.ts';
import { fromCanonicalInput, scanVoltage } from '../preprocess/canonical-input.ts';
import { unscale } from '../preprocess/scale.ts';
import type { AlertsStatus, DashboardHub, OodStatus, FinetuneState, HubEvent, LiveStats, ModelInfo, PixelDetail, PixelSize, ScanFailure, ScanInfo, TraversalRequest, TraversalResult } from '../server/hub.ts';
import { scanVoltageAxis } from '../preprocess/voltage-axis.ts';
import { parsePace, replayFile } from '../sources/hdf5/index.ts';
import { replayRules } from '../pipeline/replay-rules.ts';
import type { RejectCounts } from '../sources/zmq.ts';
import { CodedError } from '../util/coded-error.ts';
import type { Daemon } from '../pipeline/daemon.ts';
import { scanMeanError } from '../pipeline/scan-context.ts';

const CHANNEL_UNITS: Record<string, string> = { piezoresponse: 'a.u.', resonance: 'kHz' };

/** Refused when a dashboard asks to replay a file outside the configured folders. */
export class ReplayPathError extends CodedError<'LS_REPLAY_PATH'> {
  override readonly name = 'ReplayPathError';
  constructor(message: string) {
    super('LS_REPLAY_PATH', message);
  }
}

export class PipelineHub implements DashboardHub {
  private readonly events = new Subject<HubEvent>();
  /** scan, alert and model changes (the dashboard server and the facility publisher subscribe) */
  readonly events$: Observable<HubEvent> = this.events.asObservable();
  private finetune: ModelInfo['finetune'] = { state: 'disabled', text: 'fine-tuning is off' };
  private replays = 0;
  /** replays started from the dashboard that failed, by scan id (shown on the page with their code) */
  private readonly failures = new Map<string, ScanFailure & { rows: number; cols: number; file: string; startedAt: number }>();
  /** why alerting is off for every scan, set by the alerts wiring; undefined = alerts run (per scan: ctx.alerts) */
  private alertsOff: string | undefined = 'alerting is not wired into this run';

  constructor(
    private readonly daemon: Daemon,
    private readonly rejects?: RejectCounts,
  ) {
    // ended by the daemon's close, which completes both streams; events$ completes with them
    daemon.registry.scans$.subscribe({ next: ({ ctx }) => this.events.next({ type: 'scan:change', scanId: ctx.start.scanId }), complete: () => this.events.complete() });
    daemon.slot.swapped$.subscribe(() => this.events.next({ type: 'model:change' }));
  }

  /** Alerts wiring calls this when an alert of the scan changes. */
  alertChanged(scanId: string): void {
    this.events.next({ type: 'alert:change', scanId });
  }

  /** The alerts wiring calls this: `undefined` when alerts run, else the reason they are off (shown as "alerts off: …"). */
  setAlertsOff(reason: string | undefined): void {
    this.alertsOff = reason;
    this.events.next({ type: 'scan:change', scanId: '' });
  }

  /** Fine-tuning calls this as it moves through its states. */
  setFinetuneStatus(state: FinetuneState, text: string, progress?: number): void {
    this.finetune = { state, text, ...(progress === undefined ? {} : { progress }) };
    this.events.next({ type: 'model:change' });
  }

  scans(): ScanInfo[] {
    const listed = new Set<string>();
    const scans: ScanInfo[] = this.daemon.registry.list().map((ctx) => {
      const id = ctx.start.scanId;
      listed.add(id);
      const failure = this.failures.get(id);
      const pixelSize = (ctx.start as { pixelSize?: PixelSize }).pixelSize;
      // alerting as wired for this scan (wire-alerts.ts sets ctx.alertsStatus), else what the hub knows
      const alerts: AlertsStatus = ctx.alertsStatus
        ? { ...ctx.alertsStatus }
        : ctx.alerts
          ? { enabled: true }
          : { enabled: false, reason: !ctx.encodable ? `the model cannot read this scan (${ctx.notEncodableReason ?? 'not encodable'})` : (this.alertsOff ?? 'no alert engine for this scan') };
      const ood: OodStatus | undefined = ctx.ood ? { flag: ctx.ood.flag, errorRatio: ctx.ood.errorRatio, inputShift: ctx.ood.inputShift, reasons: ctx.ood.reasons, pixels: ctx.ood.pixels } : undefined;
      return {
        id,
        source: ctx.source,
        ...(ctx.file ? { file: ctx.file } : {}),
        rows: ctx.maps.rows,
        cols: ctx.maps.cols,
        state: failure ? 'error' : ctx.state,
        startedAt: ctx.startedAt,
        received: ctx.maps.received,
        encoded: ctx.maps.encoded,
        missing: ctx.maps.missing,
        meanError: scanMeanError(ctx.counters),
        ...(failure ? { failure: { code: failure.code, message: failure.message } } : ctx.recordingError ? { failure: { code: 'LS_FILE_WRITE', message: `recording failed (${ctx.recordingError.errno}): ${ctx.recordingError.message}` } } : {}),
        alerts,
        ...(ood ? { ood } : {}),
        ...(pixelSize ? { pixelSize } : {}),
      };
    });
    // a replay that failed before its scan opened still has a line in the picker, with its reason
    for (const [id, f] of this.failures) {
      if (listed.has(id)) continue;
      scans.push({ id, source: 'replay', file: f.file, rows: f.rows, cols: f.cols, state: 'error', startedAt: f.startedAt, received: 0, encoded: 0, missing: 0, meanError: null, failure: { code: f.code, message: f.message } });
    }
    return scans.sort((a, b) => b.startedAt - a.startedAt);
  }

  maps(scanId: string) {
    const ctx = this.daemon.registry.get(scanId);
    return ctx && !ctx.refused ? ctx.maps : undefined; // a refused scan's grid was never allocated
  }

  async pixel(scanId: string, row: number, col: number): Promise<PixelDetail | undefined> {
    const ctx = this.daemon.registry.get(scanId);
    if (!ctx || !ctx.inputs || row < 0 || col < 0 || row >= ctx.maps.rows || col >= ctx.maps.cols) return undefined;
    const { maps } = ctx;
    const i = maps.indexOf(row, col);
    const bundle = this.daemon.slot.bundle;
    const { T, C, latentDim: d } = bundle;
    const spec = bundle.preprocess;
    const encoded = maps.version[i] >= 0;
    // back to the scan's physical units and its own voltages (its frozen input state), else the bundle's
    const state = ctx.inputState;
    const stats = ctx.loopStats ? { offset: ctx.loopStats.offset[i]!, height: ctx.loopStats.height[i]! } : undefined;
    const physical = (y: Float32Array) => (state ? fromCanonicalInput(y, state, bundle.input, stats) : unscale(y, C, spec.mean, spec.std));
    const input = physical(ctx.inputs.subarray(i * T * C, (i + 1) * T * C));
    let recon: Float32Array | undefined;
    if (encoded) {
      const mu = maps.mu.slice(i * d, (i + 1) * d);
      recon = physical(await this.daemon.slot.run((engine) => engine.decode(mu, 1)));
    }
    const channel = (data: Float32Array, c: number) => Array.from({ length: T }, (_, t) => data[t * C + c]);
    return {
      scanId,
      row,
      col,
      state: maps.state[i],
      voltage: state ? scanVoltage(state, bundle.input) : scanVoltageAxis(spec.voltage, ctx.start.dcVoltage),
      voltageUnit: 'V',
      channels: spec.channels.map((name, c) => ({
        name,
        unit: CHANNEL_UNITS[name] ?? '',
        input: encoded ? channel(input, c) : [],
        reconstruction: recon ? channel(recon, c) : null,
      })),
      mu: encoded ? Array.from(maps.mu.subarray(i * d, (i + 1) * d)) : [],
      error: encoded ? maps.error[i] : null,
      version: maps.version[i],
    };
  }

  async traverse(req: TraversalRequest): Promise<TraversalResult> {
    const bundle = this.daemon.slot.bundle;
    const { T, C, latentDim: d } = bundle;
    const spec = bundle.preprocess;
    const ctx = this.daemon.registry.get(req.scanId);
    const baseMu = new Float32Array(d);
    if (req.base && ctx) {
      const i = ctx.maps.indexOf(req.base.row, req.base.col);
      if (ctx.maps.version[i] >= 0) baseMu.set(ctx.maps.mu.subarray(i * d, (i + 1) * d));
    }
    const n = req.values.length;
    const z = new Float32Array(n * d);
    req.values.forEach((v, k) => {
      z.set(baseMu, k * d);
      z[k * d + req.latent] = v;
    });
    const { recon, version } = await this.daemon.slot.run(async (engine) => ({ recon: await engine.decode(z, n), version: engine.version }));
    const state = ctx?.inputState;
    const i = req.base && ctx ? ctx.maps.indexOf(req.base.row, req.base.col) : -1;
    const stats = i >= 0 && ctx?.loopStats ? { offset: ctx.loopStats.offset[i]!, height: ctx.loopStats.height[i]! } : undefined;
    const phys = state ? fromCanonicalInput(recon, state, bundle.input, stats) : unscale(recon, C, spec.mean, spec.std);
    return {
      latent: req.latent,
      values: req.values.slice(),
      voltage: state ? scanVoltage(state, bundle.input) : ctx ? scanVoltageAxis(spec.voltage, ctx.start.dcVoltage) : spec.voltage.slice(),
      voltageUnit: 'V',
      baseMu: Array.from(baseMu),
      channels: spec.channels.map((name, c) => ({
        name,
        unit: CHANNEL_UNITS[name] ?? '',
        curves: req.values.map((_, k) => Array.from({ length: T }, (_, t) => phys[k * T * C + t * C + c])),
      })),
      version,
    };
  }

  alerts(scanId: string): readonly Alert[] {
    return this.daemon.registry.get(scanId)?.alerts?.list() ?? [];
  }

  model(): ModelInfo {
    const { manifest, latentDim } = this.daemon.slot.bundle;
    const kl = manifest.metrics.klPerLatent ?? [];
    const channelsByKl = Array.from({ length: latentDim }, (_, i) => i).sort((a, b) => (kl[b] ?? 0) - (kl[a] ?? 0));
    return {
      version: this.daemon.slot.engine.version,
      name: this.daemon.slot.bundle.dir,
      latentDim,
      channelsByKl,
      activeCount: manifest.metrics.activeChannels?.length ?? 0,
      klPerLatent: kl.slice(),
      finetune: this.finetune,
    };
  }

  stats(): LiveStats {
    return {
      ingestPxPerSec: this.daemon.ingestPxPerSec(),
      queueDepth: this.daemon.queueDepth(),
      lagSec: this.daemon.encoder.lastLagSec,
      batchLatencyMs: this.daemon.encoder.lastBatchMs,
      rejectedFrames: this.rejects?.toJSON() ?? {},
      ...(this.daemon.ingestHalted ? { ingestHalted: `${this.daemon.ingestHalted.errno} writing ${this.daemon.ingestHalted.path}: ingest stopped` } : {}),
    };
  }

  /** HDF5 files under the replay roots (one level deep), as names relative to their root; only names resolveReplayPath accepts. */
  async replayFiles(): Promise<string[]> {
    const out: string[] = [];
    for (const root of this.daemon.config.replay.roots) {
      const walk = (dir: string, depth: number) => {
        let entries: string[];
        try {
          entries = readdirSync(dir);
        } catch {
          return;
        }
        for (const e of entries) {
          if (e === 'node_modules' || e.startsWith('.')) continue;
          const p = join(dir, e);
          const st = statSync(p, { throwIfNoEntry: false });
          if (st?.isDirectory() && depth < 2) walk(p, depth + 1);
          else if (st?.isFile() && e.endsWith('.h5') && !e.endsWith('.results.h5')) {
            const name = relative(resolve(root), p) || e;
            // symlinks that lead out of the roots are not offered (they would be refused anyway)
            if (this.confined(name) !== undefined) out.push(name);
          }
        }
      };
      walk(resolve(root), 0);
    }
    return out.sort();
  }

  /** The real path of `file` if it names a regular file inside one of the replay roots, else undefined. */
  private confined(file: string): string | undefined {
    if (file.includes('\0')) return undefined; // fs calls throw on NUL; refuse it like any other bad name
    for (const root of this.daemon.config.replay.roots) {
      let base: string;
      let full: string;
      try {
        // Compare real paths: a symlink inside a root may point anywhere (security: docs/operations.md).
        base = realpathSync(resolve(root));
        full = realpathSync(resolve(base, file));
      } catch {
        continue; // missing root or file
      }
      const rel = relative(base, full);
      if (rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel) && statSync(full, { throwIfNoEntry: false })?.isFile()) return full;
    }
    return undefined;
  }

  /** Resolve a replay name inside the configured roots; anything outside (../, absolute elsewhere, symlinks out) is refused. */
  resolveReplayPath(file: string): string {
    const full = this.confined(file);
    if (full === undefined) throw new ReplayPathError(`replay of "${file.replace(/\0/g, '\\0')}" refused: not a file inside the replay roots (${this.daemon.config.replay.roots.join(', ')})`);
    return full;
  }

  async replay(file: string): Promise<string> {
    const path = this.resolveReplayPath(file);
    const { openScanFile } = await import('../sources/hdf5/index.ts');
    const reader = await openScanFile(path);
    const scanId = `${reader.start.scanId}-replay${++this.replays}`;
    const { rows, cols } = reader.start.grid;
    reader.close();
    const startedAt = Date.now();
    void this.daemon
      .run(replayFile(path, { pace: parsePace(this.daemon.config.replay.pace), scanId, ...replayRules(this.daemon.config, this.daemon.log.child({ stage: 'replay', scanId })) }), { source: 'replay', file, record: false })
      .catch((err: Error & { code?: unknown }) => {
        const code = typeof err.code === 'string' && err.code.startsWith('LS_') ? err.code : 'LS_SERVER_REPLAY';
        this.daemon.log.error({ file, scanId, code, err: err.message }, 'replay failed');
        // the page started it and was told "started": it must learn the outcome too (not "completed · 0%")
        this.failures.set(scanId, { code, message: `replay of ${file} failed: ${err.message}`, rows, cols, file, startedAt });
        if (this.failures.size > 100) this.failures.delete(this.failures.keys().next().value as string);
        this.events.next({ type: 'scan:change', scanId });
      });
    return scanId;
  }
}
