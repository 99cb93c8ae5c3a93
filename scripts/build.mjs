// `npm run build` (and `prepare`, so `npm ci` runs it): bundle src/ into plain JavaScript under dist/cli/ with
// esbuild, then write dist/.build-stamp: the content hash of the sources the build *started* from
// (bin/src-digest.js). bin/loopstream.js runs dist/ only while src/ still hashes to it, so a source saved during or
// after the build falls back to tsx instead of running stale.
//
// Why a bundle, not one .js per .ts: Node's ESM loader pays per module (resolve, read, link), and a replay loads
// ~200 of ours and zod's; one bundle with shared chunks starts ~0.15 s sooner (docs/performance.md §Start-up and
// whole-process replay). Code splitting keeps every lazy `import()` lazy: a plain replay still does not load
// fine-tuning, the dashboard server or Redis clients. Types are not checked here (`npm test` runs tsc --noEmit).
//
// Layout rules the sources rely on (they resolve files relative to their own module, import.meta.url):
//   - the output folder sits two levels below the package root, as src/<stage>/ does: config/load.ts finds the
//     package root at '../..', server/dashboard-bundle.ts the pages at '../../dashboards';
//   - the fine-tuning worker thread is its own entry point, `worker.js`, beside the chunk that starts it
//     (finetune/start-train-worker.ts: new URL('./worker.js', import.meta.url)).
// Only pure-JavaScript packages are bundled; native addons, WebAssembly packages and packages that load their own
// files by path (lua scripts, worker files, browser clients) stay external and load from node_modules. One exception:
// `h5wasm/node` resolves to dist/cli/h5wasm/, the library's own files with its wasm in a file of its own instead of a
// 4 MB string literal (scripts/h5wasm-wasm-file.mjs says why and how; if that copy cannot be made, node_modules).
//
// A build whose inputs are unchanged is skipped (`--force` builds anyway): the sources (the stamp) and the build's own
// inputs (these scripts, package.json, the lockfile: dist/.build-inputs). Why: npm runs `prepare` again on some
// installs of the package from its own folder (the first `npx loopstream` in a fresh clone did, during CI), and a
// rebuild deletes dist/ under any loopstream process starting at that moment (seen: ERR_MODULE_NOT_FOUND for a chunk).
import { createHash } from 'node:crypto';
import { existsSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { srcDigest } from '../bin/src-digest.js';
import { writeH5wasmWithWasmFile } from './h5wasm-wasm-file.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const digest = srcDigest(`${root}src`);
// cli-progress stays external: bundled, its named exports (Presets) came out undefined under a dynamic import()
// pino is bundled (its ~30 CommonJS files were loaded one by one at every start); only its transports load worker
// files by path (`pino.transport`, thread-stream), and loopstream uses none: pretty output is a synchronous stream.
const BUNDLED = ['zod', 'rxjs', 'commander', 'yaml', 'ml-matrix', 'prom-client', 'd3-scale-chromatic', 'pino'];
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.devDependencies }).filter((name) => !BUNDLED.includes(name));

const inputsHash = createHash('sha256');
for (const f of ['scripts/build.mjs', 'scripts/h5wasm-wasm-file.mjs', 'package.json', 'package-lock.json']) if (existsSync(`${root}${f}`)) inputsHash.update(f).update(readFileSync(`${root}${f}`));
const inputs = inputsHash.digest('hex');
const upToDate = (file, want) => existsSync(`${root}dist/${file}`) && readFileSync(`${root}dist/${file}`, 'utf8').trim() === want;
if (!process.argv.includes('--force') && upToDate('.build-stamp', digest) && upToDate('.build-inputs', inputs)) {
  process.stderr.write('build: dist/ is up to date with src/ and the build inputs (--force rebuilds)\n');
  process.exit(0);
}
rmSync(`${root}dist`, { recursive: true, force: true });
const h5wasmCopy = await writeH5wasmWithWasmFile(`${root}dist/cli/h5wasm`);
if (h5wasmCopy !== undefined) process.stderr.write(`build: h5wasm loads from node_modules (no copy with a separate wasm file: ${h5wasmCopy})\n`);
/** `h5wasm/node` → the copy beside the chunks (all chunks sit in dist/cli/, so one relative path fits every importer) */
const h5wasmFromCopy = {
  name: 'h5wasm-copy',
  setup(b) {
    b.onResolve({ filter: /^h5wasm\/node$/ }, () => ({ path: './h5wasm/hdf5_hl.js', external: true }));
  },
};
// zod's `z` and `z.core` namespaces re-export all 64 of its locales (`locales`), so the bundle carried every language's
// error messages and every start parsed them. We use none of them: zod's own default, English, which its schemas
// import directly, stays; `locales` holds only `en`.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/][^\\/]+\.js$/.test(args.importer) ? { path: fileURLToPath(new URL('../locales/en.js', pathToFileURL(args.importer))), namespace: 'zod-en' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, resolveDir: dirname(args.path) }));
  },
};
// rxjs's exports map sends Node to its CommonJS build, which the bundle then carries whole (every operator, ~380 kB,
// all evaluated at start: its index requires each module). Its ES2015 module build is the same code, and lets the
// bundler keep only the operators we use.
const rxjsModules = {
  name: 'rxjs-esm',
  setup(b) {
    // 'rxjs' resolves to dist/cjs/index.js; the module build sits beside it (rxjs 7's layout; checked below)
    const esm = fileURLToPath(new URL('../esm/index.js', import.meta.resolve('rxjs')));
    if (existsSync(esm)) b.onResolve({ filter: /^rxjs$/ }, () => ({ path: esm }));
  },
};
try {
  await build({
    absWorkingDir: root,
    entryPoints: { main: 'src/cli/main.ts', worker: 'src/finetune/worker.ts' },
    outdir: 'dist/cli',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    plugins: [zodEnglishOnly, rxjsModules, ...(h5wasmCopy === undefined ? [h5wasmFromCopy] : [])],
    // Whitespace and syntax minified, identifiers kept (stack traces stay readable; the source maps map them back):
    // Node parses every module it loads at every start, and 2.1 MB of JavaScript became 1.4 MB.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true, // error classes and log lines use constructor and function names
    sourcemap: 'linked',
    // CommonJS packages inside the bundle (rxjs, prom-client…) call require() for Node built-ins
    banner: { js: "import { createRequire as __loopstreamRequire } from 'node:module'; const require = __loopstreamRequire(import.meta.url);" },
    logLevel: 'warning',
  });
} catch (err) {
  rmSync(`${root}dist`, { recursive: true, force: true });
  process.stderr.write(`build failed (${err.message}): dist/ removed, bin/loopstream.js will run the sources through tsx\n`);
  process.exit(1);
}
writeFileSync(`${root}dist/.build-inputs`, `${inputs}\n`);
writeFileSync(`${root}dist/.build-stamp`, `${digest}\n`);
