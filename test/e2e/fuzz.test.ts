/**
 * Fuzzing a real `loopstream serve` process over ZeroMQ: 12,000 malformed frames (fast-check arbitraries and raw
 * random bytes) with a valid scan interleaved. The daemon must stay up, count every frame under the reason protocol
 * v1 prescribes, keep its memory bounded, and still encode every pixel of the valid scan.
 * The 100,000-frame run is `npm run fuzz` (bench/fuzz.ts); its numbers are in docs/reliability.md.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonProcess } from './support/daemon-process.ts';
import { fuzzDaemon } from './support/fuzz-run.ts';
import { testBundle } from './support/test-bundle.ts';

describe('fuzz: malformed frames into a running daemon', () => {
  let d: DaemonProcess | undefined;
  afterAll(async () => {
    await d?.kill();
  });

  it('survives 12,000 malformed frames, counts each by reason and processes the valid scan', async () => {
    const bundle = await testBundle();
    const pendingLimit = 500;
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { ingest: { pendingLimit } } });
    const r = await fuzzDaemon(d, { frames: 12_000, seed: 2026, pendingLimit, steps: bundle.T, validRows: 16, validCols: 16 });

    expect(r.aliveAfter).toBe(true);
    expect(d.exitCode).toBe(0); // a clean shutdown after the fuzz, not a crash
    expect(r.received).toBe(r.messagesSent);
    expect(r.actualRejects).toEqual(r.expectedRejects);
    expect(r.metricsRejects).toEqual(r.expectedRejects); // /metrics counts them the same way
    const refused = Object.values(r.actualRejects).reduce((s, v) => s + v, 0);
    expect(refused).toBeGreaterThan(11_000);
    expect(r.valid).toMatchObject({ pixels: 256, encoded: 256, missing: 0, encodedCoordsOk: true });
    // Memory bounded: ~140 MB of frames (big ones included) go through; the daemon's RSS rises while V8 and the
    // allocator warm up (measured: +160 MiB over the first 15,000 messages, flat after — docs/reliability.md) and
    // must stay within 256 MiB of its start. This is a bound, not a fine leak detector: flatness over 100,000
    // frames is checked by `npm run fuzz`.
    const peak = Math.max(...r.rss.map(([, kb]) => kb));
    expect(peak - r.rss[0][1]).toBeLessThan(256 * 1024);
  }, 120_000);
});
