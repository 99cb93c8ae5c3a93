/**
 * sourceHash / sourceClosure (test/helpers/source-hash.ts), the cache key of the test bundles: the closure follows
 * static, dynamic and transitive imports of repository files and leaves packages and type-only imports out; the hash
 * changes with any file of the closure and with nothing else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceClosure, sourceHash } from './source-hash.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'ls-source-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rel = (name: string) => relative(ROOT, join(dir, name));

describe('sourceHash', () => {
  it('keys on the files an entry loads, transitively, and on nothing else', async () => {
    writeFileSync(join(dir, 'entry.ts'), "import { b } from './b.ts';\nimport type { T } from './types.ts';\nimport { createHash } from 'node:crypto';\nimport YAML from 'yaml';\nexport const f = async (t: T) => [b, t, createHash, YAML, await import('./lazy.ts')];\n");
    writeFileSync(join(dir, 'b.ts'), "import { c } from './c.ts';\nexport const b = c + 1;\n");
    writeFileSync(join(dir, 'c.ts'), 'export const c = 1;\n');
    writeFileSync(join(dir, 'lazy.ts'), 'export const lazy = 2;\n');
    writeFileSync(join(dir, 'types.ts'), 'export type T = number;\n');
    writeFileSync(join(dir, 'unrelated.ts'), 'export const u = 3;\n');
    const entry = join(dir, 'entry.ts');
    expect(await sourceClosure(entry)).toEqual([rel('b.ts'), rel('c.ts'), rel('entry.ts'), rel('lazy.ts')]);

    const h0 = await sourceHash(entry);
    expect(h0).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(dir, 'unrelated.ts'), 'export const u = 4;\n');
    expect(await sourceHash(entry)).toBe(h0);
    writeFileSync(join(dir, 'c.ts'), 'export const c = 2;\n'); // two imports away
    const h1 = await sourceHash(entry);
    expect(h1).not.toBe(h0);
    writeFileSync(join(dir, 'lazy.ts'), 'export const lazy = 3;\n'); // a dynamic import
    expect(await sourceHash(entry)).not.toBe(h1);
  });

  it('the e2e and fine-tuning test bundles are keyed by the model, export and preprocessing sources they are built from', async () => {
    const e2e = await sourceClosure('test/e2e/support/test-bundle.ts');
    expect(e2e).toEqual(expect.arrayContaining(['test/e2e/support/test-bundle.ts', 'src/model/vae.ts', 'src/model/export-onnx.ts', 'src/model/bundle.ts', 'src/preprocess/fit.ts']));
    const small = await sourceClosure('test/finetune/support/small-bundle.ts');
    expect(small).toEqual(expect.arrayContaining(['test/finetune/support/small-bundle.ts', 'src/model/train.ts', 'src/model/vae.ts', 'src/model/save-bundle.ts', 'src/preprocess/fit.ts', 'src/sim/index.ts']));
  });
});
