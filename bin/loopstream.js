#!/usr/bin/env node
// Entry point. Runs the compiled CLI in dist/ (plain JavaScript, built by `npm run build`, which `npm ci` runs as
// `prepare`) when it was compiled from exactly the sources now under src/; otherwise registers tsx and runs the
// TypeScript sources as they are. Why both: tsx transforms every module it loads, node_modules included, and
// h5wasm's 4 MB Emscripten module alone costs seconds and ~650 MB RSS to transform (docs/performance.md
// §Start-up) — the compiled CLI starts in about a second. The check is a content hash of src/ (bin/src-digest.js),
// not timestamps, so an edit, a checkout or a copy never runs stale code.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { srcDigest } from './src-digest.js';

// WebAssembly is optimised (TurboFan) only once it is really hot. V8's default re-compiles every wasm function
// that has run a little: h5wasm's 3.5 MB HDF5 library crosses that while it starts and opens a file, and those
// compiles took 0.2–0.4 s of CPU on background threads in every replay, competing for this machine's two cores
// with the main thread, for code that runs a few times (a 60x60 replay with the budget raised: 0.15–0.25 s less
// CPU, ~0.1 s sooner to its first pixel; docs/performance.md §Start-up and whole-process replay, session 5). Code
// that stays hot (a long daemon's recording, tfjs-wasm training kernels) is still optimised, after more runs.
// Set before any wasm module is compiled; a budget given on node's command line wins.
if (!process.execArgv.some((a) => a.startsWith('--wasm-tiering-budget'))) setFlagsFromString('--wasm-tiering-budget=20000000');

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}dist/.build-stamp`;
const compiled = existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === srcDigest(`${root}src`);
if (process.env.LOOPSTREAM_DEBUG) process.stderr.write(`loopstream: running ${compiled ? 'dist/ (compiled)' : 'src/ through tsx'}\n`);
if (!compiled) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main } = await import(compiled ? '../dist/cli/main.js' : '../src/cli/main.ts');
await main(process.argv);
