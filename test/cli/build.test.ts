/**
 * The compiled CLI (`npm run build` → dist/) and how bin/loopstream.js chooses it: on a copy of the repository's
 * sources in a temporary folder, the build compiles, the bin runs dist/ (LOOPSTREAM_DEBUG says which), prints the
 * same `--help` as the TypeScript sources, and falls back to tsx as soon as any file under src/ changes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
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
    const compiled = help();
    expect(compiled.ran).toBe('dist/');
    expect(compiled.text).toContain('replay');
    appendFileSync(join(dir, 'src/cli/main.ts'), '\n// edited after the build\n');
    const sources = help();
    expect(sources.ran).toBe('src/');
    expect(sources.text).toBe(compiled.text);
  });
});
