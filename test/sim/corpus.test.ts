import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkStartLayout } from '../../src/protocol/decode.ts';
import { StartHeader } from '../../src/protocol/messages.ts';
import { DEFAULT_CORPUS_RANGES, drawCorpusScan, readCorpusManifest, writeCorpus, type CorpusManifest } from '../../src/sim/corpus.ts';
import { MECHANISM_NAMES, simulateScan, type SimOptions } from '../../src/sim/index.ts';
import { protocolTanhScan } from '../../src/sim/scenarios.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';

/** Digest of everything a simulated scan emits (start, truth, every pixel's index and bytes). */
function scanDigest(opts: SimOptions): string {
  const s = simulateScan(opts);
  const h = createHash('sha256');
  h.update(JSON.stringify(s.start));
  h.update(JSON.stringify({ ...s.truth, mechanism: [...s.truth.mechanism], anomaly: [...s.truth.anomaly], region: [...(s.truth.region ?? [])] }));
  for (const p of s.pixels()) {
    h.update(JSON.stringify([p.seq, p.row, p.col, p.t]));
    for (const d of p.data) h.update(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Last-cycle off-field slice of sho buffer b (fields ['on', 'off']). */
const offField = (data: Float32Array[], b: number, cycles: number, steps: number) => data[b].subarray(((cycles - 1) * 2 + 1) * steps, ((cycles - 1) * 2 + 2) * steps);

describe('simulator defaults are unchanged by the variety options', () => {
  // Digests computed with the simulator as it was before the variety options (commit cbc5f03): the edge-sim bundle,
  // the alert reference (calibration seeds 9001…) and the demo depend on exactly these scans.
  it.each([
    [{ rows: 60, cols: 60, seed: 1, anomalies: 3 }, 'a792fcb8384ed5bff930a93b0efaff076a85c962557688c3e41fa110022e66d6'],
    [{ rows: 40, cols: 40, seed: 9001 }, '5dbbf9ece4a9ccf214e07bf13483efce1af2c64f4f3b79441d7613899fa97f79'],
    [{ rows: 16, cols: 16, seed: 22, steps: 64, mechanisms: ['twoStep', 'weak'], vmax: 12, scanId: 'shifted' }, '45525fdb6580b05f4a738b68baa3ec73d79ab6e23ca96f78698bc6c1d316c408'],
  ] as Array<[SimOptions, string]>)('%j', (opts, digest) => {
    expect(scanDigest(opts)).toBe(digest);
  });
});

describe('drawCorpusScan', () => {
  const draws = Array.from({ length: 300 }, (_, i) => drawCorpusScan(5, i));
  const R = DEFAULT_CORPUS_RANGES;
  const within = (x: number, [lo, hi]: readonly [number, number], tol = 1e-3) => x >= lo * (1 - tol) - tol && x <= hi * (1 + tol) + tol;

  it('keeps every parameter inside the requested ranges', () => {
    for (const p of draws) {
      expect(within(p.f0Hz, R.f0Hz)).toBe(true);
      expect(within(p.q, R.q)).toBe(true);
      expect(within(p.vmax, R.vmax)).toBe(true);
      expect(p.vneg).toBeLessThanOrEqual(p.vmax);
      expect(p.vneg).toBeGreaterThanOrEqual(0.8 * p.vmax * 0.999);
      expect(p.steps % 4).toBe(0);
      expect(within(p.steps, R.steps, 0)).toBe(true);
      expect(within(p.heightScale!, R.heightScale)).toBe(true);
      expect(within(p.spikesPerLoop!, R.spikesPerLoop)).toBe(true);
      expect(within(p.deadFraction!, R.deadFraction)).toBe(true);
      expect(Math.abs(p.imprintV!)).toBeLessThanOrEqual(0.2 * p.vmax * 1.001);
      expect(p.mechanisms.length).toBeGreaterThan(0);
      expect(p.kind === 'loop' ? p.cycles === 1 : p.cycles >= 1 && p.cycles <= 3).toBe(true);
    }
  });

  it('covers the ranges: four decades of loop height, 100 kHz–1.5 MHz, 3–30 V, 32–128 steps, both kinds, every mechanism', () => {
    const span = (f: (p: (typeof draws)[number]) => number) => [Math.min(...draws.map(f)), Math.max(...draws.map(f))];
    const [hLo, hHi] = span((p) => p.heightScale!);
    expect(Math.log10(hHi / hLo)).toBeGreaterThan(3.6);
    const [fLo, fHi] = span((p) => p.f0Hz);
    expect(fLo).toBeLessThan(130e3);
    expect(fHi).toBeGreaterThan(1.3e6);
    const [vLo, vHi] = span((p) => p.vmax);
    expect(vLo).toBeLessThan(3.5);
    expect(vHi).toBeGreaterThan(26);
    const [sLo, sHi] = span((p) => p.steps);
    expect([sLo, sHi]).toEqual([32, 128]);
    const kinds = draws.filter((p) => p.kind === 'loop').length;
    expect(kinds).toBeGreaterThan(110);
    expect(kinds).toBeLessThan(190);
    expect(draws.filter((p) => p.vneg < p.vmax).length).toBeGreaterThan(50); // asymmetric ranges
    for (const m of MECHANISM_NAMES) expect(draws.some((p) => p.mechanisms.includes(m))).toBe(true);
  });

  it('is a function of (seed, index) alone', () => {
    expect(drawCorpusScan(5, 17)).toEqual(draws[17]);
    expect(drawCorpusScan(6, 17)).not.toEqual(draws[17]);
  });
});

describe('varied scans', () => {
  const base: SimOptions = { rows: 10, cols: 10, seed: 3, steps: 96, vmax: 16, mechanisms: ['classic180'], noise: 0, f0Hz: 250e3, q: 90 };

  it('put the sho resonance and Q at the scan parameters', () => {
    const s = simulateScan(base);
    const f: number[] = [];
    const q: number[] = [];
    for (const p of s.pixels()) {
      f.push(...offField(p.data, 2, 2, 96));
      q.push(...offField(p.data, 3, 2, 96));
    }
    expect(Math.abs(median(f) / 250e3 - 1)).toBeLessThan(0.003);
    expect(Math.abs(median(q) / 90 - 1)).toBeLessThan(0.05);
    expect(s.start.metadata).toMatchObject({ f0Hz: 250e3, q: 90 });
  });

  it('span the asked bias range, asymmetric and starting at +Vmax when asked', () => {
    const s = simulateScan({ ...base, vmax: 10, vneg: 9, waveStart: 'vmax', steps: 40 });
    expect(s.start.dcVoltage).toHaveLength(40);
    expect(s.start.dcVoltage[0]).toBe(10);
    expect(Math.max(...s.start.dcVoltage)).toBe(10);
    expect(Math.min(...s.start.dcVoltage)).toBe(-9);
    expect(s.start.dcVoltage[30]).toBe(0); // back at 0 V three quarters in, then rising to +Vmax
  });

  it('write loop-kind pixels that are the projection A·cos(φ + θ) of the same sho scan, resonance in the asked unit', () => {
    const opts: SimOptions = { ...base, noise: 1, rotationRad: -2.2, phaseUnit: 'deg', spikesPerLoop: 0 };
    const sho = simulateScan(opts);
    const loop = simulateScan({ ...opts, kind: 'loop', resonanceUnit: 'kHz' });
    expect(loop.start.kind).toBe('loop');
    expect(loop.start.buffers.map((b) => [b.name, b.shape, b.unit])).toEqual([['piezoresponse', [96], 'V'], ['resonance', [96], 'kHz']]);
    expect(checkStartLayout(loop.start)).toBeUndefined();
    expect(sho.start.phaseUnit).toBe('deg');
    for (const seq of [0, 37, 99]) {
      const a = offField(sho.pixel(seq).data, 0, 2, 96);
      const phi = offField(sho.pixel(seq).data, 1, 2, 96);
      const f = offField(sho.pixel(seq).data, 2, 2, 96);
      const [pz, res] = loop.pixel(seq).data;
      for (let k = 0; k < 96; k++) {
        expect(pz[k]).toBeCloseTo(a[k] * Math.cos((phi[k] * Math.PI) / 180 - 2.2), 8);
        expect(res[k]).toBeCloseTo(f[k] / 1e3, 2);
      }
    }
  });

  it('add spikes at the asked rate, and nothing else', () => {
    for (const kind of ['sho', 'loop'] as const) {
      const opts: SimOptions = { ...base, rows: 10, cols: 20, noise: 1, kind, cycles: 2 };
      const clean = simulateScan({ ...opts, spikesPerLoop: 0 });
      const spiky = simulateScan({ ...opts, spikesPerLoop: 4 });
      let spikes = 0;
      let loops = 0;
      for (let seq = 0; seq < 200; seq++) {
        const a = clean.pixel(seq).data[0];
        const b = spiky.pixel(seq).data[0];
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) spikes++;
        loops += a.length / 96;
        // every spike is big: at least 3 nominal loop heights (2e-4) away
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect(Math.abs(b[i] - a[i])).toBeGreaterThan(3 * 2e-4 * 0.999);
      }
      expect(spikes / loops).toBeGreaterThan(3.6);
      expect(spikes / loops).toBeLessThan(4.4);
    }
  });

  it('shift loops by the imprint, scale heights by heightScale and spread them over the asked decades', () => {
    // 96 steps of 2/3 V: an imprint of 2 V is exactly 3 steps
    const flat = simulateScan({ ...base, imprintV: 0 });
    const shifted = simulateScan({ ...base, imprintV: 2 });
    const p0 = offField(flat.pixel(4).data, 0, 2, 96);
    const p1 = offField(shifted.pixel(4).data, 0, 2, 96);
    const phase0 = offField(flat.pixel(4).data, 1, 2, 96);
    const phase1 = offField(shifted.pixel(4).data, 1, 2, 96);
    const P = (a: Float32Array, ph: Float32Array, k: number) => a[k] * Math.cos(ph[k] + 0.3);
    // rising branch 0 → +16 V (steps 0..24): P_imprinted(V) = P(V − 2 V)
    // (up to the slope term a4·V, 1e-7 V⁻¹ · 2 V, which the imprint does not move)
    for (let k = 3; k <= 24; k++) expect(P(p1, phase1, k)).toBeCloseTo(P(p0, phase0, k - 3), 6);
    // and the unshifted loops really differ there: the switch moved
    expect(Math.max(...Array.from({ length: 22 }, (_, j) => Math.abs(P(p1, phase1, j + 3) - P(p0, phase0, j + 3))))).toBeGreaterThan(5e-5);

    const big = simulateScan({ ...base, heightScale: 100 });
    expect(offField(big.pixel(4).data, 0, 2, 96)[40] / p0[40]).toBeCloseTo(100, 2);

    const spread = simulateScan({ ...base, rows: 30, cols: 30, heightSpreadDecades: 2 });
    const heights = [...spread.pixels()].map((p) => {
      const a = offField(p.data, 0, 2, 96);
      return Math.max(...a);
    });
    expect(Math.log10(Math.max(...heights) / Math.min(...heights))).toBeGreaterThan(1.2);
    expect(Math.log10(Math.max(...heights) / Math.min(...heights))).toBeLessThan(2.2);
  });

  it('mark failed fits as NaN in every buffer at the asked rate, never a whole loop', () => {
    const s = simulateScan({ ...base, rows: 10, cols: 20, nanPerLoop: 2 });
    let nan = 0;
    let loops = 0;
    for (const p of s.pixels()) {
      for (let slice = 0; slice < 4; slice++) {
        const idx = [...Array(96).keys()].map((k) => slice * 96 + k);
        const bad = idx.filter((i) => Number.isNaN(p.data[0][i]));
        for (const i of bad) for (const b of p.data) expect(b[i]).toBeNaN(); // the whole fit failed
        expect(bad.length).toBeLessThan(96);
        nan += bad.length;
        loops++;
      }
    }
    // Poisson(2) positions drawn with replacement: E[distinct] = 96·(1 − (1 − 1/96)^N) ≈ 1.99 per loop
    expect(nan / loops).toBeGreaterThan(1.75);
    expect(nan / loops).toBeLessThan(2.2);
  });

  it('plant dead pixels at the asked share, with no piezoresponse', () => {
    const s = simulateScan({ ...base, rows: 40, cols: 40, deadFraction: 0.1 });
    const dead = s.truth.dead!;
    const n = dead.reduce((a, d) => a + d, 0);
    expect(n / 1600).toBeGreaterThan(0.08);
    expect(n / 1600).toBeLessThan(0.12);
    const i = dead.indexOf(1);
    expect(Math.max(...offField(s.pixel(i).data, 0, 2, 96))).toBe(0); // noiseless, off-field: nothing at all
    expect(Math.max(...offField(s.pixel(dead.indexOf(0)).data, 0, 2, 96))).toBeGreaterThan(5e-5);
  });

  it('refuse impossible parameters with the value', () => {
    expect(() => simulateScan({ ...base, f0Hz: -1 })).toThrow('f0Hz must be > 0 Hz; got -1');
    expect(() => simulateScan({ ...base, deadFraction: 1 })).toThrow('deadFraction must lie in [0, 1)');
  });
});

describe('writeCorpus', () => {
  it('writes ordinary scan files with a manifest; the same seed gives the same content, another seed another', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-corpus-'));
    const a = await writeCorpus({ out: join(dir, 'a'), scans: 3, seed: 11, ranges: { ...DEFAULT_CORPUS_RANGES, rows: [6, 8], cols: [6, 8], loopShare: 0.5 } });
    const b = await writeCorpus({ out: join(dir, 'b'), scans: 3, seed: 11, ranges: { ...DEFAULT_CORPUS_RANGES, rows: [6, 8], cols: [6, 8], loopShare: 0.5 } });
    const c = await writeCorpus({ out: join(dir, 'c'), scans: 1, seed: 12, ranges: { ...DEFAULT_CORPUS_RANGES, rows: [6, 8], cols: [6, 8] } });
    expect(readFileSync(join(dir, 'a', 'manifest.json'), 'utf8')).toBe(readFileSync(join(dir, 'b', 'manifest.json'), 'utf8'));
    expect(c.files[0].contentSha256).not.toBe(a.files[0].contentSha256);
    const manifest = JSON.parse(readFileSync(join(dir, 'a', 'manifest.json'), 'utf8')) as CorpusManifest;
    expect(manifest.files.map((f) => f.file)).toEqual(['scan-0000.h5', 'scan-0001.h5', 'scan-0002.h5']);
    expect(readCorpusManifest(join(dir, 'a')).files.map((f) => f.path)).toEqual(manifest.files.map((f) => join(dir, 'a', f.file)));
    expect(() => readCorpusManifest(dir)).toThrow(/cannot read a corpus manifest \(ENOENT\)/);
    for (const entry of manifest.files) {
      const ra = await openScanFile(join(dir, 'a', entry.file));
      const rb = await openScanFile(join(dir, 'b', entry.file));
      try {
        expect(ra.layout).toBe('loopstream');
        expect(StartHeader.parse(ra.start)).toEqual(ra.start);
        expect(checkStartLayout(ra.start)).toBeUndefined();
        expect(ra.start.kind).toBe(entry.kind);
        expect(ra.start.dcVoltage).toHaveLength(entry.params.steps as number);
        expect(ra.count).toBe((entry.params.rows as number) * (entry.params.cols as number));
        expect(ra.count).toBe(entry.pixels);
        expect(ra.truth?.mechanism.length).toBe(ra.count);
        // the files hold identical data (their HDF5 headers differ only in write times)
        for (const i of [0, ra.count - 1]) expect(ra.pixel(i).data).toEqual(rb.pixel(i).data);
      } finally {
        ra.close();
        rb.close();
      }
    }
  });
});

describe('protocolTanhScan', () => {
  it('is the docs/protocol.md scan: 372 kHz, Q 180, ±10 V, tanh loops with phase 0 or π, a dead patch where asked', () => {
    const s = protocolTanhScan({ rows: 12, cols: 12, deadPatch: { row: 2, col: 3, rows: 3, cols: 4 } });
    expect(checkStartLayout(s.start)).toBeUndefined();
    expect(s.start.kind).toBe('sho');
    expect(Math.max(...s.start.dcVoltage)).toBe(10);
    expect(Math.min(...s.start.dcVoltage)).toBe(-10);
    expect(s.truth.regions).toEqual([{ id: 1, kind: 'noSwitching', rowMin: 2, rowMax: 4, colMin: 3, colMax: 6, pixels: 12 }]);
    const live = s.pixel(0).data;
    expect(Math.abs(median([...live[2]]) / 372e3 - 1)).toBeLessThan(1e-3);
    expect(median([...live[3]])).toBeCloseTo(180, -1);
    for (const ph of live[1]) expect([0, Math.fround(Math.PI)]).toContain(ph);
    // off-field, second cycle: saturated at +A0 at +10 V (step 24), −A0 at −10 V (step 72)
    const a = offField(live, 0, 2, 96), ph = offField(live, 1, 2, 96);
    expect(a[24] * Math.cos(ph[24])).toBeCloseTo(1e-4, 5);
    expect(a[72] * Math.cos(ph[72])).toBeCloseTo(-1e-4, 5);
    const deadPx = s.pixel(2 * 12 + 3).data[0];
    expect(Math.max(...deadPx)).toBeLessThan(1e-5);
  });
});
