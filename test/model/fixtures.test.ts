import { describe, expect, it } from 'vitest';
import { loadBundle, checkBundleAgainstScan } from '../../src/model/bundle.ts';
import { createEngine } from '../../src/model/runtime.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { toModelInput } from '../../src/preprocess/index.ts';
import type { PixelEvent } from '../../src/protocol/events.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';

async function parity(dir: string, start: StartHeader, pixels: PixelEvent[]) {
  const bundle = await loadBundle(dir);
  checkBundleAgainstScan(bundle, start);
  const stride = bundle.T * bundle.C;
  const x = new Float32Array(pixels.length * stride);
  pixels.forEach((p, i) => toModelInput(p.data, start, bundle.preprocess, x, i * stride));
  const onnx = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 1 });
  const tfjs = await createEngine(bundle, { engine: 'tfjs', provider: 'cpu', threads: 1 });
  const a = await onnx.encodeDecode(x, pixels.length);
  const b = await tfjs.encodeDecode(x, pixels.length);
  await onnx.close();
  await tfjs.close();
  return { bundle, a, b };
}

describe('committed bundles (fixtures/models)', () => {
  it('edge-sim reads a simulated scan; onnx and tfjs agree within 1e-4', async () => {
    const scan = simulateScan({ rows: 3, cols: 3, seed: 123, anomalies: 0 });
    const { bundle, a, b } = await parity('fixtures/models/edge-sim', scan.start, Array.from(scan.pixels()));
    expect(bundle).toMatchObject({ T: 96, C: 2, latentDim: 16 });
    expect(bundle.manifest.training.command).toMatch(/^loopstream train /);
    for (const k of ['mu', 'recon', 'error'] as const) a[k].forEach((v, i) => expect(Math.abs(v - b[k][i]!)).toBeLessThan(1e-4));
    expect(Array.from(a.error).every(Number.isFinite)).toBe(true);
  }, 120_000);

  it('pto reads the real PTO file (kind loop, C = 1, T = 64) and carries its migrated input descriptor', async () => {
    const reader = await openScanFile('fixtures/external/BEPS_PTO_50x50.h5');
    const pixels = [0, 1, 1234, 2499].map((i) => reader.pixel(i));
    const { bundle, a, b } = await parity('fixtures/models/pto', reader.start, pixels);
    reader.close();
    expect(bundle).toMatchObject({ T: 64, C: 1 });
    for (const k of ['mu', 'recon', 'error'] as const) a[k].forEach((v, i) => expect(Math.abs(v - b[k][i]!)).toBeLessThan(1e-4));
    // migrated by src/model/migrate-input.ts: its own training statistics, its own cleaning (no Hampel step)
    expect(bundle.input).toMatchObject({ T: 64, channels: ['piezoresponse'], normalisation: 'trained', trained: { mean: bundle.preprocess.mean, std: bundle.preprocess.std } });
    expect(bundle.input.clean.hampel.halfWindow).toBe(0);
    expect(() => checkBundleAgainstScan(bundle, simulateScan({ rows: 1, cols: 1, seed: 1 }).start)).not.toThrow();
  }, 120_000);
});
