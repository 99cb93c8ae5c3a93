/**
 * The onnx engine opens real onnxruntime-node sessions with the library's usage telemetry off (engine-onnx.ts): no
 * event store or debug log is written for this process, and the engine still encodes.
 */
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/model/bundle.ts';
import { createOnnxEngine } from '../../src/model/engine-onnx.ts';

describe('createOnnxEngine', () => {
  it('runs with onnxruntime telemetry off unless the user set ORT_DISABLE_TELEMETRY', async () => {
    const userSet = process.env.ORT_DISABLE_TELEMETRY !== '1' && process.env.ORT_DISABLE_TELEMETRY !== undefined;
    const bundle = await loadBundle('fixtures/models/edge-sim');
    const started = Date.now() - 1000; // file times have coarse resolution on some file systems
    const engine = await createOnnxEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 1, version: bundle.manifest.version });
    try {
      if (!userSet) {
        expect(process.env.ORT_DISABLE_TELEMETRY).toBe('1');
        // the library's telemetry writes this log as it starts (onnxruntime-node 1.30, Linux); one left by an earlier
        // process with the same pid is older than this engine
        const log = `/tmp/mat-debug-${process.pid}.log`;
        expect(existsSync(log) && statSync(log).mtimeMs >= started).toBe(false);
      }
      const n = 2;
      const out = await engine.encode(new Float32Array(n * bundle.T * bundle.C).fill(0.1), n);
      expect(out.mu.length).toBe(n * bundle.latentDim);
      expect(out.mu.every(Number.isFinite)).toBe(true);
    } finally {
      await engine.close();
    }
  });
});
