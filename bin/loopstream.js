#!/usr/bin/env node
// Entry point. Runs the compiled CLI in dist/ (plain JavaScript, built by `npm run build`, which `npm ci` runs as
// `prepare`) when it was compiled from exactly the sources now under src/; otherwise registers tsx and runs the
// TypeScript sources as they are. Why both: tsx transforms every module it loads, node_modules included, and
// h5wasm's 4 MB Emscripten module alone costs seconds and ~650 MB RSS to transform (docs/performance.md
// §Start-up) — the compiled CLI starts in about a second. The check is a content hash of src/ (bin/src-digest.js),
// not timestamps, so an edit, a checkout or a copy never runs stale code.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { srcDigest } from './src-digest.js';

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
