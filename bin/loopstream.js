#!/usr/bin/env node
// Entry point. Runs the compiled CLI in dist/ (plain JavaScript, built by `npm run build`, which `npm ci` runs as
// `prepare`) when it is at least as new as every file under src/; otherwise registers tsx and runs the TypeScript
// sources as they are. Why both: tsx transforms every module it loads, node_modules included, and h5wasm's 4 MB
// Emscripten module alone costs ~6 s and ~650 MB RSS to transform (docs/performance.md §Start-up) — the compiled
// CLI starts in ~1 s. A source edited after the build is never run stale: the newest mtime under src/ (files and
// folders, so a deleted file counts too) is compared with the build's stamp.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}dist/.build-stamp`;

/** Newest modification time (ms) of a folder, its subfolders and their files. */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const compiled = existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(`${root}src`);
if (process.env.LOOPSTREAM_DEBUG) process.stderr.write(`loopstream: running ${compiled ? 'dist/ (compiled)' : 'src/ through tsx'}\n`);
if (!compiled) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main } = await import(compiled ? '../dist/cli/main.js' : '../src/cli/main.ts');
await main(process.argv);
