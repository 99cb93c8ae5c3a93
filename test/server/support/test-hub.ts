/**
 * A DashboardHub over real ScanMaps for the server tests: maps filled through applyBatch, alerts and model info
 * set by the test. `pixel` and `traverse` answer from known formulas so tests can check what arrives.
 */
import { Subject } from 'rxjs';
import type { Alert } from '../../../src/alerts/types.ts';
import type { ScanMaps } from '../../../src/maps/scan-maps.ts';
import type { DashboardHub, HubEvent, LiveStats, ModelInfo, PixelDetail, ScanInfo, TraversalRequest, TraversalResult } from '../../../src/server/hub.ts';

/** Voltage axis of the test loops, V. */
export const TEST_VOLTAGE = [16, 8, 0, -8, -16, -8, 0, 8];

/** The test hub. */
export class TestHub implements DashboardHub {
  readonly all = new Map<string, ScanMaps>();
  readonly alertsOf = new Map<string, Alert[]>();
  readonly events = new Subject<HubEvent>();
  readonly events$ = this.events.asObservable();
  info: ModelInfo = {
    version: 3,
    name: 'test-bundle',
    latentDim: 4,
    channelsByKl: [2, 0, 3, 1],
    activeCount: 2,
    klPerLatent: [0.5, 0.01, 1.2, 0.02],
    finetune: { state: 'training', text: 'epoch 2/10', progress: 0.2 },
  };
  live: LiveStats = { ingestPxPerSec: 123.5, queueDepth: 7, lagSec: 0.25, batchLatencyMs: 12, rejectedFrames: { LS_FRAME_JSON: 2 } };
  files = ['a.h5', 'sub/b.h5'];
  replays: string[] = [];
  /** when set, pixel() waits for it (a slow decode) */
  gate: Promise<void> | undefined;

  add(maps: ScanMaps): void {
    this.all.set(maps.scanId, maps);
    this.events.next({ type: 'scan:change', scanId: maps.scanId });
  }

  setAlerts(scanId: string, alerts: Alert[]): void {
    this.alertsOf.set(scanId, alerts);
    this.events.next({ type: 'alert:change', scanId });
  }

  scans(): ScanInfo[] {
    return [...this.all.values()].reverse().map((m) => ({
      id: m.scanId,
      meanError: null, // this stand-in keeps no error sum; the facility reads it from the real hub
      source: 'replay',
      rows: m.rows,
      cols: m.cols,
      state: 'running',
      startedAt: 0,
      received: m.received,
      encoded: m.encoded,
      missing: m.missing,
    }));
  }

  maps(scanId: string) {
    return this.all.get(scanId);
  }

  /** Input loop = (row + 1) · V, reconstruction = input + error of the pixel. */
  async pixel(scanId: string, row: number, col: number): Promise<PixelDetail | undefined> {
    await this.gate;
    const m = this.all.get(scanId);
    if (!m) return undefined;
    const i = m.indexOf(row, col);
    const input = TEST_VOLTAGE.map((v) => (row + 1) * v);
    const encoded = m.version[i] >= 0;
    return {
      scanId,
      row,
      col,
      state: m.state[i],
      voltage: TEST_VOLTAGE,
      channels: [
        { name: 'piezoresponse', unit: 'a.u.', input, reconstruction: encoded ? input.map((x) => x + m.error[i]) : null },
        { name: 'resonance', unit: 'kHz', input: TEST_VOLTAGE.map(() => 1320 + col), reconstruction: encoded ? TEST_VOLTAGE.map(() => 1320 + col) : null },
      ],
      mu: encoded ? Array.from(m.mu.subarray(i * m.latentDim, (i + 1) * m.latentDim)) : [],
      error: encoded ? m.error[i] : null,
      version: m.version[i],
    };
  }

  /** Decoded curve k = values[k] · V. */
  async traverse(req: TraversalRequest): Promise<TraversalResult> {
    return {
      latent: req.latent,
      values: req.values,
      voltage: TEST_VOLTAGE,
      baseMu: [0, 0, 0, 0],
      channels: [{ name: 'piezoresponse', unit: 'a.u.', curves: req.values.map((z) => TEST_VOLTAGE.map((v) => z * v)) }],
      version: this.info.version,
    };
  }

  alerts(scanId: string): readonly Alert[] {
    return this.alertsOf.get(scanId) ?? [];
  }

  model(): ModelInfo {
    return this.info;
  }

  stats(): LiveStats {
    return this.live;
  }

  async replayFiles(): Promise<string[]> {
    return this.files;
  }

  async replay(file: string): Promise<string> {
    if (!this.files.includes(file)) throw Object.assign(new Error(`replay of "${file}" refused: not a file inside the replay roots`), { code: 'LS_REPLAY_PATH' });
    this.replays.push(file);
    return `replay-${file}`;
  }

}

/** An alert over `pixels` of a grid with `cols` columns. */
export function testAlert(scanId: string, id: number, pixels: number[], cols: number, state: Alert['state'] = 'open'): Alert {
  const rows = pixels.map((p) => Math.floor(p / cols));
  const cs = pixels.map((p) => p % cols);
  return {
    id,
    scanId,
    state,
    bbox: { rowMin: Math.min(...rows), rowMax: Math.max(...rows), colMin: Math.min(...cs), colMax: Math.max(...cs) },
    area: pixels.length,
    pixels: Uint32Array.from(pixels),
    peakScore: 3.5,
    meanScore: 2,
    reason: 'error',
    errorPixels: pixels.length,
    latentPixels: 0,
    openedAt: 1,
    updatedAt: 2,
    merged: [],
    sequence: 1,
  };
}
