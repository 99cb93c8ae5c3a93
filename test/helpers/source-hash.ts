/**
 * A content key for caches built from our own sources (the test bundles): sha256 over every repository file that
 * `entry` imports, directly or transitively, static or dynamic, `entry` included. An edit to any of them gives a new
 * key, so a cache keyed by it is rebuilt; an edit elsewhere keeps it. esbuild resolves the import graph (its
 * metafile lists the inputs; npm packages are left out: their versions are pinned by the lockfile).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';

/** Repository root (this file is test/helpers/source-hash.ts). */
const ROOT = resolve(import.meta.dirname, '../..');

/** The repository files `entry` (a path relative to the repository root, or absolute) loads, sorted, root-relative. */
export async function sourceClosure(entry: string): Promise<string[]> {
  const r = await build({
    entryPoints: [resolve(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  return Object.keys(r.metafile.inputs).sort();
}

/** Hex sha256 over the paths and bytes of `sourceClosure(entry)`. */
export async function sourceHash(entry: string): Promise<string> {
  const h = createHash('sha256');
  for (const file of await sourceClosure(entry)) {
    h.update(file).update('\0').update(readFileSync(resolve(ROOT, file))).update('\0');
  }
  return h.digest('hex');
}
