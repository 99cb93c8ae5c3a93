/**
 * The compiled CLI (`npm run build` → dist/) and how bin/loopstream.js chooses it: on a copy of the repository's
 * sources in a temporary folder, the build compiles, the bin runs dist/ (LOOPSTREAM_DEBUG says which), prints the
 * same `--help` as the TypeScript sources, and falls back to tsx as soon as any file under src/ changes. The build's
 * copy of h5wasm (its wasm in a file of its own, scripts/h5wasm-wasm-file.mjs) writes and reads real HDF5 files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { srcDigest } from '../../bin/src-digest.js';

const ROOT = resolve('.');
const dir = mkdtempSync(join(tmpdir(), 'loopstream-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
for (const p of ['src', 'bin', 'scripts', 'package.json', 'tsconfig.json', 'config']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));

/** `loopstream --help` from the copy: which tree ran (from the debug line) and what it printed. */
function help(): { ran: string | undefined; text: string } {
  const res = spawnSync(process.execPath, [join(dir, 'bin/loopstream.js'), '--help'], { env: { ...process.env, LOOPSTREAM_DEBUG: '1' }, encoding: 'utf8' });
  expect(res.status, res.stderr).toBe(0);
  return { ran: /running (\S+)/.exec(res.stderr)?.[1], text: res.stdout };
}

describe('compiled CLI', () => {
  it('srcDigest changes with any source byte and not otherwise', () => {
    const before = srcDigest(join(dir, 'src'));
    expect(srcDigest(join(dir, 'src'))).toBe(before);
    appendFileSync(join(dir, 'src/util/prng.ts'), '\n');
    expect(srcDigest(join(dir, 'src'))).not.toBe(before);
  });

  it('builds dist/, runs it while src/ is unchanged, and falls back to tsx after an edit', () => {
    execFileSync(process.execPath, [join(dir, 'scripts/build.mjs')], { stdio: 'pipe' });
    // a second build with nothing changed leaves dist/ alone (npm may run `prepare` again under running processes)
    const stamp = statSync(join(dir, 'dist/.build-stamp')).mtimeMs;
    const again = spawnSync(process.execPath, [join(dir, 'scripts/build.mjs')], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('dist/ is up to date');
    expect(statSync(join(dir, 'dist/.build-stamp')).mtimeMs).toBe(stamp);
    // h5wasm from the build's copy: the exact wasm bytes in a file, and a bundle that imports the copy, not node_modules
    const wasm = readFileSync(join(dir, 'dist/cli/h5wasm/hdf5_util.wasm'));
    expect(WebAssembly.validate(wasm)).toBe(true);
    expect(readFileSync(join(dir, 'dist/cli/h5wasm/hdf5_util.js'), 'latin1')).not.toContain("binaryDecode('");
    const chunks = readdirSync(join(dir, 'dist/cli')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dir, 'dist/cli', f), 'utf8'));
    expect(chunks.some((c) => c.includes('"./h5wasm/hdf5_hl.js"'))).toBe(true);
    expect(chunks.some((c) => c.includes('"h5wasm/node"'))).toBe(false);
    // …and the compiled CLI writes a scan file through it and reads it back
    const file = join(dir, 'scan.h5');
    const run = (args: string[]) => spawnSync(process.execPath, [join(dir, 'bin/loopstream.js'), ...args, '--log-level', 'error'], { env: { ...process.env, LOOPSTREAM_DEBUG: '1' }, encoding: 'utf8' });
    const sim = run(['simulate', '--rows', '4', '--cols', '5', '--seed', '3', '--out', file]);
    expect(sim.status, sim.stderr).toBe(0);
    expect(sim.stderr).toContain('running dist/');
    const read = run(['replay', file, '--ingest-only', '--pace', 'max', '--summary-json']);
    expect(read.status, read.stderr).toBe(0);
    const summary = JSON.parse(read.stdout.trim().split('\n').pop()!) as { pixels: number; missing: number; rows: number; cols: number };
    expect(summary).toMatchObject({ pixels: 20, missing: 0, rows: 4, cols: 5 });
    const compiled = help();
    expect(compiled.ran).toBe('dist/');
    expect(compiled.text).toContain('replay');
    appendFileSync(join(dir, 'src/cli/main.ts'), '\n// edited after the build\n');
    const sources = help();
    expect(sources.ran).toBe('src/');
    expect(sources.text).toBe(compiled.text);
  });
});
