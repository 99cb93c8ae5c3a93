/**
 * onnxruntime-node, loaded once for the whole project: the inference engine (engine-onnx.ts) and the training step
 * (onnx-train-step.ts) both take it from here.
 */
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

// onnxruntime-node's library keeps Microsoft usage telemetry on by default: a SQLite event store under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime, a /tmp/mat-debug-<pid>.log and upload attempts, set up with the
// first session and flushed at exit. An edge daemon sends nothing it was not asked to, and the store cost ~0.2 s of
// CPU per 60x60 replay (docs/performance.md §Start-up and whole-process replay). The library reads the variable when
// its environment starts (the first session anywhere in the process); ORT_DISABLE_TELEMETRY=0 set by the user turns it back on.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

// onnxruntime-node is CommonJS: required as such, not imported. An ESM `import` of it makes Node scan its source and
// onnxruntime-common's ~20 files with the CommonJS export lexer first (~15 ms of every replay's start-up).
export const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
