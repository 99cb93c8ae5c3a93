/**
 * A swap under load: while a scan streams through the real pipeline (onnxruntime, micro-batches), a second model
 * is swapped into the slot halfway and the pixels already seen are re-encoded in the background. No pixel may be
 * lost or encoded twice by the live path, batches after the swap carry the new version, and at the end every
 * pixel holds exactly what the new model computes for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { Config } from '../../src/config/schema.ts';
import { reencodeScans } from '../../src/finetune/reencode.ts';
import { PIXEL_DONE } from '../../src/maps/scan-maps.ts';
import { initBackend } from '../../src/model/backend.ts';
import { BUNDLE_FILES, loadBundle, writeBundleJson } from '../../src/model/bundle.ts';
import { exportOnnx } from '../../src/model/export-onnx.ts';
import { createEngine } from '../../src/model/runtime.ts';
import { buildVae } from '../../src/model/vae.ts';
import { Daemon } from '../../src/pipeline/daemon.ts';
import { replayFile } from '../../src/sources/hdf5/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { pretrainedTestBundle, SHIFTED_SCAN } from './support/small-bundle.ts';

let work: string;
let bundleDir: string;
let otherDir: string;
let file: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-reencode-'));
  bundleDir = await pretrainedTestBundle();
  // A second, different model for the same inputs: random weights, the pretrained bundle's preprocessing, version 7.
  const base = await loadBundle(bundleDir);
  await initBackend('wasm');
  otherDir = join(work, 'other');
  await mkdir(otherDir, { recursive: true });
  const vae = buildVae(base.manifest.dims, { seed: 99, fastInit: true });
  const onnx = exportOnnx(vae);
  await writeFile(join(otherDir, BUNDLE_FILES.encoderOnnx), onnx.encoder);
  await writeFile(join(otherDir, BUNDLE_FILES.decoderOnnx), onnx.decoder);
  await writeBundleJson(otherDir, { ...base.manifest, version: 7, parent: 1 }, base.preprocess);
  vae.encoder.dispose();
  vae.decoder.dispose();
  file = join(work, 'scan.h5');
  await writeSimulatedScan(simulateScan({ ...SHIFTED_SCAN, rows: 24, cols: 24, scanId: 'load' }), file);
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('a swap halfway through a scan loses no pixel and every pixel ends with the new version and its numbers', async () => {
  const config = Config.parse({ model: { bundle: bundleDir, threads: 1 }, data: { dir: join(work, 'data') }, batch: { maxSize: 16, maxWaitMs: 2 }, alerts: { enabled: false } });
  const daemon = await Daemon.create(config, silentLogger, { source: 'replay', record: false });
  const N = 24 * 24;
  const other = await loadBundle(otherDir);
  const nextEngine = await createEngine(other, { engine: 'onnx', provider: 'cpu', threads: 1, version: 7 });
  const batchVersions: number[] = [];
  const seen = new Uint8Array(N);
  let liveEncoded = 0;
  let liveOnV1 = 0;
  let swapped: Promise<number> | undefined;
  daemon.encoder.encoded$.subscribe(({ ctx, index }) => {
    batchVersions.push(ctx.maps.version[index[0]!]!);
    for (const i of index) seen[i]++;
    liveEncoded += index.length;
    if (ctx.maps.version[index[0]!] === 1) liveOnV1 += index.length;
    if (!swapped && liveEncoded >= N / 2) {
      // Under load: the source keeps emitting while the swap waits for the batch in flight and re-encoding runs.
      swapped = (async () => {
        await daemon.slot.swap(nextEngine, other);
        return reencodeScans(daemon.slot, daemon.registry.list(), { version: 7, batchSize: 16, writeResults: (c) => daemon.registry.writeResults(c, c.state === 'completed') });
      })();
    }
  });
  try {
    const run = await daemon.run(replayFile(file, { pace: { kind: 'max' } }));
    const reencoded = await swapped!;
    const ctx = run.scans[0]!;
    const { maps } = ctx;
    console.log(`swap under load: ${N} px, ${batchVersions.length} live batches (${batchVersions.filter((v) => v === 1).length} on v1 = ${liveOnV1} px, ${batchVersions.filter((v) => v === 7).length} on v7), ${reencoded} px re-encoded`);
    // every pixel was encoded once by the live path, none lost, none twice
    expect(liveEncoded).toBe(N);
    expect([...seen].every((k) => k === 1)).toBe(true);
    expect(ctx.counters.encoded).toBe(N);
    expect(maps.encoded).toBe(N);
    expect([...maps.state].every((s) => s === PIXEL_DONE)).toBe(true);
    // live batches: v1 until the swap, v7 after, never back
    const firstNew = batchVersions.indexOf(7);
    expect(firstNew).toBeGreaterThan(0);
    expect(batchVersions.slice(0, firstNew).every((v) => v === 1)).toBe(true);
    expect(batchVersions.slice(firstNew).every((v) => v === 7)).toBe(true);
    // the v1 pixels were re-encoded: all of them, and only them
    expect(reencoded).toBe(liveOnV1);
    expect([...new Set(maps.version)]).toEqual([7]);
    // each pixel holds exactly what v7 computes from its input
    const check = await createEngine(other, { engine: 'onnx', provider: 'cpu', threads: 1, version: 7 });
    const ref = await check.encodeDecode(ctx.inputs!, N);
    await check.close();
    for (let i = 0; i < N; i++) expect(maps.error[i]).toBeCloseTo(ref.error[i]!, 6);
    for (let i = 0; i < N * maps.latentDim; i += 37) expect(maps.mu[i]).toBeCloseTo(ref.mu[i]!, 5);
    // the scan's mean error follows the re-encoded map
    const mapMean = maps.error.reduce((s, e) => s + e, 0) / N;
    expect(ctx.counters.errorSum / ctx.counters.encoded).toBeCloseTo(mapMean, 5);
  } finally {
    await daemon.close();
  }
});
