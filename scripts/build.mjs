// `npm run build` (and `prepare`, so `npm ci` runs it): compile src/ to plain JavaScript in dist/ with tsc
// (tsconfig.build.json; relative `.ts` imports are rewritten to `.js`), then write dist/.build-stamp. The stamp
// carries the time the build *started*: bin/loopstream.js runs dist/ only while no file under src/ is newer, so a
// source saved during the build is not mistaken for compiled.
import { spawnSync } from 'node:child_process';
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = new Date();
rmSync(`${root}dist`, { recursive: true, force: true });
// typescript's `exports` hide bin/tsc from require.resolve: find the package, then its declared bin
const tsc = createRequire(import.meta.url).resolve('typescript/package.json').replace(/package\.json$/, 'bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (run.status !== 0) {
  rmSync(`${root}dist`, { recursive: true, force: true });
  process.stderr.write('build failed: dist/ removed, bin/loopstream.js will run the sources through tsx\n');
  process.exit(run.status ?? 1);
}
writeFileSync(`${root}dist/.build-stamp`, `${started.toISOString()}\n`);
utimesSync(`${root}dist/.build-stamp`, started, started);
