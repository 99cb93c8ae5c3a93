import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (npm run test:unit, under a minute on a 2-core machine) and `slow` (npm run test:slow).
 * `npm test` runs both.
 *
 * A test file is UNIT when it
 *   - starts no child process (no CLI, no daemon, no Python, no redis-server, no browser; a library's own helper,
 *     like esbuild's service, is fine),
 *   - opens no socket (no ZeroMQ, no HTTP/Socket.IO server, no Redis),
 *   - trains no model and builds no cached test bundle (test/finetune/support/small-bundle.ts,
 *     test/e2e/support/test-bundle.ts), and reads no dist/ build and no external service,
 *   - and takes under ~3 s on its own at a load average of ~8 (loading tfjs, onnxruntime or h5wasm alone costs
 *     several seconds there; the pure-compute alert tests, 3-6 s at load 12, are the upper end).
 * Measured: `time npm run test:unit` 38 s wall (33 files, 21.6 s user CPU) at load average 12 on 2 cores.
 * Everything else is SLOW and listed below, with why. A new test file is unit unless listed here: when it breaks
 * one of the rules above, add it to SLOW.
 */
const SLOW = [
  'test/e2e/**', //                              daemons, CLIs, browsers, Python writers, ZeroMQ end to end
  'test/scale/**', //                            Redis servers, multi-process facility, viewer fan-out
  'test/facility/publisher.test.ts', //          a real redis-server
  'test/cli/operator.test.ts', //                spawns the CLI
  'test/cli/build.test.ts', //                   compiles src/ with tsc and spawns the CLI
  'test/alerts/calibrate-user.test.ts', //       spawns the CLI on real scans
  'test/alerts/sinks.test.ts', //                ZeroMQ and HTTP sockets
  'test/alerts/alert-engine-model.test.ts', //   encodes simulated scans with the fixture bundle (onnxruntime, seconds)
  'test/finetune/{budget,cli,finetuner,reencode,reference-sample,small-scan-cli,worker,worker-client}.test.ts', // train the cached small bundle
  'test/model/{train,train-bundle,export-onnx,fixtures,bundle}.test.ts', // tfjs training, ONNX export, bundles on disk
  'test/model/{forward,fast-lstm}.test.ts', //   tfjs on wasm: its import and gradients alone take 5-6 s on a loaded machine
  'test/model/{baselines,dictionary-learning}.test.ts', // Python (sklearn) references
  'test/pipeline/{fit-and-alerts,inspector-voltage,streams}.test.ts', // the whole daemon on the fixture bundle, HDF5 files (5-14 s)
  'test/preprocess/preprocess.test.ts', //       Python reference
  'test/server/start-dashboard-server.test.ts', // HTTP/Socket.IO server
  'test/sim/publish.test.ts', //                 ZeroMQ sockets
  'test/sim/corpus.test.ts', //                  writes HDF5 corpora (~10 s)
  'test/sim/index.test.ts', //                   simulates many scans (~8 s)
  'test/sources/**', //                          ZeroMQ sockets, h5py-written files
  'test/store/**', //                            h5py round trips
  'test/architecture/imports.test.ts', //        runs tsc --explainFiles over src/ (5-15 s)
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Multi-process and ZeroMQ tests bind real sockets: keep files in separate forks, two at a time (2-core CI).
    pool: 'forks',
    maxWorkers: 2,
    // `extends: true` concatenates arrays with the root's, so `include` is set per project only.
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: SLOW } },
      { extends: true, test: { name: 'slow', include: SLOW.map((p) => (p.endsWith('/**') ? `${p}/*.test.ts` : p)) } },
    ],
  },
});
