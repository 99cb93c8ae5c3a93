// `npm run build` (and `prepare`, so `npm ci` runs it): compile src/ to plain JavaScript in dist/ with tsc
// (tsconfig.build.json; relative `.ts` imports are rewritten to `.js`), then write dist/.build-stamp: the content
// hash of the sources the build *started* from (bin/src-digest.js). bin/loopstream.js runs dist/ only while src/
// still hashes to it, so a source saved during or after the build falls back to tsx instead of running stale.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { srcDigest } from '../bin/src-digest.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const digest = srcDigest(`${root}src`);
rmSync(`${root}dist`, { recursive: true, force: true });
// typescript's `exports` hide bin/tsc from require.resolve: find the package, then its declared bin
const tsc = createRequire(import.meta.url).resolve('typescript/package.json').replace(/package\.json$/, 'bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (run.status !== 0) {
  rmSync(`${root}dist`, { recursive: true, force: true });
  process.stderr.write('build failed: dist/ removed, bin/loopstream.js will run the sources through tsx\n');
  process.exit(run.status ?? 1);
}
writeFileSync(`${root}dist/.build-stamp`, `${digest}\n`);
