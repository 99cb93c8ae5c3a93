/**
 * Hostile and mistaken input against a real `loopstream serve` process, with a real ZeroMQ producer (PUSH) and a
 * real status-channel subscriber (SUB) — issue 12 items 2, 10, 15 and the status channel:
 * - a legal but absurd seq (2^53 − 1, 2^31) or stop lastSeq does not freeze the daemon (/healthz keeps answering);
 * - all-NaN pixels are counted as rejected, never reported missing;
 * - starts beyond ingest.maxOpenScans / ingest.maxScanPixels are refused with their codes, their pixels not held;
 * - a grid too large to allocate refuses that one scan (LS_SCAN_MEMORY), not the daemon;
 * - open scans do not allocate their grids before their first pixel;
 * - kHz frequencies and millisecond times are warned about once per scan;
 * - every refusal, acceptance and encoded count reaches the producer on the status channel.
 */
import * as zmq from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePixel, encodeStart, encodeStop } from '../../src/protocol/encode.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';
import { simulateScan, type SimulatedScan } from '../../src/sim/index.ts';
import { DaemonProcess } from './support/daemon-process.ts';
import { until } from './support/producer.ts';
import { readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';
import { loadBundle } from '../../src/model/bundle.ts';
import type { InputDescriptor } from '../../src/preprocess/canonical-input.ts';

type Status = { kind: string; scanId?: string; seq?: number; code?: string; message?: string } & Record<string, unknown>;

describe('faults: hostile ingest on a real daemon', () => {
  let d: DaemonProcess;
  let push: zmq.Push;
  let sub: zmq.Subscriber;
  const status: Status[] = [];
  let url: string;
  let T: number;
  let input: InputDescriptor;

  beforeAll(async () => {
    const bundle = await testBundle();
    T = bundle.T;
    input = (await loadBundle(bundle.dir)).input;
    // The largest grid allowed, so an 8192 x 8192 start is accepted and its allocation fails at its first pixel.
    d = await DaemonProcess.start({ bundle: bundle.dir, startTimeoutMs: 170_000, config: { ingest: { maxOpenScans: 4, maxScanPixels: 8192 * 8192 } } });
    url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    expect(d.statusEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    sub = new zmq.Subscriber();
    sub.connect(d.statusEndpoint!);
    sub.subscribe();
    void (async () => {
      for await (const [kind, json] of sub) status.push({ ...(JSON.parse(json.toString()) as Status), kind: kind.toString() });
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300)); // PUB/SUB: let the subscription reach the daemon
    push = new zmq.Push({ linger: 5000 });
    push.connect(d.endpoint);
  }, 200_000);

  afterAll(async () => {
    push?.close();
    sub?.close();
    await d?.kill();
  });

  const healthy = async () => {
    // A frozen event loop never answers; 3 s leaves room for a loaded test machine.
    const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(3000) });
    return res.status;
  };
  const scan = (scanId: string, rows = 2, cols = 2, seed = 1): SimulatedScan => simulateScan({ rows, cols, seed, steps: T, scanId });
  const sendPixel = (s: SimulatedScan, seq: number, edit?: { seq?: number; t?: number; data?: Float32Array[] }) => {
    const px = s.pixel(seq);
    return push.send(encodePixel({ type: 'pixel', scanId: s.start.scanId, seq: edit?.seq ?? px.seq, row: px.row, col: px.col, t: edit?.t ?? px.t }, edit?.data ?? px.data, s.start));
  };
  const stop = (scanId: string, lastSeq: number, pixelsSent = Math.min(lastSeq + 1, 16)) => push.send(encodeStop({ type: 'stop', scanId, status: 'completed', pixelsSent, lastSeq }));
  const statusFor = (scanId: string, kind: string) => status.filter((m) => m.scanId === scanId && m.kind === kind);

  it('a pixel with seq 2^53-1 or 2^31 and a stop with lastSeq 2^53-1 do not freeze the daemon', async () => {
    const a = scan('seq-max');
    await push.send(encodeStart(a.start));
    await sendPixel(a, 0, { seq: Number.MAX_SAFE_INTEGER });
    const b = scan('seq-2p31');
    await push.send(encodeStart(b.start));
    await sendPixel(b, 0, { seq: 2 ** 31 });
    const c = scan('stop-max');
    await push.send(encodeStart(c.start));
    await stop('stop-max', Number.MAX_SAFE_INTEGER);
    await stop('seq-max', Number.MAX_SAFE_INTEGER);
    await stop('seq-2p31', 2 ** 31);
    for (const id of ['seq-max', 'seq-2p31', 'stop-max']) {
      const fin = await d.scanFinished(id, 30_000);
      expect(await healthy()).toBe(200);
      // the whole grid before the pixel is missing, and no more than the grid
      expect(fin.missing).toBe(id === 'stop-max' ? 4 : 3);
    }
  }, 60_000);

  it('counts all-NaN pixels as rejected, never as missing, and tells the producer', async () => {
    const s = scan('all-nan');
    await push.send(encodeStart(s.start));
    await sendPixel(s, 0);
    const nan = s.pixel(1).data.map((b) => new Float32Array(b.length).fill(Number.NaN));
    await sendPixel(s, 1, { data: nan });
    await sendPixel(s, 2);
    await sendPixel(s, 3);
    await stop('all-nan', 3);
    const fin = await d.scanFinished('all-nan');
    expect(fin).toMatchObject({ received: 3, encoded: 3, missing: 0 });
    await until(() => statusFor('all-nan', 'finished').length > 0, 10_000, 'the finished status');
    expect(statusFor('all-nan', 'refused')).toEqual([expect.objectContaining({ code: 'LS_FRAME_ALL_NONFINITE', seq: 1 })]);
    expect(statusFor('all-nan', 'finished')[0]).toMatchObject({ status: 'completed', received: 3, encoded: 3, rejected: 1, missing: 0 });
    const results = await readResults(d.resultsPath('all-nan'));
    expect(results.attrs.pixels_rejected).toBe(1);
    expect(Array.from(results.missing)).toEqual([0, 0, 0, 0]);
  }, 60_000);

  it('refuses a pixel whose modelled cycle/field is all NaN or overflows float32 (issue 12 #13), and tells the producer', async () => {
    const s = scan('modelled-nan');
    await push.send(encodeStart(s.start));
    const { start } = s;
    const cycle = Math.min(input.cycle, start.cycles - 1);
    const field = start.fields.includes(input.field) ? input.field : start.fields[0]!;
    const base = (cycle * start.fields.length + start.fields.indexOf(field)) * T; // the part the model reads
    const nan = s.pixel(1).data.map((b) => Float32Array.from(b));
    for (const b of nan) b.fill(Number.NaN, base, base + T); // a failed fit of that cycle only: the frame rule passes it
    const huge = s.pixel(2).data.map((b) => Float32Array.from(b));
    huge[0]![base + 3] = 3.4e38;
    await sendPixel(s, 0);
    await sendPixel(s, 1, { data: nan });
    await sendPixel(s, 2, { data: huge });
    await sendPixel(s, 3);
    await stop('modelled-nan', 3);
    const fin = await d.scanFinished('modelled-nan');
    expect(fin).toMatchObject({ received: 4, encoded: 2, missing: 0 });
    await until(() => statusFor('modelled-nan', 'finished').length > 0, 10_000, 'the finished status');
    expect(statusFor('modelled-nan', 'refused').map((m) => [m.code, m.seq])).toEqual([
      ['LS_INPUT_ALL_NONFINITE', 1],
      ['LS_INPUT_OVERFLOW', 2],
    ]);
    expect(statusFor('modelled-nan', 'finished')[0]).toMatchObject({ received: 4, recorded: 4, encoded: 2, rejected: 2 });
    const results = await readResults(d.resultsPath('modelled-nan'));
    expect(results.attrs.pixels_rejected).toBe(2);
  }, 60_000);

  it('reports an accepted scan, its recorded and encoded counts on the status channel', async () => {
    const s = scan('status-ok', 4, 4, 3);
    await push.send(encodeStart(s.start));
    for (let seq = 0; seq < 16; seq++) await sendPixel(s, seq);
    await stop('status-ok', 15);
    await d.scanFinished('status-ok');
    await until(() => statusFor('status-ok', 'finished').length > 0, 10_000, 'the finished status');
    expect(statusFor('status-ok', 'accepted')[0]).toMatchObject({ kind: 'accepted', dataKind: 'sho', rows: 4, cols: 4 });
    const progress = statusFor('status-ok', 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.encoded as number).toBeLessThanOrEqual(16);
    expect(statusFor('status-ok', 'finished')[0]).toMatchObject({ status: 'completed', received: 16, recorded: 16, encoded: 16, rejected: 0, missing: 0, results: d.resultsPath('status-ok') });
  }, 60_000);

  it('refuses starts beyond ingest.maxOpenScans, without holding their pixels, and allocates no grid before a pixel', async () => {
    const rssBefore = d.rssKb();
    // Four open scans of the largest allowed grid, none with a pixel: no grid memory yet (~1 KB a pixel once used).
    const open = [0, 1, 2, 3].map((k) => scan(`open-${k}`, 512, 512, k));
    for (const s of open) await push.send(encodeStart(s.start));
    await until(() => open.every((s) => statusFor(s.start.scanId, 'accepted').length === 1), 20_000, 'four accepted scans');
    const grown = d.rssKb() - rssBefore;
    expect(grown, `RSS grew ${grown} kB for four unused 512x512 scans`).toBeLessThan(64 * 1024); // eager: ~4 x 37 MB of NaN-filled maps

    const fifth = scan('open-4');
    await push.send(encodeStart(fifth.start));
    await sendPixel(fifth, 0);
    await until(() => statusFor('open-4', 'refused').length === 2, 10_000, 'the refusals');
    expect(statusFor('open-4', 'refused').map((m) => m.code)).toEqual(['LS_SCAN_LIMIT', 'LS_SCAN_REFUSED']);
    expect(statusFor('open-4', 'refused')[0].message).toMatch(/4 scans are open .*ingest\.maxOpenScans/);

    // One stops: the refused scan's start is accepted when sent again.
    await stop('open-0', -1);
    await d.scanFinished('open-0');
    await push.send(encodeStart(fifth.start));
    await until(() => statusFor('open-4', 'accepted').length === 1, 10_000, 'the late acceptance');
    for (const k of [1, 2, 3, 4]) await stop(`open-${k}`, -1);
    for (const k of [1, 2, 3, 4]) await d.scanFinished(`open-${k}`);
    expect(await healthy()).toBe(200);
  }, 90_000);

  it('refuses one scan whose grid cannot be allocated (LS_SCAN_MEMORY) and goes on with the others', async () => {
    // 8192 x 8192 x T x C model inputs exceed what one typed array may hold: the allocation fails at the first pixel.
    const big = scan('alloc-fail');
    const start: StartHeader = { ...big.start, grid: { rows: 8192, cols: 8192, order: 'raster' } };
    await push.send(encodeStart(start));
    const px = big.pixel(0);
    await push.send(encodePixel({ type: 'pixel', scanId: 'alloc-fail', seq: 0, row: 0, col: 0, t: px.t }, px.data, start));
    const refusal = await d.waitForLog((l) => l.code === 'LS_SCAN_MEMORY');
    expect(refusal.scanId).toBe('alloc-fail');
    await until(() => statusFor('alloc-fail', 'refused').length === 1, 10_000, 'the refusal on the status channel');
    expect(statusFor('alloc-fail', 'refused')[0]).toMatchObject({ code: 'LS_SCAN_MEMORY' });
    const ok = scan('after-alloc-fail');
    await push.send(encodeStart(ok.start));
    for (let seq = 0; seq < 4; seq++) await sendPixel(ok, seq);
    await stop('after-alloc-fail', 3);
    expect(await d.scanFinished('after-alloc-fail')).toMatchObject({ encoded: 4 });
    await stop('alloc-fail', 0, 1);
    expect(await d.scanFinished('alloc-fail')).toMatchObject({ status: 'completed', received: 0 });
    await until(() => statusFor('alloc-fail', 'finished').length === 1, 10_000, 'the finished status');
    expect(statusFor('alloc-fail', 'finished')[0]).toMatchObject({ status: 'error', rejected: 1, results: null });
    expect(d.hasResults('alloc-fail')).toBe(false);
    expect(await healthy()).toBe(200);
  }, 90_000);

  it('warns once per scan about kHz frequencies and millisecond times', async () => {
    const s = scan('units');
    const fIndex = s.start.buffers.findIndex((b) => b.name === 'frequency');
    await push.send(encodeStart(s.start));
    for (let seq = 0; seq < 4; seq++) {
      const px = s.pixel(seq);
      const data = px.data.map((b, i) => (i === fIndex ? b.map((v) => v / 1000) : b));
      await sendPixel(s, seq, { t: px.t * 1000, data });
    }
    await stop('units', 3);
    await d.scanFinished('units');
    await until(() => statusFor('units', 'finished').length > 0, 10_000, 'the finished status');
    expect(statusFor('units', 'warning').map((m) => m.code).sort()).toEqual(['LS_WARN_FREQUENCY_UNIT', 'LS_WARN_TIME_UNIT']);
    expect(d.logs.filter((l) => l.scanId === 'units' && typeof l.code === 'string' && String(l.code).startsWith('LS_WARN_')).length).toBe(2);
  }, 60_000);

  it('publishes a halted recording (disk full) on the status channel', async () => {
    // A daemon under a 1 MiB file-size limit: writes past it fail with EFBIG, as on a full disk (faults-disk.test.ts).
    const d3 = await DaemonProcess.start({ bundle: (await testBundle()).dir, startTimeoutMs: 170_000, fileSizeLimitKb: 1024, config: { ingest: { highWaterMark: 16 }, batch: { maxSize: 16 } } });
    const sub3 = new zmq.Subscriber({ linger: 0 });
    const got: Status[] = [];
    try {
      sub3.connect(d3.statusEndpoint!);
      sub3.subscribe();
      void (async () => {
        for await (const [kind, json] of sub3) got.push({ ...(JSON.parse(json.toString()) as Status), kind: kind.toString() });
      })().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      const p = new zmq.Push({ linger: 0, sendHighWaterMark: 16, sendTimeout: 3000 });
      p.connect(d3.endpoint);
      const s = simulateScan({ rows: 32, cols: 32, seed: 2, steps: T, scanId: 'disk-full' });
      try {
        await p.send(encodeStart(s.start));
        for (const px of s.pixels()) await p.send(encodePixel({ type: 'pixel', scanId: px.scanId, seq: px.seq, row: px.row, col: px.col, t: px.t }, px.data, s.start));
      } catch (err) {
        expect((err as { code?: string }).code).toBe('EAGAIN'); // ingest stopped receiving
      } finally {
        p.close();
      }
      await until(() => got.some((m) => m.kind === 'halted'), 30_000, 'the halted status');
      const halted = got.filter((m) => m.kind === 'halted');
      expect(halted).toHaveLength(1); // once per scan, not once per failed batch
      expect(halted[0]).toMatchObject({ scanId: 'disk-full', errno: 'EFBIG', ingestHalted: true });
      expect(String(halted[0].path)).toBe(d3.recordingPath('disk-full'));
      expect(got.find((m) => m.kind === 'accepted')).toMatchObject({ scanId: 'disk-full' });
    } finally {
      sub3.close();
      await d3.kill();
    }
  }, 240_000);
});
